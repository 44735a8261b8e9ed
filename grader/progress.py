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


def load_hint_steps(path: Path | None = None) -> dict[str, int]:
    """``{"ex02.grad_fn": 2, ...}``: how many steps of each hint were shown; empty when missing or unreadable."""
    data = _read(path or state_path())
    hints = data.get("hints", {})
    return {str(k): v for k, v in hints.items() if type(v) is int} if isinstance(hints, dict) else {}


def record(report: object, path: Path | None = None) -> None:
    """Merge a grading report's statuses into the state file (atomically)."""
    path = path or state_path()
    state = load(path)
    for exercise in report.exercises:  # type: ignore[attr-defined]
        for item in exercise.items:
            state[f"{exercise.name}.{item.name}"] = item.status
    _write(path, {**_read(path), "items": state})


def record_hint_steps(item: str, steps: int, path: Path | None = None) -> None:
    """Remember that ``steps`` steps of the hint of ``item`` (``ex02.grad_fn``) were shown."""
    path = path or state_path()
    hints = load_hint_steps(path)
    hints[item] = steps
    _write(path, {**_read(path), "hints": hints})


def _read(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write(path: Path, data: dict) -> None:
    """Replace the state file atomically; a read-only folder only loses the record, never the command."""
    try:
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".grade-progress")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=1, sort_keys=True)
        os.replace(temporary, path)
    except OSError:
        pass
