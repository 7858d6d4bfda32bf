"""Grades ready for an LMS: CSV files Canvas's and Moodle's grade imports accept.

The roster (`--roster roster.csv`, default <root>/roster.csv when it exists) maps nbgrader's
student id to the LMS's identity. Its columns, with a header row:

    student_id   nbgrader's student id (the submitted/<student_id>/ folder), required
    name         shown in the Canvas file's Student column
    email        Moodle's "Email address" (the default identifier of the Moodle file)
    login        Moodle's "Username" and Canvas's "SIS Login ID"
    sis_id       Canvas's "SIS User ID" and Moodle's "ID number"
    canvas_id    Canvas's own numeric user id ("ID"), optional
    section      Canvas's "Section", optional
    moodle_id    Moodle's participant id of the assignment ("Participant 1234"), optional

The LMS's own exports are rosters too (read_roster tells them apart by their header):
    Canvas's gradebook export (Grades > Export > Export Entire Gradebook): Student, ID,
    SIS User ID, SIS Login ID, Section, ...; its "Points Possible" row is skipped. The student
    id is the SIS Login ID, or Canvas's user id where that is empty.
    Moodle's grading worksheet (the assignment's View all submissions > Grading action >
    Download grading worksheet): Identifier ("Participant 1234"), Full name, Email address,
    ...; the student id is the email address, or participant-1234 where there is none.
    Graded with that worksheet as the roster, one assignment at a time, the same worksheet
    comes back filled in as moodle_worksheet_<assignment>.csv (Grading action > Upload
    grading worksheet).

canvas_grades.csv (Canvas: Grades > Import):
    Student, ID, SIS User ID, SIS Login ID, Section, then one column per assignment named
    "<assignment id>", or "<assignment id> (<Canvas assignment id>)" when the Canvas id is given
    (--canvas-assignment ID=CANVAS_ID): Canvas updates the assignment with that id; a column
    without one becomes a new assignment on import. The second row is Canvas's
    "    Points Possible" row (the identity columns empty, each assignment's maximum score).
    Canvas matches a row by ID, else SIS User ID, else SIS Login ID.
moodle_grades.csv (Moodle: Grades > Import > CSV file):
    one identifier column, "Email address" (roster email), "Username" (roster login) or
    "ID number" (roster sis_id) as --moodle-id email|username|idnumber chooses: on import,
    map it ("Map from") to the user field of that name (useremail, username, useridnumber);
    then "Full name" (ignored on import) and one column per assignment, headed by the
    assignment id, each mapped on import to its grade item (or to a new grade item), each
    followed by "<assignment id> feedback", mapped to that item's feedback: the late penalty
    ("2 days late: -1.2 points"), "not graded: <why>" or "missing". Scores are raw points: a
    grade item's maximum grade should equal the assignment's maximum.

Scores are nbgrader's (grades.csv's `score`: after any late penalty). A roster student with no
graded submission (none, or one that could not be graded) gets an empty cell or 0, as
--missing blank|zero says. Roster entries with no submission, submissions with no roster entry
(which cannot appear in an LMS file) and roster entries the LMS cannot match are returned as
RosterIssues: report.html and the printed summary list them.
"""
import csv
from dataclasses import dataclass, field
from pathlib import Path

ROSTER_COLUMNS = ("student_id", "name", "email", "login", "sis_id", "canvas_id", "section", "moodle_id")
CANVAS_EXPORT = ("Student", "ID")  # columns that make a roster file Canvas's gradebook export
MOODLE_WORKSHEET = ("Identifier", "Full name")  # ... and Moodle's grading worksheet
CANVAS_FILE, MOODLE_FILE = "canvas_grades.csv", "moodle_grades.csv"
MOODLE_IDENTIFIERS = {"email": ("Email address", "email"), "username": ("Username", "login"),
                      "idnumber": ("ID number", "sis_id")}


class RosterError(ValueError):
    pass


@dataclass
class RosterIssues:
    no_submission: dict = field(default_factory=dict)  # assignment -> roster students who submitted nothing
    unknown: dict = field(default_factory=dict)  # assignment -> submitting students not on the roster
    no_identity: list = field(default_factory=list)  # (student, why the LMS cannot match the row)

    def lines(self):
        # Roster students with no submission are printed as MISSING with every other missing one.
        out = [f"  NOT ON ROSTER {a} {s}: left out of the LMS exports" for a, ss in self.unknown.items() for s in ss]
        out += [f"  ROSTER {s}: {why}" for s, why in self.no_identity]
        return out


def roster_format(fields):
    """"course", "canvas" or "moodle": which kind of roster a header row is."""
    if "student_id" in fields:
        return "course"
    if all(f in fields for f in CANVAS_EXPORT):
        return "canvas"
    if all(f in fields for f in MOODLE_WORKSHEET):
        return "moodle"
    raise RosterError(f"no student_id column (columns: {', '.join(fields) or 'none'}; expected student_id "
                      f"and any of {', '.join(ROSTER_COLUMNS[1:])}, or Canvas's gradebook export "
                      "(Student, ID, ...), or Moodle's grading worksheet (Identifier, Full name, ...))")


def _from_canvas(row):
    """A row of Canvas's gradebook export as a roster row; None for its Points Possible row."""
    if row.get("Student", "").strip() == "Points Possible" or not row.get("ID"):
        return None
    return {"student_id": row.get("SIS Login ID") or row["ID"], "name": row["Student"], "canvas_id": row["ID"],
            "sis_id": row.get("SIS User ID", ""), "login": row.get("SIS Login ID", ""),
            "section": row.get("Section", "")}


def _from_moodle(row):
    """A row of Moodle's grading worksheet as a roster row."""
    identifier = row["Identifier"]
    participant = identifier.removeprefix("Participant").strip()
    if not participant.isdigit():
        raise RosterError(f"Identifier {identifier!r} is not 'Participant <number>'")
    return {"student_id": row.get("Email address") or f"participant-{participant}", "name": row["Full name"],
            "email": row.get("Email address", ""), "sis_id": row.get("ID number", ""), "moodle_id": participant}


def read_roster(path):
    """{student_id: {column: value}} in the file's order, from the course's roster, Canvas's
    gradebook export or Moodle's grading worksheet."""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        fields = [f.strip() for f in reader.fieldnames or []]
        try:
            kind = roster_format(fields)
        except RosterError as error:
            raise RosterError(f"{path}: {error}") from None
        roster = {}
        for number, row in enumerate(reader, 2):
            row = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
            try:
                row = {"course": dict, "canvas": _from_canvas, "moodle": _from_moodle}[kind](row)
            except RosterError as error:
                raise RosterError(f"{path}, line {number}: {error}") from None
            if row is None:
                continue
            sid = row["student_id"]
            if "/" in sid or sid.startswith("."):
                raise RosterError(f"{path}, line {number}: {sid!r} cannot be a student id (a folder name)")
            if not sid:
                raise RosterError(f"{path}, line {number}: empty student_id")
            if sid in roster:
                raise RosterError(f"{path}, line {number}: student_id {sid} appears twice")
            roster[sid] = {column: row.get(column, "") for column in ROSTER_COLUMNS}
    return roster


def scores_from(gb, assignments, outcomes=None):
    """({(student, assignment): score} of graded submissions, {assignment: max score}).
    With this batch's outcomes, only the submissions this batch graded count."""
    graded = None if outcomes is None else {(o.student, o.assignment) for o in outcomes if o.status == "graded"}
    scores, maxima = {}, {}
    for name in assignments:
        assignment = gb.find_assignment(name)
        maxima[name] = float(assignment.max_score)
        for submission in assignment.submissions:
            if graded is None or (submission.student_id, name) in graded:
                penalty = float(submission.late_submission_penalty or 0.0)  # the grade is after it
                scores[(submission.student_id, name)] = max(0.0, float(submission.score) - penalty)
    return scores, maxima


def number(value):
    return f"{value:.4f}".rstrip("0").rstrip(".")


def cell(scores, student, assignment, missing):
    if (student, assignment) in scores:
        return number(scores[(student, assignment)])
    return "0" if missing == "zero" else ""


def write_canvas(path, roster, assignments, scores, maxima, missing="blank", canvas_ids=None):
    canvas_ids = canvas_ids or {}
    headers = [f"{a} ({canvas_ids[a]})" if a in canvas_ids else a for a in assignments]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section"] + headers)
        writer.writerow(["    Points Possible", "", "", "", ""] + [number(maxima[a]) for a in assignments])
        for sid, person in roster.items():
            writer.writerow([person["name"] or sid, person["canvas_id"], person["sis_id"], person["login"],
                             person["section"]] + [cell(scores, sid, a, missing) for a in assignments])
    return path


def notes_from(outcomes):
    """{(student, assignment): what Moodle's feedback column says}: the late penalty of a graded
    submission, "not graded: <why>" or "missing" for one with no grade (the words of report.csv)."""
    from course.grading.deadlines import describe

    notes = {}
    for o in outcomes or ():
        if o.status == "graded":
            notes[(o.student, o.assignment)] = describe(o.seconds_late, o.penalty)
        else:
            notes[(o.student, o.assignment)] = o.status + (f": {o.message}" if o.status == "not graded" else "")
    return notes


def write_moodle(path, roster, assignments, scores, missing="blank", identifier="email", notes=None):
    header, column = MOODLE_IDENTIFIERS[identifier]
    notes = notes or {}
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([header, "Full name"] + [h for a in assignments for h in (a, f"{a} feedback")])
        for sid, person in roster.items():
            writer.writerow([person[column], person["name"] or sid]
                            + [v for a in assignments for v in (cell(scores, sid, a, missing),
                                                                notes.get((sid, a), "missing"))])
    return path


def _header(path):
    with open(path, newline="", encoding="utf-8-sig") as handle:
        return [f.strip() for f in next(csv.reader(handle), [])]


def fill_moodle_worksheet(worksheet, path, roster, assignment, scores, missing="blank"):
    """Moodle's grading worksheet as downloaded, its Grade column filled in: the file Moodle's
    "Upload grading worksheet" takes back (rows are matched by their Identifier)."""
    by_participant = {person["moodle_id"]: sid for sid, person in roster.items()}
    with open(worksheet, newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle))
    header = [f.strip() for f in rows[0]]
    identifier, grade = header.index("Identifier"), header.index("Grade")
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(rows[0])
        for row in rows[1:]:
            sid = by_participant.get(row[identifier].removeprefix("Participant").strip())
            if sid is not None and len(row) > grade:
                row[grade] = cell(scores, sid, assignment, missing)
            writer.writerow(row)
    return path


def roster_issues(roster, outcomes, assignments, moodle_identifier="email"):
    """Who is on one side only, from this batch's outcomes (course.grading.batch.Outcome)."""
    issues = RosterIssues()
    submitted = {(o.student, o.assignment) for o in outcomes if o.status in ("graded", "not graded")}
    for a in assignments:
        absent = [s for s in roster if (s, a) not in submitted]
        unknown = sorted(s for s, b in submitted if b == a and s not in roster)
        if absent:
            issues.no_submission[a] = absent
        if unknown:
            issues.unknown[a] = unknown
    header, column = MOODLE_IDENTIFIERS[moodle_identifier]
    for sid, person in roster.items():
        if not (person["canvas_id"] or person["sis_id"] or person["login"]):
            issues.no_identity.append((sid, "no canvas_id, sis_id or login: Canvas cannot match this row"))
        if not person[column]:
            issues.no_identity.append((sid, f"no {column}: Moodle cannot match this row by {header}"))
    return issues


def export(gb, root, roster_path, assignments, outcomes, missing="blank", moodle_identifier="email",
           canvas_ids=None):
    """Write both files under `root`; return ([paths], RosterIssues)."""
    roster = read_roster(roster_path)
    scores, maxima = scores_from(gb, assignments, outcomes)
    root = Path(root)
    paths = [write_canvas(root / CANVAS_FILE, roster, assignments, scores, maxima, missing, canvas_ids),
             write_moodle(root / MOODLE_FILE, roster, assignments, scores, missing, moodle_identifier,
                          notes_from(outcomes))]
    header = _header(roster_path)
    if len(assignments) == 1 and roster_format(header) == "moodle" and "Grade" in header:
        paths.append(fill_moodle_worksheet(roster_path, root / f"moodle_worksheet_{assignments[0]}.csv",
                                           roster, assignments[0], scores, missing))
    return paths, roster_issues(roster, outcomes, assignments, moodle_identifier)
