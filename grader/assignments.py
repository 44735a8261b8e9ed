"""Assignments: a named selection of exercises or items, declared once in ``assignments.toml``.

``grade release``, ``gradescope``, ``batch``, ``classroom``, ``check`` and ``watch`` take either EXERCISE/ITEM
selectors (``ex04 ex05.fit_curve``) or ``--assignment NAME``, never both; this module turns either into a
``catalogue.Selection`` and the assignment it came from. The file sits at the kit's root (``$GRADE_ASSIGNMENTS``
names another one) and is data, never code (``tomllib``)::

    [assignments.week3]
    select = ["ex04", "ex05.fit_curve"]
    visibility = "after_due_date"   # optional: Gradescope's visibility of each test
    title = "Week 3: optimizers"     # optional

    [assignments]
    week4 = ["ex06", "ex07"]         # the short form: the selectors only

A student handout records what it grades in ``grader/assignment.json`` (written by ``grade release``).
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from grader import catalogue

ENV_VAR = "GRADE_ASSIGNMENTS"
FILE_NAME = "assignments.toml"
EXAMPLE_NAME = "assignments.example.toml"
HANDOUT_RECORD = Path(catalogue.__file__).resolve().parent / "assignment.json"
VISIBILITIES = ("visible", "after_due_date", "after_published", "hidden")
"""Gradescope's test visibilities (https://gradescope-autograders.readthedocs.io/en/latest/specs/)."""
KEYS = ("select", "visibility", "title")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class AssignmentsFileError(catalogue.UsageError):
    """``assignments.toml`` is malformed; the message names the file, the key and the fix."""


@dataclass(frozen=True)
class Assignment:
    """One named assignment: its selectors, and optionally a title and a Gradescope visibility."""

    name: str
    select: tuple[str, ...]
    visibility: str | None = None
    title: str | None = None


def default_path() -> Path:
    """``$GRADE_ASSIGNMENTS`` when set, else ``assignments.toml`` at the kit's root."""
    named = os.environ.get(ENV_VAR)
    return Path(named) if named else catalogue.KIT_ROOT / FILE_NAME


def _toml_loads(text: str) -> dict:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10 only
        import tomli as tomllib
    return tomllib.loads(text)


def _toml_error_type() -> type[Exception]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10 only
        import tomli as tomllib
    return tomllib.TOMLDecodeError


def load(path: Path, modules: list[catalogue.ModuleInfo] | None = None) -> dict[str, Assignment]:
    """Every assignment of the file at ``path``, validated against the catalogue (``modules``, default: this kit's).

    Raises:
        AssignmentsFileError: the file is missing or unreadable, is not TOML, has an unknown key, an empty or
            unknown selector, or a visibility Gradescope does not know.
    """
    fix = "Fix the file (assignments.example.toml at the kit's root shows the format), then run the command again."
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise AssignmentsFileError(
            f"no assignments file at {path}: copy {EXAMPLE_NAME} from the kit's root to {FILE_NAME} there and edit "
            f"it, or point ${ENV_VAR} at one") from None
    except (OSError, UnicodeDecodeError) as error:
        raise AssignmentsFileError(f"{path} could not be read ({error}): {fix}") from None
    try:
        data = _toml_loads(text)
    except _toml_error_type() as error:
        raise AssignmentsFileError(f"{path} is not valid TOML ({error}). {fix}") from None
    entries: dict[str, object] = {}
    for key, value in data.items():
        if key == "assignments" and isinstance(value, dict):
            named = value
        elif key != "assignments" and isinstance(value, list):  # the short form at the top level: week3 = ["ex04"]
            named = {key: value}
        else:
            raise AssignmentsFileError(
                f"{path}: unknown top-level key {key!r}: declare each assignment as [assignments.NAME] with "
                f"select = [...], or as NAME = [\"ex04\", ...] under [assignments]. {fix}")
        for name, entry in named.items():
            if name in entries:
                raise AssignmentsFileError(f"{path}: assignment {name!r} is declared twice: keep one. {fix}")
            entries[name] = entry
    every = modules if modules is not None else catalogue.load_catalogue()
    return {name: _entry(path, name, entry, every, fix) for name, entry in entries.items()}


def _entry(path: Path, name: str, entry: object, modules: list[catalogue.ModuleInfo], fix: str) -> Assignment:
    where = f"{path}: assignments.{name}"
    if not NAME.match(name):
        raise AssignmentsFileError(f"{where}: name an assignment with letters, digits, '_', '-' or '.' "
                                   f"(e.g. week3). {fix}")
    if isinstance(entry, list):
        entry = {"select": entry}
    if not isinstance(entry, dict):
        raise AssignmentsFileError(f"{where}: expected a table with select = [...] or a list of selectors, "
                                   f"got {type(entry).__name__}. {fix}")
    unknown = sorted(set(entry) - set(KEYS))
    if unknown:
        raise AssignmentsFileError(f"{where}: unknown key {unknown[0]!r}; an assignment takes "
                                   f"{', '.join(KEYS)}. {fix}")
    select = entry.get("select")
    if not isinstance(select, list) or not select or not all(isinstance(s, str) for s in select):
        raise AssignmentsFileError(f"{where}.select: give a non-empty list of exercises or items, e.g. "
                                   f"[\"ex04\", \"ex05.fit_curve\"]. {fix}")
    try:
        catalogue.select(select, modules)
    except catalogue.UsageError as error:
        raise AssignmentsFileError(f"{where}.select: {error} {fix}") from None
    visibility = entry.get("visibility")
    if visibility is not None and visibility not in VISIBILITIES:
        raise AssignmentsFileError(f"{where}.visibility: {visibility!r} is not one of Gradescope's visibilities: "
                                   f"{', '.join(VISIBILITIES)}. {fix}")
    title = entry.get("title")
    if title is not None and not isinstance(title, str):
        raise AssignmentsFileError(f"{where}.title: give a string, e.g. \"Week 3: optimizers\". {fix}")
    return Assignment(name, tuple(select), visibility, title)


def find(name: str, path: Path | None = None, modules: list[catalogue.ModuleInfo] | None = None) -> Assignment:
    """The assignment called ``name`` in the file at ``path`` (default: ``default_path()``).

    Raises:
        AssignmentsFileError: the file is missing or malformed.
        catalogue.UsageError: no assignment of that name; the message lists the known ones.
    """
    where = path if path is not None else default_path()
    known = load(where, modules)
    if name not in known:
        names = ", ".join(sorted(known)) or "none"
        raise catalogue.UsageError(f"--assignment {name}: {where} declares no such assignment; known: {names}. "
                                   "Use one of them, or add it to the file")
    return known[name]


def resolve(selectors: list[str] | tuple[str, ...], assignment: str | None,
            modules: list[catalogue.ModuleInfo] | None = None) -> tuple[list[str], Assignment | None]:
    """The selectors to grade: those given, or those of ``--assignment``; and that assignment (or None).

    Raises:
        catalogue.UsageError: both selectors and ``--assignment`` were given, or what ``find`` raises.
    """
    if assignment is None:
        return list(selectors), None
    if selectors:
        raise catalogue.UsageError(f"give either --assignment {assignment} or EXERCISE selectors "
                                   f"({' '.join(selectors)}), not both: the assignment already names what to grade")
    chosen = find(assignment, modules=modules)
    return list(chosen.select), chosen


def selection(selectors: list[str] | tuple[str, ...], assignment: str | None,
              modules: list[catalogue.ModuleInfo]) -> tuple[catalogue.Selection, Assignment | None]:
    """The ``catalogue.Selection`` of ``selectors`` or of ``--assignment``, and that assignment (or None)."""
    chosen, record = resolve(selectors, assignment, modules)
    return catalogue.select(chosen, modules), record


def selectors_of(selection: catalogue.Selection) -> list[str]:
    """The canonical selectors of a selection: ``ex04`` for a whole module, ``ex05.fit_curve`` for an item."""
    out: list[str] = []
    for module in selection.modules:
        items = selection.items.get(module.name)
        out += [module.number] if items is None else [f"{module.number}.{i.name}" for i in module.items
                                                      if i.name in items]
    return out


def total_points(selection: catalogue.Selection) -> int:
    """The points of every selected item."""
    return sum(selection.points(module) for module in selection.modules)


def handout_record(selection: catalogue.Selection, assignment: Assignment | None) -> dict:
    """What a handout's ``grader/assignment.json`` holds: the assignment's name and title, selectors and points."""
    return {"name": assignment.name if assignment else None, "title": assignment.title if assignment else None,
            "select": selectors_of(selection), "points": total_points(selection)}


def narrowed(selection: catalogue.Selection) -> list[catalogue.ModuleInfo]:
    """The selected modules with only their selected items: what a handout's catalogue lists and grades."""
    return [catalogue.ModuleInfo(m.name, [i for i in m.items if selection.items.get(m.name) is None
                                          or i.name in selection.items[m.name]]) for m in selection.modules]


def load_handout_record() -> dict | None:
    """The assignment a student handout grades (``grader/assignment.json``), or None (none recorded, or full kit)."""
    if catalogue.has_hidden_suites() or not HANDOUT_RECORD.is_file():
        return None
    try:
        data = json.loads(HANDOUT_RECORD.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def describe(record: dict) -> str:
    """One line naming a handout's assignment: ``Assignment week3 (Week 3: optimizers): ex04, ex05.fit_curve; 15
    points``."""
    name = record.get("name") or "this handout"
    title = f" ({record['title']})" if record.get("title") else ""
    return (f"Assignment {name}{title}: {', '.join(str(s) for s in record.get('select', []))}; "
            f"{record.get('points', '?')} points")
