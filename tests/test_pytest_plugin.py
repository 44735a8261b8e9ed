"""The hidden suites as pytest sees them through the kit's plugin: the same checks, verdicts and points as `grade`.

Each test runs pytest in a subprocess from the kit's root, as an instructor or a CI job would.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
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


def run_pytest(*args: str, timeout: float = 540, cache_dir: Path | None = None) -> subprocess.CompletedProcess:
    """pytest ARGS from the kit's root; without its cache unless ``cache_dir`` is given (``--lf`` needs one)."""
    cache = ["-o", f"cache_dir={cache_dir}"] if cache_dir is not None else ["-p", "no:cacheprovider"]
    return subprocess.run([sys.executable, "-m", "pytest", *cache, *args],
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


def _points(module_name: str) -> float:
    """The points of a module's items graded on the CPU."""
    return sum(item.points for item in load_suite(module_name).items.values()
               if any(check.requires != "cuda" for check in item.checks))


def _grade_summary(stdout: str) -> str:
    """What the plugin prints after its ``grade:`` rule: the scores, then its notes."""
    assert "= grade: " in stdout, stdout[-3000:]
    return stdout.split("= grade: ", 1)[1].split("slowest 12 durations", 1)[0]


def _final_line(stdout: str) -> str:
    """pytest's last line, ``=== 1 failed, 2 passed in 3.04s ===``, without its rule and its time."""
    return re.sub(r" in [\d.]+s( \([\d:]+\))?$", "", stdout.strip().splitlines()[-1].strip("= "))


def test_minus_x_stops_at_the_first_failing_check_and_the_summary_names_the_module_it_never_graded(tmp_path):
    xml = tmp_path / "x.xml"
    result = run_pytest(EX01, EX02, "--submission", "exercises", "-x", f"--junitxml={xml}")
    assert result.returncode == 1, result.stdout[-3000:]
    cases = junit_cases(xml)
    assert len(cases) == 1 and not cases[0]["passed"]  # the other checks of ex01 and all of ex02: not run
    assert cases[0]["item"] == "ex01.from_nested"
    assert "stopping after 1 failures" in result.stdout
    assert _final_line(result.stdout) == "1 failed"
    summary = _grade_summary(result.stdout)
    # ex01 was graded whole at its first test: its real scores, and a total of its points only
    assert f"Total: 0/{_points('ex01_tensors'):g}   (device: cpu;" in summary
    # ex02 never ran: the summary says so instead of leaving it out of a total that looks complete
    assert "ex02_gradient_descent  0/" not in summary and "training_loop" not in summary
    assert ("Not graded: ex02_gradient_descent: pytest stopped before its tests ran, so its points are not in the "
            "total. Run `grade check ex02` for its score.") in summary


def test_minus_minus_lf_reruns_only_the_checks_that_failed_and_grades_only_their_items(tmp_path):
    submission = _three_mutants(tmp_path / "submission")
    cache = tmp_path / "cache"
    first_xml, again_xml = tmp_path / "first.xml", tmp_path / "again.xml"
    first = run_pytest(EX02, "--submission", str(submission), f"--junitxml={first_xml}", cache_dir=cache)
    assert first.returncode == 1, first.stdout[-3000:]
    first_cases = junit_cases(first_xml)
    failed = [case["id"] for case in first_cases if not case["passed"]]
    assert 0 < len(failed) < len(first_cases)

    again = run_pytest(EX02, "--submission", str(submission), "--lf", f"--junitxml={again_xml}", cache_dir=cache)
    assert again.returncode == 1, again.stdout[-3000:]
    rerun = junit_cases(again_xml)
    assert [case["id"] for case in rerun] == failed
    assert not any(case["passed"] for case in rerun)
    assert _final_line(again.stdout) == f"{len(failed)} failed, {len(first_cases) - len(failed)} deselected"
    # only the failed checks' items are graded again, with the scores of the first run
    items = {case["item"] for case in rerun}
    assert items == {"ex02.loss_fn", "ex02.grad_fn", "ex02.training_loop"}
    summary = _grade_summary(again.stdout)
    rows = {line.split()[0] for line in summary.splitlines() if line.startswith("  ") and line.split()}
    assert rows == {item.split(".", 1)[1] for item in items}
    scores = item_scores_from_junit(first_cases)
    total, out_of = round(sum(scores[item] for item in items), 4), 1 + 2 + 3
    assert f"Total: {total:g}/{out_of}   " in summary or f"Total: {total:.2f}/{out_of}   " in summary


def _processes_naming(*needles: str) -> list[str]:
    """The processes whose command line holds one of ``needles`` (read from /proc: no psutil needed)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if any(needle in command for needle in needles):
            found.append(f"{entry.name}: {command[:300]}")
    return found


def _left_running(*needles: str) -> list[str]:
    """The processes naming ``needles`` that still run after a moment for teardown."""
    deadline = time.monotonic() + 10
    while (found := _processes_naming(*needles)) and time.monotonic() < deadline:
        time.sleep(0.5)
    return found


WARM_SERVICE = '''"""Loaded with -p: the grading service started before the first test, so that pytest-timeout's limit covers
only the grading of the module (as for every module after the first in a long run)."""
import pytest

from grader import engine
from grader.pytest_plugin import GRADING


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session):
    grading = session.config.stash[GRADING]
    grading.service = engine.GradingService(grading.device)
    grading.isolation = grading.service.isolation
'''


def test_pytest_timeout_stops_a_check_stuck_in_the_grader_and_the_run_ends_with_no_worker_left(tmp_path):
    """loss_fn starts a child and sleeps: the engine's backstop (16 s of wall-clock time) is later than
    --timeout 10, so pytest-timeout interrupts the grading of ex02 at its first test while the item is stuck."""
    marker = f"stuck{os.getpid()}x{time.monotonic_ns()}"
    submission = tmp_path / "submission"
    submission.mkdir()
    source = (catalogue.SOLUTIONS_DIR / "ex02_gradient_descent.py").read_text(encoding="utf-8")
    (submission / "ex02_gradient_descent.py").write_text(source + textwrap.dedent(f"""

        def loss_fn(t_p, t_c):
            import subprocess, time
            subprocess.Popen(["{marker}", "3600"], executable="sleep")
            time.sleep(3600)
    """), encoding="utf-8")
    helpers, temporary = tmp_path / "helpers", tmp_path / "grader-tmp"
    helpers.mkdir()
    temporary.mkdir()
    (helpers / "warm_service.py").write_text(WARM_SERVICE, encoding="utf-8")
    # the service's folders (and so its zygote's command line) under a TMPDIR of this test's own
    environment = {**os.environ, "TMPDIR": str(temporary),
                   "PYTHONPATH": os.pathsep.join(filter(None, [str(helpers), os.environ.get("PYTHONPATH")]))}
    xml = tmp_path / "timeout.xml"
    process = subprocess.Popen([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "warm_service", EX02,
                                "--submission", str(submission), "--timeout", "10", f"--junitxml={xml}"],
                               cwd=catalogue.KIT_ROOT, env=environment, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    seen_stuck = False
    try:
        deadline = time.monotonic() + 300  # a hang guard, far above what the run needs
        while process.poll() is None and time.monotonic() < deadline:
            seen_stuck = seen_stuck or bool(_processes_naming(marker))
            time.sleep(0.2)
        hung = process.poll() is None
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        stdout = process.communicate()[0]
    assert not hung, "the pytest run did not end: " + stdout[-3000:]
    assert seen_stuck, "the stuck item never ran: " + stdout[-3000:]
    assert process.returncode == 1, stdout[-3000:]

    cases = junit_cases(xml)
    assert len(cases) == graded_checks("ex02_gradient_descent")  # every test got an outcome
    assert not any(case["passed"] for case in cases)  # none passes on grading that did not finish
    failures = [failure.text or "" for failure in ET.parse(xml).getroot().iter("failure")]
    assert "Timeout (>10.0s) from pytest-timeout" in failures[0] and "Run `grade check ex02`" in failures[0]
    assert all(text.startswith("grading ex02_gradient_descent stopped: Failed: Timeout") for text in failures[1:])
    assert "grader/engine.py" not in stdout and "_pytest/runner.py" not in stdout  # no grader traceback
    assert "Not scored: grading ex02_gradient_descent stopped: Failed: Timeout" in _grade_summary(stdout)

    assert _left_running(marker, f"{temporary}/") == []  # the stuck child, the worker, the zygote, bwrap
    assert list(temporary.iterdir()) == []


HOSTILE = '''

# ---- hostile overrides (tests/test_pytest_plugin.py); each reports what it achieved in its failure
import os as _os
import signal as _signal
import sys as _sys

_CANARY = {canary!r}
_KIT = {kit!r}
_TOKEN = {token!r}


def load_temperatures():
    """Deletes and overwrites a file outside its folder, and writes into the kit."""
    removed = overwritten = 0
    try:
        with open(_CANARY, "w") as canary:
            canary.write("overwritten")
        overwritten = 1
    except OSError:
        pass
    try:
        _os.remove(_CANARY)
        removed = 1
    except OSError:
        pass
    places = [_os.path.dirname(_CANARY), _KIT, _os.path.join(_KIT, "solutions"), _os.path.join(_KIT, "tests", "hidden")]
    wrote = 0
    for place in places:
        try:
            with open(_os.path.join(place, "pwned-" + _TOKEN), "w") as out:
                out.write("escaped")
            wrote += 1
        except OSError:
            pass
    raise RuntimeError(f"ATTACK-REPORT removed={{removed}} overwritten={{overwritten}} wrote={{wrote}}/{{len(places)}}")


def model(t_u, w, b):
    """Signals its parent (the grader, were it not out of reach) to stop, then to die."""
    parent = _os.getppid()
    outcome = []
    for number in (_signal.SIGINT, _signal.SIGTERM, _signal.SIGKILL):
        try:
            _os.kill(parent, number)
            outcome.append("sent")
        except OSError as error:
            outcome.append(type(error).__name__)
    raise RuntimeError(f"ATTACK-REPORT parent={{parent}} kill={{','.join(outcome)}}")


_FAKE = ("tests/hidden/ex02_gradient_descent.py ....................   [100%]\\n"
         "============================== 20 passed in 0.10s ==============================\\n"
         "Total: 12/12   (device: cpu; isolation: namespaces)\\n")


def loss_fn(t_p, t_c):
    """Prints a passing pytest run and a full grade everywhere it can, and returns a wrong loss."""
    print(_FAKE)
    print(_FAKE, file=_sys.stderr)
    for descriptor in (1, 2):
        try:
            _os.write(descriptor, _FAKE.encode())
        except OSError:
            pass
    return ((t_p - t_c) ** 2).mean() + 1.0


def dloss_fn(t_p, t_c):
    """Returns what the reference solution returns, if it can find it."""
    try:
        from solutions.ex02_gradient_descent import dloss_fn as reference
    except BaseException:
        scope = {{}}
        try:
            with open(_os.path.join(_KIT, "solutions", "ex02_gradient_descent.py")) as source:
                exec(source.read(), scope)
        except BaseException as error:
            raise RuntimeError(f"ATTACK-REPORT solutions={{type(error).__name__}}") from None
        reference = scope["dloss_fn"]
    return reference(t_p, t_c)
'''


def _digest(root: Path) -> dict[str, bytes]:
    return {str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


def test_hostile_items_are_as_harmless_under_pytest_as_under_grade_check_and_cannot_fake_its_summary(tmp_path):
    """One ex02 whose first four items attack (files outside, its parent, fake output, the solutions); the other
    four are the reference's and keep their points."""
    token = f"{os.getpid()}x{time.monotonic_ns()}"
    outside = tmp_path / "outside"
    outside.mkdir()
    canary = outside / "canary.txt"
    canary.write_text("the instructor's file\n", encoding="utf-8")
    submission = tmp_path / "submission"
    submission.mkdir()
    source = (catalogue.SOLUTIONS_DIR / "ex02_gradient_descent.py").read_text(encoding="utf-8")
    (submission / "ex02_gradient_descent.py").write_text(
        source + HOSTILE.format(canary=str(canary), kit=str(catalogue.KIT_ROOT), token=token), encoding="utf-8")
    before = _digest(submission)
    planted = [folder / f"pwned-{token}" for folder in (outside, catalogue.KIT_ROOT, catalogue.SOLUTIONS_DIR,
                                                        catalogue.SUITES_DIR)]
    xml = tmp_path / "hostile.xml"
    try:
        result = run_pytest(EX02, "--submission", str(submission), f"--junitxml={xml}")
        from_grade = item_scores_from_grade_check(submission, "ex02")
    finally:
        escaped = [str(path) for path in planted if path.exists()]
        for path in planted:
            path.unlink(missing_ok=True)
    assert result.returncode == 1, result.stdout[-3000:]  # not killed, not interrupted: failed tests

    cases = junit_cases(xml)
    assert item_scores_from_junit(cases) == from_grade
    hostile = {"load_temperatures", "model", "loss_fn", "dloss_fn"}
    items = load_suite("ex02_gradient_descent").items
    assert from_grade == {f"ex02.{name}": 0.0 if name in hostile else item.points for name, item in items.items()}
    # each attack ran, and what it reports is what a sandbox leaves it
    assert "ATTACK-REPORT removed=0 overwritten=0 wrote=0/4" in result.stdout
    assert "ATTACK-REPORT solutions=" in result.stdout

    assert escaped == []
    assert sorted(path.name for path in outside.iterdir()) == ["canary.txt"]
    assert canary.read_text(encoding="utf-8") == "the instructor's file\n"
    assert _digest(submission) == before

    # what the submission printed is not pytest's output: the counts and the total are the real ones
    passed = sum(case["passed"] for case in cases)
    assert _final_line(result.stdout) == f"{len(cases) - passed} failed, {passed} passed"
    assert "20 passed" not in result.stdout and "Total: 12/12" not in result.stdout
    total = round(sum(from_grade.values()), 4)
    assert f"Total: {total:g}/{_points('ex02_gradient_descent'):g}   (device: cpu;" in _grade_summary(result.stdout)
