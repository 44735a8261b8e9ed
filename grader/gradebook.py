"""What a batch writes: the CSV gradebook, per-student feedback, the class summary, provenance. All atomic.

Every file is created with mode ``0o666`` less the process umask (``0o644`` under the usual ``022``): the
instructor shares the gradebook with TAs by ordinary permissions, and no file written here is ever
executable, whatever a submission put in it.
"""

from __future__ import annotations

import csv
import datetime
import hashlib
import io
import json
import os
import secrets
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import grader
from grader.report import GradeReport, _points

if TYPE_CHECKING:
    from grader.submissions import Ignored

GRADER_ERROR = "grader_error"
"""Row status prefix: the grader itself failed on this submission (not the student's fault, not final)."""


def grader_error_status(reason: str) -> str:
    """``grader_error: <reason>`` on one line (a CSV cell), the reason naming the submission."""
    return f"{GRADER_ERROR}: " + " ".join(reason.split())


def is_grader_error(status: str) -> bool:
    """Whether a row's status says the grader failed (the row is blank in the gradebook and regraded on resume)."""
    return status == GRADER_ERROR or status.startswith(f"{GRADER_ERROR}:")


FILE_MODE = 0o666
"""The mode files are created with, less the umask: readable as the umask allows, never executable."""


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename: never a truncated file.

    The temporary file is created with :data:`FILE_MODE` (the kernel applies the umask), not
    ``mkstemp``'s owner-only ``0o600``; ``O_EXCL`` and ``O_NOFOLLOW`` keep its random name from being
    one planted beforehand.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        temporary = path.parent / f".{path.name}.{secrets.token_hex(6)}"
        try:
            handle = os.open(temporary, flags, FILE_MODE)
            break
        except FileExistsError:
            continue
    else:
        raise FileExistsError(f"no free temporary name for {path} in {path.parent}")
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


IDENTITY_COLUMNS = ("student_id", "login")
"""The columns ``grades.csv`` has after ``submission`` when the submissions came from an LMS download."""


def gradebook_csv(rows: list[tuple[str, GradeReport | None, str]], module_names: list[str],
                  max_scores: dict[str, float], identities: dict[str, tuple[str, str]] | None = None) -> str:
    """``submission,score,max_score,<module>...,status,percent`` sorted by submission name.

    ``percent`` is ``score / max_score * 100`` with two decimals; it comes last so that a reader that
    takes the other columns by name or by position reads them as before. A ``grader_error`` row has
    blank score and percent cells (not 0): the grader failed, the student was not graded. A row with
    no report (``empty``, ``rejected: ...``) scores 0, as :func:`summary` counts it.

    ``identities`` (submission -> LMS student id and login; given when the submissions came from a Canvas or
    Moodle download) adds :data:`IDENTITY_COLUMNS` right after ``submission``, empty for a submission that has
    none; without it the columns are left out, so a gradebook of the kit's own layouts reads as before.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    identity_columns = list(IDENTITY_COLUMNS) if identities is not None else []
    writer.writerow(["submission", *identity_columns, "score", "max_score", *module_names, "status", "percent"])
    total_max = sum(max_scores[m] for m in module_names)
    for name, report, status in sorted(rows, key=lambda row: row[0]):
        who = list(identities.get(name, ("", ""))) if identities is not None else []
        if is_grader_error(status):
            writer.writerow([name, *who, "", _points(total_max), *["" for _ in module_names], status, ""])
            continue
        if report is None:
            writer.writerow([name, *who, 0, _points(total_max), *[0 for _ in module_names], status,
                             percent(0.0, total_max)])
            continue
        per_module = {e.name: e.score for e in report.exercises}
        writer.writerow([name, *who, _points(report.score), _points(report.max_score),
                         *[_points(per_module.get(m, 0.0)) for m in module_names], status,
                         percent(report.score, report.max_score)])
    return buffer.getvalue()


def ignored_csv(ignored: Sequence[Ignored]) -> str:
    """``OUT/ignored.csv``: ``submission,file,reason``, one row per entry of SUBMISSIONS that is not graded.

    ``ignored`` holds :class:`grader.submissions.Ignored` rows; ``submission`` is empty for a file that belongs
    to no submission (a loose file, a hidden one at the top).
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["submission", "file", "reason"])
    for row in ignored:
        writer.writerow([row.submission, row.file, row.reason])
    return buffer.getvalue()


def ignored_text(ignored: Sequence[Ignored], path: Path, shown: int = 10) -> str:
    """The lines ``grade batch`` prints about what it did not grade: the first ``shown``, then where the rest is."""
    if not ignored:
        return ""
    lines = [(f"Ignored {len(ignored)} files or folders of SUBMISSIONS (not exercise modules, earlier uploads set "
              f"aside, hidden or loose files), each with the reason in {path}:")]
    for row in ignored[:shown]:
        lines.append(f"  {row.submission + ': ' if row.submission else ''}{row.file} ({row.reason})")
    if len(ignored) > shown:
        lines.append(f"  ... and {len(ignored) - shown} more in {path}")
    return "\n".join(lines)


def percent(score: float, max_score: float) -> str:
    """``score / max_score * 100`` with two decimals (``"87.50"``); blank when nothing could be scored."""
    return f"{100.0 * score / max_score:.2f}" if max_score > 0 else ""


def row_score(report: GradeReport | None, status: str) -> float | None:
    """A row's score as ``grades.csv`` states it: the report's, 0 without one, None for a grader error."""
    if is_grader_error(status):
        return None
    return report.score if report is not None else 0.0


def feedback_markdown(name: str, report: GradeReport | None, status: str, detail: str = "") -> str:
    """The message a student is sent: score per exercise, then what to fix (``detail``: what a submission
    that could not be graded holds instead, see :func:`grader.submissions.why_empty`)."""
    lines = [f"# Feedback for {name}", ""]
    if is_grader_error(status):
        lines.append("Your submission has not been graded yet: the grader failed on it, which is not your fault. "
                     "It will be graded again; you do not need to do anything.")
        return "\n".join(lines) + "\n"
    if report is None:
        lines += [f"Your submission could not be graded: {status}{f' ({detail})' if detail else ''}.", "",
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
    if report.problems:
        lines += ["## How your files were read", "", *[f"- {problem}" for problem in report.problems], ""]
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


def summary(rows: list[tuple[str, GradeReport | None, str]], max_score: float | None = None,
            public_checks_only: bool = False) -> dict:
    """Class statistics: count, mean and median score, per-item pass rates, troubled submissions.

    The mean and median are over every row scored in ``grades.csv``: an ``empty`` or ``rejected``
    submission counts as the 0 it scores there. Only ``grader_errors`` (blank in the gradebook) are left
    out. Pass rates are over the submissions that have a report.
    """
    scores = [score for _, report, status in rows if (score := row_score(report, status)) is not None]
    graded = [(name, report) for name, report, status in rows if report is not None and not is_grader_error(status)]
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
    if max_score is None and graded:
        max_score = graded[0][1].max_score
    return {
        "submissions": len(rows),
        "graded": len(graded),
        "scored": len(scores),
        "not_graded": sorted(name for name, report, status in rows if report is None),
        "mean_score": round(statistics.fmean(scores), 4) if scores else None,
        "median_score": round(statistics.median(scores), 4) if scores else None,
        "max_score": max_score if scores else None,
        "pass_rates": {key: round(p / n, 4) for key, (p, n) in pass_counts.items()},
        "timed_out": sorted(troubled["timeout"]),
        "crashed": sorted(troubled["crashed"]),
        "grader_errors": sorted(name for name, _, status in rows if is_grader_error(status)),
        "public_checks_only": public_checks_only,
    }


PUBLIC_CHECKS_ONLY = ("PUBLIC CHECKS ONLY: this kit is a student handout (it has no hidden suites), so every score "
                      "in this gradebook comes from the public checks students run themselves. For final grades, "
                      "run `grade batch` from the full instructor kit.")


def summary_text(data: dict) -> str:
    """The short summary printed at the end of a batch."""
    lines = [f"Graded {data['graded']} of {data['submissions']} submissions."]
    if data.get("public_checks_only"):
        lines.append(PUBLIC_CHECKS_ONLY)
    if data["mean_score"] is not None:
        without_report = data.get("scored", data["graded"]) - data["graded"]
        counted = f" ({without_report} empty or rejected counted as 0, as in grades.csv)" if without_report else ""
        out_of = f" / {data['max_score']:g}" if data["max_score"] is not None else ""
        lines.append(f"Mean score {data['mean_score']:g}{out_of}, median {data['median_score']:g}{counted}.")
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


# ---------------------------------------------------------------- provenance
def utc_now() -> str:
    """The current time in UTC, ISO 8601 to the second: ``2025-01-31T17:04:05Z``."""
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def module_digests(folder: Path, module_names: list[str]) -> dict[str, str]:
    """File name -> sha256 (hex) of each of ``module_names`` present in ``folder`` (the copy that is graded)."""
    digests = {}
    for name in sorted(module_names):
        path = folder / f"{name}.py"
        if path.is_file() and not path.is_symlink():
            digests[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


def provenance(digests: dict[str, str]) -> dict:
    """A report's ``provenance``: when it was graded (now, UTC), by which kit, from which module files."""
    return {"graded_at": utc_now(), "kit_version": grader.__version__, "sha256": dict(digests)}


def gradebook_metadata(started_at: str, module_names: list[str], public_checks_only: bool, isolation: str,
                       device: str) -> dict:
    """``gradebook.json``: the provenance of ``grades.csv`` (when, which kit, with which checks)."""
    return {"kit_version": grader.__version__, "started_at": started_at, "written_at": utc_now(),
            "modules": list(module_names), "public_checks_only": public_checks_only, "isolation": isolation,
            "device": device}


def save_json(path: Path, data: dict) -> None:
    write_atomically(path, json.dumps(data, indent=2) + "\n")
