"""Hostile submissions (tests/hostile/attacks.toml) graded in one batch with honest ones.

The batch must finish; no attacker may score above its honest worth; honest students get
exactly the grades of a batch without attackers; no file outside the sandboxes' scratch
copies changes; nothing the attackers started is left running; the network is unreachable.
Each batch runs in the warm and the cold sandbox, graded by root and by an ordinary user
(whose kernels are confined by user namespaces instead of uids); an attack on the checks
themselves (targets = "checks") is graded in two of them, one of each kind of kernel and grader.
"""
import hashlib
import json
import os
import shutil
import types
import math
import socket
import subprocess
import threading
import time
import tomllib
from pathlib import Path

import nbformat
import pytest

from course import ROOT
from course.grading.gradebook import nbgrader_api, nbgrader_config
from course.grading.batch import grade_batch
from course.authoring.release import release
from course.grading.sandbox.kernel import SandboxKernelManager
from course.grading.preprocessors.verdict import is_check_cell, split_check_cell
from submissions import points, reference_sources, with_solutions
from unix_users import ordinary_users, processes_of

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

AID = "01-gradient-descent"
ATTACKS = tomllib.loads((Path(__file__).parent / "hostile" / "attacks.toml").read_text())["attack"]
if os.environ.get("HOSTILE_ATTACKS"):  # a quicker run while working on some: these alone beside the honest students
    ATTACKS = [a for a in ATTACKS if a["name"] in os.environ["HOSTILE_ATTACKS"].split(",")]
# The scratch folders' base, as SandboxKernelManager's default makes it (for root; an ordinary
# user's ends in -<uid>): COURSE_SANDBOX_BASE keeps a run's apart from other checkouts'.
SANDBOX_BASE = os.environ.get("COURSE_SANDBOX_BASE", "/var/tmp/course-sandbox")
MARK = "PWNED-BY-A-SUBMISSION"
OUTPUT = ROOT / "test-output"


RELEASED = []  # one release (7 s), copied for each batch's course as a grader would copy theirs


def new_course(tmp_path_factory, name):
    if not RELEASED:
        RELEASED.append(tmp_path_factory.mktemp("released"))
        release(AID, nbgrader_api(RELEASED[0]), chapters=RELEASED[0] / "chapters")
    root = Path(shutil.copytree(RELEASED[0], tmp_path_factory.mktemp(name), dirs_exist_ok=True))
    return root, nbformat.read(root / "release" / AID / f"{AID}.ipynb", as_version=4)


def honest_students(released):
    reference = reference_sources(AID)
    return {
        "honest-reference": with_solutions(released, reference),
        "honest-first-only": with_solutions(released, {"fun_dz": reference["fun_dz"]}),
        "honest-untouched": released,
    }


def attacker(released, attack, fills):
    """(notebook or raw text, honest worth) of one attack."""
    top = sum(points(released).values())
    reference = reference_sources(AID)
    nb = with_solutions(released, reference) if attack["base"] == "reference" else with_solutions(released, {})
    worth = top if attack["base"] == "reference" else 0.0
    cells = {k: v for k, v in attack.get("cells", {}).items()}
    for key, code in cells.items():
        for placeholder, value in fills.items():
            code = code.replace(placeholder, value)
        gid, extra = (key[: -len("_extra")], True) if key.endswith("_extra") else (key, False)
        matches = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == gid]
        assert len(matches) == 1, f"attack {attack['name']}: no cell {gid}"
        matches[0].source = matches[0].source + "\n" + code if extra else code
    if attack.get("sleeping_cells"):  # after the first solution cell: cells after the last check are not run
        at = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == "fun_dz")
        nb.cells[at + 1:at + 1] = [nbformat.v4.new_code_cell("time.sleep(2)")
                                   for _ in range(attack["sleeping_cells"])]
    if attack.get("huge"):
        nb.cells[-1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="x" * (30 * 2**20))]
    return nb, worth


def forger(released):
    """@FORGER@: `forge(checks)` answers every check with what a student can know from the
    notebook: each visible expected value, and True (a side condition's answer) for the rest."""
    known = {check["label"]: check["expected"] for cell in released.cells if is_check_cell(cell)
             for check in split_check_cell(cell.source)[0]["checks"] if check["kind"] == "value"}
    return (f"import json\nKNOWN = {known!r}\n"
            "def forge(checks):\n"
            "    return [{'label': label, 'answer': encode(KNOWN[label]) if label in KNOWN else {'bool': True}}\n"
            "            for label, _ in checks]\n")


def submit(root, student, content):
    path = root / "submitted" / student / AID / f"{AID}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(content, path)


def checksums(*folders, skip=()):
    sums = {}
    for folder in folders:
        for path in sorted(Path(folder).rglob("*")):
            parts = set(path.relative_to(folder).parts)
            if path.is_file() and not parts & set(skip):
                sums[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return sums


def sandbox_processes():
    """Processes running under one of the sandbox's uids."""
    km = SandboxKernelManager()
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            uid = int(next(line for line in status.read_text().splitlines() if line.startswith("Uid:")).split()[1])
        except (OSError, StopIteration, ValueError):
            continue
        if km.first_uid <= uid < km.first_uid + km.uids:
            found.append((status.parent.name, uid))
    return found


class Listener:
    """A TCP server on loopback that counts the connections it gets."""

    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.2)
        self.port, self.connections, self.running = self.server.getsockname()[1], 0, True
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while self.running:
            try:
                self.server.accept()[0].close()
                self.connections += 1
            except TimeoutError:
                pass

    def close(self):
        self.running = False
        self.thread.join()
        self.server.close()


CALM = {}  # sandbox -> (outcomes, seconds): the honest students alone, graded once per sandbox


def calm_batch(tmp_path_factory, sandbox):
    if sandbox not in CALM:
        calm_root, released = new_course(tmp_path_factory, "calm")
        for student, nb in honest_students(released).items():
            submit(calm_root, student, nb)
        start = time.monotonic()
        calm = {o.student: o for o in grade_batch(calm_root, [AID], workers=2, sandbox=sandbox)}
        CALM[sandbox] = calm, time.monotonic() - start
    return CALM[sandbox]


@pytest.fixture(scope="module")
def grader():
    """An ordinary user who grades, for the batches that root does not grade."""
    with ordinary_users("course-hostile-grader") as (user,):
        yield user


# Three workers: the three attackers that wait out a time limit (an endless loop, one that
# swallows interrupts, 300 sleeping cells) overlap instead of queueing behind each other.
WORKERS = 3
GRADE_AS_USER = f"""
import dataclasses, json, sys
from pathlib import Path
from course.grading.batch import grade_batch
root, assignment, sandbox, out = sys.argv[1:]
outcomes = grade_batch(Path(root), [assignment], workers={WORKERS}, sandbox=True if sandbox == "warm" else sandbox)
Path(out).write_text(json.dumps([dataclasses.asdict(o) for o in outcomes]))
"""


def graded_by(user, root, sandbox):
    """grade_batch's outcomes, graded by `user` in a process of theirs (None: by this process, root)."""
    if user is None:
        return grade_batch(root, [AID], workers=WORKERS, sandbox=sandbox)
    out = user.home / "outcomes.json"
    user.python(GRADE_AS_USER, root, AID, "warm" if sandbox is True else sandbox, out,
                env={name: os.environ.get(name, default) for name, default in
                     [("COURSE_CELL_TIMEOUT", "120"), ("COURSE_NOTEBOOK_TIMEOUT", "900"),
                      ("COURSE_SANDBOX_BASE", SANDBOX_BASE)]})
    return [types.SimpleNamespace(**outcome) for outcome in json.loads(out.read_text())]


# The batches that grade the attacks on the checks: a warm kernel graded by root, a cold one by
# an ordinary user. What confines a kernel does not change what Python code inside it can do
# to the checks, and four batches of them cost about a minute and a half.
CHECK_BATCHES = {(True, "root"), ("cold", "user")}


def graded_in(attack, sandbox, who):
    return attack.get("targets") != "checks" or (sandbox, who) in CHECK_BATCHES


@pytest.fixture(scope="module", params=[(True, "root"), ("cold", "root"), (True, "user"), ("cold", "user")],
                ids=["warm-sandbox", "cold-sandbox", "warm-sandbox-ordinary-user", "cold-sandbox-ordinary-user"])
def batches(request, tmp_path_factory):
    sandbox, who = request.param
    user = request.getfixturevalue("grader") if who == "user" else None
    calm, calm_seconds = calm_batch(tmp_path_factory, sandbox)

    root, released = new_course(tmp_path_factory, "hostile")
    honest = honest_students(released)
    if user is not None:  # the course moves to the grader's home, theirs
        root = Path(shutil.copytree(root, user.home / f"hostile-{'warm' if sandbox is True else sandbox}"))
        user.give(root)
    listener = Listener()
    fills = {"@REPO@": str(ROOT), "@COURSE@": str(root), "@PORT@": str(listener.port), "@MARK@": MARK,
             "@FORGER@": forger(released)}
    worth = {}
    for student, nb in honest.items():
        submit(root, student, nb)
    for attack in (a for a in ATTACKS if graded_in(a, sandbox, who)):
        nb, worth[attack["name"]] = attacker(released, attack, fills)
        submit(root, attack["name"], nb)
    protected = [ROOT / "solutions", ROOT / "chapters", ROOT / "course", ROOT / "autograders", root]
    grader_writes = {"autograded", "feedback", "ledger", "gradebook.db", "grades.csv", "tests.csv", "report.csv",
                     "report.html", "grading.log", "similarity.csv"}
    before = checksums(*protected, skip=grader_writes)
    scratch_base = Path(f"{SANDBOX_BASE}-{user.uid}") if user else Path(SandboxKernelManager().base)
    scratch_before = set(scratch_base.glob("*"))
    # An attacker's endless cell costs this limit (20 s, not 120): set from the calm batch's
    # timing, so a machine slow enough for an honest submission to near it raises it instead
    # of timing honest students out beside the bombs. At least 20 s: make test's other process
    # may load the machine during this batch and not during the calm one (at 10 s, the fork
    # bomb's forks of a torch-sized kernel once ran past an 11 s limit that way).
    limit = max(20, math.ceil(3 * max(o.seconds for o in calm.values())))  # a submission's time bounds its cells
    # A notebook's limit: room for an endless cell's limit and the interrupt after it, not more
    # (an honest submission takes at most a third of the cell limit; the sleeping notebook holds its
    # worker this long).
    notebook_limit = limit + max(15, limit // 2)
    mp = pytest.MonkeyPatch()
    try:
        mp.setenv("COURSE_CELL_TIMEOUT", str(limit))
        mp.setenv("COURSE_NOTEBOOK_TIMEOUT", str(notebook_limit))
        start = time.monotonic()
        hostile = {o.student: o for o in graded_by(user, root, sandbox)}
        hostile_seconds = time.monotonic() - start
    finally:
        mp.undo()
        listener.close()
    OUTPUT.mkdir(exist_ok=True)
    (OUTPUT / f"hostile-batch-{'warm' if sandbox is True else sandbox}{'-ordinary-user' if user else ''}.txt").write_text(
        f"honest only: {len(calm)} submissions in {calm_seconds:.1f} s\n"
        f"with attackers: {len(hostile)} submissions in {hostile_seconds:.1f} s, cell limit {limit} s, "
        f"notebook limit {notebook_limit} s\n"
        + "".join(f"{o.student}: {o.status} {o.score:g}/{o.max_score:g} in {o.seconds:.1f} s {o.message} | reached {reached(root, o)}\n"
                  for o in hostile.values() if o.student in worth))
    return dict(calm=calm, hostile=hostile, worth=worth, root=root, before=before, protected=protected,
                skip=grader_writes, listener=listener, user=user,
                scratch_before=scratch_before, scratch_base=scratch_base, sandbox=sandbox,
                notebook_limit=notebook_limit)


def test_every_submission_is_in_the_report(batches):
    names = set(batches["worth"]) | set(batches["calm"])
    assert set(batches["hostile"]) == names


def test_no_attacker_scores_above_its_honest_worth(batches):
    over = {name: (batches["hostile"][name].score, worth) for name, worth in batches["worth"].items()
            if batches["hostile"][name].score > worth + 1e-9}
    assert not over, over


def test_attacks_on_the_reference_still_earn_its_marks(batches):
    # The sandbox blocks the attack, not the honest code beside it.
    for name, worth in batches["worth"].items():
        if worth > 0:
            assert batches["hostile"][name].score == worth, batches["hostile"][name]


def test_honest_students_get_the_grades_of_a_calm_batch(batches):
    for student, calm in batches["calm"].items():
        hostile = batches["hostile"][student]
        assert (hostile.status, hostile.score) == (calm.status, calm.score), student
    assert batches["calm"]["honest-reference"].score == batches["calm"]["honest-reference"].max_score


def test_course_files_unchanged_and_no_mark_left_where_attackers_wrote(batches):
    after = checksums(*batches["protected"], skip=batches["skip"])
    assert after == batches["before"]
    marks = subprocess.run(["find", "/root", "/var/tmp", "/etc", str(ROOT), str(batches["root"]), "-name", MARK],
                           capture_output=True, text=True).stdout.split()
    assert not marks, marks


def test_nothing_is_left_running_or_lying_around(batches):
    deadline = time.monotonic() + 30  # a killed kernel's processes are gone within moments
    while sandbox_processes() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sandbox_processes() == []
    if batches["user"]:  # the grader's batch has ended: so has every process of theirs, within moments
        until = time.monotonic() + 30
        while processes_of(batches["user"].uid) and time.monotonic() < until:
            time.sleep(0.05)
        assert processes_of(batches["user"].uid) == [], processes_of(batches["user"].uid, commands=True)
    assert not set(batches["scratch_base"].glob("*")) - batches["scratch_before"], "scratch folders were not removed"


def test_the_network_was_out_of_reach(batches):
    needs(batches, "network")
    assert batches["listener"].connections == 0
    page = batches["root"] / "autograded" / "network" / AID / f"{AID}.ipynb"
    assert "blocked:" in page.read_text()


def test_hidden_tests_and_gradebook_were_out_of_sight(batches):
    needs(batches, "reads-hidden-tests-and-gradebook")
    graded = nbformat.read(batches["root"] / "autograded" / "reads-hidden-tests-and-gradebook" / AID / f"{AID}.ipynb",
                           as_version=4)
    cell = next(c for c in graded.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "fun_dz")
    seen = "".join(o.get("text", "") for o in cell.outputs)
    secret = [line for line in seen.splitlines() if any(part in line for part in
              ("/solutions/", "gradebook.db", "/submitted/", "/autograded/", "/root/"))]
    assert len(secret) == 7 and all(line.endswith("-> []") or line.startswith("blocked:") for line in secret), seen
    assert seen.count("blocked:") == 2 and "BEGIN HIDDEN TESTS" not in seen and "SQLite format" not in seen, seen


def test_no_attack_reports_success(batches):
    for page in (batches["root"] / "autograded").glob(f"*/{AID}/{AID}.ipynb"):
        outputs = "".join(o.get("text", "") for c in nbformat.read(page, as_version=4).cells
                          for o in c.get("outputs", []))
        assert not any(word in outputs for word in ("wrote into", "reached ", "reached the factory")), page


def test_the_warm_sandbox_factory_is_out_of_reach(batches):
    needs(batches, "asks-the-kernel-factory")
    page = batches["root"] / "autograded" / "asks-the-kernel-factory" / AID / f"{AID}.ipynb"
    cell = next(c for c in nbformat.read(page, as_version=4).cells
                if c.metadata.get("nbgrader", {}).get("grade_id") == "fun_dz")
    seen = "".join(o.get("text", "") for o in cell.outputs)
    if batches["sandbox"] is True:  # found it (its command line is public), could neither read nor ask
        assert "factories found: 1" in seen and seen.count("blocked:") == 2, seen
    else:
        assert "factories found: 0" in seen, seen


def needs(batches, attack):
    if attack not in batches["worth"]:
        pytest.skip(f"{attack} is not in HOSTILE_ATTACKS")


def cell_text(root, student, grade_id):
    graded = nbformat.read(root / "autograded" / student / AID / f"{AID}.ipynb", as_version=4)
    cell = next(c for c in graded.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    return "".join(o.get("text", "") for o in cell.outputs)


def test_a_notebook_past_its_time_limit_held_its_worker_no_longer(batches):
    # Its 300 cells of 2 s would hold a worker 600 s; the limit ends it, plus a kernel's start.
    needs(batches, "many-sleeping-cells")
    outcome = batches["hostile"]["many-sleeping-cells"]
    assert outcome.seconds < batches["notebook_limit"] + 30, outcome


def test_disk_writes_fail_past_the_budget(batches):
    needs(batches, "disk-filler")
    seen = cell_text(batches["root"], "disk-filler", "gradient_descent")
    assert "filled" not in seen and seen.count("No space left on device") == 4, seen


def test_the_kernel_folder_is_inside_the_disk_budget(batches):
    # Its ipc sockets and connection file: 2 GiB written there stop at the budget, not on the grader's disk.
    needs(batches, "kernel-folder-filler")
    seen = cell_text(batches["root"], "kernel-folder-filler", "gradient_descent")
    assert "filled" not in seen and "No space left on device" in seen, seen
    written = int(seen.split(" MiB")[0].split()[-1])
    assert written < SandboxKernelManager().disk / 2**20, seen


def test_a_kernel_can_make_no_user_namespace_to_mount_a_tmpfs_in(batches):
    # Root's kernels: the seccomp filter; an ordinary user's: their own user namespace allows no
    # nested one. Neither the unshare command, unshare(2) nor clone(2) gets one; and joining
    # another process's namespaces (setns) takes a capability no kernel has.
    needs(batches, "user-namespace-tmpfs")
    seen = cell_text(batches["root"], "user-namespace-tmpfs", "gradient_descent")
    assert seen.count("no user namespace") == 3 and "created a user namespace" not in seen, seen
    assert "setns joined: []" in seen, seen


def test_no_inherited_descriptor_reached_a_grader_file(batches):
    assert "FORGED-LOG-LINE" not in (batches["root"] / "grading.log").read_text(errors="replace")


def reached(root, outcome):
    """What the grader made of one attack: "judged" (graded, every check cell's answers
    compared by the grader), "judged, capped" (and a check cell's score held below its share of
    passed checks: forged answers reached the grader and the cap stopped them), "refused: <why>"
    (a check cell's answers refused, why named) or "not graded: <message>"."""
    if outcome.status != "graded":
        return f"not graded: {outcome.message}"
    graded = nbformat.read(root / "autograded" / outcome.student / AID / f"{AID}.ipynb", as_version=4)
    verdicts = [c.metadata.get("course", {}).get("verdict") or {"problem": "no verdict"}
                for c in graded.cells if is_check_cell(c)]
    problems = [v["problem"] for v in verdicts if v.get("problem")]
    if problems or not verdicts:
        return "refused: " + "; ".join(problems or ["no check cell"])
    passed = lambda v: sum(c["passed"] for c in v["checks"])
    capped = any(v["score"] < v["points"] * passed(v) / len(v["checks"]) - 1e-9 for v in verdicts)
    return "judged, capped" if capped else "judged"


@pytest.mark.parametrize("attack", ATTACKS, ids=[a["name"] for a in ATTACKS])
def test_each_attack_reaches_what_it_declares(batches, attack):
    """attacks.toml's `reaches` for every attack, in every batch (warm, cold; root, user): "judged" or "judged, capped"
    (see reached), "refused: <reason>" (a check cell's answers refused for that reason) or
    "not graded: <reason>" (reported with that reason: a kernel that died, a time limit, a size
    limit); graded ones at exactly their honest worth."""
    name, declared = attack["name"], attack["reaches"]
    if name not in batches["worth"]:
        assert not graded_in(attack, batches["sandbox"], "user" if batches["user"] else "root"), name
        pytest.skip("an attack on the checks: graded in the warm sandbox by root and the cold one by an ordinary user")
    outcome = batches["hostile"][name]
    seen = reached(batches["root"], outcome)
    kind, _, reason = declared.partition(": ")
    if kind in ("judged", "judged, capped"):
        assert seen == declared, f"{name} declares {declared!r}, reached {seen!r}"
    else:
        assert kind in ("refused", "not graded") and reason, f"{name}: reaches = {declared!r}"
        assert seen.startswith(f"{kind}: ") and reason in seen, f"{name} declares {declared!r}, reached {seen!r}"
    if kind != "not graded":
        assert outcome.score == batches["worth"][name], f"{name}: {outcome.score} of {outcome.max_score}"


SENTINEL_INPUT, SENTINEL_EXPECTED = "8264.1357", "7391.0462015"
PROBE = '''
import gc, os
def _scan(needle):
    places, number = [], float(needle)
    if any(needle in cell for cell in In):
        places.append("the code it ran")
    for top in {os.getcwd(), os.environ.get("HOME", ""), os.environ.get("TMPDIR", ""), "/tmp"} - {""}:
        for folder, _, files in os.walk(top):
            for name in files:
                try:
                    with open(os.path.join(folder, name), "rb") as handle:
                        if needle.encode() in handle.read():
                            places.append(os.path.join(folder, name))
                except OSError:
                    pass
    if any(needle in f"{key}={value}" for key, value in os.environ.items()):
        places.append("its environment")
    for path in ("/proc/self/cmdline", "/proc/self/environ"):
        try:
            with open(path, "rb") as handle:
                if needle.encode() in handle.read():
                    places.append(path)
        except OSError:
            pass
    for obj in gc.get_objects():
        values = obj.values() if isinstance(obj, dict) else obj if isinstance(obj, (list, tuple)) else \\
            obj.__code__.co_consts if type(obj).__name__ == "function" else ()
        if any((type(v) is float and v == number) or (type(v) is str and needle in v) for v in list(values)):
            places.append(f"its memory ({type(obj).__name__})")
            break
    return places
print("input found in:", _scan("@INPUT@"[::-1]))  # reversed: the probe's own code must not hold them
print("expected found in:", _scan("@EXPECTED@"[::-1]))
'''


@pytest.fixture(scope="module")
def sentinel_batch(tmp_path_factory):
    """A hidden check whose expected value is a sentinel, graded with a probe that searches
    everything the kernel can read for it (and, as a control, for the check's input)."""
    from nbgrader.api import Gradebook
    from nbgrader.utils import compute_checksum

    root, released = new_course(tmp_path_factory, "sentinel")
    with Gradebook(f"sqlite:///{root}/gradebook.db", nbgrader_config().CourseDirectory.course_id) as gb:
        cell = gb.find_source_cell("test_fun_dz", AID, AID)
        line = f'checks.close("sentinel", lambda: fun_dz({SENTINEL_INPUT}, 0.0), ({SENTINEL_EXPECTED}, 0.0))\n'
        assert "### BEGIN HIDDEN TESTS\n" in cell.source
        cell.source = cell.source.replace("### BEGIN HIDDEN TESTS\n", "### BEGIN HIDDEN TESTS\n" + line)
        stored = next(c for c in released.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_fun_dz")
        cell.checksum = compute_checksum(nbformat.v4.new_code_cell(cell.source, metadata=stored.metadata))
        gb.db.commit()
    nb = with_solutions(released, reference_sources(AID))
    # Right after the sentinel's check cell: cells after the last check are not run.
    after = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == "test_fun_dz")
    nb.cells.insert(after + 1, nbformat.v4.new_code_cell(PROBE.replace("@INPUT@", SENTINEL_INPUT[::-1])
                                                         .replace("@EXPECTED@", SENTINEL_EXPECTED[::-1])))
    submit(root, "probe", nb)
    (outcome,) = grade_batch(root, [AID], workers=1)
    graded = nbformat.read(root / "autograded" / "probe" / AID / f"{AID}.ipynb", as_version=4)
    return outcome, graded


def test_no_hidden_expected_value_is_anywhere_the_kernel_can_read(sentinel_batch):
    outcome, graded = sentinel_batch
    probe = next(c for c in graded.cells if "def _scan(needle):" in c.source)
    seen = "".join(o.get("text", "") for o in probe.outputs)
    assert "input found in: ['the code it ran'" in seen, seen  # the probe does find what the kernel got
    assert "expected found in: []" in seen, seen
    # The grader did judge the sentinel check, with the value the kernel never saw.
    verdict = next(c.metadata["course"]["verdict"] for c in graded.cells
                   if c.metadata.get("nbgrader", {}).get("grade_id") == "test_fun_dz")
    sentinel = next(check for check in verdict["checks"] if check["label"] == "sentinel")
    assert sentinel["hidden"] and not sentinel["passed"] and "expected 7391.046202" in sentinel["message"]
    assert outcome.status == "graded" and 0 < outcome.score < outcome.max_score
