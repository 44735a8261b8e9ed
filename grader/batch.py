"""``grade batch``: grade a folder of submissions in parallel, resumably, into a gradebook.

The pipeline: discover the submissions, skip those already reported (``--resume``), compute the
reference results once, then let ``jobs`` grading services (each one sandboxed zygote) take
submissions from a queue: make a private copy, grade it, write its report and feedback, and
rewrite the gradebook atomically. A submission that cannot be graded gets a row with the reason.
"""

from __future__ import annotations

import json
import multiprocessing
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
from grader.engine import GradingService, ReferenceCache, write_expected
from grader.remote import DEFAULT_MEMORY_LIMIT, GraderUnavailable
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
        """Grade ``todo`` in ``jobs`` forked grader processes; rows come back here for the gradebook.

        The job processes are forked before any torch computation (so they share the already
        imported torch and never inherit CUDA state), each starts its own sandboxed zygote and takes
        submissions from a queue. The first time one needs a reference result, this process
        computes them all, once for the whole batch, and the jobs load them (stubs need none). One process per job, not one thread: the grader's own Python work (encoding,
        comparing) then runs on every core instead of queueing for one interpreter lock.
        """
        context = multiprocessing.get_context("fork")
        tasks = context.Queue()
        results = context.Queue()
        expected_needed = context.Event()
        expected_ready = context.Event()
        expected_file = self.work_dir / "expected.pt"
        self.work_dir.mkdir(parents=True, exist_ok=True)
        for entry in todo:
            tasks.put((entry.name, str(entry.source), keys[entry.name]))
        count = min(self.jobs, len(todo))
        for _ in range(count):
            tasks.put(None)
        children = [context.Process(target=self._job,
                                    args=(tasks, results, expected_needed, expected_ready, expected_file),
                                    daemon=True) for _ in range(count)]
        for child in children:
            child.start()
        try:
            finished = 0
            while finished < len(todo):
                if expected_needed.is_set() and not expected_ready.is_set():
                    write_expected(self.selection, self.device, expected_file)
                    expected_ready.set()
                try:
                    message = results.get(timeout=1.0)
                except queue.Empty:
                    if not any(child.is_alive() for child in children):
                        raise GraderUnavailable("every grading process stopped; see the messages above") from None
                    continue
                if message[0] == "failed":
                    raise GraderUnavailable(f"a grading process failed: {message[1]}")
                _, name, status, report_data = message
                report = report_from_dict(report_data) if report_data is not None else None
                with self.lock:
                    self.rows[name] = Row(name, report, status)
                    self._write_gradebook()
                progress.advance(name, status)
                finished += 1
        finally:
            for child in children:
                if child.is_alive():
                    child.terminate()
            for child in children:
                child.join(timeout=10)
                if child.is_alive():
                    child.kill()

    def _job(self, tasks: object, results: object, expected_needed: object, expected_ready: object,
             expected_file: Path) -> None:
        """One grading process: its own zygote, the shared reference results, submissions from the queue."""
        def load_expected(cache: ReferenceCache) -> None:
            expected_needed.set()  # type: ignore[attr-defined]
            expected_ready.wait()  # type: ignore[attr-defined]
            cache.load(expected_file, self.device)

        try:
            service = GradingService(self.device, ReferenceCache(load_expected), memory_limit=self.memory_limit)
        except BaseException as error:
            results.put(("failed", f"{type(error).__name__}: {error}"))  # type: ignore[attr-defined]
            return
        try:
            while True:
                task = tasks.get()  # type: ignore[attr-defined]
                if task is None:
                    return
                name, source, key = task
                row = self._grade_one(service, submissions.Submission(name, Path(source)), key)
                self._save(row, key)
                report_data = row.report.to_dict() if row.report is not None else None
                results.put(("done", row.name, row.status, report_data))  # type: ignore[attr-defined]
        except KeyboardInterrupt:
            return
        except BaseException as error:
            results.put(("failed", f"{type(error).__name__}: {error}"))  # type: ignore[attr-defined]
        finally:
            service.close()

    def _grade_one(self, service: GradingService, entry: submissions.Submission, key: str) -> Row:
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
        return row

    # ------------------------------------------------------------ outputs
    def _save(self, row: Row, key: str) -> None:
        if row.report is not None:
            gradebook.write_atomically(self.reports_dir / f"{key}.json", row.report.to_json() + "\n")
        gradebook.write_atomically(self.feedback_dir / f"{key}.md",
                                   gradebook.feedback_markdown(row.name, row.report, row.status))
        gradebook.save_json(self.state_dir / f"{key}.json", {"name": row.name, "status": row.status,
                                                             "has_report": row.report is not None})

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
