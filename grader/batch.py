"""``grade batch``: grade a folder of submissions in parallel, resumably, into a gradebook.

The pipeline: discover the submissions, skip those already reported (``--resume``), compute the
reference results once, then let ``jobs`` grading services (each one sandboxed zygote) take
submissions from a queue: make a private copy, grade it, write its report and feedback, and
rewrite the gradebook atomically. A submission that cannot be graded gets a row with the reason.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import torch

from grader import catalogue, gradebook, submissions
from grader.engine import GradingService, ReferenceCache, load_suite
from grader.remote import DEFAULT_MEMORY_LIMIT
from grader.report import GradeReport, report_from_dict


@dataclass
class Row:
    name: str
    report: GradeReport | None
    status: str


class Progress:
    """``done/total, rate, time left`` on stderr: one updating line on a TTY, plain lines otherwise."""

    def __init__(self, total: int, stream: TextIO) -> None:
        self.total = total
        self.stream = stream
        self.done = 0
        self.started = time.monotonic()
        self.tty = stream.isatty()
        self.lock = threading.Lock()

    def advance(self, name: str, status: str) -> None:
        with self.lock:
            self.done += 1
            elapsed = time.monotonic() - self.started
            rate = self.done / elapsed if elapsed > 0 else 0.0
            left = (self.total - self.done) / rate if rate > 0 else 0.0
            if self.tty:
                width = 24
                filled = int(width * self.done / max(self.total, 1))
                self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} "
                                  f"{rate:.2f}/s, {left:.0f}s left   ")
                if self.done == self.total:
                    self.stream.write("\n")
            else:
                self.stream.write(f"graded {self.done}/{self.total}: {name} ({status}); "
                                  f"{rate:.2f}/s, about {left:.0f}s left\n")
            self.stream.flush()


class Batch:
    """One ``grade batch`` run."""

    def __init__(self, source: Path, out: Path, selection: catalogue.Selection, device: torch.device,
                 jobs: int, resume: bool, progress_stream: TextIO = sys.stderr,
                 memory_limit: int = DEFAULT_MEMORY_LIMIT) -> None:
        self.memory_limit = memory_limit
        self.source = source
        self.out = out
        self.selection = selection
        self.device = device
        self.jobs = max(1, jobs)
        self.resume = resume
        self.progress_stream = progress_stream
        self.reports_dir = out / "reports"
        self.feedback_dir = out / "feedback"
        self.state_dir = out / ".state"
        self.work_dir = out / ".work"
        self.rows: dict[str, Row] = {}
        self.lock = threading.Lock()
        self.module_names = [m.name for m in selection.modules]
        self.max_scores = {m.name: float(sum(i.points for i in m.items if selection.items[m.name] is None
                                             or i.name in selection.items[m.name])) for m in selection.modules}

    # ------------------------------------------------------------ pipeline
    def run(self) -> dict:
        entries = submissions.discover(self.source)
        if not entries:
            raise catalogue.UsageError(f"{self.source} holds no submissions: put one folder or .zip per student in it")
        keys = self._file_keys(entries)
        for folder in (self.reports_dir, self.feedback_dir, self.state_dir):
            folder.mkdir(parents=True, exist_ok=True)
        todo = []
        for entry in entries:
            restored = self._restore(entry.name, keys[entry.name]) if self.resume else None
            if restored is not None:
                self.rows[entry.name] = restored
            else:
                todo.append(entry)
        progress = Progress(len(todo), self.progress_stream)
        if todo:
            self._grade_all(todo, keys, progress)
        self._write_gradebook()
        data = gradebook.summary([(r.name, r.report, r.status) for r in self.rows.values()])
        data["skipped_by_resume"] = len(entries) - len(todo)
        gradebook.save_json(self.out / "summary.json", data)
        shutil.rmtree(self.work_dir, ignore_errors=True)
        return data

    def _grade_all(self, todo: list[submissions.Submission], keys: dict[str, str], progress: Progress) -> None:
        pending: queue.Queue[submissions.Submission] = queue.Queue()
        for entry in todo:
            pending.put(entry)
        cache = ReferenceCache()
        failures: list[BaseException] = []
        stop = threading.Event()
        references_ready = threading.Event()
        services: list[GradingService] = []

        def work() -> None:
            try:
                service = GradingService(self.device, cache, memory_limit=self.memory_limit)
            except BaseException as error:
                failures.append(error)
                return
            with self.lock:
                services.append(service)
            # Reference runs seed torch's global RNG and switch calls off process-wide: no check code
            # may run beside them, so grading starts once they are all done.
            references_ready.wait()
            try:
                while not stop.is_set():
                    try:
                        entry = pending.get_nowait()
                    except queue.Empty:
                        return
                    row = self._grade_one(service, entry, keys[entry.name], stop)
                    if row is not None:
                        progress.advance(entry.name, row.status)
            except BaseException as error:
                failures.append(error)
                stop.set()

        threads = [threading.Thread(target=work, daemon=True) for _ in range(min(self.jobs, len(todo)))]
        for thread in threads:
            thread.start()
        try:
            try:
                self._precompute_references(cache)
            finally:
                references_ready.set()
            for thread in threads:
                while thread.is_alive():
                    thread.join(timeout=0.2)
        except BaseException:
            stop.set()
            for service in services:
                service.close()
            raise
        finally:
            for service in services:
                service.close()
        if failures:
            raise failures[0]

    def _precompute_references(self, cache: ReferenceCache) -> None:
        """Every check's reference result, once, while the workers start."""
        for module in self.selection.modules:
            suite = load_suite(module.name)
            for item in suite.items.values():
                for check in item.checks:
                    if check.requires == "cuda" and self.device.type != "cuda":
                        continue
                    cache.expected(check, item, self.device)

    def _grade_one(self, service: GradingService, entry: submissions.Submission, key: str,
                   stop: threading.Event) -> Row | None:
        """Grade and save one submission; None when the batch was interrupted meanwhile (nothing saved:
        an interrupted grading may have lost its worker, so its result would not be the real one)."""
        private = self.work_dir / key
        shutil.rmtree(private, ignore_errors=True)
        try:
            prepared = submissions.prepare(entry, private)
        except submissions.Rejected as reason:
            row = Row(entry.name, None, f"rejected: {reason}")
        else:
            if not prepared.modules:
                row = Row(entry.name, None, "empty")
            else:
                report = service.grade(prepared.folder, self.selection, name=entry.name)
                status = "ok"
                if report.problems:
                    status = "ok (" + "; ".join(report.problems) + ")"
                row = Row(entry.name, report, status)
        finally:
            shutil.rmtree(private, ignore_errors=True)
        if stop.is_set():
            return None
        self._save(row, key)
        return row

    # ------------------------------------------------------------ outputs
    def _save(self, row: Row, key: str) -> None:
        if row.report is not None:
            gradebook.write_atomically(self.reports_dir / f"{key}.json", row.report.to_json() + "\n")
        gradebook.write_atomically(self.feedback_dir / f"{key}.md",
                                   gradebook.feedback_markdown(row.name, row.report, row.status))
        gradebook.save_json(self.state_dir / f"{key}.json", {"name": row.name, "status": row.status,
                                                             "has_report": row.report is not None})
        with self.lock:
            self.rows[row.name] = row
            self._write_gradebook()

    def _write_gradebook(self) -> None:
        rows = [(r.name, r.report, r.status) for r in self.rows.values()]
        gradebook.write_atomically(self.out / "grades.csv",
                                   gradebook.gradebook_csv(rows, self.module_names, self.max_scores))

    def _restore(self, name: str, key: str) -> Row | None:
        try:
            state = json.loads((self.state_dir / f"{key}.json").read_text(encoding="utf-8"))
            if state.get("name") != name:
                return None
            report = None
            if state["has_report"]:
                report = report_from_dict(json.loads((self.reports_dir / f"{key}.json").read_text(encoding="utf-8")))
                if [e.name for e in report.exercises] != self.module_names:
                    return None
            return Row(name, report, str(state["status"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    @staticmethod
    def _file_keys(entries: list[submissions.Submission]) -> dict[str, str]:
        keys: dict[str, str] = {}
        used: set[str] = set()
        for entry in entries:
            key = submissions.safe_name(entry.name)
            candidate, counter = key, 2
            while candidate in used:
                candidate = f"{key}-{counter}"
                counter += 1
            used.add(candidate)
            keys[entry.name] = candidate
        return keys


def default_jobs() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))
