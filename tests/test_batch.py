"""`grade batch` finishes a class folder full of hostile submissions with a complete, honest gradebook."""

from __future__ import annotations

import csv
import datetime
import hashlib
import io
import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

import grader
from grader import batch, catalogue, engine, gradebook, report
from grader.cli import main

MODULE = "ex02_gradient_descent"
REFERENCE = (catalogue.SOLUTIONS_DIR / f"{MODULE}.py").read_text(encoding="utf-8")
STUB = (catalogue.EXERCISES_DIR / f"{MODULE}.py").read_text(encoding="utf-8")


def _folder(root: Path, name: str, source: str, subfolder: str = "") -> Path:
    target = root / name / subfolder
    target.mkdir(parents=True, exist_ok=True)
    (target / f"{MODULE}.py").write_text(source, encoding="utf-8")
    return root / name


def _override(code: str) -> str:
    return REFERENCE + "\n\n" + textwrap.dedent(code)


def _zip(root: Path, name: str, entries: dict[str, bytes]) -> None:
    with zipfile.ZipFile(root / f"{name}.zip", "w") as bundle:
        for entry, data in entries.items():
            bundle.writestr(entry, data)


def _tree_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() and not p.is_symlink()
            else "link" for p in sorted(folder.rglob("*"))}


def _rows(out: Path) -> dict[str, dict[str, str]]:
    with open(out / "grades.csv", newline="") as handle:
        return {row["submission"]: row for row in csv.DictReader(handle)}


@pytest.fixture
def class_folder(tmp_path: Path) -> tuple[Path, str, Path]:
    root = tmp_path / "submissions"
    root.mkdir()
    marker = f"stray-{os.getpid()}-{time.monotonic_ns()}"
    escape_target = tmp_path / "escaped.txt"
    _folder(root, "ref_copy", REFERENCE)
    _zip(root, "stub_copy", {f"stub_copy/exercises/{MODULE}.py": STUB.encode()})
    _folder(root, "endless_loop", _override("def loss_fn(t_p, t_c):\n    while True:\n        pass\n"))
    _folder(root, "hangs_at_import", "while True:\n    pass\n")
    _folder(root, "calls_sys_exit", _override("import sys\ndef loss_fn(t_p, t_c):\n    sys.exit(0)\n"))
    _folder(root, "calls_os_exit", _override("import os\ndef loss_fn(t_p, t_c):\n    os._exit(0)\n"))
    _folder(root, "segfaults", _override("import ctypes\ndef loss_fn(t_p, t_c):\n    ctypes.string_at(0)\n"))
    _folder(root, "keyboard_interrupt", _override("def loss_fn(t_p, t_c):\n    raise KeyboardInterrupt\n"))
    _folder(root, "recursion_bomb", _override("def loss_fn(t_p, t_c):\n    return loss_fn(t_p, t_c)\n"))
    _folder(root, "memory_bomb", _override(
        "import torch\ndef training_loop(n_epochs, learning_rate, params, t_u, t_c):\n"
        "    return torch.ones(3 * 2**30 // 4).sum()\n"))
    _folder(root, "prints_megabytes", _override(
        "import sys\nfor _ in range(50):\n    print('x' * 100_000)\n"
        "print('{\"schema\": 1, \"score\": 12.0, \"max_score\": 12.0}')\n"))
    _folder(root, "starts_daemons", _override(f"""
        import subprocess
        def loss_fn(t_p, t_c):
            subprocess.Popen(["sleep", "300", "{marker}"], start_new_session=True)
            subprocess.Popen(["sh", "-c", "sleep 300 {marker} &"], start_new_session=True)
            return ((t_p - t_c) ** 2).mean() + 1
    """))
    _folder(root, "monkeypatches", _override("""
        import torch, torch.testing
        torch.testing.assert_close = lambda *a, **k: None
        torch.allclose = lambda *a, **k: True
        torch.Tensor.__eq__ = lambda self, other: True
        def loss_fn(t_p, t_c):
            return torch.zeros(())
    """))
    _folder(root, "tensor_subclass", _override("""
        import torch
        class Liar(torch.Tensor):
            def __eq__(self, other):
                return True
        def loss_fn(t_p, t_c):
            return torch.zeros(()).as_subclass(Liar)
    """))
    _folder(root, "malicious_pickle", _override("""
        import os
        class Payload:
            def __reduce__(self):
                return (os.system, ("touch /tmp/pwned-by-pickle",))
        def loss_fn(t_p, t_c):
            return Payload()
    """))
    _folder(root, "imports_solutions", _override("""
        def loss_fn(t_p, t_c):
            from solutions.ex02_gradient_descent import loss_fn as reference
            return reference(t_p, t_c)
    """))
    _folder(root, "writes_outside", _override(f"""
        def loss_fn(t_p, t_c):
            open({str(escape_target)!r}, "w").write("escaped")
            return ((t_p - t_c) ** 2).mean()
    """))
    link_folder = root / "symlinked_module"
    link_folder.mkdir()
    (link_folder / f"{MODULE}.py").symlink_to(catalogue.SOLUTIONS_DIR / f"{MODULE}.py")
    _zip(root, "zip_slip", {f"../{MODULE}.py": REFERENCE.encode()})
    _zip(root, "absolute_path", {f"/tmp/{MODULE}.py": REFERENCE.encode()})
    binary = root / "binary_module"
    binary.mkdir()
    (binary / f"{MODULE}.py").write_bytes(b"\x7fELF\x00\x01\x02")
    latin = root / "latin1_module"
    latin.mkdir()
    (latin / f"{MODULE}.py").write_bytes("# caf\xe9\n".encode("latin-1") + REFERENCE.encode())
    _folder(root, "duplicated", REFERENCE)
    _folder(root, "duplicated", REFERENCE, "exercises")
    (root / "empty_one").mkdir()
    (root / "empty_one" / "notes.txt").write_text("I did not do it")
    return root, marker, escape_target


def test_a_class_of_hostile_submissions_gets_a_complete_honest_gradebook(class_folder, tmp_path, monkeypatch):
    root, marker, escape_target = class_folder
    monkeypatch.setattr(engine, "IMPORT_TIMEOUT", 3.0)
    before = _tree_digest(root)
    solutions_before = _tree_digest(catalogue.SOLUTIONS_DIR)
    out = tmp_path / "out"
    selection = catalogue.select([MODULE], catalogue.load_catalogue())
    run = batch.Batch(root, out, selection, torch.device("cpu"), jobs=2, resume=False,
                      progress_stream=io.StringIO(), memory_limit=2 * 2**30)
    summary = run.run()

    rows = _rows(out)
    expected_names = sorted(p.name[:-4] if p.suffix == ".zip" else p.name for p in root.iterdir())
    assert sorted(rows) == expected_names
    full = float(rows["ref_copy"]["max_score"])
    assert float(rows["ref_copy"]["score"]) == full and rows["ref_copy"]["status"] == "ok"
    assert float(rows["stub_copy"]["score"]) == 0 and rows["stub_copy"]["status"] == "ok"
    loss_fn_points = 1.0
    reports = {name: run.rows[name].report for name in rows}

    def item(name: str, item_name: str = "loss_fn"):
        return next(i for i in reports[name].exercises[0].items if i.name == item_name)

    for name, status, words in [
        ("endless_loop", "timeout", "did not finish"),
        ("calls_sys_exit", "failed", "SystemExit"),
        ("calls_os_exit", "crashed", "exited with code 0"),
        ("segfaults", "crashed", "SIGSEGV"),
        ("keyboard_interrupt", "failed", "KeyboardInterrupt"),
        ("recursion_bomb", "failed", "RecursionError"),
        ("starts_daemons", "failed", "differ"),
        ("monkeypatches", "failed", "differ"),
        ("tensor_subclass", "failed", "Liar object"),
        ("malicious_pickle", "failed", "Payload object"),
        ("imports_solutions", "failed", "ImportError"),
    ]:
        assert item(name).status == status, (name, item(name).feedback)
        assert words in "\n".join(item(name).feedback), (name, item(name).feedback)
        assert float(rows[name]["score"]) == full - loss_fn_points, name
    assert item("memory_bomb", "training_loop").status == "crashed"
    assert "memory limit" in "\n".join(item("memory_bomb", "training_loop").feedback)
    assert float(rows["memory_bomb"]["score"]) == full - item("memory_bomb", "training_loop").max_score
    assert {i.status for i in reports["hangs_at_import"].exercises[0].items} == {"timeout"}
    assert float(rows["prints_megabytes"]["score"]) == full
    for name, reason in [("symlinked_module", "symbolic link"), ("zip_slip", "outside its folder"),
                         ("absolute_path", "outside its folder"), ("binary_module", "binary"),
                         ("latin1_module", "UTF-8"), ("duplicated", "twice")]:
        assert rows[name]["status"].startswith("rejected:") and reason in rows[name]["status"], rows[name]
        assert float(rows[name]["score"]) == 0
    assert rows["empty_one"]["status"] == "empty"
    assert (out / "reports" / "ref_copy.json").is_file() and (out / "feedback" / "endless_loop.md").is_file()
    assert "did not finish" in (out / "feedback" / "endless_loop.md").read_text()
    assert summary["timed_out"] == ["endless_loop", "hangs_at_import"]
    assert set(summary["crashed"]) == {"calls_os_exit", "segfaults", "memory_bomb"}

    time.sleep(0.3)
    survivors = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True, check=False).stdout.split()
    assert not survivors, "a submission's process outlived it"
    assert not Path("/tmp/pwned-by-pickle").exists()
    assert _tree_digest(root) == before
    assert _tree_digest(catalogue.SOLUTIONS_DIR) == solutions_before
    assert not (out / ".work").exists()
    if summary["isolation"] != "reduced":
        assert not escape_target.exists(), "a sandboxed submission wrote outside its folder"
        assert item("writes_outside").status == "failed"


def _run_batch(submissions: Path, out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "grader.cli", "batch", str(submissions), MODULE, "--out", str(out),
                             "--jobs", "1", *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_killed_batch_resumed_gives_the_same_gradebook_as_an_uninterrupted_one(tmp_path):
    root = tmp_path / "submissions"
    root.mkdir()
    for index in range(5):
        source = [REFERENCE, STUB, _override("def dloss_fn(t_p, t_c):\n    return 2 * (t_p - t_c)\n")][index % 3]
        _folder(root, f"student{index}", source)
    complete = _run_batch(root, tmp_path / "complete")
    complete.communicate(timeout=600)
    assert complete.returncode == 0

    interrupted_out = tmp_path / "interrupted"
    first = _run_batch(root, interrupted_out)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and len(list((interrupted_out / "reports").glob("*.json"))) < 2:
        time.sleep(0.05)
    first.send_signal(signal.SIGINT)
    _, stderr = first.communicate(timeout=120)
    assert first.returncode != 0 and "--resume" in stderr
    done_before = len(list((interrupted_out / "reports").glob("*.json")))
    assert 2 <= done_before < 5

    resumed = _run_batch(root, interrupted_out, "--resume")
    resumed.communicate(timeout=600)
    assert resumed.returncode == 0
    assert (interrupted_out / "grades.csv").read_text() == (tmp_path / "complete" / "grades.csv").read_text()
    summary = (interrupted_out / "summary.json").read_text()
    assert f'"skipped_by_resume": {done_before}' in summary


# ---------------------------------------------------------------- the gradebook's files
SMALL = "ex01_tensors"  # one small module keeps each batch to seconds
SMALL_REFERENCE = (catalogue.SOLUTIONS_DIR / f"{SMALL}.py").read_text(encoding="utf-8")
SMALL_STUB = (catalogue.EXERCISES_DIR / f"{SMALL}.py").read_text(encoding="utf-8")


def _small_class(root: Path) -> Path:
    """alice: the reference (a folder); bob: the stub (a zip); empty_one: no exercise module."""
    (root / "alice").mkdir(parents=True)
    (root / "alice" / f"{SMALL}.py").write_text(SMALL_REFERENCE, encoding="utf-8")
    _zip(root, "bob", {f"bob/exercises/{SMALL}.py": SMALL_STUB.encode()})
    (root / "empty_one").mkdir()
    (root / "empty_one" / "notes.txt").write_text("I did not do it")
    return root


def _small_batch(root: Path, out: Path, selection: catalogue.Selection | None = None,
                 **options: object) -> tuple[batch.Batch, dict, str]:
    stream = io.StringIO()
    selection = selection or catalogue.select([SMALL], catalogue.load_catalogue())
    run = batch.Batch(root, out, selection, torch.device("cpu"), jobs=1, resume=bool(options.pop("resume", False)),
                      progress_stream=stream, memory_limit=2 * 2**30, **options)
    return run, run.run(), stream.getvalue()


@dataclass
class SmallClass:
    out: Path
    summary: dict
    progress: str
    umask: int


@pytest.fixture(scope="module")
def small_class(tmp_path_factory: pytest.TempPathFactory) -> SmallClass:
    """The small class graded once, under umask 022 (the usual one)."""
    tmp_path = tmp_path_factory.mktemp("small_class")
    root = _small_class(tmp_path / "submissions")
    previous = os.umask(0o022)
    try:
        _, summary, progress = _small_batch(root, tmp_path / "out")
    finally:
        os.umask(previous)
    return SmallClass(tmp_path / "out", summary, progress, 0o022)


def test_grades_csv_has_a_percent_column_last_so_readers_by_name_or_position_keep_working(small_class):
    with open(small_class.out / "grades.csv", newline="") as handle:
        header, *lines = list(csv.reader(handle))
    assert header == ["submission", "score", "max_score", SMALL, "status", "percent"]
    rows = _rows(small_class.out)
    full = float(rows["alice"]["max_score"])
    assert full > 0 and float(rows["alice"]["score"]) == full
    assert [rows[name]["percent"] for name in ("alice", "bob", "empty_one")] == ["100.00", "0.00", "0.00"]
    assert all(len(line) == len(header) for line in lines)


def test_an_empty_submission_counts_as_zero_in_the_summary_mean_and_median_as_in_grades_csv(small_class):
    rows = _rows(small_class.out)
    assert rows["empty_one"]["status"] == "empty" and float(rows["empty_one"]["score"]) == 0
    scores = [float(row["score"]) for row in rows.values()]
    summary = small_class.summary
    assert summary["mean_score"] == pytest.approx(sum(scores) / 3, abs=1e-3)
    assert summary["median_score"] == 0 and summary["max_score"] == float(rows["alice"]["max_score"])
    assert summary["graded"] == 2 and summary["scored"] == 3 and summary["not_graded"] == ["empty_one"]
    assert "1 empty or rejected counted as 0" in gradebook.summary_text(summary)


def test_an_empty_submission_s_feedback_says_what_it_holds(small_class):
    feedback = (small_class.out / "feedback" / "empty_one.md").read_text(encoding="utf-8")
    assert "could not be graded: empty (it holds notes.txt, and no file named like an exercise module" in feedback


@pytest.mark.parametrize(("files", "words"), [
    (["Ex02_gradient_descent.py"], "Ex02_gradient_descent.py (name it ex02_gradient_descent.py: exercise module names "
                                   "are lower case)"),
    (["hw/ex02_gradient_descent.py.txt", "readme.md"], "hw/ex02_gradient_descent.py.txt (exercise modules are .py "
                                                       "files named exNN_topic.py"),
    (["a/b/c/ex02_gradient_descent.py"], "it holds no file at all"),  # four levels down: not even listed
    (["a/b/ex02_gradient_descent.py"], "a/b/ex02_gradient_descent.py (too deep: put the exercise modules at the top"),
    ([], "it holds no file at all"),
])
def test_why_a_submission_is_empty_names_the_file_meant_as_a_module_and_the_fix(tmp_path, files, words):
    import zipfile

    from grader import submissions

    folder = tmp_path / "student"
    folder.mkdir()
    for name in files:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text("x = 1\n")
    assert words in submissions.why_empty(submissions.Submission("student", folder))
    archive = tmp_path / "student.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        for name in files:
            bundle.writestr(name, "x = 1\n")
    if not files[:1] or files[0].count("/") < 3:  # a zip lists every entry, however deep
        assert words in submissions.why_empty(submissions.Submission("student", archive))


def test_every_report_and_the_gradebook_record_when_which_kit_and_which_files_graded_them(small_class):
    started = datetime.datetime.now(datetime.timezone.utc)
    for name, source in [("alice", SMALL_REFERENCE), ("bob", SMALL_STUB)]:
        document = json.loads((small_class.out / "reports" / f"{name}.json").read_text())
        assert document["schema"] == report.SCHEMA_VERSION == 4
        provenance = document["provenance"]
        assert provenance["kit_version"] == grader.__version__
        assert provenance["sha256"] == {f"{SMALL}.py": hashlib.sha256(source.encode()).hexdigest()}
        graded_at = datetime.datetime.fromisoformat(provenance["graded_at"].replace("Z", "+00:00"))
        assert graded_at.utcoffset() == datetime.timedelta(0)
        assert abs(started - graded_at) < datetime.timedelta(hours=2)
        assert document["public_checks_only"] is False
    metadata = json.loads((small_class.out / "gradebook.json").read_text())
    assert metadata["kit_version"] == grader.__version__ and metadata["modules"] == [SMALL]
    assert metadata["public_checks_only"] is False and metadata["isolation"] == small_class.summary["isolation"]
    for stamp in (metadata["started_at"], metadata["written_at"]):
        assert datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00")).utcoffset() == datetime.timedelta(0)
    assert "PUBLIC CHECKS ONLY" not in gradebook.summary_text(small_class.summary)


def test_the_gradebooks_files_are_readable_as_the_umask_allows_and_never_executable(small_class, tmp_path):
    written = [path for path in small_class.out.rglob("*") if path.is_file()]
    assert {"grades.csv", "gradebook.json", "summary.json", "alice.json", "alice.md", "empty_one.md"} <= {
        path.name for path in written}
    modes = {str(path.relative_to(small_class.out)): oct(stat.S_IMODE(path.stat().st_mode)) for path in written}
    assert set(modes.values()) == {oct(0o666 & ~small_class.umask)}, modes
    for folder in ("reports", "feedback"):
        assert stat.S_IMODE((small_class.out / folder).stat().st_mode) == 0o777 & ~small_class.umask
    assert stat.S_IMODE(small_class.out.stat().st_mode) & 0o050 == 0o050, "a TA of the group cannot read OUT"
    previous = os.umask(0o027)  # a stricter umask is obeyed too
    try:
        gradebook.write_atomically(tmp_path / "strict.csv", "x\n")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "strict.csv").stat().st_mode) == 0o640


def _out_with_a_gradebook(tmp_path: Path, mark: str) -> Path:
    out = tmp_path / "out"
    (out / "reports").mkdir(parents=True)
    (out / "feedback").mkdir()
    (out / "reports" / "ghost.json").write_text("{}")
    (out / "feedback" / "ghost.md").write_text("# Feedback for ghost\n")
    (out / "notes.txt").write_text("the instructor's own notes")
    if mark == "grades.csv":
        (out / "grades.csv").write_text("submission,score,max_score,status\nghost,3,3,ok\n")
    return out


@pytest.mark.parametrize("mark", ["grades.csv", "reports"])
def test_a_batch_into_an_out_holding_a_gradebook_refuses_naming_resume_and_force_and_changes_nothing(tmp_path, mark):
    root = _small_class(tmp_path / "submissions")
    out = _out_with_a_gradebook(tmp_path, mark)
    before = {str(p.relative_to(out)): (p.stat().st_mode, p.read_bytes() if p.is_file() else b"")
              for p in sorted(out.rglob("*"))}

    result = CliRunner().invoke(main, ["batch", str(root), SMALL, "--out", str(out), "--jobs", "1"])

    assert result.exit_code == 2, result.output
    assert "already holds a gradebook" in result.output and mark in result.output
    assert "--resume" in result.output and "--force" in result.output
    assert {str(p.relative_to(out)): (p.stat().st_mode, p.read_bytes() if p.is_file() else b"")
            for p in sorted(out.rglob("*"))} == before


def test_resume_and_force_together_are_refused_before_anything_changes(tmp_path):
    root = _small_class(tmp_path / "submissions")
    out = _out_with_a_gradebook(tmp_path, "grades.csv")
    result = CliRunner().invoke(main, ["batch", str(root), SMALL, "--out", str(out), "--resume", "--force"])
    assert result.exit_code == 2 and "not both" in result.output, result.output
    assert (out / "reports" / "ghost.json").exists() and "ghost" in (out / "grades.csv").read_text()


def test_force_replaces_the_gradebook_in_out_and_keeps_the_folders_other_files(tmp_path):
    root = _small_class(tmp_path / "submissions")
    out = _out_with_a_gradebook(tmp_path, "grades.csv")

    _small_batch(root, out, force=True)

    assert sorted(_rows(out)) == ["alice", "bob", "empty_one"]
    assert not (out / "reports" / "ghost.json").exists() and not (out / "feedback" / "ghost.md").exists()
    assert sorted(p.name for p in (out / "reports").iterdir()) == ["alice.json", "bob.json"]
    assert (out / "notes.txt").read_text() == "the instructor's own notes"


def test_a_batch_in_a_student_handout_says_in_summary_gradebook_and_reports_that_it_used_public_checks_only(
        tmp_path, monkeypatch):
    root = tmp_path / "submissions"
    (root / "alice").mkdir(parents=True)
    (root / "alice" / f"{SMALL}.py").write_text(SMALL_REFERENCE, encoding="utf-8")
    selection = catalogue.select([SMALL], catalogue.load_catalogue())  # a handout reads it from catalogue.json
    monkeypatch.setattr(catalogue, "has_hidden_suites", lambda: False)  # the forked jobs inherit it

    def public_grade(self: engine.GradingService, submission: Path, selection: catalogue.Selection,
                     name: str | None = None) -> report.GradeReport:
        """What the engine reports in a handout (which this full kit cannot grade: it has no public suites)."""
        items = [report.ItemResult(item.name, item.points, item.points, "passed") for item in selection.modules[0].items]
        return report.GradeReport(name or str(submission), "cpu", [report.ExerciseResult(SMALL, items)],
                                  isolation=self.isolation, public_checks_only=not catalogue.has_hidden_suites())

    monkeypatch.setattr(engine.GradingService, "grade", public_grade)
    out = tmp_path / "out"

    _, summary, progress = _small_batch(root, out, selection)

    assert "public checks only" in progress
    text = gradebook.summary_text(summary)
    assert "PUBLIC CHECKS ONLY" in text and "student handout" in text and "full instructor kit" in text
    assert json.loads((out / "summary.json").read_text())["public_checks_only"] is True
    assert json.loads((out / "gradebook.json").read_text())["public_checks_only"] is True
    assert json.loads((out / "reports" / "alice.json").read_text())["public_checks_only"] is True


def test_resume_regrades_a_report_written_by_another_version_of_the_kit_and_keeps_this_versions(tmp_path):
    root = _small_class(tmp_path / "submissions")
    out = tmp_path / "out"
    _small_batch(root, out)
    older = out / "reports" / "alice.json"
    document = json.loads(older.read_text())
    document["provenance"]["kit_version"] = "0.0.1"
    older.write_text(json.dumps(document))
    kept_before = (out / "reports" / "bob.json").read_text()
    _, summary, _ = _small_batch(root, out, resume=True)
    assert summary["skipped_by_resume"] == 2  # bob and the empty one; alice graded again
    regraded = json.loads(older.read_text())
    assert regraded["provenance"]["kit_version"] == grader.__version__
    assert regraded["score"] == regraded["max_score"] > 0
    assert (out / "reports" / "bob.json").read_text() == kept_before
