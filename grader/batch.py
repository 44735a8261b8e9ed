"""``grade batch``: grade a folder of submissions in parallel, resumably, into a gradebook.

The pipeline: discover the submissions, skip those already reported (``--resume``), then let
``jobs`` forked job processes, each with its own sandboxed :class:`GradingService`, take the
submissions one at a time: make a fresh private copy, grade it, write its report and feedback.
This process hands out the submissions, collects the rows, rewrites the gradebook atomically after
each one, and has the reference results computed once, by a child process, the first time a job
needs them (this process itself runs no torch code, so it can fork a fresh job at any time).

Nothing one submission sends or does costs the others their grades; every submission gets a row:

- A grading attempt that raises (the sandboxed zygote died, any other exception) closes the job's
  grading service; the submission is graded once more with a fresh one, and if that fails too its
  row is ``grader_error: <what happened>``. The job goes on with the next submission.
- A job process that dies (SIGKILL, a segfault) or spends longer than :attr:`Batch.time_limit` on
  one submission (counted from its announcement, ``("started", name)``) is replaced; the submission
  it had announced is graded again once, in the new process; a second death makes its row
  ``grader_error``.
- A ``grader_error`` row is blank in ``grades.csv`` (empty score cells, not 0), listed in
  ``summary.json`` under ``grader_errors`` and at the end of the printed summary, left out of the
  statistics, and graded again by ``--resume``: it is never final.
- The batch stops with :class:`GraderUnavailable` only when the grader cannot work at all: when
  ``2 * jobs + 2`` grader failures in a row (a grading service that does not start, a job process
  that dies before it started on a submission) happen with no submission graded in between, or
  when the reference results cannot be computed (the kit itself is broken). The rows written so
  far stay in the gradebook, and ``--resume`` finishes after the fix.

``SUBMISSIONS`` may also be an unpacked Canvas or Moodle download (:mod:`grader.lms`): ``grades.csv`` then has
``student_id`` and ``login`` columns after ``submission``. Whatever is not graded (a README, a hidden file, an
earlier upload set aside) is listed with the reason in ``OUT/ignored.csv`` and counted in ``summary.json``.

The grader's own files live in ``OUT/.grader/`` (no submission can have that name: hidden entries
are not submissions) under names the grader generates, never derived from a submission's name:
``expected.data`` and one fresh ``copies/<pid>-<n>-<random>/`` per grading attempt, removed
afterwards (what a worker made unremovable is left behind, never reused). Report, feedback and
state files are named by :func:`file_keys`. One batch at a time per ``OUT``.

An ``OUT`` that already holds a gradebook (``grades.csv`` or ``reports/``) is continued only with
``resume`` and replaced only with ``force``; without either the batch refuses before it changes
anything. Each report carries its provenance (:func:`gradebook.provenance`), ``OUT/gradebook.json``
that of ``grades.csv``; files are created readable as the umask allows (see :mod:`grader.gradebook`).
"""

from __future__ import annotations

import contextlib
import json
import lzma
import multiprocessing
import os
import re
import signal
import sys
import tempfile
import threading
import time
import zipfile
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import TextIO

import torch

import grader
from grader import catalogue, class_report, engine, gradebook, sandbox, similarity, submissions
from grader.engine import GradingService, ReferenceCache, probe_isolation, write_expected
from grader.files import remove_tree
from grader.remote import DEFAULT_MEMORY_LIMIT, GraderUnavailable
from grader.report import SCHEMA_VERSION, GradeReport, report_from_dict

INTERNAL_DIR = ".grader"
"""The grader's own folder in ``OUT``: a hidden name, which :func:`submissions.discover` never returns."""
EXPECTED_FILE = "expected.data"
COPIES_DIR = "copies"
GRADEBOOK_MARKS = ("grades.csv", "reports")
"""What makes ``OUT`` hold a gradebook: a batch then needs ``--resume`` or ``--force``."""
GRADEBOOK_PARTS = ("grades.csv", "gradebook.json", "summary.json", "ignored.csv", "report.html", "similarity.csv",
                   "reports", "feedback", ".state", INTERNAL_DIR)
"""Everything a batch writes in ``OUT``: what ``--force`` removes (nothing else in ``OUT`` is touched)."""
WATCHDOG_FACTOR = 4.0
DEFAULT_TIME_LIMIT = 4 * 3600.0
START_ALLOWANCE = 600.0  # for a job to announce the submission it was handed (its service may be starting)
# What reading a damaged or unsupported zip raises (besides submissions.Rejected): the student's fault.
UNREADABLE_ZIP = (zipfile.BadZipFile, zlib.error, lzma.LZMAError, NotImplementedError, EOFError, RuntimeError,
                  ValueError)
_KEY_PATTERN = re.compile(r"[A-Za-z0-9@+-][A-Za-z0-9._@+-]*")


@dataclass
class Row:
    """One line of the gradebook: the report (None when there is none) and the status."""

    name: str
    report: GradeReport | None
    status: str
    detail: str = ""
    """For a row without a report: what the student should know (an ``empty`` entry's files), for the feedback."""


@dataclass(frozen=True)
class Task:
    """One submission to grade, as handed to a job process: its name, source path and file key.

    ``submission``: what :func:`submissions.scan` found (an LMS download's files chosen for the student);
    None: the folder or ``.zip`` at ``source``.
    """

    name: str
    source: str
    key: str
    submission: submissions.Submission | None = field(default=None, compare=False)


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

    def note(self, text: str) -> None:
        """A line about one submission (a retry, a replaced process) between the progress updates."""
        with self.lock:
            self.stream.write(("\r\x1b[K" if self.tty else "") + text + "\n")
            self.stream.flush()


# ---------------------------------------------------------------- helpers
def describe(error: BaseException) -> str:
    """``Type: message`` on one line, at most 300 characters (for a status cell or a progress line)."""
    text = " ".join(f"{type(error).__name__}: {error}".split())
    return text if len(text) <= 300 else text[:297] + "..."


def exit_cause(code: int | None) -> str:
    """How a process ended, from its exit code: ``was killed by SIGKILL``, ``exited with code 1``."""
    if code is None:
        return "stopped answering"
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


def file_keys(names: list[str]) -> dict[str, str]:
    """A distinct file name stem per submission name: :func:`submissions.safe_name`, then ``-2``, ``-3``...

    Stems differ even ignoring case (macOS and Windows file systems), contain no path separator and
    never start with a dot, so ``reports/<stem>.json``, ``feedback/<stem>.md`` and ``.state/<stem>.json``
    stay inside ``OUT`` and two submissions never share a file. The same names give the same stems.
    """
    keys: dict[str, str] = {}
    used: set[str] = set()
    for name in names:
        stem = submissions.safe_name(name)
        if not _KEY_PATTERN.fullmatch(stem):
            stem = "submission"
        candidate, counter = stem, 2
        while candidate.casefold() in used:
            candidate = f"{stem}-{counter}"
            counter += 1
        used.add(candidate.casefold())
        keys[name] = candidate
    return keys


def submission_time_limit(selection: catalogue.Selection) -> float:
    """Seconds after which a job still grading one submission is presumed hung and replaced.

    A backstop only: the engine bounds every import and check, so a submission never reaches it;
    a grading service that stops answering does. Four times the sum of the selected checks' and
    imports' limits, plus ten minutes (or four hours when the suites cannot be read here).
    """
    try:
        total = 0.0
        for module in selection.modules:
            total += engine.IMPORT_TIMEOUT
            wanted = selection.items[module.name]
            for item in engine.load_suite(module.name).items.values():
                if wanted is None or item.name in wanted:
                    total += sum((check.timeout or item.timeout) + 1.0 for check in item.checks)
    except Exception:
        return DEFAULT_TIME_LIMIT
    return WATCHDOG_FACTOR * total + 600.0


def _interrupt(_signal: int, _frame: object) -> None:
    raise KeyboardInterrupt


# ---------------------------------------------------------------- the batch
class Batch:
    """One ``grade batch`` run (see the module docstring for what happens when something fails)."""

    def __init__(self, source: Path, out: Path, selection: catalogue.Selection, device: torch.device,
                 jobs: int, resume: bool, progress_stream: TextIO = sys.stderr,
                 memory_limit: int = DEFAULT_MEMORY_LIMIT, allow_unsandboxed: bool = False,
                 force: bool = False) -> None:
        self.memory_limit = memory_limit
        self.allow_unsandboxed = allow_unsandboxed
        self.isolation = "unknown"
        self.source = source
        self.out = out
        self.selection = selection
        self.device = device
        self.jobs = max(1, jobs)
        self.resume = resume
        self.force = force
        self.public_checks_only = False  # set by run(): True in a student handout (no hidden suites)
        self.started_at = ""
        self.progress_stream = progress_stream
        self.reports_dir = out / "reports"
        self.feedback_dir = out / "feedback"
        self.state_dir = out / ".state"
        self.grader_dir = out / INTERNAL_DIR
        self.expected_file = self.grader_dir / EXPECTED_FILE
        self.copies_dir = self.grader_dir / COPIES_DIR
        self.time_limit: float | None = None  # per submission; None: submission_time_limit(selection)
        self.rows: dict[str, Row] = {}
        self.ignored: list[submissions.Ignored] = []  # set by run(): what SUBMISSIONS holds that is not graded
        self.identities: dict[str, tuple[str, str]] = {}  # submission -> (LMS student id, login), LMS layouts only
        self.lock = threading.Lock()
        self.module_names = [m.name for m in selection.modules]
        self.max_scores = {m.name: float(selection.points(m)) for m in selection.modules}

    # ------------------------------------------------------------ pipeline
    def run(self) -> dict:
        """Grade every submission not already reported; write the gradebook and the summary; return it."""
        self._check_out()
        entries = self._entries()
        # before anything is written: refuses (UsageError) when only reduced isolation works here
        self.isolation = probe_isolation(self.device, self.allow_unsandboxed)
        if self.force:
            self._remove_gradebook()
        self.started_at = gradebook.utc_now()
        self.public_checks_only = not catalogue.has_hidden_suites()
        if self.public_checks_only:
            self.progress_stream.write("Note: this kit is a student handout (no hidden suites): grading with the "
                                       "public checks only.\n")
        if self.isolation == "uid":  # workers run as other uids: they must not read other students' reports
            self.out.mkdir(parents=True, exist_ok=True)
            sandbox.deny_other_users(self.out)
        keys = file_keys([entry.name for entry in entries])
        for folder in (self.reports_dir, self.feedback_dir, self.state_dir):
            folder.mkdir(parents=True, exist_ok=True)
        gradebook.write_atomically(self.out / "ignored.csv", gradebook.ignored_csv(self.ignored))
        todo = []
        for entry in entries:
            restored = self._restore(entry.name, keys[entry.name]) if self.resume else None
            if restored is not None:
                self.rows[entry.name] = restored
            else:
                todo.append(Task(entry.name, str(entry.source), keys[entry.name], entry))
        progress = Progress(len(todo), self.progress_stream)
        if todo:
            try:
                self._grade_all(todo, progress)
            except BaseException:  # stopped (Ctrl-C, the grader cannot work): the rows so far are the gradebook
                with contextlib.suppress(OSError):
                    self._write_gradebook()
                raise
        self._write_gradebook()
        data = gradebook.summary([(r.name, r.report, r.status) for r in self.rows.values()],
                                 max_score=sum(self.max_scores.values()), public_checks_only=self.public_checks_only)
        data["skipped_by_resume"] = len(entries) - len(todo)
        data["isolation"] = self.isolation
        data["ignored"] = len(self.ignored)
        gradebook.save_json(self.out / "summary.json", data)
        # for a person to read: the class at a glance, and near-identical code (read again, never run)
        similar = similarity.compare_submissions(entries, similarity.selected_items(self.selection))
        similarity.write_csv(self.out, similar)
        class_report.write(self.out, [(r.name, r.report, r.status) for r in self.rows.values()], data, keys,
                           self.module_names, self.max_scores, similar)
        return data

    def _check_out(self) -> None:
        """Refuse (UsageError, nothing changed) to overwrite a gradebook in ``OUT`` unless told how."""
        if self.resume and self.force:
            raise catalogue.UsageError("--resume continues the gradebook in OUT and --force replaces it: give one "
                                       "of them, not both")
        found = [name for name in GRADEBOOK_MARKS if os.path.lexists(self.out / name)]
        if found and not self.resume and not self.force:
            raise catalogue.UsageError(
                f"--out {self.out} already holds a gradebook ({' and '.join(found)}) and nothing was changed. Add "
                "--resume to continue it (what is graded is kept, the rest graded), or --force to replace it (its "
                "grades.csv, gradebook.json, summary.json, ignored.csv, reports/, feedback/ and .state/ are removed "
                "first), or "
                "name another --out folder.")

    def _remove_gradebook(self) -> None:
        """``--force``: remove what an earlier batch wrote in ``OUT`` (only that)."""
        for name in GRADEBOOK_PARTS:
            if not remove_tree(self.out / name):
                raise catalogue.UsageError(f"--force: {self.out / name} could not be removed; remove it yourself, "
                                           "then run the same command again")

    def _entries(self) -> list[submissions.Submission]:
        """The submissions, less ``OUT`` itself should it lie in the submissions folder."""
        out = self.out.resolve()
        found = submissions.scan(self.source)
        entries = [e for e in found.submissions if e.source.resolve() != out]
        if not entries:
            seen = f" (it holds only {len(found.ignored)} files that are not submissions, such as " \
                   f"{found.ignored[0].file}: {found.ignored[0].reason})" if found.ignored else ""
            raise catalogue.UsageError(f"{self.source} holds no submissions{seen}: put one folder or .zip per student "
                                       "in it, or unpack a Canvas or Moodle download into it")
        self.ignored = found.ignored
        self.identities = {e.name: (e.student_id, e.login) for e in entries if e.student_id or e.login}
        return entries

    def _grade_all(self, todo: list[Task], progress: Progress) -> None:
        """Grade ``todo`` in job processes (see :class:`_Scheduler`); ``OUT/.grader`` is gone afterwards."""
        remove_tree(self.grader_dir)  # what an interrupted run left
        self.grader_dir.mkdir(mode=0o700, parents=True)  # students' copies: no other uid may read them
        self.copies_dir.mkdir(mode=0o700, exist_ok=True)
        if self.time_limit is None:
            self.time_limit = submission_time_limit(self.selection)
        try:
            _Scheduler(self, todo, progress).run()
        finally:
            remove_tree(self.grader_dir)

    def job_main(self, connection: Connection, inherited: list[Connection]) -> None:
        """The body of one forked job process: grade what the parent sends until told to stop."""
        for other in inherited:
            other.close()
        signal.signal(signal.SIGTERM, _interrupt)
        job = _GradingJob(self, connection)
        try:
            job.serve()
        except (KeyboardInterrupt, EOFError, BrokenPipeError, ConnectionResetError):
            pass  # stopped by the parent, or the parent is gone
        finally:
            job.close()

    # ------------------------------------------------------------ outputs
    def record(self, row: Row) -> None:
        """Take a finished row and rewrite the gradebook."""
        with self.lock:
            self.rows[row.name] = row
            self._write_gradebook()

    def save(self, row: Row, key: str) -> None:
        """Write a row's report, feedback and resume state (the files named by ``key``)."""
        report_file = self.reports_dir / f"{key}.json"
        if row.report is not None:
            gradebook.write_atomically(report_file, row.report.to_json() + "\n")
        else:
            report_file.unlink(missing_ok=True)  # an earlier run's report is not this row's
        gradebook.write_atomically(self.feedback_dir / f"{key}.md",
                                   gradebook.feedback_markdown(row.name, row.report, row.status, row.detail))
        gradebook.save_json(self.state_dir / f"{key}.json", {"name": row.name, "status": row.status,
                                                             "has_report": row.report is not None})

    def _write_gradebook(self) -> None:
        """``grades.csv``, then ``gradebook.json`` (its provenance: written at the same moment)."""
        rows = [(r.name, r.report, r.status) for r in self.rows.values()]
        gradebook.write_atomically(self.out / "grades.csv",
                                   gradebook.gradebook_csv(rows, self.module_names, self.max_scores,
                                                           identities=self.identities or None))
        gradebook.save_json(self.out / "gradebook.json", gradebook.gradebook_metadata(
            self.started_at, self.module_names, self.public_checks_only, self.isolation, str(self.device)))

    def _restore(self, name: str, key: str) -> Row | None:
        """The saved row of ``name`` (``--resume``), or None when it must be graded: none, stale, or a grader error."""
        try:
            state = json.loads((self.state_dir / f"{key}.json").read_text(encoding="utf-8"))
            if state.get("name") != name or gradebook.is_grader_error(str(state["status"])):
                return None
            report = None
            if state["has_report"]:
                data = json.loads((self.reports_dir / f"{key}.json").read_text(encoding="utf-8"))
                if data.get("schema") != SCHEMA_VERSION or \
                        (data.get("provenance") or {}).get("kit_version") != grader.__version__:
                    return None  # written by another version of the kit: graded again, with provenance
                report = report_from_dict(data)
                if [e.name for e in report.exercises] != self.module_names or \
                        report.public_checks_only != self.public_checks_only:
                    return None
            return Row(name, report, str(state["status"]))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None


# ---------------------------------------------------------------- inside a job process
@contextlib.contextmanager
def _interrupts_deferred() -> Iterator[None]:
    """Hold a Ctrl-C or SIGTERM until a row's files are all written, then raise KeyboardInterrupt.

    A row is saved once its ``.state`` file, written after its report and feedback, exists; an interrupt
    in between would leave a report that ``--resume`` grades again. Python-level handlers, not a signal
    mask: the job's other threads would take a masked process-wide signal for the main thread anyway.
    """
    arrived: list[int] = []
    previous = {number: signal.signal(number, lambda received, _frame: arrived.append(received))
                for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    if arrived:
        raise KeyboardInterrupt


class _GradingJob:
    """One job process's work: a grading service, submissions from the parent, a row back for each.

    Messages to the parent: ``("started", name)``, ``("done", name, status, report_dict)``,
    ``("service", ok, detail, name)`` after each start of a grading service, ``("note", text)`` and
    ``("expected",)`` (answered ``"expected ready"`` once the reference results are written).
    """

    def __init__(self, batch: Batch, connection: Connection) -> None:
        self.batch = batch
        self.connection = connection
        self.service: GradingService | None = None
        self.attempts = 0

    def serve(self) -> None:
        with contextlib.suppress(GraderUnavailable):
            self._service(None)  # at once: its torch import overlaps the wait for a submission
        while True:
            task = self.connection.recv()
            if task is None:
                return
            self.connection.send(("started", task.name))
            row = self.grade(task)
            with _interrupts_deferred():
                self.batch.save(row, task.key)
            report_data = row.report.to_dict() if row.report is not None else None
            self.connection.send(("done", row.name, row.status, report_data))

    def grade(self, task: Task) -> Row:
        """Grade ``task``; after an exception once more with a fresh service; then a ``grader_error`` row."""
        try:
            return self._attempt(task)
        except Exception as error:
            first = describe(error)
        self.close()
        note = f"grading {task.name} failed ({first}); grading it once more with a fresh grading service"
        self.connection.send(("note", note))
        try:
            return self._attempt(task)
        except Exception as error:
            second = describe(error)
        self.close()
        return Row(task.name, None, gradebook.grader_error_status(
            f"the grader failed twice on {task.name} ({second}); not the student's fault: "
            "`grade batch ... --resume` grades it again"))

    def _attempt(self, task: Task) -> Row:
        entry = task.submission or submissions.Submission(task.name, Path(task.source))
        copy = self._fresh_folder()
        try:
            try:
                prepared = submissions.prepare(entry, copy / "submission")
            except submissions.Rejected as reason:
                return Row(task.name, None, f"rejected: {reason}")
            except UNREADABLE_ZIP as error:
                if not entry.is_zip:
                    raise
                return Row(task.name, None, f"rejected: {entry.source.name} cannot be unpacked ({describe(error)}); "
                                            "submit a plain .zip")
            if not prepared.modules:
                return Row(task.name, None, "empty", detail=submissions.why_empty(entry))
            digests = gradebook.module_digests(prepared.folder, self.batch.module_names)  # before any code runs
            report = self._service(task.name).grade(prepared.folder, self.batch.selection, name=task.name)
        finally:
            remove_tree(copy)
        report.provenance = gradebook.provenance(digests)
        status = "ok" if not report.problems else "ok (" + "; ".join(report.problems) + ")"
        report.problems += prepared.notes  # in the student's feedback, not in the gradebook's status column
        return Row(task.name, report, status)

    def _fresh_folder(self) -> Path:
        """A new, empty private folder for one grading attempt, never used before."""
        self.attempts += 1
        self.batch.copies_dir.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-{self.attempts}-", dir=self.batch.copies_dir))

    def _service(self, name: str | None) -> GradingService:
        """The job's grading service, started if it has none; the parent hears of every start."""
        if self.service is None:
            try:
                self.service = GradingService(self.batch.device, ReferenceCache(self._load_expected),
                                              memory_limit=self.batch.memory_limit)
            except Exception as error:
                self.connection.send(("service", False, describe(error), name))
                raise GraderUnavailable(f"no grading service could be started: {describe(error)}") from error
            self.connection.send(("service", True, "", name))
        return self.service

    def _load_expected(self, cache: ReferenceCache) -> None:
        self.connection.send(("expected",))
        if self.connection.recv() != "expected ready":
            raise GraderUnavailable("the batch sent no reference results")
        cache.load(self.batch.expected_file, self.batch.device)

    def close(self) -> None:
        """Close the grading service, if any (a failing close is not this job's problem)."""
        service, self.service = self.service, None
        if service is not None:
            with contextlib.suppress(Exception):
                service.close()


# ---------------------------------------------------------------- in the batch's own process
@dataclass
class _Job:
    """This process's view of one job process: the submission it has (None: idle), since when."""

    process: BaseProcess
    connection: Connection
    task: Task | None = None
    announced: bool = False
    since: float = 0.0


class _Reference:
    """The reference results: computed once, by a child process, when a job first asks for them."""

    def __init__(self, batch: Batch, spawn: Callable[[Callable[..., None], tuple], tuple[BaseProcess, Connection]]):
        self.batch = batch
        self.spawn = spawn
        self.process: BaseProcess | None = None
        self.connection: Connection | None = None
        self.ready = False
        self.waiting: list[_Job] = []

    def request(self, job: _Job) -> None:
        if self.ready:
            _send(job.connection, "expected ready")
            return
        self.waiting.append(job)
        if self.process is None:
            self.process, self.connection = self.spawn(_compute_expected, (self.batch.selection, self.batch.device,
                                                                          self.batch.expected_file))

    def handles(self) -> list[object]:
        return [self.process.sentinel] if self.process is not None and not self.ready else []

    def poll(self) -> None:
        """Once the computing process has finished, answer the jobs waiting; raise if it failed."""
        if self.process is None or self.ready or self.process.is_alive():
            return
        message = None
        with contextlib.suppress(EOFError, OSError):
            if self.connection is not None and self.connection.poll():
                message = self.connection.recv()
        if message != ("ok",):
            detail = message[1] if isinstance(message, tuple) and len(message) == 2 else (
                f"the process computing them {exit_cause(self.process.exitcode)}")
            raise GraderUnavailable(f"the reference results could not be computed ({detail}): the kit itself is "
                                    "broken and no submission can be graded. Check it with "
                                    "`pytest tests/test_reference_and_stubs.py`, then run the same command with "
                                    "--resume.")
        self.ready = True
        now = time.monotonic()
        for job in self.waiting:
            job.since = now  # the wait was not the submission's time
            _send(job.connection, "expected ready")
        self.waiting.clear()

    def stop(self) -> None:
        if self.process is not None and self.process.is_alive():
            self.process.kill()
            self.process.join(timeout=10)
        if self.connection is not None:
            self.connection.close()


def _compute_expected(connection: Connection, inherited: list[Connection], selection: catalogue.Selection,
                      device: torch.device, path: Path) -> None:
    for other in inherited:
        other.close()
    try:
        write_expected(selection, device, path)
    except Exception as error:
        connection.send(("failed", describe(error)))
        return
    connection.send(("ok",))


def _send(connection: Connection, message: object) -> None:
    """Send to a job; a job that is gone is noticed by its exit, not here."""
    with contextlib.suppress(OSError, ValueError):
        connection.send(message)


class _Scheduler:
    """Hands submissions to job processes one at a time, collects their rows, replaces dead jobs."""

    def __init__(self, batch: Batch, todo: list[Task], progress: Progress) -> None:
        self.batch = batch
        self.progress = progress
        self.queue: deque[Task] = deque(todo)
        self.remaining = {task.name for task in todo}
        self.deaths: dict[str, int] = {}
        self.jobs: list[_Job] = []
        self.failures_in_a_row = 0
        self.failure_limit = 2 * batch.jobs + 2
        self.context = multiprocessing.get_context("fork")
        self.reference = _Reference(batch, self._fork)
        self.time_limit = batch.time_limit or DEFAULT_TIME_LIMIT

    def run(self) -> None:
        """Until every submission has a row; then stop the jobs (at once on an exception or Ctrl-C)."""
        finished = False
        try:
            while self.remaining:
                self._staff()
                self._dispatch()
                self._wait()
            finished = True
        finally:
            self._stop(graceful=finished)

    # ------------------------------------------------------------ processes
    def _fork(self, target: Callable[..., None], args: tuple) -> tuple[BaseProcess, Connection]:
        """Fork ``target(connection, inherited, *args)``; ``inherited``: this process's other pipe ends."""
        ours, theirs = self.context.Pipe(duplex=True)
        inherited = [job.connection for job in self.jobs] + [ours]
        if self.reference.connection is not None:
            inherited.append(self.reference.connection)
        process = self.context.Process(target=target, args=(theirs, inherited, *args), daemon=True)
        process.start()
        theirs.close()
        return process, ours

    def _staff(self) -> None:
        """Keep ``jobs`` job processes (no more than there are submissions left)."""
        while len(self.jobs) < min(self.batch.jobs, len(self.remaining)):
            process, connection = self._fork(self.batch.job_main, ())
            self.jobs.append(_Job(process, connection))

    def _dispatch(self) -> None:
        for job in self.jobs:
            if job.task is None and self.queue:
                job.task, job.announced, job.since = self.queue.popleft(), False, time.monotonic()
                _send(job.connection, job.task)

    def _wait(self) -> None:
        """Handle what the jobs sent; bury the jobs that died or overran the time limit."""
        handles = [job.connection for job in self.jobs] + [job.process.sentinel for job in self.jobs]
        wait(handles + self.reference.handles(), timeout=1.0)
        for job in list(self.jobs):
            self._read(job)
        self.reference.poll()
        for job in list(self.jobs):
            if not job.process.is_alive():
                self._bury(job, exit_cause(job.process.exitcode))
            elif self._overdue(job):
                job.process.kill()
                job.process.join(timeout=10)
                self._bury(job, f"was still busy after {self._limit(job):.0f} s and was killed")

    def _limit(self, job: _Job) -> float:
        """Seconds a job may keep its submission: from its announcement, or (a slow service start first)
        from being handed it."""
        return self.time_limit if job.announced else max(self.time_limit, START_ALLOWANCE)

    def _overdue(self, job: _Job) -> bool:
        return job.task is not None and time.monotonic() - job.since > self._limit(job)

    def _stop(self, graceful: bool) -> None:
        """Ask the jobs to finish (graceful) or interrupt them; kill what is left after a while."""
        for job in self.jobs:
            if graceful:
                _send(job.connection, None)
            elif job.process.is_alive():
                job.process.terminate()
        deadline = time.monotonic() + (30.0 if graceful else 5.0)
        for job in self.jobs:
            job.process.join(timeout=max(0.0, deadline - time.monotonic()))
        for job in self.jobs:
            if job.process.is_alive():
                job.process.kill()
                job.process.join(timeout=10)
            job.connection.close()
        self.jobs.clear()
        self.reference.stop()

    # ------------------------------------------------------------ messages
    def _read(self, job: _Job) -> None:
        """Handle every message ``job`` has sent (a dead job's last ones included)."""
        try:
            while job.connection.poll():
                self._handle(job, job.connection.recv())
        except (EOFError, OSError):
            pass  # the job is gone: its exit is handled by _wait

    def _handle(self, job: _Job, message: tuple) -> None:
        kind = message[0]
        if kind == "started":
            job.announced = job.task is not None and message[1] == job.task.name
            job.since = time.monotonic()
        elif kind == "done":
            self._done(job, Row(message[1], report_from_dict(message[3]) if message[3] is not None else None,
                                message[2]))
        elif kind == "service" and not message[1]:
            where = f" for {message[3]}" if message[3] else ""
            self._grader_failure(f"a grading service could not start{where}: {message[2]}")
        elif kind == "note":
            self.progress.note(message[1])
        elif kind == "expected":
            self.reference.request(job)

    def _done(self, job: _Job, row: Row) -> None:
        job.task = None
        if not gradebook.is_grader_error(row.status):
            self.failures_in_a_row = 0
        self._record(row)

    def _record(self, row: Row) -> None:
        self.batch.record(row)
        self.remaining.discard(row.name)
        self.progress.advance(row.name, row.status)

    # ------------------------------------------------------------ failures
    def _bury(self, job: _Job, cause: str) -> None:
        """A job process is gone: replace it (in _staff) and deal with the submission it had."""
        self._read(job)  # a row it finished just before dying counts
        self.jobs.remove(job)
        job.connection.close()
        job.process.join(timeout=10)
        task = job.task
        if task is None:
            self._grader_failure(f"a grading process {cause} between two submissions")
        elif not job.announced:
            self.queue.appendleft(task)
            self._grader_failure(f"a grading process {cause} before it started on {task.name}")
        else:
            self._died_on(task, cause)

    def _died_on(self, task: Task, cause: str) -> None:
        """The job grading ``task`` died: grade it again once in a fresh process, then a ``grader_error`` row."""
        self.deaths[task.name] = self.deaths.get(task.name, 0) + 1
        if self.deaths[task.name] < 2:
            self.progress.note(f"the grading process {cause} while grading {task.name}; grading {task.name} "
                               "again in a fresh process")
            self.queue.appendleft(task)
            return
        row = Row(task.name, None, gradebook.grader_error_status(
            f"the grading process died twice while grading {task.name} (the last time it {cause}); not the "
            "student's fault: `grade batch ... --resume` grades it again"))
        self.batch.save(row, task.key)
        self._record(row)

    def _grader_failure(self, reason: str) -> None:
        """A failure of the grader, not of a submission; too many in a row and the batch stops."""
        self.failures_in_a_row += 1
        self.progress.note(reason)
        if self.failures_in_a_row >= self.failure_limit:
            raise GraderUnavailable(
                f"the grader cannot work on this machine: {self.failures_in_a_row} tries in a row failed with no "
                f"submission graded in between; the last: {reason}. The {len(self.batch.rows)} rows graded so far "
                f"are in {self.batch.out / 'grades.csv'}. Find the cause with `grade check --submission` on one "
                "submission, then run the same command with --resume to finish.")


def default_jobs() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))
