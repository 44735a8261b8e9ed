"""The hidden suites as pytest sees them through the kit's plugin: the same checks, verdicts and points as `grade`.

Each test runs pytest in a subprocess from the kit's root, as an instructor or a CI job would.
"""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader import catalogue
from grader.cli import main
from grader.engine import load_suite
from tests.mutants import apply

EX01 = "tests/hidden/ex01_tensors.py"
EX02 = "tests/hidden/ex02_gradient_descent.py"


def run_pytest(*args: str, timeout: float = 540) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
                          check=False, cwd=catalogue.KIT_ROOT, capture_output=True, text=True, timeout=timeout)


def graded_checks(*module_names: str) -> int:
    """How many checks `grade` runs on the CPU for these modules."""
    return sum(1 for name in module_names for check in load_suite(name).checks if check.requires != "cuda")


def junit_cases(path: Path) -> list[dict]:
    """Each test case of a JUnit XML file: its id, whether it passed, and its properties."""
    cases = []
    for case in ET.parse(path).getroot().iter("testcase"):
        properties = {p.get("name"): p.get("value") for p in case.iter("property")}
        failed = case.find("failure") is not None or case.find("error") is not None
        cases.append({"id": f"{case.get('classname')}.{case.get('name')}", "passed": not failed, **properties})
    return cases


def item_scores_from_junit(cases: list[dict]) -> dict[str, float]:
    """Per item (ex02.grad_fn), the points of its passed tests."""
    scores: dict[str, float] = {}
    for case in cases:
        scores[case["item"]] = scores.get(case["item"], 0.0) + (float(case["points"]) if case["passed"] else 0.0)
    return {item: round(score, 4) for item, score in scores.items()}


def item_scores_from_grade_check(submission: Path, *exercises: str) -> dict[str, float]:
    result = CliRunner().invoke(main, ["check", *exercises, "--submission", str(submission), "--device", "cpu",
                                       "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    return {f"{e['name'].split('_', 1)[0]}.{i['name']}": i["score"] for e in document["exercises"] for i in e["items"]}


def test_without_submission_the_kits_own_pytest_run_collects_what_it_did_before():
    with_plugin = run_pytest("tests", "--collect-only", "-q")
    without_plugin = run_pytest("tests", "--collect-only", "-q", "-p", "no:pytorch_exercise_grader")
    assert with_plugin.returncode == without_plugin.returncode == 0, with_plugin.stdout[-2000:]
    collected = [line for line in with_plugin.stdout.splitlines() if "::" in line]
    assert collected == [line for line in without_plugin.stdout.splitlines() if "::" in line]
    assert collected and not any(line.startswith("tests/hidden/") for line in collected)


def test_the_checks_are_collected_with_stable_node_ids_only_when_a_submission_is_given():
    hidden = run_pytest(EX02, "--collect-only", "-q", "--submission", "solutions")
    assert hidden.returncode == 0, hidden.stdout[-2000:]
    ids = [line for line in hidden.stdout.splitlines() if "::" in line]
    assert f"{EX02}::grad_fn::grad_fn_on_readings" in ids
    assert len(ids) == graded_checks("ex02_gradient_descent")
    assert "grade:" not in hidden.stdout  # collecting grades nothing
    plain = run_pytest(EX02, "--collect-only", "-q")
    assert "::" not in plain.stdout


def test_on_the_solutions_every_collected_check_passes_and_the_points_add_up_to_the_full_score(tmp_path):
    """One run over every hidden suite (about 40 s unloaded)."""
    xml = tmp_path / "solutions.xml"
    result = run_pytest("tests/hidden", "--submission", "solutions", "-q", f"--junitxml={xml}")
    assert result.returncode == 0, result.stdout[-3000:]
    modules = [module.name for module in catalogue.load_catalogue()]
    cases = junit_cases(xml)
    assert len(cases) == graded_checks(*modules)
    assert all(case["passed"] for case in cases)
    total = sum(item.points for name in modules for item in load_suite(name).items.values()
                if any(check.requires != "cuda" for check in item.checks))
    assert round(sum(float(case["points"]) for case in cases), 4) == total
    assert f"Total: {total}/{total}   (device: cpu;" in result.stdout
    assert f"{len(cases)} passed" in result.stdout


def test_on_the_stubs_every_check_fails_with_not_implemented_yet_and_no_grader_traceback(tmp_path):
    xml = tmp_path / "stubs.xml"
    result = run_pytest(EX01, EX02, "--submission", "exercises", f"--junitxml={xml}")
    assert result.returncode == 1
    cases = junit_cases(xml)
    assert len(cases) == graded_checks("ex01_tensors", "ex02_gradient_descent")
    assert not any(case["passed"] for case in cases)
    assert f"{len(cases)} failed" in result.stdout
    failures = ET.parse(xml).getroot().iter("failure")
    assert all("not implemented yet" in (failure.text or "") for failure in failures)
    assert "Traceback" not in result.stdout and "grader/engine.py" not in result.stdout
    assert "Total: 0/" in result.stdout


def _three_mutants(folder: Path) -> Path:
    """ex02 with a mistake in loss_fn, grad_fn and training_loop (each item is graded on its own)."""
    from tests.mutants.ex02_gradient_descent import MUTANTS

    source = (catalogue.SOLUTIONS_DIR / "ex02_gradient_descent.py").read_text(encoding="utf-8")
    for wanted in ("keeps one loss per sample", "runs one epoch too few"):
        mutant = next(m for m in MUTANTS if m.description == wanted)
        source = apply(source, mutant.find, mutant.replace)
    mutant = next(m for m in MUTANTS if m.item == "grad_fn")
    source = apply(source, mutant.find, mutant.replace)
    folder.mkdir()
    (folder / "ex02_gradient_descent.py").write_text(source, encoding="utf-8")
    return folder


def test_per_item_scores_from_junit_equal_grade_checks_on_three_mutants(tmp_path):
    submission = _three_mutants(tmp_path / "submission")
    xml = tmp_path / "mutants.xml"
    result = run_pytest(EX02, "--submission", str(submission), f"--junitxml={xml}")
    assert result.returncode == 1, result.stdout[-3000:]
    from_pytest = item_scores_from_junit(junit_cases(xml))
    from_grade = item_scores_from_grade_check(submission, "ex02")
    assert from_pytest == from_grade
    assert from_grade["ex02.model"] == 1 and from_grade["ex02.loss_fn"] < 1 and from_grade["ex02.grad_fn"] < 2
    total = round(sum(from_grade.values()), 4)
    assert f"Total: {total:g}/12" in result.stdout or f"Total: {total:.2f}/12" in result.stdout
    # a failure is the feedback grade check shows: the check's sentence, the item's hint; no grader internals
    assert "Hint: run `grade hint ex02.loss_fn`" in result.stdout
    assert "Traceback" not in result.stdout and "grader/engine.py" not in result.stdout


def test_minus_k_selects_only_the_matching_checks_and_grades_only_their_items(tmp_path):
    xml = tmp_path / "k.xml"
    result = run_pytest(EX02, "--submission", "solutions", "-k", "grad_fn", f"--junitxml={xml}")
    assert result.returncode == 0, result.stdout[-3000:]
    cases = junit_cases(xml)
    assert {case["item"] for case in cases} == {"ex02.grad_fn"}
    assert len(cases) == len(load_suite("ex02_gradient_descent").items["grad_fn"].checks)
    assert "Total: 2/2" in result.stdout and "training_loop" not in result.stdout.split("grade:")[-1]


def test_a_missing_submission_folder_is_a_usage_error_naming_the_option():
    result = run_pytest(EX02, "--submission", "no/such/folder")
    assert result.returncode == pytest.ExitCode.USAGE_ERROR
    assert "--submission no/such/folder: no such folder" in result.stderr


def test_a_timed_out_check_and_an_unearned_edge_case_fail_their_tests_as_grade_check_scores_them(tmp_path):
    """grad_of loops forever: its first check times out and the rest are not run; training_loop returns its
    params untouched: the 0-epoch edge case passes but earns nothing, so its test fails too."""
    source = (catalogue.SOLUTIONS_DIR / "ex03_autograd.py").read_text(encoding="utf-8")
    source = apply(source, "    leaf = x.detach().clone().requires_grad_(True)\n    fn(leaf).sum().backward()\n",
                   "    while True:\n        pass\n")
    source = apply(source, "    for _ in range(n_epochs):\n        if params.grad", "    return params\n"
                   "    for _ in range(n_epochs):\n        if params.grad")
    submission = tmp_path / "submission"
    submission.mkdir()
    (submission / "ex03_autograd.py").write_text(source, encoding="utf-8")
    xml = tmp_path / "hostile.xml"
    result = run_pytest("tests/hidden/ex03_autograd.py", "--submission", str(submission), "-k",
                        "training_loop or grad_of", f"--junitxml={xml}")
    assert result.returncode == 1, result.stdout[-3000:]
    cases = junit_cases(xml)
    assert not any(case["passed"] for case in cases)
    assert item_scores_from_junit(cases) == item_scores_from_grade_check(
        submission, "ex03.training_loop", "ex03.grad_of") == {"ex03.training_loop": 0.0, "ex03.grad_of": 0.0}
    assert "did not finish within 5 s of CPU time" in result.stdout
    assert "not run, because grad_of" in result.stdout
    assert "code that never works passes it too" in result.stdout
