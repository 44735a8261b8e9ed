"""``grade export``: a batch's scores, written into the LMS's own gradebook file, ready to import back.

The LMS's export is the roster and the template: the file written keeps its columns, rows and identifiers,
and only the grade cells change, so the LMS reads it back as its own. The formats, as the LMSs read them:

- **Canvas** Grades export (``app/models/gradebook_importer.rb`` in canvas-lms): a header ``Student, ID``,
  optionally ``SIS User ID, SIS Login ID`` (and ``Root Account``), ending with ``Section``; then one column per
  assignment named ``Title (assignment id)``, then read-only totals (``Current Score``, ``Final Grade``...).
  A row starting ``Points Possible`` gives each assignment's points (``(read only)`` for a column Canvas will
  not import); a row of only ``Muted``/empty cells is skipped. Students are found by ``ID`` (Canvas user id),
  then SIS User ID, then SIS Login ID. Any column Canvas does not know becomes a new assignment, so the file
  written holds the identity columns and the one assignment column, nothing else.
- **Moodle** grading worksheet (``mod/assign/feedback/offline/importgradeslib.php``): the columns
  ``Identifier`` ("Participant 12345"), ``Grade`` and ``Last modified (grade)`` are required, matched by
  name; ``Maximum Grade`` gives each row's scale. Every column is kept (the feedback columns are imported
  too); only ``Grade`` is filled.
- **csv**: a plain roster ``student,id,login,score,max_score,percent`` (from a roster CSV with some of the
  columns ``student``, ``id``, ``login`` when one is given, else from the gradebook itself).

Scores are scaled to the points the template gives (Canvas ``Points Possible``, Moodle ``Maximum Grade``),
and the notes say so. A roster row with no submission keeps its cell as it was (blank unless a grade was
entered in the LMS: an empty cell would erase it) and is listed; a submission that matches no roster row is
listed, never dropped silently.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from grader import gradebook

KINDS = ("canvas", "moodle", "csv")
MAX_CSV_BYTES = 20 * 2**20
"""The largest gradebook or template read (a class of thousands is well under a megabyte)."""
_CANVAS_ASSIGNMENT = re.compile(r"^(?P<title>.*\S)\s*\((?P<id>\d+)\)\s*$")
_CANVAS_READ_ONLY = re.compile(r"Current Score|Current Points|Current Grade|Final Score|Final Points|Final Grade")
_TRAILING_NUMBER = re.compile(r"(\d+)\s*$")


class ExportError(Exception):
    """The export cannot be written; the message says what is wrong and what to do."""


@dataclass(frozen=True)
class Graded:
    """One row of ``grades.csv``: who, and the score (None: not graded, a grader error)."""

    submission: str
    student_id: str
    login: str
    score: float | None
    max_score: float
    status: str


@dataclass
class Table:
    """A CSV file as read: header, rows, and how to write it back the same way."""

    header: list[str]
    rows: list[list[str]]
    delimiter: str = ","
    bom: bool = False


@dataclass
class Export:
    """What :func:`export` wrote, and everything the instructor should know about it."""

    text: str
    filled: int = 0
    not_submitted: list[str] = field(default_factory=list)
    """Roster rows with no submission (their cells kept as they were)."""
    unmatched: list[str] = field(default_factory=list)
    """Submissions that match no roster row (not in the file)."""
    not_graded: list[str] = field(default_factory=list)
    """Roster rows whose submission the grader failed on (cells kept; ``grade batch --resume`` first)."""
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- reading
def read_text(path: Path, what: str) -> tuple[str, bool]:
    """The text of ``path`` (UTF-8, at most :data:`MAX_CSV_BYTES`) and whether it began with a byte-order mark."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_CSV_BYTES + 1)
    except OSError as error:
        raise ExportError(f"{what} {path} cannot be read ({error.strerror or error}); check the path") from None
    if len(data) > MAX_CSV_BYTES:
        raise ExportError(f"{what} {path} is larger than {MAX_CSV_BYTES // 2**20} MiB: is it the right file?")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ExportError(f"{what} {path} is not UTF-8 text: export it again from the LMS, or save it as "
                          "'CSV UTF-8'") from None
    return text, data.startswith(b"\xef\xbb\xbf")


def read_table(path: Path, what: str) -> Table:
    """A CSV file, comma- or semicolon-separated (Canvas writes ``;`` for some locales)."""
    text, bom = read_text(path, what)
    first = text.split("\n", 1)[0]
    delimiter = ";" if len(next(csv.reader([first], delimiter=";"), [])) > \
        len(next(csv.reader([first], delimiter=","), [])) else ","
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as error:
        raise ExportError(f"{what} {path} is not a readable CSV file ({error})") from None
    if not rows:
        raise ExportError(f"{what} {path} is empty: export it again from the LMS")
    return Table([cell.strip() for cell in rows[0]], rows[1:], delimiter, bom)


def read_gradebook(out: Path) -> list[Graded]:
    """The rows of ``OUT/grades.csv`` written by ``grade batch``."""
    path = out / "grades.csv"
    if not path.is_file():
        raise ExportError(f"--gradebook {out} holds no grades.csv: name the --out folder of `grade batch`")
    table = read_table(path, "the gradebook")
    columns = {name: index for index, name in enumerate(table.header)}
    missing = [name for name in ("submission", "score", "max_score", "status") if name not in columns]
    if missing:
        raise ExportError(f"{path} has no {', '.join(missing)} column: it is not a gradebook of `grade batch`")
    graded = []
    for row in table.rows:
        if not any(cell.strip() for cell in row):
            continue
        cells = row + [""] * (len(table.header) - len(row))

        def cell(name: str, cells: list[str] = cells) -> str:
            return cells[columns[name]].strip() if name in columns else ""

        status = cell("status")
        score = None if gradebook.is_grader_error(status) else _number_or_none(cell("score"))
        graded.append(Graded(cell("submission"), cell("student_id"), cell("login"), score,
                             _number_or_none(cell("max_score")) or 0.0, status))
    return graded


# ---------------------------------------------------------------- matching
class _Roster:
    """Finds the submission of a roster row by id, then by login or name; remembers which were used.

    Only a submission without an LMS id (the kit's own layouts, named by login or name) is found by name.
    """

    def __init__(self, graded: list[Graded]) -> None:
        self.graded = graded
        self.used: set[str] = set()
        self.by_id: dict[str, list[Graded]] = {}
        self.by_login: dict[str, list[Graded]] = {}
        for row in graded:
            if row.student_id:
                self.by_id.setdefault(row.student_id, []).append(row)
                continue  # a row with an LMS id is that student: never matched to another by name
            for key in {row.login.casefold(), row.submission.casefold()} - {""}:
                self.by_login.setdefault(key, []).append(row)

    def find(self, student_id: str, logins: Iterable[str]) -> list[Graded]:
        """The submissions of one roster row: by ``student_id``, else by one of ``logins`` (login or name)."""
        found = self.by_id.get(student_id.strip(), []) if student_id.strip() else []
        for login in logins:
            if found:
                break
            found = self.by_login.get(login.strip().casefold(), []) if login.strip() else []
        self.used.update(row.submission for row in found)
        return found

    def unmatched(self) -> list[str]:
        return sorted(row.submission for row in self.graded if row.submission not in self.used)


def _fill(export: Export, who: str, found: list[Graded], scale: float | None, current: str) -> str:
    """The grade cell of one roster row (``current`` kept when there is nothing to put there), noted in ``export``."""
    if not found:
        export.not_submitted.append(who)
        return current
    if len(found) > 1:
        export.notes.append(f"{who} matches several submissions ({', '.join(r.submission for r in found)}): "
                            "left as it was; grade them as one submission and export again")
        return current
    row = found[0]
    if row.score is None:
        export.not_graded.append(f"{who} ({row.submission})")
        return current
    export.filled += 1
    value = row.score if scale is None or row.max_score <= 0 else row.score / row.max_score * scale
    return _format(value)


# ---------------------------------------------------------------- the formats
def to_canvas(graded: list[Graded], template: Table, column: str | None) -> Export:
    """The Canvas import file: the template's identity columns and one assignment column, filled."""
    header = template.header
    if len(header) < 4 or "Student" not in header[0] or "ID" not in header[1] or "Section" not in header:
        raise ExportError("the template is not a Canvas Grades export: its header should start 'Student, ID, "
                          f"SIS User ID, SIS Login ID, Section' (it starts: {', '.join(header[:5])}). Export it in "
                          "Canvas: Grades > Export > Export Entire Gradebook")
    identity = header.index("Section") + 1
    points_row = next((row for row in template.rows if row and row[0].strip().startswith("Points Possible")), None)
    index = _canvas_column(header, identity, points_row, column)
    export = Export("")
    points = _number_or_none(_at(points_row, index)) if points_row is not None else None
    sis_login = header.index("SIS Login ID") if "SIS Login ID" in header else None
    sis_user = header.index("SIS User ID") if "SIS User ID" in header else None
    roster = _Roster(graded)
    rows = [header[:identity] + [header[index]]]
    for row in template.rows:
        kept = [_at(row, i) for i in range(identity)]
        if not row or row[0].strip().startswith("Points Possible") or not _at(row, 1).strip():
            rows.append(kept + [_at(row, index)])  # Points Possible, the muting row: no student
            continue
        logins = [_at(row, i) for i in (sis_user, sis_login) if i is not None]
        found = roster.find(_at(row, 1), logins)
        rows.append(kept + [_fill(export, _at(row, 0) or _at(row, 1), found, points, _at(row, index))])
    export.unmatched = roster.unmatched()
    maxima = sorted({r.max_score for r in graded if r.score is not None})
    if points is not None:
        export.notes.append(f"scores scaled from the gradebook's {_span(maxima)} points to the {_format(points)} "
                            f"points of {header[index]!r} (its Points Possible)")
    else:
        export.notes.append(f"the template has no Points Possible for {header[index]!r}: the scores are written as "
                            f"they are, out of {_span(maxima)}")
    export.text = _write(rows, template)
    return export


def _canvas_column(header: list[str], identity: int, points_row: list[str] | None, wanted: str | None) -> int:
    """The index of the assignment column to fill: the one named by ``wanted``, or the only one."""
    assignments = [i for i in range(identity, len(header))
                   if _CANVAS_ASSIGNMENT.match(header[i]) and not _CANVAS_READ_ONLY.search(header[i])
                   and "read only" not in _at(points_row, i).lower()]
    names = ", ".join(repr(header[i]) for i in assignments) or "none"
    if not assignments:
        raise ExportError("the Canvas template has no assignment column Canvas imports (named 'Title (id)', not "
                          "read only): create the assignment in Canvas, then export the gradebook again")
    if wanted is None:
        if len(assignments) > 1:
            raise ExportError(f"the Canvas template has {len(assignments)} assignment columns ({names}): choose one "
                              "with --column NAME (its title or id)")
        return assignments[0]
    key = wanted.strip().casefold()
    exact = [i for i in assignments if key in (header[i].casefold(), _CANVAS_ASSIGNMENT.match(header[i])["title"]
                                                .casefold(), _CANVAS_ASSIGNMENT.match(header[i])["id"])]
    partial = exact or [i for i in assignments if key in header[i].casefold()]
    if len(partial) != 1:
        how = "matches several" if partial else "matches none"
        raise ExportError(f"--column {wanted!r} {how} of the assignment columns ({names}): give the title or id of "
                          "one")
    return partial[0]


def to_moodle(graded: list[Graded], template: Table) -> Export:
    """The Moodle grading worksheet, its ``Grade`` column filled (matched by participant id)."""
    columns = {name.casefold(): index for index, name in enumerate(template.header)}
    if "identifier" not in columns or "grade" not in columns:
        raise ExportError("the template is not a Moodle grading worksheet: it needs the columns 'Identifier' and "
                          f"'Grade' (it has: {', '.join(template.header[:8])}). Download it in the assignment: "
                          "View all submissions > Grading action > Download grading worksheet (enable 'Offline "
                          "grading worksheet' in the assignment's feedback types)")
    export = Export("")
    identifier, grade = columns["identifier"], columns["grade"]
    maximum, name = columns.get("maximum grade"), columns.get("full name")
    if "last modified (grade)" not in columns:
        export.notes.append("the worksheet has no 'Last modified (grade)' column, which Moodle's import requires: "
                            "download the worksheet again rather than building it by hand")
    roster = _Roster(graded)
    rows = [list(template.header)]
    scaled = set()
    locked = []
    for row in template.rows:
        cells = row + [""] * (len(template.header) - len(row))
        if not any(cell.strip() for cell in cells):
            rows.append(cells)
            continue
        number = _TRAILING_NUMBER.search(cells[identifier])
        names = [cells[name]] if name is not None else []
        who = cells[name] if name is not None and cells[name].strip() else cells[identifier]
        found = roster.find(number.group(1) if number else "", names)
        scale = _number_or_none(cells[maximum]) if maximum is not None else None
        if scale is not None and found:
            scaled.add(scale)
        cells[grade] = _fill(export, who, found, scale, cells[grade])
        changeable = columns.get("grade can be changed")
        if found and changeable is not None and cells[changeable].strip().lower() == "no":
            locked.append(who)
        rows.append(cells)
    export.unmatched = roster.unmatched()
    maxima = sorted({r.max_score for r in graded if r.score is not None})
    if scaled:
        export.notes.append(f"scores scaled from the gradebook's {_span(maxima)} points to each row's Maximum Grade "
                            f"({', '.join(_format(s) for s in sorted(scaled))})")
    else:
        export.notes.append(f"the worksheet gives no numeric Maximum Grade: the scores are written as they are, out "
                            f"of {_span(maxima)}")
    if locked:
        export.notes.append(f"Moodle will not change the grade of {', '.join(locked)} ('Grade can be changed' is No: "
                            "locked or overridden in the gradebook)")
    export.text = _write(rows, template)
    return export


def to_csv(graded: list[Graded], template: Table | None) -> Export:
    """A plain roster ``student,id,login,score,max_score,percent``: the template's rows, or every submission."""
    header = ["student", "id", "login", "score", "max_score", "percent"]
    export = Export("")
    rows: list[list[str]] = [header]
    if template is None:
        for row in sorted(graded, key=lambda r: r.submission):
            rows.append(_csv_row(export, row.submission, row.student_id, row.login, [row]))
        export.text = _write(rows, Table(header, []))
        return export
    columns = {name.casefold(): index for index, name in enumerate(template.header)}
    student = next((columns[k] for k in ("student", "name", "full name", "submission") if k in columns), None)
    ident = next((columns[k] for k in ("id", "student_id", "student id") if k in columns), None)
    login = next((columns[k] for k in ("login", "sis login id", "username") if k in columns), None)
    if student is None and ident is None and login is None:
        raise ExportError("the roster has none of the columns student, id, login: add a header row naming them")
    roster = _Roster(graded)
    for row in template.rows:
        if not any(cell.strip() for cell in row):
            continue
        values = [_at(row, i) if i is not None else "" for i in (student, ident, login)]
        found = roster.find(values[1], [values[2], values[0]])
        rows.append(_csv_row(export, values[0] or values[1] or values[2], values[1], values[2], found,
                             name=values[0]))
    export.unmatched = roster.unmatched()
    export.text = _write(rows, Table(header, [], template.delimiter, template.bom))
    return export


def _csv_row(export: Export, who: str, student_id: str, login: str, found: list[Graded],
             name: str | None = None) -> list[str]:
    score = _fill(export, who, found, None, "")
    row = found[0] if len(found) == 1 else None
    maximum = _format(row.max_score) if row is not None else ""
    percent = gradebook.percent(row.score, row.max_score) if row is not None and row.score is not None else ""
    return [name if name is not None else who, student_id or (row.student_id if row else ""),
            login or (row.login if row else ""), score, maximum, percent]


# ---------------------------------------------------------------- the command
def export(kind: str, out: Path, template: Path | None, column: str | None = None) -> Export:
    """Read ``OUT/grades.csv`` and ``template`` and return the import file for ``kind`` (canvas, moodle, csv)."""
    if kind not in KINDS:
        raise ExportError(f"unknown export {kind!r}: choose one of {', '.join(KINDS)}")
    if template is None and kind != "csv":
        raise ExportError(f"`grade export {kind}` fills the LMS's own gradebook export: give it with --template "
                          "FILE.csv (" + ("Canvas: Grades > Export" if kind == "canvas" else
                                          "Moodle: Grading action > Download grading worksheet") + ")")
    if column is not None and kind != "canvas":
        raise ExportError("--column chooses a Canvas assignment column; leave it out for " + kind)
    graded = read_gradebook(out)
    table = read_table(template, "the template") if template is not None else None
    if kind == "canvas":
        return to_canvas(graded, table, column)
    if kind == "moodle":
        return to_moodle(graded, table)
    return to_csv(graded, table)


def report_lines(result: Export, destination: Path) -> list[str]:
    """What ``grade export`` prints: what was written, then every row it could not fill, then the next step."""
    lines = [f"Wrote {destination}: {result.filled} scores."]
    lines += [f"Note: {note}." for note in result.notes]
    if result.not_submitted:
        lines.append(f"No submission (left as they were): {', '.join(result.not_submitted)}.")
    if result.not_graded:
        lines.append(f"Not graded, the grader failed (left as they were; run `grade batch ... --resume`, then export "
                     f"again): {', '.join(result.not_graded)}.")
    if result.unmatched:
        lines.append(f"Submissions with no row in the template (NOT in the file; check their names or ids): "
                     f"{', '.join(result.unmatched)}.")
    return lines


# ---------------------------------------------------------------- helpers
def _at(row: list[str] | None, index: int) -> str:
    return row[index] if row is not None and 0 <= index < len(row) else ""


def _number_or_none(text: str) -> float | None:
    try:
        return float(text.strip().replace(",", ".")) if text.strip() else None
    except ValueError:
        return None


def _format(value: float) -> str:
    """A score as a cell: at most two decimals, no trailing zeros (``7.5``, ``10``)."""
    text = f"{round(value, 2):.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _span(values: list[float]) -> str:
    return "/".join(_format(v) for v in values) if values else "0"


def _write(rows: list[list[str]], like: Table) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=like.delimiter, lineterminator="\n")
    writer.writerows(rows)
    return ("\ufeff" if like.bom else "") + buffer.getvalue()
