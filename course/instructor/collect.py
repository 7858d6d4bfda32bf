"""Put an LMS's submission download where nbgrader grades it.

    course collect DOWNLOAD --assignment ID [--roster ROSTER] [--root autograders]

DOWNLOAD is the zip the LMS gives, or the folder it unpacks to. Each file is matched to a
student of the roster (course/instructor/lms.py read_roster: the course's roster.csv, Canvas's gradebook
export or Moodle's grading worksheet) by the identity in its name:

  Canvas (Assignment > Download Submissions): <sortable name>_<user id>_<submission id>_<file>,
      with _LATE after the name for a late one (lovelaceada_LATE_1001_55501_...), and -1, -2...
      at the end of the file's own name when the student uploaded a file of that name before;
      matched by Canvas user id (the roster's canvas_id, the export's ID).
  Moodle (View all submissions > Download all submissions): a folder per student named
      <Full name>_<participant id>_assignsubmission_file_ holding the files, or, with the
      download's folders option off, flat files <Full name>_<participant id>_assignsubmission_file_<file>;
      matched by participant id (the worksheet's "Participant <id>", the roster's moodle_id),
      else by full name when exactly one roster entry has it.
  The course's own <student_id>__<file>, as nbgrader's zip_collect takes it.

Per student, the newest version of each file wins (highest -N, then newest file time). The
assignment's notebook is the file named <assignment>.ipynb, else the one notebook whose cells
are the assignment's (a renamed "Copy of ...", "... (1)"); it lands as nbgrader's
<root>/submitted/<student>/<assignment>/<assignment>.ipynb, byte for byte, with timestamp.txt
(nbgrader's format: the file's time in the download, kept as long as the file is unchanged).
Two such notebooks are both placed under their own names, and grading says so. A file that
matches no student, or is no notebook, is reported with the reason and never stops the rest.
Everything is printed and written to <root>/downloaded/<assignment>/collect.csv. Collecting
a later download again rewrites only what changed, so `course grade` grades only that.
"""
import argparse
import csv
import datetime as dt
import re
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import sqlalchemy.exc
from nbgrader.api import Gradebook, MissingEntry

from course import ASSIGNMENTS, AUTOGRADERS
from course.checkout import refuse_another_checkout
from course.grading.gradebook import nbgrader_api
from course.instructor import lms
from course.grading.batch import MAX_NOTEBOOK_BYTES, cell_names, grade_ids_by_assignment

CANVAS = re.compile(r"^(?P<name>[^_]+?)(?P<late>_LATE)?_(?P<user>\d+)_(?P<submission>\d+)_(?P<file>.+)$")
MOODLE_FOLDER = re.compile(r"^(?P<name>.+)_(?P<participant>\d+)_assignsubmission_(?P<plugin>[a-z]+)_$")
MOODLE_FLAT = re.compile(r"^(?P<name>.+)_(?P<participant>\d+)_assignsubmission_(?P<plugin>[a-z]+)_(?P<file>.+)$")
COURSE = re.compile(r"^(?P<student>[^_/]+)__(?P<file>.+)$")
CANVAS_VERSION = re.compile(r"^(?P<stem>.+)-(?P<version>\d+)(?P<suffix>\.[^.]+)$")  # "-1" Canvas adds on re-upload
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f UTC"  # nbgrader's (Exchange.timestamp_format), always UTC here
IGNORED = ("__MACOSX/", ".DS_Store", "Thumbs.db")
REPORT_COLUMNS = ["file", "student_id", "status", "reason", "late", "time"]


class CollectError(ValueError):
    pass


@dataclass
class Found:
    """One file of the download and what became of it."""
    file: str  # its path in the download
    data: bytes
    time: dt.datetime  # aware, UTC
    lms: str = ""
    who: str = ""  # the LMS's identity of the student, as the file name gives it
    shown: str = ""  # the student's name as the file name gives it
    name: str = ""  # the student's own file name, without the LMS's prefix or version
    version: int = 0
    late: bool = False
    student: str = ""
    status: str = ""  # collected | unchanged | superseded | not used | skipped
    reason: str = ""

    def row(self):
        return [self.file, self.student, self.status, self.reason, "LATE" if self.late else "",
                self.time.strftime(TIMESTAMP_FORMAT)]


def read_download(path):
    """Every file of the download (zip or folder), skipping what operating systems add."""
    path = Path(path)
    found = []
    if path.is_dir():
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            name = file.relative_to(path).as_posix()
            if not _ignored(name):
                found.append(Found(name, _read(file.stat().st_size, file.read_bytes),
                                   dt.datetime.fromtimestamp(file.stat().st_mtime, dt.timezone.utc)))
    elif zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if not info.is_dir() and not _ignored(info.filename):
                    found.append(Found(info.filename, _read(info.file_size, lambda: archive.read(info)),
                                       dt.datetime(*info.date_time, tzinfo=dt.timezone.utc)))
    else:
        raise CollectError(f"{path}: neither a zip file nor a folder")
    return found


def _ignored(name):
    return any(part in name for part in IGNORED) or PurePosixPath(name).name.startswith(".")


def _read(size, read):
    return read() if size <= MAX_NOTEBOOK_BYTES else None  # too big: reported, never read into memory


def identify(found):
    """Fill in the LMS, the student's identity and own file name from the file's path."""
    parts = PurePosixPath(found.file).parts
    base = parts[-1]
    folder = next((m for m in map(MOODLE_FOLDER.match, parts[:-1]) if m), None)
    if folder:
        found.lms, found.who, found.name, found.shown = "moodle", folder["participant"], base, folder["name"]
    elif match := MOODLE_FLAT.match(base):
        found.lms, found.who, found.name, found.shown = "moodle", match["participant"], match["file"], match["name"]
    elif match := CANVAS.match(base):
        found.lms, found.who, found.late, found.shown = "canvas", match["user"], bool(match["late"]), match["name"]
        found.name = match["file"]
        if version := CANVAS_VERSION.match(found.name):
            found.name, found.version = version["stem"] + version["suffix"], int(version["version"])
    elif match := COURSE.match(base):
        found.lms, found.who, found.name = "course", match["student"], match["file"]
    return found


def _key(name):
    return " ".join(name.casefold().split())


def match_students(files, roster):
    """Set each file's student from the roster, or its status and reason when there is none."""
    canvas = {p["canvas_id"]: sid for sid, p in roster.items() if p.get("canvas_id")}
    moodle = {p["moodle_id"]: sid for sid, p in roster.items() if p.get("moodle_id")}
    names = {}
    for sid, person in roster.items():
        names.setdefault(_key(person.get("name", "")), []).append(sid)
    for f in files:
        if not f.lms:
            f.status, f.reason = "skipped", "its name is not a Canvas, Moodle or <student_id>__<file> submission name"
        elif f.lms in ("canvas", "moodle") and not roster:
            f.status, f.reason = "skipped", f"no roster to find {f.lms.capitalize()}'s {f.shown} ({f.who}): pass --roster"
        elif f.lms == "canvas":
            f.student = canvas.get(f.who, "")
            if not f.student:
                f.status, f.reason = "skipped", f"Canvas user {f.who} ({f.shown}) is not in the roster"
        elif f.lms == "moodle":
            f.student = moodle.get(f.who, "")
            same_name = names.get(_key(f.shown), [])
            if not f.student and len(same_name) == 1:
                f.student, f.reason = same_name[0], f"matched by full name {f.shown!r}"
            elif not f.student:
                f.status = "skipped"
                f.reason = (f"Moodle participant {f.who} ({f.shown}) is not in the roster"
                            + (f" (several entries are named {f.shown!r})" if same_name else ""))
        else:
            f.student = f.who if f.who in roster or not (roster or f.who.startswith(".")) else ""
            if not f.student:
                f.status, f.reason = "skipped", f"student {f.who} is not in the roster"
        if f.student and f.data is None:
            f.status, f.reason = "skipped", f"over {MAX_NOTEBOOK_BYTES // 2**20} MB"
        elif f.student and not f.name.endswith(".ipynb"):
            f.status, f.reason = "skipped", f"not a notebook ({f.name})"


def choose(files, assignment, known_ids):
    """{file name to write: Found} for one student's notebooks; marks the others."""
    newest = {}
    for f in sorted(files, key=lambda f: (f.version, f.time)):
        if f.name in newest:
            older = newest[f.name]
            older.status, older.reason = "superseded", f"an older version of {f.name}, superseded by {f.file}"
        newest[f.name] = f
    wanted = f"{assignment}.ipynb"
    if wanted in newest:
        chosen = {wanted: newest.pop(wanted)}
        for f in newest.values():
            f.status, f.reason = "not used", f"the submission's {wanted} is the one graded"
        return chosen
    mine = {name: f for name, f in newest.items() if (cell_names(f.data) or set()) & known_ids[assignment]}
    if len(mine) == 1:
        (name, f), = mine.items()
        f.reason = f"renamed: {name} holds the cells of {assignment}"
        chosen = {wanted: f}
    elif mine:
        chosen = mine
        for f in mine.values():
            f.reason = f"one of {len(mine)} notebooks of {assignment}: grading will name them all, none is graded"
    elif len(newest) == 1:  # not recognisable: grading says why (empty, not JSON, another assignment)
        chosen = {wanted: next(iter(newest.values()))}
    else:
        chosen = newest
    for f in newest.values():
        if all(f is not c for c in chosen.values()):
            f.status, f.reason = "not used", f"not a notebook of {assignment}"
    return chosen


def place(root, assignment, student, chosen):
    """Write the chosen files into the student's submitted folder; only what changed is written."""
    folder = Path(root) / "submitted" / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    changed = False
    for name, f in chosen.items():
        target = folder / name
        if target.is_file() and target.read_bytes() == f.data:
            f.status = f.status or "unchanged"
            continue
        target.write_bytes(f.data)
        f.status, changed = f.status or "collected", True
    for stale in folder.glob("*.ipynb"):
        if stale.name not in chosen:
            stale.unlink()
            changed = True
    stamp = folder / "timestamp.txt"
    if changed or not stamp.is_file():
        stamp.write_text(max(f.time for f in chosen.values()).strftime(TIMESTAMP_FORMAT))
    return changed


def collect(download, assignment, roster_path=None, root=AUTOGRADERS, out=None):
    """Place every student's newest notebook of `assignment`; return each file's Found."""
    root, out = Path(root), out or sys.stdout
    roster = lms.read_roster(roster_path) if roster_path else {}
    release_first = f"release it first (course release {assignment})"
    db_url = nbgrader_api(root).coursedir.db_url
    if db_url.startswith("sqlite:///") and not Path(db_url.removeprefix("sqlite:///").split("?")[0]).is_file():
        raise CollectError(f"{root} has no gradebook: {release_first}, or pass the course folder as --root")
    try:
        with Gradebook(db_url) as gb:
            gb.find_assignment(assignment)
            known_ids = grade_ids_by_assignment(gb)
    except MissingEntry:
        raise CollectError(f"{assignment} is not in the gradebook: {release_first}") from None
    except sqlalchemy.exc.SQLAlchemyError as error:
        raise CollectError(f"cannot open the gradebook {db_url}: {error}") from None
    files = [identify(f) for f in read_download(download)]
    match_students(files, roster)
    by_student = {}
    for f in files:
        if not f.status:
            by_student.setdefault(f.student, []).append(f)
    for student, mine in sorted(by_student.items()):
        place(root, assignment, student, choose(mine, assignment, known_ids))
    write_report(root / "downloaded" / assignment / "collect.csv", files)
    summarize(files, out)
    return files


def write_report(path, files):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(REPORT_COLUMNS)
        writer.writerows(f.row() for f in files)


def summarize(files, out):
    for f in sorted(files, key=lambda f: (f.status, f.student, f.file)):
        who = f" -> {f.student}" if f.student else ""
        print(f"{f.status.upper():11} {f.file}{who}" + (" (LATE)" if f.late else "")
              + (f": {f.reason}" if f.reason else ""), file=out)
    counts = {}
    for f in files:
        counts[f.status] = counts.get(f.status, 0) + 1
    students = len({f.student for f in files if f.status in ("collected", "unchanged")})
    print(f"\n{students} students' notebooks in place: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())),
          file=out)


def main(argv=None, prog=None):
    parser = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("download", help="the LMS's submissions zip, or the folder it unpacks to")
    parser.add_argument("--assignment", required=True, choices=ASSIGNMENTS, metavar="ID",
                        help="the assignment these submissions are for")
    parser.add_argument("--roster", default=None,
                        help="roster.csv, Canvas's gradebook export or Moodle's grading worksheet "
                             "(default: <root>/roster.csv if present)")
    parser.add_argument("--root", default=None, help="nbgrader course folder (default: autograders/)")
    args = parser.parse_args(argv)
    refuse_another_checkout(args.root)
    args.root = args.root or str(AUTOGRADERS)
    root = Path(args.root).resolve()
    roster = args.roster or (root / "roster.csv" if (root / "roster.csv").is_file() else None)
    try:
        collect(args.download, args.assignment, roster, root)
    except (CollectError, lms.RosterError, OSError, zipfile.BadZipFile) as error:
        raise SystemExit(f"cannot collect: {error}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
