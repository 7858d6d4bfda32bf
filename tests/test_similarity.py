"""Similar submissions (course/instructor/similarity.py), on a folder of notebooks built here, ungraded.

Each long exercise (gradient_descent, train, train_epoch) gets two independent right answers
written differently, and one answer with helper functions that a second student copied,
renaming every variable, putting the helpers in another order and adding comments. A class
of twelve writes right one-line mse answers. The copied pair must come first and alone; no
independent pair and no mse pair may reach the threshold.
"""
import csv
import json
import os
import random
import subprocess
import sys

import nbformat
import numpy as np
import pytest
from nbgrader.preprocessors import ClearSolutions

from course import ROOT, source_notebook
from course.contract import EXERCISES
from course.instructor import similarity as sim

STUB_BODY = "    # YOUR CODE HERE\n    raise NotImplementedError()"

# --- the answers ---------------------------------------------------------------------------

GD_A = """
    params = torch.tensor(start, dtype=torch.float32, device=DEVICE, requires_grad=True)
    optimizer = torch.optim.SGD([params], lr=lr)
    losses = []
    for _ in range(n_steps):
        optimizer.zero_grad()
        loss = loss_fn(params)
        losses.append(loss.item())
        loss.backward()
        optimizer.step()
    return params.detach(), losses
"""
GD_B = """
    point = torch.as_tensor(start, dtype=torch.float32).to(DEVICE).requires_grad_(True)
    history = [0.0] * n_steps
    step = 0
    while step < n_steps:
        value = loss_fn(point)
        history[step] = float(value)
        (grad,) = torch.autograd.grad(value, [point])
        with torch.no_grad():
            point -= lr * grad
        step += 1
    return point.detach().clone(), history
"""
GD_COPIED = '''
def _as_parameter(values):
    return torch.tensor([float(v) for v in values], device=DEVICE).requires_grad_()


def _sgd_step(opt, objective, p):
    opt.zero_grad()
    current = objective(p)
    current.backward()
    opt.step()
    return current.detach().cpu().item()


{stub}
    p = _as_parameter(start)
    opt = torch.optim.SGD([p], lr)
    trace = [_sgd_step(opt, loss_fn, p) for _ in range(n_steps)]
    return p.detach(), trace
'''
GD_COPY = '''
# one SGD update; returns the loss before it
def take_step(sgd, f, weights):
    sgd.zero_grad()   # clear old gradients
    this_loss = f(weights)
    this_loss.backward()
    sgd.step()
    return this_loss.detach().cpu().item()


def make_weights(numbers):
    # a float tensor that autograd tracks
    return torch.tensor([float(n) for n in numbers], device=DEVICE).requires_grad_()


{stub}
    weights = make_weights(start)
    sgd = torch.optim.SGD([weights], lr)
    # run the steps
    recorded = [take_step(sgd, loss_fn, weights) for i in range(n_steps)]
    return weights.detach(), recorded
'''

TRAIN_A = """
    losses = []
    for _ in range(n_epochs):
        optimizer.zero_grad()
        loss = loss_fun(model(features), labels)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses
"""
TRAIN_B = """
    model.train()
    recorded = [None] * n_epochs
    epoch = 0
    while epoch < n_epochs:
        prediction = model(features)
        error = loss_fun(prediction, labels)
        recorded[epoch] = float(error.detach())
        model.zero_grad(set_to_none=True)
        error.backward()
        optimizer.step()
        epoch += 1
    return recorded
"""
TRAIN_COPIED = '''
def _epoch(net, criterion, opt, inputs, targets):
    opt.zero_grad()
    out = criterion(net(inputs), targets)
    out.backward()
    opt.step()
    return out.detach().item()


def _check_epochs(count):
    if count < 0:
        raise ValueError("n_epochs must be at least 0")
    return int(count)


{stub}
    total = _check_epochs(n_epochs)
    return [_epoch(model, loss_fun, optimizer, features, labels) for _ in range(total)]
'''
TRAIN_COPY = '''
def validated(number_of_epochs):
    # refuse negative counts
    if number_of_epochs < 0:
        raise ValueError("the number of epochs cannot be negative")
    return int(number_of_epochs)


def run_one_epoch(m, lossf, opti, x, y):
    """One full-batch step."""
    opti.zero_grad()
    result = lossf(m(x), y)
    result.backward()
    opti.step()
    return result.detach().item()  # loss before the update


{stub}
    how_many = validated(n_epochs)
    return [run_one_epoch(model, loss_fun, optimizer, features, labels) for k in range(how_many)]
'''

EPOCH_A = """
    model.train()
    total, count = 0.0, 0
    for x, y in loader:
        optimizer.zero_grad()
        loss = loss_fun(model(x), y)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(x)
        count += len(x)
    return total / count
"""
EPOCH_B = """
    model.train()
    batch_losses, batch_sizes = [], []
    for batch in loader:
        inputs, targets = batch
        out = loss_fun(model(inputs), targets)
        batch_losses.append(out.item())
        batch_sizes.append(inputs.shape[0])
        model.zero_grad()
        out.backward()
        optimizer.step()
    weights = torch.tensor(batch_sizes, dtype=torch.float64)
    return float((torch.tensor(batch_losses, dtype=torch.float64) * weights).sum() / weights.sum())
"""
EPOCH_COPIED = '''
def _batch_size(batch):
    return batch.shape[0] if hasattr(batch, "shape") else len(batch)


def _one_step(net, criterion, opt, xb, yb):
    prediction = net(xb)
    value = criterion(prediction, yb)
    opt.zero_grad()
    value.backward()
    opt.step()
    return value.item()


{stub}
    model.train()
    seen = 0
    weighted = 0.0
    for xb, yb in loader:
        size = _batch_size(xb)
        weighted = weighted + size * _one_step(model, loss_fun, optimizer, xb, yb)
        seen = seen + size
    return weighted / max(seen, 1)
'''
EPOCH_COPY = '''
def do_update(mdl, crit, o, a, b):
    # forward, backward, step
    out = mdl(a)
    l = crit(out, b)
    o.zero_grad()
    l.backward()
    o.step()
    return l.item()


def n_rows(t):
    return t.shape[0] if hasattr(t, 'shape') else len(t)  # tensors and lists


{stub}
    model.train()
    n = 0
    acc = 0.0
    # accumulate the loss weighted by batch size
    for inputs, targets in loader:
        rows = n_rows(inputs)
        acc = acc + rows * do_update(model, loss_fun, optimizer, inputs, targets)
        n = n + rows
    return acc / max(n, 1)
'''

MSE_ANSWERS = [
    "    return ((y - y_hat) ** 2).mean()",
    "    return torch.mean((y_hat - y) ** 2)",
    "    return (y - y_hat).pow(2).mean()",
    "    diff = y - y_hat\n    return (diff * diff).mean()",
    "    return torch.nn.functional.mse_loss(y_hat, y)",
    "    return ((y - y_hat)**2).sum() / y.numel()",
]

LONG = {  # assignment: (exercise, first independent, second independent, original, copy)
    "01-gradient-descent": ("gradient_descent", GD_A, GD_B, GD_COPIED, GD_COPY),
    "05-nn-module": ("train", TRAIN_A, TRAIN_B, TRAIN_COPIED, TRAIN_COPY),
    "07-minibatches": ("train_epoch", EPOCH_A, EPOCH_B, EPOCH_COPIED, EPOCH_COPY),
}
ONE_LINER = ("02-linear-regression", "mse")


# --- the batch -----------------------------------------------------------------------------

def released(aid):
    """The assignment as nbgrader releases it (solutions cleared), without running anything."""
    nb = nbformat.read(source_notebook(aid), as_version=4)
    return ClearSolutions().preprocess(nb, {"language": "python"})[0]


def stub_of(nb, exercise):
    return next(c.source for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == exercise)


def answer(stub, code):
    """A solution cell: the stub with its body replaced, or `code` with {stub} standing for
    the stub's signature and docstring."""
    head = stub.replace(STUB_BODY, "").rstrip()
    assert head != stub.rstrip(), "the released stub changed shape"
    return code.replace("{stub}", head).strip() + "\n" if "{stub}" in code else head + "\n" + code.strip("\n") + "\n"


def submit(root, aid, student, nb, sources):
    nb = nbformat.from_dict(json.loads(nbformat.writes(nb)))
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") in sources:
            cell.source = sources[cell.metadata["nbgrader"]["grade_id"]]
    path = root / "submitted" / student / aid / f"{aid}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    root = tmp_path_factory.mktemp("similarity-course")
    for aid in list(LONG) + [ONE_LINER[0]]:
        nb = released(aid)
        (root / "release" / aid).mkdir(parents=True)
        nbformat.write(nb, root / "release" / aid / f"{aid}.ipynb")
        if aid in LONG:
            exercise, first, second, original, copy = LONG[aid]
            stub = stub_of(nb, exercise)
            for student, code in (("ada", first), ("bo", second), ("cy", original), ("di", copy)):
                submit(root, aid, student, nb, {exercise: answer(stub, code)})
            submit(root, aid, "ed", nb, {})  # the untouched stub: no answer
        else:
            stub = stub_of(nb, ONE_LINER[1])
            for k in range(12):
                submit(root, aid, f"m{k:02d}", nb, {ONE_LINER[1]: answer(stub, MSE_ANSWERS[k % len(MSE_ANSWERS)])})
    results = sim.find_similar(root, list(LONG) + [ONE_LINER[0]])
    sim.write_csv(results, root / sim.CSV_NAME)
    return root, {r.assignment: r for r in results}


def test_answers_are_what_the_test_says(batch):
    """The copy is the original with other names, helpers in another order and new comments."""
    def helpers(code):  # the two helper functions, normalised, in the order they come
        return [" ".join(sim.normalise(part)[0]) for part in code.strip().split("\n\n\n")[:2]]

    for exercise, first, second, original, copy in LONG.values():
        assert "#" in copy and "#" not in original
        assert helpers(original) != helpers(copy) and sorted(helpers(original)) == sorted(helpers(copy))
        assert sim.normalise(original)[0] != sim.normalise(copy)[0]
        assert sim.normalise(first)[0] != sim.normalise(second)[0]


def test_copied_pair_first_and_alone(batch):
    root, results = batch
    for aid, (exercise, *_) in LONG.items():
        result = results[aid]
        assert result.exercises[exercise].compared and result.exercises[exercise].answers == 4
        assert [(p.student_a, p.student_b) for p in result.pairs] == [("cy", "di")], (aid, result.pairs)
        copied = result.pairs[0]
        assert copied.similarity >= sim.THRESHOLD and exercise in copied.exercises
        assert copied.similarity == pytest.approx(result.similarities.max())
        assert len(result.similarities) == 6  # 4 students with an answer: every pair compared, ed has none
        independent = sorted(result.similarities)[:-1]
        assert max(independent) < sim.THRESHOLD, (aid, independent)
    rows = list(csv.DictReader(open(root / sim.CSV_NAME)))
    assert [(r["assignment"], r["student_a"], r["student_b"]) for r in rows] == \
        [(aid, "cy", "di") for aid in LONG]
    for row in rows:
        assert float(row["similarity"]) >= sim.THRESHOLD and row["exercises"].startswith(LONG[row["assignment"]][0] + " ")


def test_one_line_exercise_flags_nobody(batch):
    root, results = batch
    result = results[ONE_LINER[0]]
    stats = result.exercises[ONE_LINER[1]]
    assert stats.answers == 12 and not stats.compared and stats.median_tokens < sim.MIN_TOKENS
    assert result.pairs == [] and len(result.similarities) == 0
    assert ONE_LINER[0] not in (root / sim.CSV_NAME).read_text()
    # compared anyway, identical one-liners would be "similar": the size rule is what stops it
    nb = nbformat.read(root / "release" / ONE_LINER[0] / f"{ONE_LINER[0]}.ipynb", as_version=4)
    stub = stub_of(nb, ONE_LINER[1])
    same = [sim.Answer(s, answer(stub, MSE_ANSWERS[0]), *sim.normalise(answer(stub, MSE_ANSWERS[0]),
                                                                     sim.boilerplate_lines(answer(stub, MSE_ANSWERS[0]), stub)))
            for s in ("p", "q")]
    assert len(same[0].tokens) < sim.MIN_TOKENS
    assert sim.shared_counts([a.hashes for a in same], 2, 10)[0, 1] == len(same[0].hashes) > 0


def test_side_by_side_marks_the_copied_code(batch):
    root, results = batch
    for aid, (exercise, *_) in LONG.items():
        [view] = [v for v in results[aid].pairs[0].views if v.exercise == exercise]
        for source, marks in ((view.source_a, view.marks_a), (view.source_b, view.marks_b)):
            assert marks and all(0 <= s < e <= len(source) for s, e in marks)
            marked = "".join(source[s:e] for s, e in marks)
            assert "zero_grad" in marked or "step" in marked
            assert "YOUR CODE" not in marked and '"""' not in marked  # boilerplate is never a match
            assert not any("#" in source[s:e] for s, e in marks), "new comments are not matching code"


def test_stub_and_boilerplate_are_no_answer():
    nb = released("05-nn-module")
    stub = stub_of(nb, "train")
    assert sim.normalise(stub, sim.boilerplate_lines(stub, stub)) == ([], [])
    body = answer(stub, TRAIN_A)
    tokens, spans = sim.normalise(body, sim.boilerplate_lines(body, stub))
    assert tokens[:3] == ["V", "=", "["] and "def" not in tokens and "NotImplementedError" not in tokens
    assert body[spans[0][0]:spans[0][1]] == "losses"


def test_normalisation_hides_names_comments_and_strings():
    one = 'def f(a, b):\n    """Doc."""\n    total = a + b  # add\n    return str(total) + "x"\n'
    two = "def g(p,q):\n\n    s=p+q\n    return str(s)+'something else'   # other\n"
    assert sim.normalise(one)[0] == sim.normalise(two)[0]
    assert sim.normalise("x.zero_grad()")[0] == ["V", ".", "zero_grad", "(", ")"]  # API names stay
    assert sim.normalise("a = 1; b = 2")[0] == sim.normalise("a = 1\nb = 2")[0]
    assert sim.normalise("for _ in range(3): pass")[0][:2] == ["for", "V"]
    broken = "def f(:\n    return (1 +\n"  # does not tokenize: still compared, by the fallback
    assert "return" in sim.normalise(broken)[0]


def test_fingerprints_are_the_same_in_every_process():
    """Python's hash() of a string changes with each process; the fingerprints must not."""
    code = ("import json, sys\nfrom course.instructor import similarity as s\n"
            "print(json.dumps([int(h) for h in s.winnow(s.kgram_hashes(s.normalise(sys.argv[1])[0]))]))")
    runs = [subprocess.run([sys.executable, "-c", code, TRAIN_B], capture_output=True, text=True, cwd=ROOT,
                           env={**os.environ, "PYTHONHASHSEED": seed}, timeout=120) for seed in ("1", "2")]
    assert runs[0].returncode == 0, runs[0].stderr
    assert json.loads(runs[0].stdout) == json.loads(runs[1].stdout) and json.loads(runs[0].stdout)


def test_shared_counts_agree_with_sets():
    rng = np.random.default_rng(7)
    prints = [np.unique(rng.integers(0, 60, rng.integers(0, 25)).astype(np.uint64)) for _ in range(30)]
    limit = 6
    counts = sim.shared_counts(prints, len(prints), limit)
    holders = {}
    for k, p in enumerate(prints):
        for h in p.tolist():
            holders.setdefault(h, set()).add(k)
    for a in range(len(prints)):
        for b in range(a + 1, len(prints)):
            expected = sum(1 for h in set(prints[a].tolist()) & set(prints[b].tolist()) if len(holders[h]) <= limit)
            assert counts[a, b] == expected, (a, b)
    assert np.all(np.tril(counts) == 0)


def test_winnowing_keeps_a_long_enough_match():
    """Any run of K + WINDOW - 1 shared tokens leaves a shared fingerprint, whatever surrounds it."""
    rng = random.Random(3)
    words = [f"t{k}" for k in range(40)]
    for _ in range(50):
        run = [rng.choice(words) for _ in range(sim.K + sim.WINDOW - 1)]
        a = [rng.choice(words) for _ in range(rng.randrange(30))] + run + [rng.choice(words) for _ in range(9)]
        b = [rng.choice(words) for _ in range(rng.randrange(30))] + run
        fa, fb = (set(sim.winnow(sim.kgram_hashes(x)).tolist()) for x in (a, b))
        assert fa & fb


def test_an_assignment_outside_the_contract_uses_its_solution_cells(batch, tmp_path):
    root, results = batch
    aid = "05-nn-module"
    for folder in ("release", "submitted/cy", "submitted/di", "submitted/ada"):
        source = root / folder / aid
        target = tmp_path / folder / "extra-practice"
        target.mkdir(parents=True)
        (target / "extra-practice.ipynb").write_bytes((source / f"{aid}.ipynb").read_bytes())
    [result] = sim.find_similar(tmp_path, ["extra-practice"])
    assert sorted(result.exercises) == sorted(EXERCISES[aid])  # the notebook's solution cells: the contract's
    assert [(p.student_a, p.student_b) for p in result.pairs] == [("cy", "di")]
    assert result.pairs[0].similarity == pytest.approx(results[aid].pairs[0].similarity)


def test_missing_release_is_reported_not_raised(tmp_path):
    (tmp_path / "submitted" / "ada" / "05-nn-module").mkdir(parents=True)
    [result] = sim.find_similar(tmp_path, ["05-nn-module"])
    assert "no released notebook" in result.problem and result.pairs == []


def test_section_in_report(batch, tmp_path):
    from course.instructor import report
    root, results = batch
    path = report.write_html([], tmp_path / "report.html", similar=list(results.values()))
    text = path.read_text()
    assert 'id="similar-submissions"' in text and "Similar submissions" in text
    assert "plagiar" not in text.lower() and "not a verdict" in text
    assert text.count('class="similar-pair"') == 3 and text.count('class="similarity-histogram"') == 3
    assert 'class="skipped">mse</code>' in text
    assert "<mark class=\"match\">" in text
