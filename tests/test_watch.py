"""`grade watch` regrades the saved exercise with a warm grader and says what changed."""

from __future__ import annotations

import shutil
import time

from grader import catalogue
from grader.watch import Watcher

MODULE = "ex02_gradient_descent"


def test_saving_a_file_regrades_it_and_reports_newly_passing_and_failing_items(grading_service, modules, tmp_path):
    shutil.copy(catalogue.EXERCISES_DIR / f"{MODULE}.py", tmp_path / f"{MODULE}.py")
    lines: list[str] = []
    selected = catalogue.select([MODULE], modules).modules
    watcher = Watcher(tmp_path, selected, grading_service, lines.append, record_progress=False)
    first = watcher.grade(selected[0])
    assert first.score == 0
    assert watcher.poll_once() is None, "nothing changed yet"

    reference = (catalogue.SOLUTIONS_DIR / f"{MODULE}.py").read_text()
    time.sleep(0.01)
    (tmp_path / f"{MODULE}.py").write_text(reference)
    lines.clear()
    second = watcher.poll_once()
    assert second is not None and second.score == second.max_score
    assert any(line.startswith("Newly passing: ") and "grad_fn" in line for line in lines)

    broken = reference.replace("/ t_p.size(0)", "")
    time.sleep(0.01)
    (tmp_path / f"{MODULE}.py").write_text(broken)
    lines.clear()
    third = watcher.poll_once()
    assert third is not None and third.score < third.max_score
    assert any(line.startswith("Newly failing: ") and "dloss_fn" in line for line in lines)
    assert any(line.startswith("Graded ex02_gradient_descent in ") for line in lines)


def test_grade_watch_stopped_by_sigterm_closes_its_grader_and_removes_its_temporary_folder(tmp_path):
    import os
    import signal
    import subprocess
    import sys

    folder, temporary = tmp_path / "mine", tmp_path / "tmp"
    folder.mkdir()
    temporary.mkdir()
    shutil.copy(catalogue.EXERCISES_DIR / f"{MODULE}.py", folder / f"{MODULE}.py")
    watcher = subprocess.Popen([sys.executable, "-c", "from grader.cli import run; run()", "watch", "ex02",
                                "--submission", str(folder)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, env={**os.environ, "TMPDIR": str(temporary)})
    try:
        for line in watcher.stdout:
            if line.startswith("Graded "):
                break
        assert any(temporary.glob("grade-*")), "the grader's temporary folder should exist while it watches"
        watcher.send_signal(signal.SIGTERM)
        rest = watcher.communicate(timeout=60)[0]
    finally:
        if watcher.poll() is None:
            watcher.kill()
    assert "Stopped watching" in rest, rest
    assert not list(temporary.glob("grade-*")), list(temporary.glob("grade-*/**"))
