"""`grade batch` survives its own failures: nothing one submission does costs the others their grades.

The grader's failures are simulated by patching :class:`GradingService` in this process before the
batch starts: its job processes are forked, so they inherit the patch. One small exercise module
keeps each batch to seconds.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import stat
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from grader import batch, catalogue, engine, files, gradebook
from grader.remote import GraderUnavailable

MODULE = "ex01_tensors"
REFERENCE = (catalogue.SOLUTIONS_DIR / f"{MODULE}.py").read_text(encoding="utf-8")
STUB = (catalogue.EXERCISES_DIR / f"{MODULE}.py").read_text(encoding="utf-8")


def _selection() -> catalogue.Selection:
    return catalogue.select([MODULE], catalogue.load_catalogue())


def _folder(root: Path, name: str, source: str = REFERENCE) -> None:
    (root / name).mkdir(parents=True)
    (root / name / f"{MODULE}.py").write_text(source, encoding="utf-8")


def _zip(root: Path, name: str, source: str = REFERENCE) -> None:
    with zipfile.ZipFile(root / f"{name}.zip", "w") as bundle:
        bundle.writestr(f"{name}/exercises/{MODULE}.py", source)


def _class(tmp_path: Path, students: dict[str, str]) -> Path:
    root = tmp_path / "submissions"
    root.mkdir()
    for name, source in students.items():
        _folder(root, name, source)
    return root


def _batch(root: Path, out: Path, jobs: int = 1, resume: bool = False) -> tuple[batch.Batch, dict, str]:
    stream = io.StringIO()
    run = batch.Batch(root, out, _selection(), torch.device("cpu"), jobs=jobs, resume=resume,
                      progress_stream=stream, memory_limit=2 * 2**30)
    return run, run.run(), stream.getvalue()


def _rows(out: Path) -> dict[str, dict[str, str]]:
    with open(out / "grades.csv", newline="") as handle:
        return {row["submission"]: row for row in csv.DictReader(handle)}


def _calls(log: Path) -> list[str]:
    return log.read_text().split() if log.exists() else []


def _patch_grade(monkeypatch: pytest.MonkeyPatch, log: Path, actions: dict[str, Callable[[Path], None]]) -> None:
    """Make ``GradingService.grade`` log each submission's name and run its action first (if any)."""
    original = engine.GradingService.grade

    def grade(self: engine.GradingService, submission: Path, selection: catalogue.Selection,
              name: str | None = None) -> object:
        with open(log, "a") as handle:
            handle.write(f"{name}\n")
        if name in actions:
            actions[name](submission)
        return original(self, submission, selection, name=name)

    monkeypatch.setattr(engine.GradingService, "grade", grade)


def _explode(_submission: Path) -> None:
    raise GraderUnavailable("the grading zygote is gone (simulated)")


def _once(marker: Path, action: Callable[[Path], None]) -> Callable[[Path], None]:
    def first_time_only(submission: Path) -> None:
        if not marker.exists():
            marker.write_text("done")
            action(submission)
    return first_time_only


def _kill_job(_submission: Path) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _assert_blank_grader_error(row: dict[str, str], name: str, *words: str) -> None:
    assert row["status"].startswith("grader_error: ") and name in row["status"], row
    for word in words:
        assert word in row["status"], row
    assert row["score"] == "" and row[MODULE] == "" and row["percent"] == "", row
    assert float(row["max_score"]) > 0


def test_a_submission_the_grader_fails_on_twice_gets_a_blank_grader_error_row_and_the_others_their_grades(
        tmp_path, monkeypatch):
    root = _class(tmp_path, {"alice": REFERENCE, "bob": STUB, "explodes": REFERENCE, "explodes_once": REFERENCE})
    log = tmp_path / "calls.log"
    _patch_grade(monkeypatch, log, {"explodes": _explode,
                                    "explodes_once": _once(tmp_path / "exploded", _explode)})
    out = tmp_path / "out"

    _, summary, progress = _batch(root, out, jobs=2)

    rows = _rows(out)
    assert sorted(rows) == ["alice", "bob", "explodes", "explodes_once"]
    full = float(rows["alice"]["max_score"])
    assert float(rows["alice"]["score"]) == full and float(rows["explodes_once"]["score"]) == full
    assert float(rows["bob"]["score"]) == 0 and rows["bob"]["status"] == "ok"
    _assert_blank_grader_error(rows["explodes"], "explodes", "GraderUnavailable", "zygote is gone")
    assert _calls(log).count("explodes") == 2, "graded once more with a fresh service, then given up"
    assert _calls(log).count("explodes_once") == 2
    assert "grading explodes failed" in progress and "graded 4/4" in progress
    assert json.loads((out / "summary.json").read_text())["grader_errors"] == ["explodes"]
    assert summary["graded"] == 3 and summary["mean_score"] == pytest.approx(2 * full / 3, abs=1e-3)
    last_line = gradebook.summary_text(summary).splitlines()[-1]
    assert "Grader errors" in last_line and "explodes" in last_line and "--resume" in last_line
    assert not (out / "reports" / "explodes.json").exists()
    assert "not your fault" in (out / "feedback" / "explodes.md").read_text()
    assert not (out / ".grader").exists()


def test_a_job_process_killed_once_is_replaced_and_its_submission_graded_again(tmp_path, monkeypatch):
    root = _class(tmp_path, {"alice": REFERENCE, "killer_once": REFERENCE, "zoe": STUB})
    log = tmp_path / "calls.log"
    _patch_grade(monkeypatch, log, {"killer_once": _once(tmp_path / "killed", _kill_job)})

    _, summary, progress = _batch(root, tmp_path / "out", jobs=1)

    rows = _rows(tmp_path / "out")
    assert {name: row["status"] for name, row in rows.items()} == {"alice": "ok", "killer_once": "ok", "zoe": "ok"}
    assert float(rows["killer_once"]["score"]) == float(rows["killer_once"]["max_score"])
    assert _calls(log).count("killer_once") == 2
    assert "killed by SIGKILL while grading killer_once" in progress
    assert summary["grader_errors"] == []


def test_a_submission_whose_grading_process_dies_every_time_gets_a_grader_error_row(tmp_path, monkeypatch):
    root = _class(tmp_path, {"alice": REFERENCE, "bob": STUB, "killer": REFERENCE})
    log = tmp_path / "calls.log"
    _patch_grade(monkeypatch, log, {"killer": _kill_job})

    _, summary, _ = _batch(root, tmp_path / "out", jobs=2)

    rows = _rows(tmp_path / "out")
    _assert_blank_grader_error(rows["killer"], "killer", "died twice", "SIGKILL")
    assert rows["alice"]["status"] == rows["bob"]["status"] == "ok"
    assert _calls(log).count("killer") == 2
    assert summary["grader_errors"] == ["killer"]
    assert "killer" in gradebook.summary_text(summary).splitlines()[-1]


def test_a_grading_process_that_hangs_is_killed_after_the_time_limit(tmp_path, monkeypatch):
    root = _class(tmp_path, {"alice": REFERENCE, "hangs": REFERENCE})
    log = tmp_path / "calls.log"
    _patch_grade(monkeypatch, log, {"hangs": lambda _submission: time.sleep(600)})
    out = tmp_path / "out"
    run = batch.Batch(root, out, _selection(), torch.device("cpu"), jobs=1, resume=False,
                      progress_stream=io.StringIO())
    run.time_limit = 10.0

    summary = run.run()

    rows = _rows(out)
    assert rows["alice"]["status"] == "ok"
    _assert_blank_grader_error(rows["hangs"], "hangs", "after 10 s")
    assert summary["grader_errors"] == ["hangs"]


def test_a_grading_service_that_fails_to_start_once_costs_no_submission_its_grade(tmp_path, monkeypatch):
    root = _class(tmp_path, {"alice": REFERENCE, "bob": STUB})
    marker = tmp_path / "failed-once"
    original = engine.GradingService.__init__

    def start(self: engine.GradingService, *args: object, **kwargs: object) -> None:
        if kwargs.get("probe_only"):  # the batch's first look at the machine's isolation works
            return original(self, *args, **kwargs)
        if not marker.exists():
            marker.write_text("done")
            raise GraderUnavailable("the sandbox could not start (simulated)")
        original(self, *args, **kwargs)

    monkeypatch.setattr(engine.GradingService, "__init__", start)

    _, _, progress = _batch(root, tmp_path / "out", jobs=1)

    assert {name: row["status"] for name, row in _rows(tmp_path / "out").items()} == {"alice": "ok", "bob": "ok"}
    assert "could not start" in progress


def test_a_machine_where_no_grading_service_starts_stops_the_batch_with_a_message_instead_of_spinning(
        tmp_path, monkeypatch):
    root = _class(tmp_path, {f"student{index}": REFERENCE for index in range(8)})
    original = engine.GradingService.__init__

    def start(self: engine.GradingService, *args: object, **kwargs: object) -> None:
        if kwargs.get("probe_only"):  # the isolation probe passes; every real service then fails
            return original(self, *args, **kwargs)
        raise GraderUnavailable("bubblewrap is broken here (simulated)")

    monkeypatch.setattr(engine.GradingService, "__init__", start)
    began = time.monotonic()

    with pytest.raises(GraderUnavailable, match="cannot work on this machine") as raised:
        _batch(root, tmp_path / "out", jobs=2)

    assert time.monotonic() - began < 120
    assert "bubblewrap is broken here" in str(raised.value) and "--resume" in str(raised.value)
    rows = _rows(tmp_path / "out")
    assert all(row["status"].startswith("grader_error: ") for row in rows.values()), "the rows so far are kept"
    assert not (tmp_path / "out" / ".grader").exists()


@pytest.mark.parametrize("jobs", [1, 2])
def test_submission_names_never_collide_with_the_graders_files_or_each_other(tmp_path, jobs):
    root = tmp_path / "submissions"
    root.mkdir()
    _folder(root, "expected.pt")
    _zip(root, "expected.data", STUB)
    _folder(root, "copies")
    _folder(root, "a b")
    _folder(root, "a_b", STUB)
    _folder(root, "A_B")
    _folder(root, ".grader")  # hidden: not a submission, and not the grader's folder either
    out = tmp_path / "out"

    _batch(root, out, jobs=jobs)

    rows = _rows(out)
    assert sorted(rows) == ["A_B", "a b", "a_b", "copies", "expected.data", "expected.pt"]
    assert all(row["status"] == "ok" for row in rows.values()), rows
    full = float(rows["expected.pt"]["max_score"])
    assert [float(rows[name]["score"]) for name in ("expected.pt", "copies", "a b", "A_B")] == [full] * 4
    assert float(rows["expected.data"]["score"]) == float(rows["a_b"]["score"]) == 0
    reports = {json.loads(p.read_text())["submission"] for p in (out / "reports").glob("*.json")}
    assert reports == set(rows), "every submission has its own report file"
    assert len(list((out / "feedback").glob("*.md"))) == len(rows)
    assert not (out / ".grader").exists() and (root / ".grader" / f"{MODULE}.py").is_file()


def test_file_names_made_from_submission_names_are_distinct_and_stay_in_their_folder(tmp_path):
    names = ["a b", "a_b", "A_B", "a_b-2", "..", "../../etc/passwd", ".hidden", "x/y", "", "é" * 300, "submission"]
    keys = batch.file_keys(names)
    assert len({key.casefold() for key in keys.values()}) == len(names)
    for key in keys.values():
        assert not key.startswith(".") and "/" not in key and len(key) < 140
        assert (tmp_path / "reports" / f"{key}.json").resolve().parent == (tmp_path / "reports").resolve()
    assert batch.file_keys(names) == keys


def test_a_private_copy_a_worker_made_unremovable_never_stops_the_batch(tmp_path, monkeypatch):
    def lock_up(submission: Path) -> None:
        locked = submission / "locked"
        locked.mkdir()
        (locked / "file").write_text("x")
        locked.chmod(0)
        (submission / f"{MODULE}.py").chmod(stat.S_IRUSR)
        submission.chmod(stat.S_IRUSR | stat.S_IXUSR)

    root = _class(tmp_path, {"alice": REFERENCE, "locks_its_copy": REFERENCE, "zoe": REFERENCE})
    _patch_grade(monkeypatch, tmp_path / "calls.log", {"locks_its_copy": lock_up})
    out = tmp_path / "out"

    _batch(root, out, jobs=1)

    assert {row["status"] for row in _rows(out).values()} == {"ok"}
    assert not (out / ".grader").exists()


def test_removing_a_tree_handles_read_only_and_mode_000_folders_and_never_raises(tmp_path, monkeypatch):
    tree = tmp_path / "tree"
    (tree / "read_only" / "closed").mkdir(parents=True)
    (tree / "read_only" / "file").write_text("x")
    (tree / "read_only" / "closed" / "inner").write_text("x")
    (tree / "read_only" / "closed").chmod(0)
    (tree / "read_only").chmod(stat.S_IRUSR | stat.S_IXUSR)
    tree.chmod(0)
    assert files.remove_tree(tree) is True and not tree.exists()

    stubborn = tmp_path / "stubborn"
    stubborn.mkdir()

    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError("operation not permitted (simulated)")

    monkeypatch.setattr(files.shutil, "rmtree", refuse)
    assert files.remove_tree(stubborn) is False and stubborn.exists()


def test_an_interrupted_batch_with_grader_errors_resumed_gives_the_same_gradebook_as_an_uninterrupted_one(
        tmp_path, monkeypatch):
    students = {"alice": REFERENCE, "bob": STUB, "explodes": REFERENCE, "yan": STUB, "zoe": REFERENCE}
    root = _class(tmp_path, students)
    log = tmp_path / "calls.log"
    _patch_grade(monkeypatch, log, {"explodes": _explode})
    _, complete, _ = _batch(root, tmp_path / "complete", jobs=1)
    assert complete["grader_errors"] == ["explodes"]

    advance = batch.Progress.advance

    def interrupt_after_three(self: batch.Progress, name: str, status: str) -> None:
        advance(self, name, status)
        if self.done == 3:
            raise KeyboardInterrupt

    out = tmp_path / "interrupted"
    with monkeypatch.context() as patch:
        patch.setattr(batch.Progress, "advance", interrupt_after_three)
        with pytest.raises(KeyboardInterrupt):
            _batch(root, out, jobs=1)
    rows = _rows(out)
    assert sorted(rows) == ["alice", "bob", "explodes"] and rows["explodes"]["status"].startswith("grader_error")
    assert not (out / ".grader").exists()
    before = _calls(log).count("explodes")

    _, resumed, _ = _batch(root, out, jobs=1, resume=True)

    assert (out / "grades.csv").read_text() == (tmp_path / "complete" / "grades.csv").read_text()
    assert resumed["skipped_by_resume"] == 2, "a grader_error row is not final: it is graded again"
    assert _calls(log).count("explodes") == before + 2
    assert resumed["grader_errors"] == ["explodes"]
