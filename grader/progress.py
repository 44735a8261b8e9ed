"""The student's progress: item statuses from the last grading run, in a small JSON state file.

The file (``.grade-progress.json`` next to ``exercises/``) is safe to delete: `grade list` then
shows every item as not graded yet until the next run.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

STATE_NAME = ".grade-progress.json"


def state_path(start: Path | None = None) -> Path:
    start = start or Path.cwd()
    for folder in (start, *start.parents):
        if (folder / "exercises").is_dir():
            return folder / STATE_NAME
    return start / STATE_NAME


def load(path: Path | None = None) -> dict[str, str]:
    """``{"ex02_gradient_descent.grad_fn": "passed", ...}``; empty when missing or unreadable."""
    path = path or state_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.get("items", {}).items()} if isinstance(data, dict) else {}


def record(report: object, path: Path | None = None) -> None:
    """Merge a grading report's statuses into the state file (atomically)."""
    path = path or state_path()
    state = load(path)
    for exercise in report.exercises:  # type: ignore[attr-defined]
        for item in exercise.items:
            state[f"{exercise.name}.{item.name}"] = item.status
    try:
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".grade-progress")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump({"items": state}, out, indent=1, sort_keys=True)
        os.replace(temporary, path)
    except OSError:
        pass
