"""``grade watch``: regrade the exercise being edited every time its file is saved.

One grading service stays warm for the whole session (torch imported once, reference results
cached), so a regrade after a save costs a fork, the import of the student's module and the checks.
Each run prints the module's table, what changed since the previous run of that module (newly
passing, newly failing items) and the next item to work on.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from grader import catalogue, progress, report
from grader.engine import GradingService

POLL_SECONDS = 0.1


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return (info.st_mtime_ns, info.st_size)


def changes(previous: dict[str, list[str]], current: report.ExerciseResult) -> list[str]:
    """Lines saying which items started or stopped passing since the last run of the module."""
    if current.name not in previous:
        return []
    before = set(previous[current.name])
    now = {i.name for i in current.items if i.status == "passed"}
    lines = []
    if now - before:
        lines.append("Newly passing: " + ", ".join(sorted(now - before)))
    if before - now:
        lines.append("Newly failing: " + ", ".join(sorted(before - now)))
    if not lines:
        lines.append("No change since the last run.")
    return lines


class Watcher:
    """Polls the watched modules' files and regrades the one that changed."""

    def __init__(self, folder: Path, modules: list[catalogue.ModuleInfo], service: GradingService,
                 echo: Callable[[str], None], record_progress: bool = True) -> None:
        self.folder = folder
        self.modules = modules
        self.service = service
        self.echo = echo
        self.record_progress = record_progress
        self.passed: dict[str, list[str]] = {}
        self.stamps = {m.name: _stamp(folder / f"{m.name}.py") for m in modules}

    def grade(self, module: catalogue.ModuleInfo) -> report.GradeReport:
        started = time.perf_counter()
        result = self.service.grade(self.folder, catalogue.select([module.name], self.modules))
        elapsed = time.perf_counter() - started
        exercise = result.exercises[0]
        self.echo(report.render_terminal(result))
        for line in changes(self.passed, exercise):
            self.echo(line)
        self.passed[exercise.name] = [i.name for i in exercise.items if i.status == "passed"]
        if self.record_progress:
            progress.record(result, progress.state_path(self.folder.parent))
        self.echo(f"Graded {module.name} in {elapsed:.2f} s. Watching for changes (Ctrl-C to stop)...")
        return result

    def poll_once(self) -> report.GradeReport | None:
        """Regrade the first module whose file changed since the last poll, if any."""
        for module in self.modules:
            stamp = _stamp(self.folder / f"{module.name}.py")
            if stamp != self.stamps[module.name]:
                self.stamps[module.name] = stamp
                time.sleep(0.05)  # let an editor finish writing
                self.stamps[module.name] = _stamp(self.folder / f"{module.name}.py")
                return self.grade(module)
        return None

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            if self.poll_once() is None:
                stop.wait(POLL_SECONDS)
