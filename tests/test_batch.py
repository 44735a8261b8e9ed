"""`grade batch` finishes a class folder full of hostile submissions with a complete, honest gradebook."""

from __future__ import annotations

import csv
import hashlib
import io
import os
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import pytest
import torch

from grader import batch, catalogue, engine

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
