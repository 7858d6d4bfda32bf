"""Due dates, extensions and the late policy, from <course folder>/deadlines.toml.

The file (autograders/deadlines.toml documents its format) gives each assignment a due date
with its time zone, per-student extensions and a late policy: a percentage of the score per
day late (a part of a day counts as a day) up to a cap, and optionally zero after a hard
deadline, a number of days after the student's due date.

nbgrader's own mechanism does the rest: the gradebook holds each assignment's due date and each
submission's extension, nbgrader computes how late the submission's timestamp
(submitted/<student>/<assignment>/timestamp.txt: the exchange's for hub submissions, the LMS
download's for the others) is, and its AssignLatePenalties step asks `LatePenalty` (the
plugin nbgrader_config.py names) for the penalty. `sync_assignments` and `sync_extension`
copy the file into the gradebook before every batch and submission, so a due date changed in
the file after the first grading is the one used (nbgrader writes a due date only when it
creates the assignment: its bug #723). The ledger's key of a submission holds its deadline
(`Deadline.key`), so changing either regrades it.
"""
import datetime as dt
import math
import tomllib
import zoneinfo
from dataclasses import dataclass
from pathlib import Path

from nbgrader.api import MissingEntry
from nbgrader.plugins import LateSubmissionPlugin
from traitlets import Unicode

FILE_NAME = "deadlines.toml"
DAY = 86400.0


class DeadlineError(ValueError):
    pass


@dataclass(frozen=True)
class Policy:
    per_day: float = 0.0  # percent of the score lost per day late (or part of a day)
    cap: float = 100.0  # at most this percent is lost
    zero_after_days: float | None = None  # later than this many days after the due date: score 0

    def percent(self, seconds_late):
        """The percent of the score lost by a submission `seconds_late` after its due date."""
        if seconds_late <= 0:
            return 0.0
        if self.zero_after_days is not None and seconds_late > self.zero_after_days * DAY:
            return 100.0
        return min(self.cap, self.per_day * days_late(seconds_late))


@dataclass(frozen=True)
class Deadline:
    due: dt.datetime | None  # the assignment's due date, aware
    extension: dt.timedelta | None  # this student's extension, if any
    policy: Policy

    @property
    def student_due(self):
        if self.due is None:
            return None
        return self.due + (self.extension or dt.timedelta(0))

    def key(self):
        """What the ledger keys a submission's grade on (course/grading/ledger.py)."""
        due = self.student_due
        return f"{due.astimezone(dt.timezone.utc).isoformat() if due else None}|{self.policy}"


NO_DEADLINE = Deadline(None, None, Policy())


def _utc_naive(moment):
    """How nbgrader's gradebook stores times: UTC without a time zone."""
    return moment.astimezone(dt.timezone.utc).replace(tzinfo=None)


class Deadlines:
    """The parsed file: `of(assignment, student)` is that student's Deadline."""

    def __init__(self, data=None, source="deadlines"):
        data = data or {}
        self.source = source
        unknown = set(data) - {"timezone", "late", "assignments"}
        if unknown:
            raise DeadlineError(f"{source}: unknown key(s) {', '.join(sorted(unknown))} "
                                "(expected timezone, [late] and [assignments.<id>])")
        try:
            self.zone = zoneinfo.ZoneInfo(data.get("timezone", "UTC"))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError) as error:
            raise DeadlineError(f"{source}: unknown timezone {data.get('timezone')!r} ({error})") from None
        self.policy = self._policy(data.get("late", {}), "[late]")
        self.assignments = {}
        for name, entry in data.get("assignments", {}).items():
            where = f"[assignments.{name}]"
            if not isinstance(entry, dict) or set(entry) - {"due", "late", "extensions"}:
                raise DeadlineError(f"{source}: {where} takes due, late and extensions")
            due = self._moment(entry["due"], f"{where} due") if "due" in entry else None
            policy = self._policy(entry["late"], f"{where} late") if "late" in entry else self.policy
            extensions = {}
            for student, value in entry.get("extensions", {}).items():
                if due is None:
                    raise DeadlineError(f"{source}: {where} gives extensions but no due date")
                extensions[str(student)] = self._extension(value, due, f"{where} extensions.{student}")
            self.assignments[name] = (due, policy, extensions)

    def _moment(self, value, where):
        if isinstance(value, str):
            try:
                value = dt.datetime.fromisoformat(value)
            except ValueError:
                raise DeadlineError(f"{self.source}: {where} = {value!r} is not a date and time "
                                    "(write 2026-09-14T23:59:00, optionally with +02:00)") from None
        if not isinstance(value, dt.datetime):
            raise DeadlineError(f"{self.source}: {where} must be a date and time, not {value!r}")
        return value if value.tzinfo is not None else value.replace(tzinfo=self.zone)

    def _extension(self, value, due, where):
        """A new due date for the student, or a number of days added to the assignment's."""
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if value < 0:
                raise DeadlineError(f"{self.source}: {where} = {value}: an extension cannot be negative")
            return dt.timedelta(days=value)
        moment = self._moment(value, where)
        if moment < due:
            raise DeadlineError(f"{self.source}: {where} = {value} is before the due date {due}")
        return moment - due

    def _policy(self, table, where):
        if not isinstance(table, dict) or set(table) - {"per_day", "cap", "zero_after_days"}:
            raise DeadlineError(f"{self.source}: {where} takes per_day, cap and zero_after_days")
        for name, value in table.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise DeadlineError(f"{self.source}: {where} {name} = {value!r} must be a number >= 0")
        if table.get("cap", 0) > 100 or table.get("per_day", 0) > 100:
            raise DeadlineError(f"{self.source}: {where} percentages are at most 100")
        zero = table.get("zero_after_days")
        return Policy(float(table.get("per_day", 0)), float(table.get("cap", 100)),
                      None if zero is None else float(zero))

    def of(self, assignment, student=None):
        if assignment not in self.assignments:
            return Deadline(None, None, self.policy)
        due, policy, extensions = self.assignments[assignment]
        return Deadline(due, extensions.get(student), policy)


def load(root):
    """The course folder's deadlines (none when it has no deadlines.toml)."""
    return read(Path(root) / FILE_NAME)


def read(path):
    path = Path(path)
    if not path.is_file():
        return Deadlines(source=str(path))
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise DeadlineError(f"{path}: {error}") from None
    return Deadlines(data, str(path))


def sync_assignments(gb, deadlines, assignments):
    """Write each assignment's due date from the file into the gradebook (None when it has none)."""
    for name in assignments:
        due = deadlines.of(name).due
        wanted = None if due is None else _utc_naive(due)
        assignment = gb.find_assignment(name)
        if assignment.duedate != wanted:
            assignment.duedate = wanted
            gb.db.commit()


def sync_extension(gb, deadlines, assignment, student):
    """Write the student's extension into the gradebook's submission record, creating it if needed
    (nbgrader's autograde keeps the record and its extension, and sets the timestamp)."""
    extension = deadlines.of(assignment, student).extension
    try:
        submission = gb.find_submission(assignment, student)
    except MissingEntry:
        if extension is None:
            return
        submission = gb.update_or_create_submission(assignment, student)
    if submission.extension != extension:
        submission.extension = extension
        gb.db.commit()


def lateness(submission):
    """(seconds late, penalty in points, score after it) of a gradebook submission."""
    penalty = float(submission.late_submission_penalty or 0.0)
    return float(submission.total_seconds_late), penalty, max(0.0, float(submission.score) - penalty)


def days_late(seconds_late):
    """Days late as the policy counts them: a part of a day is a day."""
    return math.ceil(seconds_late / DAY) if seconds_late > 0 else 0


def describe(seconds_late, penalty):
    """'2 days late: -1.5 points', or '' when on time."""
    days = days_late(seconds_late)
    return f"{days} day{'s' * (days > 1)} late: -{penalty:g} points" if days else ""


class LatePenalty(LateSubmissionPlugin):
    """nbgrader's late-penalty plugin for the course's policy (AssignLatePenalties calls it for a
    submission its gradebook finds late): the assignment's policy from deadlines.toml."""

    deadlines_file = Unicode("", help="The course's deadlines.toml").tag(config=True)

    def late_submission_penalty(self, student_id, score, total_seconds_late):
        assignment = getattr(self.parent, "assignment_id", None)
        deadlines = read(self.deadlines_file) if self.deadlines_file else Deadlines()
        percent = deadlines.of(assignment, student_id).policy.percent(total_seconds_late)
        self.log.info("%s %s: %.0f s late, %g%% of %g points lost", assignment, student_id,
                      total_seconds_late, percent, score)
        return score * percent / 100.0
