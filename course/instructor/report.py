"""report.html: the instructor's view of a batch, one self-contained page per batch.

Per assignment: the distribution of total scores (a histogram), the pass rate of each
exercise (check cell: full marks) and of each individual check, each check's most common
failure messages with their counts, and the submissions that could not be graded with the
reason. After the assignments, a "Similar submissions" section (course/instructor/similarity.py): pairs of
students whose code is much the same, side by side. Built from the gradebook (scores) and from the grader's own verdicts, which
course/grading/preprocessors/verdict.py writes into every check cell of the autograded notebook as
`metadata.course.verdict` = {"exercise", "points", "score", "problem", "checks": [{"label",
"hidden", "passed", "message"}]}; never from what the kernel printed. A check cell without a
verdict is counted as unknown. Figures are PNGs drawn with matplotlib's Agg canvas and
embedded as base64: the file opens offline, with no external CSS or JavaScript.
"""
import base64
import collections
import html
import io
import statistics
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from course.grading.deadlines import days_late

TOP_MESSAGES = 5  # failure messages shown per check


@dataclass
class Check:
    cell: str
    label: str
    hidden: bool = False
    passed: int = 0
    failed: int = 0
    unknown: int = 0
    messages: collections.Counter = field(default_factory=collections.Counter)


@dataclass
class Exercise:
    cell: str
    name: str
    points: float
    scores: list = field(default_factory=list)
    problems: collections.Counter = field(default_factory=collections.Counter)
    unknown: int = 0

    @property
    def full(self):
        return sum(score >= self.points - 1e-9 for score in self.scores)


@dataclass
class AssignmentView:
    name: str
    max_score: float
    scores: dict = field(default_factory=dict)  # student -> total score (graded submissions)
    exercises: dict = field(default_factory=dict)  # check cell name -> Exercise
    checks: dict = field(default_factory=dict)  # (check cell, label) -> Check
    not_graded: list = field(default_factory=list)  # (student, reason)
    missing: list = field(default_factory=list)  # students
    late: list = field(default_factory=list)  # (student, days late, penalty in points, score after it)


def is_check_cell(cell):
    meta = cell.metadata.get("nbgrader", {})
    return cell.cell_type == "code" and meta.get("grade") and not meta.get("solution")


def read_verdicts(path):
    """{check cell grade_id: verdict or None} of one autograded notebook ({} when it is absent)."""
    try:
        nb = nbformat.read(str(path), as_version=4)
    except (OSError, ValueError):
        return {}
    verdicts = {}
    for cell in nb.cells:
        if is_check_cell(cell):
            verdict = cell.metadata.get("course", {}).get("verdict")
            verdicts[cell.metadata["nbgrader"].get("grade_id")] = verdict if isinstance(verdict, dict) else None
    return verdicts


def collect(gb, root, assignments, outcomes=()):
    """An AssignmentView per assignment from the gradebook, the autograded notebooks' verdicts
    and this batch's outcomes (course.grading.batch.Outcome: who could not be graded and why)."""
    views = []
    for name in assignments:
        assignment = gb.find_assignment(name)
        view = AssignmentView(name, float(assignment.max_score))
        for notebook in assignment.notebooks:
            for cell in notebook.grade_cells:
                if cell.name in {c.name for c in notebook.solution_cells}:
                    continue  # an autograded answer cell, not a check cell
                view.exercises[cell.name] = Exercise(cell.name, cell.name, float(cell.max_score))
        verdicts = {}  # (student, cell) -> verdict or None
        graded = {o.student for o in outcomes if o.assignment == name and o.status == "graded"}
        for submission in sorted(assignment.submissions, key=lambda s: s.student_id):
            if outcomes and submission.student_id not in graded:
                continue  # an earlier batch's record: this report is about this batch
            view.scores[submission.student_id] = float(submission.score)
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    if grade.name in view.exercises:
                        view.exercises[grade.name].scores.append(float(grade.score))
                path = Path(root) / "autograded" / submission.student_id / name / f"{notebook.name}.ipynb"
                found = read_verdicts(path)
                for cell in view.exercises:
                    if any(g.name == cell for g in notebook.grades):
                        verdicts[(submission.student_id, cell)] = found.get(cell)
        # Labels in the order the verdicts list them, so a cell with a problem (no checks ran)
        # can be counted as failing each of them.
        labels = collections.defaultdict(dict)
        for (_, cell), verdict in verdicts.items():
            for check in (verdict or {}).get("checks") or []:
                labels[cell].setdefault(check.get("label"), bool(check.get("hidden")))
        for cell in view.exercises:
            for label, hidden in labels[cell].items():
                view.checks[(cell, label)] = Check(cell, label, hidden)
        for (_, cell), verdict in verdicts.items():
            exercise = view.exercises[cell]
            if verdict is None:
                exercise.unknown += 1
                for label in labels[cell]:
                    view.checks[(cell, label)].unknown += 1
                continue
            exercise.name = verdict.get("exercise") or exercise.name
            if verdict.get("problem"):
                exercise.problems[verdict["problem"]] += 1
                for label in labels[cell]:
                    check = view.checks[(cell, label)]
                    check.failed += 1
                    check.messages[f"the whole cell scored 0: {verdict['problem']}"] += 1
                continue
            ran = {c.get("label"): c for c in verdict.get("checks") or []}
            for label in labels[cell]:
                check = view.checks[(cell, label)]
                if label not in ran:
                    check.unknown += 1
                elif ran[label].get("passed"):
                    check.passed += 1
                else:
                    check.failed += 1
                    check.messages[ran[label].get("message") or "(no message)"] += 1
        for outcome in outcomes:
            if outcome.assignment == name and outcome.status == "graded" and getattr(outcome, "seconds_late", 0) > 0:
                view.late.append((outcome.student, days_late(outcome.seconds_late), outcome.penalty, outcome.score))
            if outcome.assignment == name and outcome.status == "not graded":
                view.not_graded.append((outcome.student, outcome.message))
            elif outcome.assignment == name and outcome.status == "missing":
                view.missing.append(outcome.student)
        view.not_graded.sort()
        view.missing.sort()
        view.late.sort()
        views.append(view)
    return views


def _figure(**options):
    from matplotlib.figure import Figure  # here, not above: grading workers import this module, never draw

    return Figure(dpi=100, layout="constrained", **options)


def _png(figure):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    buffer = io.BytesIO()
    FigureCanvasAgg(figure).print_png(buffer)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def histogram_png(view):
    figure = _figure(figsize=(6, 2.8))
    axes = figure.add_subplot()
    top = view.max_score or 1.0
    bins = [top * k / max(1, min(20, int(top))) for k in range(max(1, min(20, int(top))) + 1)]
    axes.hist(list(view.scores.values()), bins=bins, color="#3b6ea8", edgecolor="white")
    axes.set_xlim(0, top)
    axes.set_xlabel(f"total score (of {top:g})")
    axes.set_ylabel("submissions")
    axes.yaxis.get_major_locator().set_params(integer=True)
    axes.set_title(f"{view.name}: {len(view.scores)} graded")
    return _png(figure)


def pass_rate_png(view):
    checks = [c for c in view.checks.values() if c.passed + c.failed]
    figure = _figure(figsize=(6, 0.6 + 0.28 * max(1, len(checks))))
    axes = figure.add_subplot()
    names = [f"{view.exercises[c.cell].name}: {c.label}"[:60] for c in checks]
    rates = [100 * c.passed / (c.passed + c.failed) for c in checks]
    axes.barh(range(len(checks)), rates, color=["#7a5195" if c.hidden else "#3b6ea8" for c in checks])
    axes.set_yticks(range(len(checks)), names, fontsize=7)
    axes.invert_yaxis()
    axes.set_xlim(0, 100)
    axes.set_xlabel("pass rate, % (purple: hidden checks)")
    return _png(figure)


def _rate(part, whole):
    return f"{100 * part / whole:.0f}% ({part}/{whole})" if whole else "–"


def _attrs(**values):
    return "".join(f' data-{key.replace("_", "-")}="{html.escape(str(value))}"' for key, value in values.items())


def assignment_html(view):
    e = html.escape
    scores = list(view.scores.values())
    parts = [f'<section class="assignment" id="{e(view.name)}"'
             + _attrs(assignment=view.name, graded=len(scores), not_graded=len(view.not_graded),
                      missing=len(view.missing), max_score=f"{view.max_score:g}") + ">",
             f"<h2>{e(view.name)}</h2>",
             f'<p class="summary">{len(scores)} graded, {len(view.not_graded)} not graded, '
             f"{len(view.missing)} missing."]
    if scores:
        parts[-1] += (f" Total score: mean {statistics.mean(scores):.2f}, median {statistics.median(scores):g}, "
                      f"min {min(scores):g}, max {max(scores):g} of {view.max_score:g}.")
    parts[-1] += "</p>"
    if scores:
        parts.append(f'<figure><img class="histogram" alt="Histogram of total scores, {e(view.name)}" '
                     f'src="data:image/png;base64,{histogram_png(view)}"></figure>')
        counts = collections.Counter(scores)
        parts.append('<details><summary>Scores, as numbers</summary><table class="scores">'
                     "<tr><th>total score</th><th>submissions</th></tr>"
                     + "".join(f"<tr{_attrs(score=f'{s:g}', count=n)}><td>{s:g}</td><td>{n}</td></tr>"
                               for s, n in sorted(counts.items()))
                     + "</table></details>")

    parts.append("<h3>Exercises</h3>")
    rows = []
    for ex in view.exercises.values():
        graded = len(ex.scores)
        mean = statistics.mean(ex.scores) if ex.scores else 0.0
        problems = "; ".join(f"{e(p)} ({n})" for p, n in ex.problems.most_common())
        rows.append(f"<tr class=\"exercise\"{_attrs(cell=ex.cell, exercise=ex.name, full=ex.full, graded=graded, unknown=ex.unknown)}>"
                    f"<td><code>{e(ex.name)}</code> <small>({e(ex.cell)})</small></td><td>{ex.points:g}</td>"
                    f"<td>{_rate(ex.full, graded)}</td><td>{mean:.2f}</td><td>{ex.unknown or ''}</td>"
                    f"<td>{problems}</td></tr>")
    parts.append('<table class="exercises"><tr><th>exercise (check cell)</th><th>points</th>'
                 "<th>full marks</th><th>mean score</th><th>no verdict</th><th>whole cell scored 0 because</th></tr>"
                 + "".join(rows) + "</table>")

    parts.append("<h3>Checks</h3>")
    if any(c.passed + c.failed for c in view.checks.values()):
        parts.append(f'<figure><img class="pass-rates" alt="Pass rate of each check, {e(view.name)}" '
                     f'src="data:image/png;base64,{pass_rate_png(view)}"></figure>')
    rows = []
    for check in view.checks.values():
        exercise = view.exercises[check.cell].name
        judged = check.passed + check.failed
        top = check.messages.most_common(TOP_MESSAGES)
        more = len(check.messages) - len(top)
        messages = "".join(f"<li{_attrs(count=n)}><span class=\"count\">{n}×</span> "
                           f"<span class=\"message\">{e(m)}</span></li>" for m, n in top)
        if more > 0:
            messages += f"<li class=\"more\">… and {more} other message{'s' * (more > 1)}</li>"
        rows.append(f"<tr class=\"check\"{_attrs(cell=check.cell, exercise=exercise, label=check.label, hidden=int(check.hidden), passed=check.passed, failed=check.failed, unknown=check.unknown)}>"
                    f"<td><code>{e(exercise)}</code></td><td>{e(check.label)}</td><td>{'hidden' if check.hidden else 'visible'}</td>"
                    f"<td>{_rate(check.passed, judged)}</td><td>{check.unknown or ''}</td>"
                    f"<td><ol class=\"failures\">{messages}</ol></td></tr>")
    parts.append('<table class="checks"><tr><th>exercise</th><th>check</th><th></th><th>passed</th>'
                 "<th>no verdict</th><th>most common failure messages</th></tr>" + "".join(rows) + "</table>")

    parts.append("<h3>Not graded</h3>")
    if view.not_graded:
        parts.append('<table class="not-graded"><tr><th>student</th><th>why</th></tr>'
                     + "".join(f"<tr{_attrs(student=s)}><td>{e(s)}</td><td>{e(m)}</td></tr>" for s, m in view.not_graded)
                     + "</table>")
    else:
        parts.append('<p class="not-graded-none">Every submission was graded.</p>')
    if view.missing:
        parts.append(f'<p class="missing">Missing (no submission): {e(", ".join(view.missing))}.</p>')
    parts.append("<h3>Late</h3>")
    if view.late:  # the penalties of course/grading/deadlines.py's policy, already taken off the scores above
        parts.append('<table class="late"><tr><th>student</th><th>days late</th><th>penalty (points)</th>'
                     "<th>score after it</th></tr>"
                     + "".join(f"<tr{_attrs(student=s, days_late=d, penalty=f'{p:g}', score=f'{t:g}')}><td>{e(s)}</td>"
                               f"<td>{d}</td><td>-{p:g}</td><td>{t:g}</td></tr>" for s, d, p, t in view.late)
                     + "</table>")
    else:
        parts.append('<p class="late-none">No graded submission was late.</p>')
    parts.append("</section>")
    return "\n".join(parts)


def roster_html(issues):
    """The roster's mismatches (course.instructor.lms.RosterIssues), or nothing without a roster."""
    if issues is None:
        return '<section class="roster"><h2>Roster</h2><p>No roster given: no LMS export was written.</p></section>'
    e = html.escape
    parts = ['<section class="roster"><h2>Roster</h2>']
    rows = [f"<tr{_attrs(kind='no-submission', student=s, assignment=a)}><td>{e(s)}</td><td>{e(a)}</td>"
            f"<td>missing: on the roster, no submission</td></tr>" for a, students in issues.no_submission.items() for s in students]
    rows += [f"<tr{_attrs(kind='unknown', student=s, assignment=a)}><td>{e(s)}</td><td>{e(a)}</td>"
             f"<td>submitted, not on the roster: not in the LMS exports</td></tr>"
             for a, students in issues.unknown.items() for s in students]
    rows += [f"<tr{_attrs(kind='no-identity', student=s, assignment='')}><td>{e(s)}</td><td></td><td>{e(why)}</td></tr>"
             for s, why in issues.no_identity]
    if rows:
        parts.append('<table class="roster-issues"><tr><th>student</th><th>assignment</th><th>issue</th></tr>'
                     + "".join(rows) + "</table>")
    else:
        parts.append("<p>Every roster entry submitted every assignment, and every submission is on the roster.</p>")
    parts.append("</section>")
    return "\n".join(parts)



# --- Similar submissions (course/instructor/similarity.py) --------------------------------------------

SHOWN_PAIRS = 10  # pairs per assignment with a side-by-side view


def similarity_png(result, threshold):
    figure = _figure(figsize=(6, 2.6))
    axes = figure.add_subplot()
    axes.hist(result.similarities, bins=[k / 20 for k in range(21)], color="#b5651d", edgecolor="white")
    axes.axvline(threshold, color="#333", linestyle="--", linewidth=1)
    many = len(result.similarities) > 100
    if many:
        axes.set_yscale("log")  # a few similar pairs stand out against thousands of others
    else:
        axes.yaxis.get_major_locator().set_params(integer=True)
    axes.set_xlim(0, 1)
    axes.set_xlabel(f"similarity of a pair of submissions (dashed: listed from {threshold:g})")
    axes.set_ylabel("pairs (log scale)" if many else "pairs")
    axes.set_title(f"{result.assignment}: every pair compared ({len(result.similarities)})")
    return _png(figure)


def _marked(source, marks, stub_lines=frozenset()):
    """The source as HTML, `marks` (character ranges, none across a line end) in <mark>, and each
    run of the stub's lines folded into one line after its first (the signature)."""
    e = html.escape
    lines, start = [], 0
    for line in source.splitlines(keepends=True):
        lines.append((start, start + len(line)))
        start += len(line)
    out, run = [], 0
    for n, (first, last) in enumerate(lines):
        if n in stub_lines and n - 1 in stub_lines:
            run += 1
            if n + 1 in stub_lines:
                continue
            indent = len(source[first:last]) - len(source[first:last].lstrip())
            out.append(" " * indent + f'<span class="folded">… {run} line{"s" * (run > 1)} of the stub …</span>\n')
            run = 0
            continue
        at, text = first, []
        for m_start, m_end in marks:
            if first <= m_start < last:
                text.append(e(source[at:m_start]) + f'<mark class="match">{e(source[m_start:m_end])}</mark>')
                at = m_end
        out.append("".join(text) + e(source[at:last]))
    return "".join(out)


def similarity_html(results):
    """The "Similar submissions" section: per assignment, a histogram of every pair's
    similarity, the pairs at or above the threshold, and the code of the most similar ones
    side by side with the matching regions marked."""
    from course.instructor import similarity as sim

    e = html.escape
    parts = ['<section class="similarity" id="similar-submissions"><h2>Similar submissions</h2>',
             f'<p class="explain">For every pair of students, each exercise\'s solution cell is compared '
             f"after the stub's own code (signature, docstring, <code>raise NotImplementedError()</code>) is "
             "dropped and what copying changes is normalised: names, comments, blank lines and string "
             f"contents. The similarity of a pair is the share of its code, in runs of at least "
             f"{sim.K + sim.WINDOW - 1} tokens, that the two have in common and the rest of the class does not "
             f"(code found in more than {sim.COMMON_AT_LEAST} submissions, or {sim.COMMON_SHARE:.0%} of the class, "
             "is what everybody writes). Each exercise weighs by its size, and exercises whose median answer has "
             f"fewer than {sim.MIN_TOKENS} tokens are not compared: a one-line right answer is written alike by "
             f"most students. Pairs from {sim.THRESHOLD:g} are listed. <strong>A similar pair is a reason to "
             "look at the two submissions, not a verdict</strong>: read the code side by side and ask the "
             "students before concluding anything.</p>"]
    for result in results:
        compared = [x for x in result.exercises.values() if x.compared]
        skipped = [x for x in result.exercises.values() if not x.compared]
        parts.append(f'<div class="similarity-assignment"'
                     + _attrs(assignment=result.assignment, students=len(result.students),
                              pairs=len(result.similarities), listed=len(result.pairs))
                     + f"><h3>{e(result.assignment)}</h3>")
        if result.problem:
            parts.append(f'<p class="similarity-problem">Not compared: {e(result.problem)}.</p></div>')
            continue
        pairs = len(result.similarities)
        notes = [f"{len(result.students)} submissions with an answer, {pairs} pair{'s' * (pairs != 1)} compared "
                 f"({result.seconds:.2f} s)."]
        if compared:
            notes.append("Compared: " + ", ".join(f"<code>{e(x.name)}</code> ({x.answers} answers, median "
                                                  f"{x.median_tokens:g} tokens)" for x in compared) + ".")
        if skipped:
            notes.append("Not compared: " + ", ".join(
                f'<code class="skipped">{e(x.name)}</code> ('
                + (f"median {x.median_tokens:g} tokens, below {sim.MIN_TOKENS}" if x.answers else "no answer")
                + ")" for x in skipped) + ".")
        parts.append(f'<p class="similarity-summary">{" ".join(notes)}</p>')
        if len(result.similarities):
            parts.append(f'<figure><img class="similarity-histogram" alt="Histogram of pair similarities, '
                         f'{e(result.assignment)}" src="data:image/png;base64,{similarity_png(result, sim.THRESHOLD)}">'
                         "</figure>")
        if not result.pairs:
            parts.append(f'<p class="no-similar-pairs">No pair reaches {sim.THRESHOLD:g}.</p></div>')
            continue
        rows = [f'<tr class="similar-pair"'
                + _attrs(student_a=p.student_a, student_b=p.student_b, similarity=f"{p.similarity:.3f}",
                         exercises=" ".join(p.exercises))
                + f"><td>{n}</td><td>{e(p.student_a)}</td><td>{e(p.student_b)}</td><td>{p.similarity:.2f}</td>"
                f"<td>{', '.join(f'<code>{e(name)}</code> {figure:.2f}' for name, figure in p.exercises.items())}</td></tr>"
                for n, p in enumerate(result.pairs, 1)]
        parts.append('<table class="similar-pairs"><tr><th>#</th><th>student</th><th>student</th>'
                     "<th>similarity</th><th>exercises (each one's similarity)</th></tr>" + "".join(rows) + "</table>")
        for n, p in enumerate(result.pairs[:SHOWN_PAIRS]):
            views = "".join(
                f'<div class="side-by-side"{_attrs(exercise=v.exercise, student_a=p.student_a, student_b=p.student_b)}>'
                f"<h4><code>{e(v.exercise)}</code>: {v.similarity:.2f}</h4><div class=\"code-pair\">"
                + "".join(f'<div><h5>{e(student)}</h5><pre class="code"{_attrs(student=student)}>{_marked(*shown)}</pre></div>'
                          for student, *shown in ((p.student_a, v.source_a, v.marks_a, v.stub_lines_a),
                                                  (p.student_b, v.source_b, v.marks_b, v.stub_lines_b)))
                + "</div></div>" for v in p.views)
            parts.append(f"<details class=\"pair-code\"{' open' if n == 0 else ''}><summary>{e(p.student_a)} and "
                         f"{e(p.student_b)}: {p.similarity:.2f}, matching code marked</summary>{views}</details>")
        parts.append("</div>")
    parts.append("</section>")
    return "\n".join(parts)

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 70em; color: #222; padding: 0 1em; }
table { border-collapse: collapse; margin: .5em 0 1.5em; }
th, td { border-bottom: 1px solid #ddd; padding: .25em .6em; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
ol.failures { margin: 0; padding-left: 1.2em; }
.count { font-variant-numeric: tabular-nums; color: #a33; }
section.assignment { border-top: 3px solid #3b6ea8; margin-top: 2em; }
img { max-width: 100%; }
section.similarity { border-top: 3px solid #b5651d; margin-top: 2em; }
.code-pair { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: .8em; margin: .3em 0 1em; }
.code-pair pre { margin: 0; padding: .5em; background: #fafafa; border: 1px solid #ddd; overflow-x: auto; font-size: 12px; }
.code-pair h5 { margin: 0 0 .2em; font-size: 13px; }
mark.match { background: #ffe08a; }
.folded { color: #888; font-style: italic; }
"""


def write_html(views, path, roster_issues=None, title="Grading report", similar=None):
    """similar: course.instructor.similarity.find_similar()'s results (the "Similar submissions" section), or None."""
    e = html.escape
    toc = "".join(f'<li><a href="#{e(v.name)}">{e(v.name)}</a>: {len(v.scores)} graded, '
                  f"{len(v.not_graded)} not graded, {len(v.missing)} missing</li>" for v in views)
    if similar is not None:
        toc += f'<li><a href="#similar-submissions">Similar submissions</a>: {sum(len(r.pairs) for r in similar)} pairs</li>'
    page = (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title>'
            f"<style>{STYLE}</style></head><body><h1>{e(title)}</h1><ul class=\"toc\">{toc}</ul>\n"
            + "\n".join(assignment_html(v) for v in views) + "\n" + roster_html(roster_issues) + "\n"
            + (similarity_html(similar) + "\n" if similar is not None else "") + "</body></html>\n")
    Path(path).write_text(page, encoding="utf-8")
    return path
