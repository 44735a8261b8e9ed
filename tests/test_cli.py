"""The `grade` command as a user meets it: output, JSON, exit codes and messages that name the fix."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from grader import catalogue
from grader.cli import main


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_check_json_on_the_solutions_prints_one_document_with_full_marks(runner):
    result = runner.invoke(main, ["check", "ex02", "--submission", str(catalogue.SOLUTIONS_DIR), "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["schema"] == 4
    assert document["score"] == document["max_score"] > 0
    exercise = document["exercises"][0]
    assert exercise["name"] == "ex02_gradient_descent" and exercise["error"] is None
    assert {item["status"] for item in exercise["items"]} == {"passed"}
    assert set(exercise["items"][0]) == {"name", "score", "max_score", "status", "feedback", "output"}


def test_grade_alone_grades_the_exercises_folder_of_the_current_directory(runner, tmp_path, monkeypatch):
    (tmp_path / "exercises").mkdir()
    shutil.copy(catalogue.EXERCISES_DIR / "ex02_gradient_descent.py", tmp_path / "exercises")
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(main, ["check", "ex02"])
    assert result.exit_code == 0, result.output
    assert "ex02_gradient_descent  0/12" in result.output
    assert "Next: implement ex02.load_temperatures" in result.output
    assert (tmp_path / ".grade-progress.json").is_file()
    listing = runner.invoke(main, ["list"])
    assert "not_implemented" in listing.output


def test_a_failed_item_shows_expected_versus_got_and_the_hint_command(runner, tmp_path):
    source = (catalogue.SOLUTIONS_DIR / "ex02_gradient_descent.py").read_text()
    (tmp_path / "ex02_gradient_descent.py").write_text(source.replace("/ t_p.size(0)", ""))
    result = runner.invoke(main, ["check", "ex02.dloss_fn", "--submission", str(tmp_path)])
    assert result.exit_code == 0
    assert "dloss_fn" in result.output and "expected" in result.output and "got" in result.output
    assert "grade hint ex02.dloss_fn" in result.output


def test_fail_under_exits_with_status_one_below_the_threshold(runner):
    result = runner.invoke(main, ["check", "ex02", "--submission", str(catalogue.EXERCISES_DIR), "--fail-under", "1"])
    assert result.exit_code == 1


def test_an_unknown_exercise_is_a_usage_error_naming_the_choices(runner):
    result = runner.invoke(main, ["check", "ex99"])
    assert result.exit_code == 2
    assert "unknown exercise 'ex99'" in result.output and "grade list" in result.output


def test_an_unknown_item_lists_the_module_items(runner):
    result = runner.invoke(main, ["check", "ex02.nope"])
    assert result.exit_code == 2
    assert "grad_fn" in result.output


def test_a_missing_submission_folder_is_a_usage_error(runner, tmp_path):
    result = runner.invoke(main, ["check", "--submission", str(tmp_path / "absent")])
    assert result.exit_code == 2
    assert "no such folder" in result.output


def test_grade_outside_a_kit_is_a_usage_error_that_says_where_to_go(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for command in (["check"], []):
        result = runner.invoke(main, command)
        assert result.exit_code == 2, "README: 2 for usage errors such as a missing folder"
        assert "no exercises/ folder" in result.output


@pytest.mark.parametrize(("arguments", "status", "words"), [
    ([], 2, "no exercises/ folder"),
    (["check", "--submission", "{kit}/solutions", "ex01.nope"], 2, "has no item 'nope'"),
    (["check", "--submission", "{kit}/exercises", "ex01.reshaped", "--fail-under", "50"], 1, "Total: 0/2"),
    (["--version"], 0, "grade "),
])
def test_the_grade_executable_keeps_its_exit_status_and_all_its_output_while_exiting_quickly(
        arguments, status, words, tmp_path):
    """grader.cli.run ends the process with os._exit after the exit handlers and a flush of the output."""
    import subprocess
    import sys

    command = [sys.executable, "-c", "from grader.cli import run; run()",
               *(argument.replace("{kit}", str(catalogue.KIT_ROOT)) for argument in arguments)]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == status, done.stderr
    assert words in done.stdout + done.stderr


def test_hint_prints_the_items_hint_and_points(runner):
    result = runner.invoke(main, ["hint", "ex02.grad_fn"])
    assert result.exit_code == 0
    assert "ex02.grad_fn (2 points)" in result.output and "chain rule" in result.output.lower()


def test_list_shows_every_module_and_item_with_points(runner, modules):
    result = runner.invoke(main, ["list"])
    assert result.exit_code == 0
    for module in modules:
        assert module.name in result.output
        for item in module.items:
            assert item.name in result.output


def test_asking_for_a_gpu_this_machine_lacks_is_a_usage_error(runner):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU, so --device cuda is valid here")
    result = runner.invoke(main, ["check", "ex02", "--device", "cuda"])
    assert result.exit_code == 2 and "no CUDA GPU" in result.output


def test_solution_is_shown_only_after_the_item_passed(runner, tmp_path, monkeypatch):
    (tmp_path / "exercises").mkdir()
    shutil.copy(catalogue.EXERCISES_DIR / "ex02_gradient_descent.py", tmp_path / "exercises")
    monkeypatch.chdir(tmp_path)
    refused = runner.invoke(main, ["solution", "ex02.model"])
    assert refused.exit_code == 1 and "has not passed yet" in refused.output
    shutil.copy(catalogue.SOLUTIONS_DIR / "ex02_gradient_descent.py", tmp_path / "exercises")
    assert runner.invoke(main, ["check", "ex02.model"]).exit_code == 0
    shown = runner.invoke(main, ["solution", "ex02.model"])
    assert shown.exit_code == 0 and "def model(" in shown.output and "return w * t_u + b" in shown.output


def test_a_check_stopped_by_a_usage_error_leaves_no_early_zygote_for_a_later_check_to_adopt(runner, tmp_path):
    from grader import zygote_client

    result = runner.invoke(main, ["check", "ex02", "--submission", str(tmp_path / "nowhere")])
    assert result.exit_code == 2 and "no such folder" in result.output
    assert zygote_client._early is None
    zygote_client.start_early(use_cuda=False)
    early = zygote_client._early
    assert early is not None
    shutil.rmtree(early.temporary)  # what a clean-up of /tmp between two checks would do
    assert zygote_client.take_early(False, zygote_client.DEFAULT_MEMORY_LIMIT) is None
    assert early.client.process.poll() is not None  # the stale zygote was stopped, not left behind
    result = runner.invoke(main, ["check", "ex01.from_nested", "--submission", str(catalogue.SOLUTIONS_DIR), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["score"] == 1
