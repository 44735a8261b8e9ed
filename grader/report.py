"""Grading results: the data, the JSON document (schema 2) and the terminal table."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

STATUSES = ("passed", "partial", "failed", "not_implemented", "missing", "error", "timeout", "crashed",
            "not_graded")
SCHEMA_VERSION = 2
"""2: ``public_checks_only`` and ``provenance`` (``grade batch`` reports) added."""


@dataclass
class ItemResult:
    name: str
    score: float
    max_score: float
    status: str
    feedback: list[str] = field(default_factory=list)

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
                         "feedback": list(i.feedback)}
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
        ExerciseResult(e["name"], [ItemResult(i["name"], i["score"], i["max_score"], i["status"], i["feedback"])
                                   for i in e["items"]], e["error"])
        for e in data["exercises"]
    ]
    provenance = data.get("provenance")
    return GradeReport(data["submission"], data["device"], exercises,
                       isolation=str(data.get("isolation", "unknown")),
                       public_checks_only=bool(data.get("public_checks_only", False)),
                       provenance=dict(provenance) if isinstance(provenance, dict) else None)


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


def next_step(report: GradeReport) -> str:
    """One line naming the next thing to do."""
    for exercise in report.exercises:
        number = exercise.name.split("_", 1)[0]
        if exercise.error:
            return f"Next: fix {exercise.name}.py so that it imports, then run `grade check {number}`."
        for item in exercise.items:
            if item.status in ("failed", "partial", "timeout", "crashed", "missing", "error"):
                return f"Next: fix {number}.{item.name}, then run `grade check {number}.{item.name}`."
    for exercise in report.exercises:
        number = exercise.name.split("_", 1)[0]
        for item in exercise.items:
            if item.status == "not_implemented":
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
