"""The student's side in a real browser: JupyterLab 4 with nbgrader's lab extension on a local
exchange, driven in Debian's Chromium.

The instructor's side releases one chapter into a temporary exchange (the release folder holds
what `course release` puts there: the committed student notebook, which test_release keeps
identical to a fresh release, and check.py). A JupyterLab server for one student runs on
127.0.0.1 with a token, in a temporary home, with the students' nbgrader config that `course hub
student-config` prints. The student then does what the hub guide says: the Assignments tab
lists the release, Fetch, open the notebook, Run All (one exercise right, one wrong: the
answers are written into the fetched file before it is opened), read the summary table,
Validate, Submit. A screenshot of each step lands in test-output/screenshots/jupyterlab__*.png.
"""
import contextlib
import getpass
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import nbformat
import pytest

import browser
from course import CHAPTERS, ROOT
from course.authoring.release import SUMMARY_TAG
from course.grading.gradebook import nbgrader_config
from course.instructor.hub import student_config
from nbgrader.apps import NbGraderAPI
from nbgrader.coursedir import CourseDirectory
from submissions import meta, variants, with_solutions

pytestmark = [pytest.mark.browser, pytest.mark.slow]

AID = "00-tensors"  # a short chapter: Run All takes about 15 s
RIGHT, WRONG = "standardize", "pairwise_sq_dists"  # its two exercises
COURSE_ID = nbgrader_config().CourseDirectory.course_id
BIN = os.path.dirname(sys.executable)


def first_variant(exercise, expect):
    return next(v for v in variants(AID) if v["exercise"] == exercise and v["expect"] == expect)


ANSWERS = {RIGHT: first_variant(RIGHT, "full")["source"], WRONG: first_variant(WRONG, "loses")["source"]}


def release_into(exchange, root):
    """Put the chapter into the exchange as the instructor's `nbgrader release_assignment` does."""
    release = root / "release" / AID
    release.mkdir(parents=True)
    shutil.copyfile(CHAPTERS / f"{AID}.ipynb", release / f"{AID}.ipynb")
    shutil.copyfile(ROOT / "course" / "student" / "check.py", release / "check.py")
    config = nbgrader_config(root)
    config.Exchange.root = str(exchange)
    result = NbGraderAPI(CourseDirectory(config=config), config=config).release_assignment(AID)
    assert result["success"], result.get("log", "") + result.get("error", "")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url, process, log, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        time.sleep(0.5)
    raise RuntimeError(f"jupyter lab did not answer {url} in {timeout} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """(base url with token, the student's home, the exchange): a JupyterLab server, stopped
    (with its kernels) at the end."""
    tmp = tmp_path_factory.mktemp("lab")
    exchange, home = tmp / "exchange", tmp / "home"
    exchange.mkdir(mode=0o777)
    exchange.chmod(0o777)  # as the hub guide makes it
    home.mkdir()
    release_into(exchange, tmp / "course")
    jupyter = home / ".jupyter"
    jupyter.mkdir()
    (jupyter / "nbgrader_config.py").write_text(
        student_config(exchange=str(exchange)) + f"c.Exchange.cache = {str(tmp / 'cache')!r}\n")
    # No news prompt over the page: the notification settings nbgrader's own UI tests use.
    settings = jupyter / "lab" / "user-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    token, port = secrets.token_hex(16), free_port()
    env = dict(os.environ, HOME=str(home), JUPYTER_CONFIG_DIR=str(jupyter),
               JUPYTER_DATA_DIR=str(home / ".local" / "share" / "jupyter"),
               JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
               JUPYTERLAB_SETTINGS_DIR=str(jupyter / "lab" / "user-settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(jupyter / "lab" / "workspaces"),
               PATH=BIN + os.pathsep + os.environ.get("PATH", ""))
    log = tmp / "jupyter-lab.log"
    command = [os.path.join(BIN, "jupyter-lab"), "--no-browser", "--ServerApp.ip=127.0.0.1",
               f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
               f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={home}",
               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
               "--LabApp.news_url=None"]
    if os.geteuid() == 0:
        command.append("--allow-root")
    with open(log, "w") as out:
        process = subprocess.Popen(command, cwd=home, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)  # its own group: the kernels go with it
    base = f"http://127.0.0.1:{port}/"
    try:
        wait_until_up(f"{base}api/status?token={token}", process, log)
        yield dict(url=f"{base}lab?token={token}", base=base, token=token, home=home, exchange=exchange, log=log)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def shot(page, step):
    browser.screenshot(page, f"jupyterlab/{step}")


def rows(page, kind):
    """The rows of one of the Assignments tab's lists (released, fetched, submitted)."""
    return page.locator(f"#{kind}_assignments_list > .list_item")


# The summary table's rows once Run All is over (no cell left at [*]), else null.
SUMMARY_JS = """() => {
    const cells = Array.from(document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell'));
    if (cells.some(c => (c.querySelector('.jp-InputPrompt') || {}).textContent === '[*]:')) return null;
    const last = cells[cells.length - 1];
    const table = last && last.querySelector('.jp-OutputArea-output table');
    if (!table) return null;
    last.scrollIntoView();
    return Array.from(table.querySelectorAll('tbody tr'))
        .map(tr => Array.from(tr.querySelectorAll('td')).map(td => td.innerText.trim()));
}"""


@contextlib.contextmanager
def screenshot_on_failure(page, log):
    """A failed step leaves its screen (jupyterlab__99-failed.png) and the server's log."""
    try:
        yield
    except Exception as error:
        with contextlib.suppress(Exception):
            shot(page, "99-failed")
        raise AssertionError(f"{error}\n--- jupyter lab's log, last lines:\n{log.read_text()[-3000:]}") from error


# Cells queued or running show the prompt [*] (the released file's cells hold numbers already).
STARTED_JS = """(panel) => Array.from(panel.querySelectorAll('.jp-CodeCell .jp-InputPrompt'))
    .some(p => p.textContent.includes('[*]'))"""


def wait_for_kernel(page, lab, path, timeout=120):
    """Until the server's session for the notebook has a kernel that is idle. The page's kernel
    indicators say idle before the kernel has started (a cold start takes seconds here), and
    Run All clicked then drops every cell and asks for a kernel. (Waits with the page's clock:
    Playwright's sync API only passes the page's requests on during its own calls.)"""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sessions = page.request.get(f"{lab['base']}api/sessions?token={lab['token']}").json()
        if any(s.get("path") == path and (s.get("kernel") or {}).get("execution_state") == "idle" for s in sessions):
            return
        page.wait_for_timeout(500)
    raise AssertionError(f"no idle kernel for {path} after {timeout} s: {sessions}")


def run_all_cells(page, panel):
    """Run > Run All Cells, checked: the cells go to [*]."""
    page.locator('#jp-menu-panel div.lm-MenuBar-itemLabel:text-is("Run")').click()
    page.locator('.lm-Menu .lm-Menu-itemLabel:text-is("Run All Cells")').click()
    page.wait_for_function(STARTED_JS, arg=panel.element_handle(), timeout=20000)


def student_session(page, lab):
    """What the student does in the browser; returns the summary table ({exercise: status}) and
    the Validate dialog's text."""
    home = lab["home"]
    page.goto(lab["url"], wait_until="load")
    page.locator("#jp-main-dock-panel .lm-TabBar-tab").first.wait_for()

    # The Assignments tab (Nbgrader > Assignment List) lists the release.
    page.locator('#jp-menu-panel div.lm-MenuBar-itemLabel:text-is("Nbgrader")').click()
    page.locator('.lm-Menu li[data-command="nbgrader:open-assignment-list"]').click()
    released = rows(page, "released").filter(has_text=AID)
    released.first.wait_for()
    assert released.count() == 1 and released.locator(".item_course").inner_text().strip() == COURSE_ID
    shot(page, "01-assignments-released")

    # Fetch: the notebook lands in the home folder.
    released.locator(".item_status button").click()
    fetched = rows(page, "fetched").filter(has_text=AID)
    fetched.first.wait_for()
    notebook = home / AID / f"{AID}.ipynb"
    assert notebook.is_file() and (home / AID / "check.py").is_file(), sorted(home.rglob("*"))
    shot(page, "02-fetched")

    # One exercise right and one wrong, written as a student would have typed them.
    nbformat.write(with_solutions(nbformat.read(notebook, as_version=4), ANSWERS), notebook)

    # Open it from the Assignments tab, wait for its kernel, then Run > Run All Cells.
    fetched.locator("a.assignment-notebooks-link").click()  # unfolds its notebooks
    notebooks = re.sub(r"[^A-Za-z0-9_-]", "", f"nbgrader-{COURSE_ID}-{AID}".replace(" ", "_"))
    page.locator(f'#{notebooks}.in .item_name a:text-is("{AID}")').click()
    panel = page.locator(".jp-NotebookPanel:visible")
    panel.locator(".jp-Notebook .jp-Cell").first.wait_for()
    wait_for_kernel(page, lab, f"{AID}/{AID}.ipynb")
    panel.locator('.jp-Notebook-ExecutionIndicator[data-status="idle"]').wait_for()
    run_all_cells(page, panel)
    page.wait_for_function(SUMMARY_JS, timeout=180000)
    summary = {row[0]: row[1] for row in page.evaluate(SUMMARY_JS)}
    shot(page, "03-run-all-summary")

    # Validate (it saves the notebook first): nbgrader runs it and shows the failing check.
    panel.locator("jp-button.validate-button").click()
    dialog = page.locator(".nbgrader-ErrorDialog, .nbgrader-SuccessDialog")
    dialog.wait_for(timeout=180000)
    validated = dialog.inner_text()
    failing = dialog.locator("pre", has_text="FAIL")
    if failing.count():  # the check's message comes after the cell's source: show it
        failing.last.scroll_into_view_if_needed()
    shot(page, "04-validate")
    dialog.locator("button.jp-Dialog-button").first.click()

    # Submit from the Assignments tab.
    page.locator('#jp-main-dock-panel .lm-TabBar-tab:has-text("Assignments")').click()
    fetched.locator('.item_status button:text-is("Submit")').click()
    rows(page, "submitted").filter(has_text=AID).first.wait_for()
    shot(page, "05-submitted")
    return summary, validated


def test_student_fetches_runs_all_validates_and_submits_in_jupyterlab(lab):
    for old in browser.SCREENSHOTS.glob("jupyterlab__*.png"):
        old.unlink()
    with browser.chromium() as chrome:
        context = chrome.new_context(viewport=browser.VIEWPORT)
        context.set_default_timeout(30000)
        page = context.new_page()
        blocked = browser.watch(page)  # nothing may leave 127.0.0.1
        with screenshot_on_failure(page, lab["log"]):
            summary, validated = student_session(page, lab)
        context.close()
    assert blocked.external == [], blocked.external

    # Run All reached the summary table, which tells the right exercise from the wrong one.
    assert summary == {RIGHT: "pass", WRONG: "FAIL"}, summary
    # Validate names the failing check, and not the passing exercise as failing.
    assert re.search(r"^\s*FAIL\s", validated, re.M), validated[:3000]
    assert re.search(rf"{WRONG}\b[^\n]*\bFAIL\b|\bFAIL\b[^\n]*{WRONG}\b", validated), validated[:3000]
    assert not re.search(rf"{RIGHT}\b[^\n]*\bFAIL\b", validated), validated[:3000]
    assert re.search(rf"Passing so far:\s+{RIGHT}\b", validated), validated[-1500:]

    # The submission is in the exchange's inbound folder, with the answers and the saved run.
    inbound = lab["exchange"] / COURSE_ID / "inbound"
    submitted = sorted(inbound.glob(f"{getpass.getuser()}+{AID}+*"))
    assert len(submitted) == 1, sorted(p.name for p in inbound.iterdir())
    handed_in = nbformat.read(submitted[0] / f"{AID}.ipynb", as_version=4)
    answers = {meta(c)["grade_id"]: c.source for c in handed_in.cells if meta(c).get("grade_id") in ANSWERS}
    assert answers == ANSWERS
    summary_cell = next(c for c in handed_in.cells if SUMMARY_TAG in c.metadata.get("tags", []))
    text = "".join(o.get("data", {}).get("text/plain", "") for o in summary_cell.get("outputs", []))
    assert re.search(rf"{WRONG}\s+FAIL", text) and re.search(rf"{RIGHT}\s+pass", text), \
        f"the submitted notebook does not hold the browser's Run All (Validate saved it):\n{text}"
