"""Grading results: the data, the JSON document (schema 3) and the terminal table."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

STATUSES = ("passed", "partial", "failed", "not_implemented", "missing", "error", "timeout", "crashed",
            "not_graded")
SCHEMA_VERSION = 4
"""2: ``public_checks_only`` and ``provenance`` (``grade batch`` reports) added. 3: each item's ``output``.
4: ``notes`` (how the submission's files were read)."""
CHECK_OUTPUT_BYTES = 2048
"""What a student's code printed during one check, at most, as shown (``grade check --show-output``)."""
ITEM_OUTPUT_BYTES = 8192
"""... and during all the checks of one item."""
_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
"""Control characters (all but tab and newline) and bidirectional overrides: escape sequences that could
move the cursor, clear the terminal or disguise text."""


@dataclass
class CheckOutput:
    """What the student's code printed (stdout and stderr) during one check, bounded and made printable."""

    check: str
    """The check's description."""
    text: str
    more_bytes: int = 0
    """Bytes printed beyond ``text`` (not kept)."""


def printable(text: str) -> str:
    """``text`` without control characters (tab and newline kept), so it cannot drive the terminal."""
    return _UNPRINTABLE.sub("", text)


def item_output(printed: list[tuple[str, str, int]]) -> list[CheckOutput]:
    """The output of one item's checks, from ``(check description, text kept, bytes printed)`` triples.

    Each check shows at most ``CHECK_OUTPUT_BYTES`` and the item at most ``ITEM_OUTPUT_BYTES``; what is
    left out is counted in ``more_bytes``. Checks that printed nothing are left out.
    """
    shown: list[CheckOutput] = []
    room = ITEM_OUTPUT_BYTES
    for check, text, total in printed:
        if total <= 0:
            continue
        data = text.encode("utf-8", errors="replace")[:max(0, min(CHECK_OUTPUT_BYTES, room))]
        kept = printable(data.decode("utf-8", errors="ignore"))
        room -= len(data)
        shown.append(CheckOutput(check, kept, max(0, total - len(data))))
    return shown


@dataclass
class ItemResult:
    name: str
    score: float
    max_score: float
    status: str
    feedback: list[str] = field(default_factory=list)
    output: list[CheckOutput] | None = None
    """What the code printed during the item's checks (``--show-output``); None when not asked."""

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown status {self.status}")


@dataclass
class ExerciseResult:
    name: str
    items: list[ItemResult]
    error: str | None = None

    @property
    def score(self) -> float:
        return round(sum(i.score for i in self.items), 4)

    @property
    def max_score(self) -> float:
        return float(sum(i.max_score for i in self.items))


@dataclass
class GradeReport:
    submission: str
    device: str
    exercises: list[ExerciseResult]
    problems: list[str] = field(default_factory=list)
    isolation: str = "unknown"  # the tier in force: namespaces, uid or reduced (see grader.sandbox)
    output_bytes: int = 0
    public_checks_only: bool = False
    provenance: dict | None = None
    """``grade batch`` only: ``graded_at`` (UTC, ISO 8601), ``kit_version`` and ``sha256`` (module file name ->
    hex digest of the bytes graded); None from ``grade check``."""
    check_outcomes: dict = field(default_factory=dict, repr=False)
    """``engine.CheckOutcome`` of each check graded one by one, by qualified name (not in the JSON); a module
    that could not be imported, a missing item and a module known to be untouched stubs have none."""
    records: dict = field(default_factory=dict, repr=False)
    """``engine.CheckRecord`` of each failing check, by qualified name, when graded for ``grade repro`` (not in
    the JSON)."""

    @property
    def score(self) -> float:
        return round(sum(e.score for e in self.exercises), 4)

    @property
    def max_score(self) -> float:
        return float(sum(e.max_score for e in self.exercises))

    def to_dict(self) -> dict:
        return {
            "schema": SCHEMA_VERSION,
            "submission": self.submission,
            "device": self.device,
            "isolation": self.isolation,
            "public_checks_only": self.public_checks_only,
            "provenance": self.provenance,
            "notes": list(self.problems),
            "score": self.score,
            "max_score": self.max_score,
            "exercises": [
                {
                    "name": e.name,
                    "score": e.score,
                    "max_score": e.max_score,
                    "error": e.error,
                    "items": [
                        {"name": i.name, "score": i.score, "max_score": float(i.max_score), "status": i.status,
                         "feedback": list(i.feedback),
                         "output": None if i.output is None else [
                             {"check": o.check, "text": o.text, "more_bytes": o.more_bytes} for o in i.output]}
                        for i in e.items
                    ],
                }
                for e in self.exercises
            ],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)


def report_from_dict(data: dict) -> GradeReport:
    """Rebuild a report from its JSON document (used by ``grade batch --resume``)."""
    exercises = [
        ExerciseResult(e["name"], [ItemResult(i["name"], i["score"], i["max_score"], i["status"], i["feedback"],
                                              _output_from(i.get("output")))
                                   for i in e["items"]], e["error"])
        for e in data["exercises"]
    ]
    provenance = data.get("provenance")
    return GradeReport(data["submission"], data["device"], exercises,
                       isolation=str(data.get("isolation", "unknown")),
                       public_checks_only=bool(data.get("public_checks_only", False)),
                       provenance=dict(provenance) if isinstance(provenance, dict) else None,
                       problems=[str(note) for note in data.get("notes") or [] if isinstance(note, str)])


def _output_from(value: object) -> list[CheckOutput] | None:
    if type(value) is not list:
        return None
    return [CheckOutput(str(o.get("check", "")), str(o.get("text", "")), int(o.get("more_bytes", 0)))
            for o in value if type(o) is dict]


STATUS_WIDTH = max(len(status) for status in STATUSES)


def _points(value: float) -> str:
    return f"{value:g}" if value == int(value) else f"{value:.2f}"


def render_terminal(report: GradeReport) -> str:
    """The table per module, the total, the feedback of failed items and the next step."""
    lines = render_scores(report)
    if report.public_checks_only:
        lines.append("These are the public checks. Hidden checks (other inputs and edge cases) run when your "
                     "instructor grades.")
    for problem in report.problems:
        lines.append(f"Note: {problem}")
    lines.extend(render_output(report))
    failed = [(e, i) for e in report.exercises for i in e.items
              if i.status not in ("passed", "not_implemented", "not_graded") and i.feedback and not e.error]
    if failed:
        lines.append("")
        lines.append("What to fix:")
        for exercise, item in failed:
            lines.append(f"- {exercise.name.split('_', 1)[0]}.{item.name} ({item.status}):")
            lines.extend(f"    {line}" for line in item.feedback)
    lines.append("")
    lines.append(next_step(report))
    return "\n".join(lines)


def render_output(report: GradeReport) -> list[str]:
    """What the code printed, per item and check (only when ``--show-output`` brought it back)."""
    captured = [(e, i) for e in report.exercises for i in e.items if i.output is not None]
    if not captured:
        return []
    printed = [(e, i) for e, i in captured if i.output]
    if not printed:
        return ["", "What your code printed (--show-output): nothing."]
    lines = ["", "What your code printed (--show-output):"]
    for exercise, item in printed:
        for output in item.output or ():
            lines.append(f"- {exercise.name.split('_', 1)[0]}.{item.name}, check \"{printable(output.check)}\":")
            lines.extend(f"    {line}" for line in output.text.rstrip("\n").split("\n"))
            if output.more_bytes:
                lines.append(f"    ... ({output.more_bytes} more bytes)")
    return lines


TO_FIX = ("failed", "partial", "timeout", "crashed", "missing", "error")


def first_to_do(report: GradeReport) -> tuple[str, ExerciseResult, ItemResult | None] | None:
    """The first thing to work on: ``("import", exercise, None)`` for a module that does not import, else
    ``("fix", exercise, item)`` for the first item with a status in :data:`TO_FIX`, else ``("implement",
    exercise, item)`` for the first untouched stub; None when nothing is left."""
    for exercise in report.exercises:
        if exercise.error:
            return "import", exercise, None
        for item in exercise.items:
            if item.status in TO_FIX:
                return "fix", exercise, item
    for exercise in report.exercises:
        for item in exercise.items:
            if item.status == "not_implemented":
                return "implement", exercise, item
    return None


def next_step(report: GradeReport) -> str:
    """One line naming the next thing to do."""
    todo = first_to_do(report)
    if todo is not None:
        kind, exercise, item = todo
        number = exercise.name.split("_", 1)[0]
        if item is None:
            return f"Next: fix {exercise.name}.py so that it imports, then run `grade check {number}`."
        if kind == "fix":
            return f"Next: fix {number}.{item.name}, then run `grade check {number}.{item.name}`."
        return (f"Next: implement {number}.{item.name} in exercises/{exercise.name}.py, then run "
                f"`grade check {number}.{item.name}`.")
    if report.max_score and report.score == report.max_score:
        return "Everything passes. Well done!"
    return "Next: run `grade list` to see your progress."


def render_scores(report: GradeReport) -> list[str]:
    """The lines of the table per module and of the total (what ``grade check`` and the pytest plugin print)."""
    lines: list[str] = []
    for exercise in report.exercises:
        lines.append(f"{exercise.name}  {_points(exercise.score)}/{_points(exercise.max_score)}")
        if exercise.error:
            lines.append(f"  ! {exercise.error}")
        width = max((len(i.name) for i in exercise.items), default=4)
        for item in exercise.items:
            lines.append(f"  {item.name:<{width}}  {item.status:<{STATUS_WIDTH}} "
                         f"{_points(item.score):>4}/{_points(item.max_score)}")
        lines.append("")
    lines.append(f"Total: {_points(report.score)}/{_points(report.max_score)}   "
                 f"(device: {report.device}; isolation: {report.isolation})")
    return lines
