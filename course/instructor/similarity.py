"""Similar submissions: pairs of students whose code for an exercise is much the same.

For each assignment, each student's solution cell of each exercise (the cell whose nbgrader
grade_id is the exercise's name) is read from <root>/submitted/<student>/<id>/<id>.ipynb.
Lines it shares with the released stub (signature, docstring, `raise NotImplementedError()`)
are boilerplate and dropped. The rest is tokenized with Python's tokenize module and
normalised so that what copying changes does not count: every name a student chooses becomes
`V` (keywords, builtins and attribute names such as `.zero_grad` stay), strings become `S`,
docstrings, comments, blank lines and indentation widths disappear, `;` and a line end are
the same separator. Each answer is then fingerprinted by winnowing (Schleimer, Wilkerson and
Aiken, SIGMOD 2003, the method behind MOSS) over hashed K-token k-grams: any run of
K + WINDOW - 1 identical normalised tokens shared by two answers is found.

Pairs are found through an inverted index (fingerprint -> answers holding it), so only pairs
that share a fingerprint are ever counted. Two rules keep correct answers written the way
everyone writes them from being flagged:
  - a fingerprint held by more than max(COMMON_AT_LEAST, COMMON_SHARE x answers) answers of
    the class is common code (MOSS's -m option) and counts for nobody;
  - an exercise whose median answer has fewer than MIN_TOKENS normalised tokens (mse,
    sq_loss: one line everybody writes alike) is not compared at all.
A pair's similarity is the share of its code that it has in common and the class does not:
sum over compared exercises of shared fingerprints / sum of the two answers' mean number of
fingerprints, so every exercise weighs by its size. Pairs at or above THRESHOLD go to
similarity.csv and to report.html's "Similar submissions" section (course/instructor/report.py).
A similar pair is a reason to look at the code, not a verdict.

Why not the copydetect package: it hashes k-grams with Python's salted hash(), so which
fingerprints winnowing keeps, and the figures, change from one run to the next; its
winnowing is a Python loop (the wheel has no C extension) and it compares every pair.
"""
import builtins
import csv
import dataclasses
import difflib
import io
import json
import keyword
import re
import statistics
import time
import tokenize
import zlib
from pathlib import Path

import numpy as np

from course.contract import EXERCISES

K = 8  # tokens per k-gram
WINDOW = 4  # winnowing window: a shared run of K + WINDOW - 1 = 11 tokens is always found
MIN_TOKENS = 30  # exercises whose median answer is shorter are not compared (one-liners)
COMMON_AT_LEAST, COMMON_SHARE = 10, 0.1  # a fingerprint in more answers than this is common code
THRESHOLD = 0.5  # pairs at or above it are listed
KEPT_NAMES = (set(dir(builtins)) | set(keyword.kwlist) | set(keyword.softkwlist)) - {"_"}  # `_` is a chosen name
CSV_NAME = "similarity.csv"


@dataclasses.dataclass
class Answer:
    """One student's code for one exercise, normalised and fingerprinted."""
    student: str
    source: str
    tokens: list  # normalised tokens
    spans: list  # (start, end) character offsets in `source` of each token
    hashes: np.ndarray = None  # winnowed fingerprints, unique, sorted
    stub_lines: frozenset = frozenset()  # indices of the lines that are the stub's own

    def __post_init__(self):
        if self.hashes is None:
            self.hashes = np.unique(winnow(kgram_hashes(self.tokens)))


@dataclasses.dataclass
class ExerciseStats:
    name: str
    answers: int  # students who wrote something beyond the stub
    median_tokens: float
    compared: bool
    common_above: int  # a fingerprint in more answers than this counts for nobody


@dataclasses.dataclass
class Pair:
    assignment: str
    student_a: str
    student_b: str
    similarity: float
    exercises: dict  # exercise -> its own similarity (compared exercises with shared code)
    views: list = dataclasses.field(default_factory=list)  # [SideBySide] of exercises involved


@dataclasses.dataclass
class SideBySide:
    exercise: str
    similarity: float
    source_a: str
    source_b: str
    marks_a: list  # (start, end) character ranges of matching code in source_a
    marks_b: list
    stub_lines_a: frozenset = frozenset()  # lines of the stub (folded in the report)
    stub_lines_b: frozenset = frozenset()


@dataclasses.dataclass
class AssignmentSimilarity:
    assignment: str
    students: list
    exercises: dict  # name -> ExerciseStats
    similarities: np.ndarray  # every compared pair's similarity (for the histogram)
    pairs: list  # Pair at or above THRESHOLD, most similar first
    seconds: float = 0.0
    problem: str = ""  # why the assignment could not be compared, if it could not


# --- normalisation -------------------------------------------------------------------------

def boilerplate_lines(source, stub):
    """Indices of the lines of `source` that are the stub's own (matched in order)."""
    mine = [line.strip() for line in source.splitlines()]
    theirs = [line.strip() for line in stub.splitlines()]
    matcher = difflib.SequenceMatcher(None, mine, theirs, autojunk=False)
    return {block.a + k for block in matcher.get_matching_blocks() for k in range(block.size)}


def _raw_tokens(source):
    """(type, text, start, end) of Python's tokenizer; a regex split where the code does not tokenize."""
    try:
        return [(t.type, t.string, t.start, t.end) for t in tokenize.generate_tokens(io.StringIO(source).readline)]
    except (tokenize.TokenError, IndentationError, SyntaxError):
        found = []
        for row, line in enumerate(source.splitlines(), 1):
            for m in re.finditer(r"#.*|[A-Za-z_]\w*|\d[\w.]*|'[^']*'|\"[^\"]*\"|\S", line):
                text = m.group()
                kind = (tokenize.COMMENT if text[0] == "#" else tokenize.NAME if text[0].isalpha() or text[0] == "_"
                        else tokenize.NUMBER if text[0].isdigit() else tokenize.STRING if text[0] in "'\"" else tokenize.OP)
                found.append((kind, text, (row, m.start()), (row, m.end())))
            found.append((tokenize.NEWLINE, "\n", (row, len(line)), (row, len(line) + 1)))
        return found


def normalise(source, skip_lines=()):
    """(tokens, spans): the normalised tokens of `source` and their character ranges in it,
    leaving out tokens that start on a line index in `skip_lines` (boilerplate)."""
    starts = [0]
    for line in source.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))

    def offset(position):
        row, col = position
        return starts[min(row - 1, len(starts) - 1)] + col

    raw = _raw_tokens(source)
    tokens, spans = [], []
    for n, (kind, text, start, end) in enumerate(raw):
        if start[0] - 1 in skip_lines or kind in (tokenize.COMMENT, tokenize.NL, tokenize.ENCODING, tokenize.ENDMARKER):
            continue
        if kind == tokenize.STRING:
            before = tokens[-1] if tokens else ";"
            after = next((r[0] for r in raw[n + 1:] if r[0] not in (tokenize.COMMENT, tokenize.NL)), tokenize.NEWLINE)
            if before in (";", "{", "}") and after in (tokenize.NEWLINE, tokenize.ENDMARKER):
                continue  # a string standing alone is a docstring: a comment
            word = "S"
        elif kind == tokenize.NAME:
            attribute = tokens and tokens[-1] == "."
            word = text if attribute or text in KEPT_NAMES else "V"
        elif kind == tokenize.NEWLINE or (kind == tokenize.OP and text == ";"):
            if not tokens or tokens[-1] in (";", "{"):
                continue
            word = ";"
        elif kind == tokenize.INDENT:
            word = "{"
        elif kind == tokenize.DEDENT:
            word = "}"
        else:
            word = text
        tokens.append(word)
        spans.append((offset(start), offset(end)))
    while tokens and tokens[-1] in (";", "{", "}"):  # the structure left around dropped lines
        tokens.pop(), spans.pop()
    return tokens, spans


# --- fingerprints --------------------------------------------------------------------------

_MULTIPLIER = np.uint64(0x100000001B3)
_token_ids = {}


def kgram_hashes(tokens, k=K):
    """A deterministic 64-bit hash of every k-gram of `tokens` (one of the whole when shorter)."""
    if not tokens:
        return np.zeros(0, np.uint64)
    ids = np.fromiter((_token_ids.get(t) or _token_ids.setdefault(t, zlib.crc32(t.encode()) | 1 << 32)
                       for t in tokens), np.uint64, len(tokens))
    k = min(k, len(ids))
    hashes = np.zeros(len(ids) - k + 1, np.uint64)
    for j in range(k):
        hashes = hashes * _MULTIPLIER + ids[j:len(ids) - k + 1 + j]
    return hashes


def winnow(hashes, window=WINDOW):
    """The fingerprints winnowing selects: the rightmost minimum of every window of hashes."""
    if len(hashes) <= window:
        return hashes[[np.argmin(hashes)]] if len(hashes) else hashes
    windows = np.lib.stride_tricks.sliding_window_view(hashes, window)
    picked = np.arange(len(windows)) + window - 1 - np.argmin(windows[:, ::-1], axis=1)
    return hashes[np.unique(picked)]


# --- reading the batch ---------------------------------------------------------------------

def solution_sources(path, exercises):
    """{exercise: source of its solution cell} of a notebook file; {} when it cannot be read."""
    try:
        nb = json.loads(Path(path).read_text(encoding="utf-8"))
        cells = nb["cells"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    found = {}
    for cell in cells if isinstance(cells, list) else []:
        meta = cell.get("metadata", {}).get("nbgrader", {}) if isinstance(cell, dict) else {}
        name = meta.get("grade_id") if isinstance(meta, dict) else None
        if name in exercises and name not in found:
            source = cell.get("source", "")
            found[name] = "".join(source) if isinstance(source, list) else str(source)
    return found


def solution_cell_ids(path):
    """The grade_ids of a notebook file's solution cells, in order ([] when it cannot be read)."""
    try:
        cells = json.loads(Path(path).read_text(encoding="utf-8"))["cells"]
        return [c["metadata"]["nbgrader"]["grade_id"] for c in cells
                if c.get("metadata", {}).get("nbgrader", {}).get("solution")]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return []


def read_answers(root, assignment, students=None):
    """{exercise: {student: Answer}} of every submission of `assignment` under `root`.

    Answers with no code beyond the released stub are left out."""
    root = Path(root)
    release = root / "release" / assignment / f"{assignment}.ipynb"
    exercises = list(EXERCISES.get(assignment, ())) or solution_cell_ids(release)  # not in the contract: its cells
    stubs = solution_sources(release, exercises)
    if not stubs:
        raise FileNotFoundError(f"no released notebook with the exercises of {assignment} at {release}")
    if students is None:
        folder = root / "submitted"
        students = sorted(p.name for p in folder.iterdir() if (p / assignment).is_dir()) if folder.is_dir() else []
    answers = {name: {} for name in exercises}
    for student in students:
        sources = solution_sources(root / "submitted" / student / assignment / f"{assignment}.ipynb", exercises)
        for name, source in sources.items():
            stub_lines = frozenset(boilerplate_lines(source, stubs.get(name, "")))
            tokens, spans = normalise(source, stub_lines)
            if any(t not in (";", "{", "}") for t in tokens):
                answers[name][student] = Answer(student, source, tokens, spans, stub_lines=stub_lines)
    return answers


# --- comparing -----------------------------------------------------------------------------

def common_above(n_answers):
    return max(COMMON_AT_LEAST, int(COMMON_SHARE * n_answers))


def shared_counts(fingerprints, n, limit):
    """An n x n matrix: [a, b] (a < b) = how many fingerprints answers a and b both hold,
    counting only fingerprints held by 2..limit answers. `fingerprints`: one sorted array of
    unique hashes per answer (index = row of the matrix)."""
    counts = np.zeros(n * n, np.int64)
    if not fingerprints:
        return counts.reshape(n, n)
    hashes = np.concatenate(fingerprints)
    owner = np.repeat(np.arange(len(fingerprints)), [len(f) for f in fingerprints])
    order = np.argsort(hashes, kind="stable")
    hashes, owner = hashes[order], owner[order]
    starts = np.flatnonzero(np.r_[True, hashes[1:] != hashes[:-1]])
    sizes = np.diff(np.r_[starts, len(hashes)])
    for size in np.unique(sizes[(sizes >= 2) & (sizes <= limit)]):  # groups of one size at once
        groups = owner[starts[sizes == size][:, None] + np.arange(size)]  # owners ascending per group
        i, j = np.triu_indices(size, 1)
        counts += np.bincount((groups[:, i] * n + groups[:, j]).ravel(), minlength=n * n)
    return counts.reshape(n, n)


def compare(assignment, answers):
    """AssignmentSimilarity of one assignment from read_answers()'s {exercise: {student: Answer}}."""
    start = time.perf_counter()
    students = sorted({s for by_student in answers.values() for s in by_student})
    index = {s: k for k, s in enumerate(students)}
    n = len(students)
    shared, weight = np.zeros((n, n)), np.zeros((n, n))
    per_exercise, stats = {}, {}
    for name, by_student in answers.items():
        sizes = [len(a.tokens) for a in by_student.values()]
        median = statistics.median(sizes) if sizes else 0.0
        limit = common_above(len(by_student))
        stats[name] = ExerciseStats(name, len(by_student), median, median >= MIN_TOKENS, limit)
        if not stats[name].compared or len(by_student) < 2:
            continue
        rows = [index[s] for s in by_student]
        prints = np.zeros(n)
        prints[rows] = [len(a.hashes) for a in by_student.values()]
        counts = np.zeros((n, n))
        sub = shared_counts([a.hashes for a in by_student.values()], len(rows), limit)
        counts[np.ix_(rows, rows)] = sub + sub.T
        both = (prints[:, None] > 0) & (prints[None, :] > 0)
        mean_size = np.where(both, (prints[:, None] + prints[None, :]) / 2, 0.0)
        shared += counts
        weight += mean_size
        per_exercise[name] = np.divide(counts, mean_size, out=np.zeros((n, n)), where=mean_size > 0)
    similarity = np.divide(shared, weight, out=np.zeros((n, n)), where=weight > 0)
    a, b = np.triu_indices(n, 1)
    compared = weight[a, b] > 0
    above = compared & (similarity[a, b] >= THRESHOLD)
    pairs = []
    for i, j in sorted(zip(a[above], b[above]), key=lambda p: (-similarity[p], students[p[0]], students[p[1]])):
        figures = {name: float(m[i, j]) for name, m in per_exercise.items() if m[i, j] > 0}
        figures = dict(sorted(figures.items(), key=lambda item: -item[1]))
        pairs.append(Pair(assignment, students[i], students[j], float(similarity[i, j]), figures))
    return AssignmentSimilarity(assignment, students, stats, similarity[a, b][compared], pairs,
                                time.perf_counter() - start)


def matching_marks(a, b, k=K):
    """(marks in a.source, marks in b.source): character ranges covered by k-grams the two
    answers share, one range per line at most, for the side-by-side view."""
    def covered(mine, theirs):
        hashes = kgram_hashes(mine.tokens, k)
        hit = np.isin(hashes, kgram_hashes(theirs.tokens, k))
        cover = np.zeros(len(mine.tokens), bool)
        for offset in range(min(k, len(mine.tokens))):
            cover[np.flatnonzero(hit) + offset] = True
        marks = []
        for flag, (start, end), token in zip(cover, mine.spans, mine.tokens):
            if not flag or token in (";", "{", "}"):
                continue
            if marks and "\n" not in mine.source[marks[-1][1]:start]:
                marks[-1] = (marks[-1][0], end)
            else:
                marks.append((start, end))
        return marks
    return covered(a, b), covered(b, a)


def find_similar(root, assignments, top=None):
    """[AssignmentSimilarity] of `assignments` under `root`, with side-by-side views of the
    `top` most similar pairs of each (all listed pairs when None)."""
    results = []
    for assignment in assignments:
        start = time.perf_counter()
        try:
            answers = read_answers(root, assignment)
        except FileNotFoundError as error:  # no stub to tell boilerplate from answers
            results.append(AssignmentSimilarity(assignment, [], {}, np.zeros(0), [], 0.0, str(error)))
            continue
        result = compare(assignment, answers)
        for pair in result.pairs[:top]:
            for name, figure in pair.exercises.items():
                a, b = answers[name][pair.student_a], answers[name][pair.student_b]
                marks_a, marks_b = matching_marks(a, b)
                pair.views.append(SideBySide(name, figure, a.source, b.source, marks_a, marks_b,
                                             a.stub_lines, b.stub_lines))
        result.seconds = time.perf_counter() - start
        results.append(result)
    return results


def write_csv(results, path):
    """similarity.csv: every pair at or above THRESHOLD, most similar first per assignment."""
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["assignment", "student_a", "student_b", "similarity", "exercises"])
        for result in results:
            for p in result.pairs:
                writer.writerow([p.assignment, p.student_a, p.student_b, f"{p.similarity:.3f}",
                                 "; ".join(f"{name} {figure:.2f}" for name, figure in p.exercises.items())])
    return path


def summary(results, csv_path):
    """One line for the terminal: how many similar pairs, where, and how long the comparison took."""
    found = [f"{r.assignment} {len(r.pairs)}" for r in results if r.pairs]
    seconds = sum(r.seconds for r in results)
    return (f"similar submissions (similarity >= {THRESHOLD:g}, a reason to look, not a verdict): "
            f"{sum(len(r.pairs) for r in results)} pair(s)" + (f" ({', '.join(found)})" if found else "")
            + f", compared in {seconds:.2f}s; listed in {csv_path} and report.html")
