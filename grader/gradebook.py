"""What a batch writes: the CSV gradebook, per-student feedback, the class summary. All atomic."""

from __future__ import annotations

import csv
import io
import json
import os
import statistics
import tempfile
from pathlib import Path

from grader.report import GradeReport, _points

GRADER_ERROR = "grader_error"
"""Row status prefix: the grader itself failed on this submission (not the student's fault, not final)."""


def grader_error_status(reason: str) -> str:
    """``grader_error: <reason>`` on one line (a CSV cell), the reason naming the submission."""
    return f"{GRADER_ERROR}: " + " ".join(reason.split())


def is_grader_error(status: str) -> bool:
    """Whether a row's status says the grader failed (the row is blank in the gradebook and regraded on resume)."""
    return status == GRADER_ERROR or status.startswith(f"{GRADER_ERROR}:")


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename: never a truncated file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def gradebook_csv(rows: list[tuple[str, GradeReport | None, str]], module_names: list[str],
                  max_scores: dict[str, float]) -> str:
    """``submission,score,max_score,<module>...,status`` sorted by submission name.

    A ``grader_error`` row has blank score cells (not 0): the grader failed, the student was not graded.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["submission", "score", "max_score", *module_names, "status"])
    total_max = sum(max_scores[m] for m in module_names)
    for name, report, status in sorted(rows, key=lambda row: row[0]):
        if is_grader_error(status):
            writer.writerow([name, "", _points(total_max), *["" for _ in module_names], status])
            continue
        if report is None:
            writer.writerow([name, 0, _points(total_max), *[0 for _ in module_names], status])
            continue
        per_module = {e.name: e.score for e in report.exercises}
        writer.writerow([name, _points(report.score), _points(report.max_score),
                         *[_points(per_module.get(m, 0.0)) for m in module_names], status])
    return buffer.getvalue()


def feedback_markdown(name: str, report: GradeReport | None, status: str) -> str:
    """The message a student is sent: score per exercise, then what to fix."""
    lines = [f"# Feedback for {name}", ""]
    if is_grader_error(status):
        lines.append("Your submission has not been graded yet: the grader failed on it, which is not your fault. "
                     "It will be graded again; you do not need to do anything.")
        return "\n".join(lines) + "\n"
    if report is None:
        lines += [f"Your submission could not be graded: {status}.", "",
                  ("Fix this and submit again; the exercise modules (ex01_tensors.py, ...) should be at the "
                   "top of your folder or zip, or in exercises/.")]
        return "\n".join(lines) + "\n"
    lines.append(f"**Total: {_points(report.score)} / {_points(report.max_score)}**")
    lines.append("")
    lines.append("| exercise | score |")
    lines.append("|---|---|")
    for exercise in report.exercises:
        lines.append(f"| {exercise.name} | {_points(exercise.score)} / {_points(exercise.max_score)} |")
    lines.append("")
    for exercise in report.exercises:
        troubled = [i for i in exercise.items if i.status != "passed"]
        if not troubled and not exercise.error:
            continue
        lines.append(f"## {exercise.name}")
        if exercise.error:
            lines.append(f"- {exercise.error}")
        for item in troubled:
            if exercise.error and item.status in ("error", "timeout", "crashed"):
                continue
            lines.append(f"- **{item.name}** ({item.status.replace('_', ' ')}, "
                         f"{_points(item.score)}/{_points(item.max_score)})")
            lines.extend(f"  - {line}" for line in item.feedback)
        lines.append("")
    return "\n".join(lines) + "\n"


def summary(rows: list[tuple[str, GradeReport | None, str]]) -> dict:
    """Class statistics: count, mean and median score, per-item pass rates, troubled submissions.

    Only ``ok`` rows count in the statistics; ``grader_errors`` lists the rows the grader failed on.
    """
    graded = [(name, report) for name, report, status in rows if report is not None and status == "ok"]
    scores = [report.score for _, report in graded]
    pass_counts: dict[str, list[int]] = {}
    troubled: dict[str, list[str]] = {"timeout": [], "crashed": []}
    for name, report in graded:
        for exercise in report.exercises:
            for item in exercise.items:
                key = f"{exercise.name}.{item.name}"
                counts = pass_counts.setdefault(key, [0, 0])
                counts[0] += item.status == "passed"
                counts[1] += 1
                if item.status in troubled and name not in troubled[item.status]:
                    troubled[item.status].append(name)
    return {
        "submissions": len(rows),
        "graded": len(graded),
        "not_graded": sorted([name for name, report, status in rows if status != "ok"]),
        "mean_score": round(statistics.fmean(scores), 4) if scores else None,
        "median_score": round(statistics.median(scores), 4) if scores else None,
        "max_score": graded[0][1].max_score if graded else None,
        "pass_rates": {key: round(p / n, 4) for key, (p, n) in pass_counts.items()},
        "timed_out": sorted(troubled["timeout"]),
        "crashed": sorted(troubled["crashed"]),
        "grader_errors": sorted(name for name, _, status in rows if is_grader_error(status)),
    }


def summary_text(data: dict) -> str:
    """The short summary printed at the end of a batch."""
    lines = [f"Graded {data['graded']} of {data['submissions']} submissions."]
    if data["mean_score"] is not None:
        lines.append(f"Mean score {data['mean_score']:g} / {data['max_score']:g}, median {data['median_score']:g}.")
    hardest = sorted(data["pass_rates"].items(), key=lambda kv: kv[1])[:5]
    if hardest:
        lines.append("Lowest pass rates: " + ", ".join(f"{k} {v:.0%}" for k, v in hardest))
    grader_errors = data.get("grader_errors", [])
    not_graded = [name for name in data["not_graded"] if name not in grader_errors]
    if not_graded:
        lines.append("Not graded (see grades.csv status): " + ", ".join(not_graded))
    if data["timed_out"]:
        lines.append("Timed out: " + ", ".join(data["timed_out"]))
    if data["crashed"]:
        lines.append("Crashed: " + ", ".join(data["crashed"]))
    if grader_errors:
        lines.append("Grader errors (the grader failed, not the student; blank in grades.csv, left out of the "
                     "statistics): " + ", ".join(grader_errors) + ". Run the same command with --resume to "
                     "grade them again.")
    return "\n".join(lines)


def save_json(path: Path, data: dict) -> None:
    write_atomically(path, json.dumps(data, indent=2) + "\n")
