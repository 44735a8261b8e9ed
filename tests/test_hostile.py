"""Hostile submissions end as a clear per-item status; the run goes on and nothing is fooled.

Each submission is the reference solution of ex02 with one function overridden at the end of the
file (a later ``def`` replaces an earlier one), so every other item must still earn full marks.
"""

from __future__ import annotations

import os
import subprocess
import textwrap
import time
from pathlib import Path

import pytest
import torch

from grader import catalogue, engine

MODULE = "ex02_gradient_descent"


def _write(folder: Path, override: str, module: str = MODULE) -> Path:
    source = (catalogue.SOLUTIONS_DIR / f"{module}.py").read_text(encoding="utf-8")
    (folder / f"{module}.py").write_text(source + "\n\n" + textwrap.dedent(override), encoding="utf-8")
    return folder


def _grade(service, modules, folder: Path) -> dict:
    report = service.grade(folder, catalogue.select([MODULE], modules))
    return {item.name: item for item in report.exercises[0].items}


def _only_item_lost(items: dict, name: str, status: str) -> str:
    """Assert that item ``name`` ended with ``status`` and lost points, and that no other item did."""
    assert items[name].status == status, (items[name].status, items[name].feedback)
    assert items[name].score < items[name].max_score
    others = {n: i.status for n, i in items.items() if n != name and i.status != "passed"}
    assert not others, others
    return "\n".join(items[name].feedback)


def test_an_endless_loop_times_out_only_its_item(grading_service, modules, tmp_path):
    items = _grade(grading_service, modules, _write(tmp_path, """
        def loss_fn(t_p, t_c):
            while True:
                pass
    """))
    feedback = _only_item_lost(items, "loss_fn", "timeout")
    assert "did not finish within 5 s of CPU time" in feedback or "wall-clock" in feedback  # a loaded machine


def test_sys_exit_is_reported_as_what_the_code_raised(grading_service, modules, tmp_path):
    items = _grade(grading_service, modules, _write(tmp_path, """
        import sys
        def load_temperatures():
            sys.exit(3)
    """))
    assert "SystemExit" in _only_item_lost(items, "load_temperatures", "failed")


def test_keyboard_interrupt_from_student_code_does_not_stop_the_grader(grading_service, modules, tmp_path):
    items = _grade(grading_service, modules, _write(tmp_path, """
        def load_temperatures():
            raise KeyboardInterrupt
    """))
    assert "KeyboardInterrupt" in _only_item_lost(items, "load_temperatures", "failed")


def test_os_exit_is_a_crash_of_that_item_only(grading_service, modules, tmp_path):
    items = _grade(grading_service, modules, _write(tmp_path, """
        import os
        def loss_fn(t_p, t_c):
            os._exit(7)
    """))
    assert "exited with code 7" in _only_item_lost(items, "loss_fn", "crashed")


def test_a_segmentation_fault_is_a_crash_of_that_item_only(grading_service, modules, tmp_path):
    items = _grade(grading_service, modules, _write(tmp_path, """
        import ctypes
        def loss_fn(t_p, t_c):
            return ctypes.string_at(0)
    """))
    assert "SIGSEGV" in _only_item_lost(items, "loss_fn", "crashed")


def test_unbounded_recursion_is_an_ordinary_failure(grading_service, modules, tmp_path):
    items = _grade(grading_service, modules, _write(tmp_path, """
        def loss_fn(t_p, t_c):
            return loss_fn(t_p, t_c)
    """))
    assert "RecursionError" in _only_item_lost(items, "loss_fn", "failed")


def test_monkeypatching_torch_and_the_grader_earns_nothing(grading_service, modules, tmp_path):
    items = _grade(grading_service, modules, _write(tmp_path, """
        import torch, torch.testing
        torch.testing.assert_close = lambda *args, **kwargs: None
        torch.allclose = lambda *args, **kwargs: True
        torch.equal = lambda *args, **kwargs: True
        torch.Tensor.__eq__ = lambda self, other: True
        try:
            import grader.compare
            grader.compare.difference = lambda *args, **kwargs: None
        except Exception:
            pass
        def loss_fn(t_p, t_c):
            return ((t_p - t_c) ** 2).mean() * 2
    """))
    assert "differ" in _only_item_lost(items, "loss_fn", "failed")


def test_a_tensor_subclass_that_equals_everything_cannot_pass(grading_service, modules, tmp_path):
    items = _grade(grading_service, modules, _write(tmp_path, """
        import torch
        class Liar(torch.Tensor):
            def __eq__(self, other):
                return True
        def loss_fn(t_p, t_c):
            return torch.zeros(()).as_subclass(Liar)
    """))
    assert "Liar object" in _only_item_lost(items, "loss_fn", "failed")


def test_a_submission_cannot_import_the_reference_solutions(grading_service, modules, tmp_path):
    items = _grade(grading_service, modules, _write(tmp_path, """
        def loss_fn(t_p, t_c):
            from solutions.ex02_gradient_descent import loss_fn as reference
            return reference(t_p, t_c)
    """))
    assert "ImportError" in _only_item_lost(items, "loss_fn", "failed")


def test_a_symlink_to_the_solution_is_refused_not_followed(grading_service, modules, tmp_path):
    (tmp_path / f"{MODULE}.py").symlink_to(catalogue.SOLUTIONS_DIR / f"{MODULE}.py")
    report = grading_service.grade(tmp_path, catalogue.select([MODULE], modules))
    assert report.score == 0
    assert any("symbolic link" in problem for problem in report.problems)
    assert {i.status for i in report.exercises[0].items} == {"error"}


def test_an_endless_loop_at_import_times_out_every_item(grading_service, modules, tmp_path, monkeypatch):
    monkeypatch.setattr(engine, "IMPORT_TIMEOUT", 3.0)
    (tmp_path / f"{MODULE}.py").write_text("while True:\n    pass\n", encoding="utf-8")
    report = grading_service.grade(tmp_path, catalogue.select([MODULE], modules))
    assert {i.status for i in report.exercises[0].items} == {"timeout"}
    assert "took longer than 3 s" in report.exercises[0].error


def test_a_syntax_error_gives_every_item_an_error_naming_the_line(grading_service, modules, tmp_path):
    (tmp_path / f"{MODULE}.py").write_text("import torch\n\ndef model(t_u, w, b)\n    return w\n", encoding="utf-8")
    report = grading_service.grade(tmp_path, catalogue.select([MODULE], modules))
    assert {i.status for i in report.exercises[0].items} == {"error"}
    assert "SyntaxError" in report.exercises[0].error and ":3" in report.exercises[0].error


def test_a_missing_module_file_is_an_error_and_other_modules_are_unaffected(grading_service, modules, tmp_path):
    (tmp_path / "ex02_gradient_descent.py").write_bytes(
        (catalogue.SOLUTIONS_DIR / "ex02_gradient_descent.py").read_bytes())
    report = grading_service.grade(tmp_path, catalogue.select(["ex01", "ex02"], modules))
    by_name = {e.name: e for e in report.exercises}
    assert {i.status for i in by_name["ex01_tensors"].items} == {"error"}
    assert "no file ex01_tensors.py" in by_name["ex01_tensors"].error
    assert by_name["ex02_gradient_descent"].score == by_name["ex02_gradient_descent"].max_score


def test_a_deleted_function_is_reported_missing(grading_service, modules, tmp_path):
    items = _grade(grading_service, modules, _write(tmp_path, "del dmodel_db\n"))
    # grad_fn of the reference calls dmodel_db, so it fails too; dmodel_db itself is "missing"
    assert items["dmodel_db"].status == "missing"
    assert "renamed or deleted" in items["dmodel_db"].feedback[0]


def test_megabytes_of_output_are_captured_and_bounded(grading_service, modules, tmp_path):
    items = _grade(grading_service, modules, _write(tmp_path, """
        _original_model = model
        def model(t_u, w, b):
            print("x" * 1_000_000)
            return _original_model(t_u, w, b)
    """))
    assert all(item.status == "passed" for item in items.values())


def test_processes_a_submission_starts_do_not_outlive_it(grading_service, modules, tmp_path):
    marker = f"grader-stray-{os.getpid()}-{time.monotonic_ns()}"
    items = _grade(grading_service, modules, _write(tmp_path, f"""
        import os, subprocess, sys, time
        def load_temperatures():
            subprocess.Popen(["{marker}", "300"], executable="sleep", start_new_session=True)
            subprocess.Popen(["sh", "-c", sys.executable + " -c 'import time; time.sleep(300)' {marker} & exit 0"],
                             start_new_session=True)
            time.sleep(1.0)
            running = 0
            for pid in filter(str.isdigit, os.listdir("/proc")):
                try:
                    with open(f"/proc/{{pid}}/cmdline", "rb") as cmdline:
                        running += "{marker}".encode() in cmdline.read()
                except OSError:
                    pass
            raise ValueError(f"started daemons: {{running}} running")
    """))
    assert items["load_temperatures"].status == "failed"
    assert any("started daemons: 2 running" in line for line in items["load_temperatures"].feedback), (
        "both daemons must have been running, or this test proves nothing", items["load_temperatures"].feedback)
    time.sleep(0.3)
    survivors = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True, check=False).stdout.split()
    assert not survivors


def test_a_memory_bomb_is_stopped_by_the_memory_limit(modules, tmp_path):
    with engine.GradingService(torch.device("cpu"), memory_limit=2 * 2**30) as service:
        items = _grade(service, modules, _write(tmp_path, """
            import torch
            def training_loop(n_epochs, learning_rate, params, t_u, t_c):
                hog = torch.ones(6 * 2**30 // 4)
                return hog.sum()
        """))
    assert "memory limit" in _only_item_lost(items, "training_loop", "crashed")


@pytest.mark.parametrize("forbidden", ["loss.backward()", "torch.autograd.grad(loss, params)"])
def test_autograd_inside_the_hand_written_training_loop_is_refused(grading_service, modules, tmp_path, forbidden):
    items = _grade(grading_service, modules, _write(tmp_path, f"""
        import torch
        def training_loop(n_epochs, learning_rate, params, t_u, t_c):
            params = params.clone().requires_grad_(True)
            for _ in range(n_epochs):
                loss = ((params[0] * t_u + params[1] - t_c) ** 2).mean()
                if params.grad is not None:
                    params.grad.zero_()
                {forbidden}
                with torch.no_grad():
                    params -= learning_rate * (params.grad if params.grad is not None else 0)
            return params.detach()
    """))
    assert "may not call torch" in _only_item_lost(items, "training_loop", "failed")


def test_a_flood_of_processes_is_stopped_at_the_process_limit(grading_service, modules, tmp_path):
    items = _grade(grading_service, modules, _write(tmp_path, """
        import subprocess, time
        def loss_fn(t_p, t_c):
            children = []
            try:
                for _ in range(400):
                    children.append(subprocess.Popen(["sleep", "30"]))
            except OSError as error:
                raise RuntimeError(f"started {len(children)} processes, then: {error}")
            time.sleep(3)
            return float(len(children))
    """))
    feedback = _only_item_lost(items, "loss_fn", items["loss_fn"].status)
    # as root the kernel exempts the box's uid from RLIMIT_NPROC and the zygote's count stops it;
    # as another user the kernel refuses the fork past the limit
    assert ("process limit" in feedback and items["loss_fn"].status == "crashed") or \
        ("started 25" in feedback and items["loss_fn"].status == "failed"), feedback
