"""The course's chapters and exercises, read from solutions/catalog.toml: the one place they are declared."""
import dataclasses
import tomllib
from pathlib import Path

CATALOG = Path(__file__).resolve().parent.parent / "solutions" / "catalog.toml"


@dataclasses.dataclass(frozen=True)
class Exercise:
    name: str
    signature: str
    points: float


@dataclasses.dataclass(frozen=True)
class Chapter:
    id: str
    title: str
    topic: str
    exercises: tuple


class CatalogError(ValueError):
    pass


def read(path=CATALOG):
    """The chapters in course order; a malformed entry says which and what is wrong."""
    data = tomllib.loads(Path(path).read_text())
    chapters, seen = [], set()
    for n, entry in enumerate(data.get("chapter", []), 1):
        try:
            exercises = tuple(Exercise(e["name"], e["signature"].strip("\n"), e["points"]) for e in entry.get("exercise", []))
            chapter = Chapter(entry["id"], entry["title"], entry.get("topic", ""), exercises)
        except KeyError as missing:
            raise CatalogError(f"{path}: chapter {n} ({entry.get('id', '?')}) has no {missing}") from None
        for name in [chapter.id] + [e.name for e in exercises]:
            if name in seen:
                raise CatalogError(f"{path}: {name} is declared twice")
            seen.add(name)
        for exercise in exercises:
            if not isinstance(exercise.points, (int, float)) or isinstance(exercise.points, bool) or exercise.points <= 0:
                raise CatalogError(f"{path}: {exercise.name}'s points must be a positive number, not {exercise.points!r}")
        chapters.append(chapter)
    return chapters


def points(chapters=None):
    """Exercise name -> its points."""
    return {e.name: e.points for c in chapters or read() for e in c.exercises}
