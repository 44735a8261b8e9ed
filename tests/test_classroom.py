"""`grade classroom` writes a GitHub Classroom template whose workflow parses and whose grading steps, run here as
GitHub Actions would run them, report the totals `grade check` gives, partial credit included."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from grader import catalogue, classroom
from grader.cli import main
from tests.mutants import apply

SELECTION = ("ex02", "ex05.fit_curve")
STEP_TIMEOUT = 300


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("classroom") / "assignment"
    result = CliRunner().invoke(main, ["classroom", str(out), *SELECTION])
    assert result.exit_code == 0, result.output
    assert "2 grading steps worth 15 points" in result.output
    return out


def workflow_of(folder: Path) -> dict:
    return yaml.safe_load((folder / ".github" / "workflows" / "classroom.yml").read_text(encoding="utf-8"))


def steps_of(workflow: dict) -> list[dict]:
    return workflow["jobs"]["run-autograding-tests"]["steps"]


def reporter_of(workflow: dict) -> dict:
    reporters = [step for step in steps_of(workflow) if str(step.get("uses", "")).startswith(
        "classroom-resources/autograding-grading-reporter@")]
    assert len(reporters) == 1
    return reporters[0]


def python_on_path(tmp_path: Path) -> dict[str, str]:
    """An environment whose `python` is this interpreter, as setup-python leaves the runner."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    if not (bin_dir / "python").exists():
        (bin_dir / "python").symlink_to(sys.executable)
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}


def run_grading_steps(repository: Path, tmp_path: Path) -> tuple[dict[str, str], str]:
    """Run every step the reporter reads, each with its own GITHUB_OUTPUT file: its ``result`` output by step id,
    and the steps' logs."""
    workflow = workflow_of(repository)
    runners = reporter_of(workflow)["with"]["runners"].split(",")
    environment = python_on_path(tmp_path)
    outputs, logs = {}, []
    for step in steps_of(workflow):
        if step.get("id") not in runners:
            continue
        output_file = tmp_path / f"output-{step['id']}"
        output_file.write_text("")
        cwd = repository / step.get("working-directory", ".")
        done = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=cwd, capture_output=True, text=True,
                              env={**environment, "GITHUB_OUTPUT": str(output_file)}, timeout=STEP_TIMEOUT,
                              check=False)
        assert done.returncode == 0, f"step {step['id']} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        assert "Classroom points for this step:" in done.stdout
        results = [line.split("=", 1)[1] for line in output_file.read_text().splitlines() if line.startswith("result=")]
        assert len(results) == 1
        outputs[step["id"]] = results[0]
        logs.append(done.stdout)
    return outputs, "\n".join(logs)


def classroom_total(workflow: dict, outputs: dict[str, str]) -> tuple[float, float, list[dict]]:
    """What the reporter records: per runner, decode ``<RUNNER>_RESULTS``; add up max_score and every test's score."""
    reporter = reporter_of(workflow)
    total, maximum, documents = 0.0, 0.0, []
    for runner in reporter["with"]["runners"].split(","):
        reference = reporter["env"][f"{runner.strip().upper()}_RESULTS"]
        step_id = re.fullmatch(r"\$\{\{ steps\.(\w+)\.outputs\.result \}\}", reference).group(1)
        document = json.loads(base64.b64decode(outputs[step_id]).decode("utf-8"))
        documents.append(document)
        if document["max_score"]:
            maximum += document["max_score"]
            total += sum(test["score"] for test in document["tests"])
    return round(total, 4), maximum, documents


def grade_check_total(kit: Path, submission: Path, *selectors: str) -> tuple[float, float]:
    """``grade check --json``'s score and maximum, graded by the grader package in ``kit``."""
    done = subprocess.run([sys.executable, "-m", "grader.cli", "check", *selectors, "--submission", str(submission),
                           "--device", "cpu", "--json"], cwd=kit, capture_output=True, text=True, check=False,
                          timeout=STEP_TIMEOUT)
    assert done.returncode == 0, done.stderr[-2000:]
    document = json.loads(done.stdout)
    return document["score"], document["max_score"]


def solved(module: str) -> str:
    return (catalogue.SOLUTIONS_DIR / f"{module}.py").read_text(encoding="utf-8")


def fill(repository: Path, kind: str) -> None:
    """Put a correct, a partially correct or a stub submission into the repository's exercises/."""
    exercises = repository / "exercises"
    for module in ("ex02_gradient_descent", "ex05_nn_modules"):
        shutil.copy(catalogue.EXERCISES_DIR / f"{module}.py", exercises / f"{module}.py")
    if kind == "stub":
        return
    ex02 = solved("ex02_gradient_descent")
    if kind == "partial":  # loss_fn fails; model fails only the hidden checks that pass a Python float w
        from tests.mutants.ex02_gradient_descent import MUTANTS

        for wanted in ("keeps one loss per sample", "calls a tensor method on w, so a Python float w fails"):
            mutant = next(m for m in MUTANTS if m.description == wanted)
            ex02 = apply(ex02, mutant.find, mutant.replace)
    (exercises / "ex02_gradient_descent.py").write_text(ex02, encoding="utf-8")
    if kind == "correct":
        (exercises / "ex05_nn_modules.py").write_text(solved("ex05_nn_modules"), encoding="utf-8")


def test_the_workflow_parses_and_its_maximum_adds_up_to_the_selections_points(template):
    workflow = workflow_of(template)
    assert set(workflow["on"]) >= {"push", "workflow_dispatch"}
    assert workflow["permissions"] == {"checks": "write", "actions": "read", "contents": "read"}
    steps = steps_of(workflow)
    grading = [step for step in steps if step.get("id")]
    assert [step["id"] for step in grading] == ["ex02", "ex05"]
    assert grading[0]["run"] == "python -m grader.classroom ex02"
    assert grading[1]["run"] == "python -m grader.classroom ex05.fit_curve"
    assert "12 points" in grading[0]["name"] and "3 points" in grading[1]["name"]
    assert steps[-1] is reporter_of(workflow) and reporter_of(workflow)["with"]["runners"] == "ex02,ex05"
    install = next(step["run"] for step in steps if "pip install" in str(step.get("run", "")))
    assert "download.pytorch.org/whl/cpu" in install and "bubblewrap" in install
    # the template is a handout of the selected modules: no answers, no hidden checks
    assert sorted(p.name for p in (template / "exercises").iterdir()) == ["ex02_gradient_descent.py",
                                                                        "ex05_nn_modules.py"]
    assert not (template / "solutions").exists() and not (template / "tests").exists()
    assert "GitHub Classroom" in (template / "README.md").read_text()


def test_the_whole_kit_gets_one_step_per_module_worth_the_modules_points(tmp_path):
    modules = catalogue.load_catalogue()
    selection = catalogue.select([], modules)
    workflow = yaml.safe_load(classroom.workflow_yaml(selection))
    grading = [step for step in steps_of(workflow) if step.get("id")]
    assert [step["id"] for step in grading] == [module.number for module in modules]
    points = [int(re.search(r"\((\d+) points\)", step["name"]).group(1)) for step in grading]
    assert sum(points) == sum(module.max_score for module in modules) == 142
    env = reporter_of(workflow)["env"]
    assert env == {f"{m.number.upper()}_RESULTS": f"${{{{ steps.{m.number}.outputs.result }}}}" for m in modules}


@pytest.mark.parametrize("kind", ["correct", "partial", "stub"])
def test_the_steps_report_to_the_classroom_the_total_grade_check_gives(template, tmp_path, kind):
    fill(template, kind)
    outputs, _ = run_grading_steps(template, tmp_path)
    total, maximum, documents = classroom_total(workflow_of(template), outputs)
    expected, expected_max = grade_check_total(template, template / "exercises", *SELECTION)
    assert (total, maximum) == (expected, expected_max) == (total, 15.0)
    statuses = {document["status"] for document in documents}
    if kind == "correct":
        assert total == 15.0 and statuses == {"pass"}
    elif kind == "partial":
        assert 3.0 < total < 15.0
        assert "fail" in statuses
        failing = [test for document in documents for test in document["tests"] if test["status"] == "fail"]
        assert failing and all("grade check" in test["test_code"] for test in failing)
        assert any("Hint:" in test["message"] or "Expected" in test["message"] or "expected" in test["message"]
                   for test in failing)
    else:
        assert total == 0.0 and statuses == {"fail"}
        assert all("not implemented" in test["message"] for d in documents for test in d["tests"])


def test_with_a_hidden_repo_the_steps_grade_with_the_full_suites_from_its_checkout(tmp_path):
    out = tmp_path / "assignment"
    result = CliRunner().invoke(main, ["classroom", str(out), "ex02", "--hidden-repo", "my-course/kit-private"])
    assert result.exit_code == 0, result.output
    assert "GRADER_KIT_TOKEN" in result.output
    workflow = workflow_of(out)
    checkout = [step for step in steps_of(workflow) if step.get("with", {}).get("repository")]
    assert checkout == [{"name": checkout[0]["name"], "uses": "actions/checkout@v4",
                         "with": {"repository": "my-course/kit-private", "token": "${{ secrets.GRADER_KIT_TOKEN }}",
                                  "path": ".grader-kit"}}]
    # the checkout: a copy of this kit, hidden suites and references included
    kit = out / ".grader-kit"
    for part in ("grader", "solutions", "exercises", "tests/hidden", "tests/mutants"):
        shutil.copytree(catalogue.KIT_ROOT / part, kit / part, ignore=shutil.ignore_patterns("__pycache__"))
    (kit / "tests" / "__init__.py").write_text("")
    fill(out, "partial")
    outputs, log = run_grading_steps(out, tmp_path)
    total, maximum, _ = classroom_total(workflow, outputs)
    assert (total, maximum) == grade_check_total(catalogue.KIT_ROOT, out / "exercises", "ex02")
    assert maximum == 12.0 and 10 < total < 11 and total != int(total), "model earns part of its point"
    assert "These are the public checks" not in log, "the step graded with the kit's full hidden suites"


def test_a_malformed_hidden_repo_or_selection_is_refused_before_anything_is_written(tmp_path):
    for arguments, words in ((["--hidden-repo", "not a repo"], "OWNER/NAME"), (["ex99"], "unknown exercise")):
        out = tmp_path / "out"
        result = CliRunner().invoke(main, ["classroom", str(out), *arguments])
        assert result.exit_code == 2 and words in result.output
        assert not out.exists()


def test_a_step_without_the_exercises_folder_still_writes_a_result_with_the_reason(tmp_path):
    output = tmp_path / "github_output"
    done = subprocess.run([sys.executable, "-m", "grader.classroom", "ex02", "--submission", str(tmp_path / "gone")],
                          cwd=catalogue.KIT_ROOT, capture_output=True, text=True, check=False, timeout=STEP_TIMEOUT,
                          env={**os.environ, "GITHUB_OUTPUT": str(output)})
    assert done.returncode == 0, done.stderr
    document = json.loads(base64.b64decode(output.read_text().split("=", 1)[1]))
    assert document["status"] == "error" and document["max_score"] == 12.0
    assert document["tests"][0]["score"] == 0 and "no such folder" in document["tests"][0]["message"]
