"""The Gradescope bundle grades a submission in an /autograder-like tree and writes a valid results.json."""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader import catalogue
from grader.cli import main
from tests import isolation_harness as harness

MODULE = "ex02_gradient_descent"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bundle") / "autograder.zip"
    result = CliRunner().invoke(main, ["gradescope", str(out)])
    assert result.exit_code == 0, result.output
    return out


def _autograder_tree(bundle: Path, root: Path, submission_files: dict[str, str]) -> Path:
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(root / "source")
    run_autograder = root / "run_autograder"
    shutil.copy(root / "source" / "run_autograder", run_autograder)
    run_autograder.chmod(0o755)
    submission = root / "submission"
    submission.mkdir()
    for name, text in submission_files.items():
        (submission / name).parent.mkdir(parents=True, exist_ok=True)
        (submission / name).write_text(text)
    return root


def _run(root: Path) -> dict:
    completed = subprocess.run(["bash", str(root / "run_autograder")], env={
        **__import__("os").environ, "AUTOGRADER_ROOT": str(root)}, capture_output=True, text=True,
        timeout=900, check=False)
    assert completed.returncode == 0, completed.stderr
    return json.loads((root / "results" / "results.json").read_text())


def _assert_valid_results(document: dict) -> None:
    assert isinstance(document["score"], (int, float))
    assert document["visibility"] in ("visible", "hidden", "after_due_date", "after_published")
    assert isinstance(document["output"], str)
    for test in document["tests"]:
        assert set(test) >= {"name", "score", "max_score", "output", "visibility"}
        assert isinstance(test["name"], str) and isinstance(test["output"], str)
        assert 0 <= test["score"] <= test["max_score"]
        assert test["status"] in ("passed", "failed")
    assert abs(sum(t["score"] for t in document["tests"]) - document["score"]) < 1e-6


def test_the_bundle_has_gradescopes_layout(bundle):
    names = zipfile.ZipFile(bundle).namelist()
    assert "setup.sh" in names and "run_autograder" in names
    assert f"kit/solutions/{MODULE}.py" in names and f"kit/tests/hidden/{MODULE}.py" in names
    assert not any("__pycache__" in name for name in names)


def test_a_correct_submission_gets_full_marks(bundle, tmp_path):
    files = {f"exercises/{p.name}": p.read_text() for p in catalogue.SOLUTIONS_DIR.glob("ex*.py")}
    document = _run(_autograder_tree(bundle, tmp_path, files))
    _assert_valid_results(document)
    assert document["score"] == sum(t["max_score"] for t in document["tests"]) > 0
    assert len(document["tests"]) == sum(len(m.items) for m in catalogue.load_catalogue())


def test_a_stub_submission_gets_zero_with_one_failed_test_per_item(bundle, tmp_path):
    files = {p.name: p.read_text() for p in catalogue.EXERCISES_DIR.glob("ex*.py")}
    document = _run(_autograder_tree(bundle, tmp_path, files))
    _assert_valid_results(document)
    assert document["score"] == 0 and document["tests"]
    assert all(t["output"].startswith("not implemented") for t in document["tests"])


def test_a_crashing_submission_still_gets_results(bundle, tmp_path):
    reference = (catalogue.SOLUTIONS_DIR / f"{MODULE}.py").read_text()
    files = {f"{MODULE}.py": reference + "\n\nimport os\ndef loss_fn(t_p, t_c):\n    os._exit(1)\n",
             "ex01_tensors.py": "import os\nos._exit(3)\n"}
    document = _run(_autograder_tree(bundle, tmp_path, files))
    _assert_valid_results(document)
    by_name = {t["name"]: t for t in document["tests"]}
    assert "crashed" in by_name[f"{MODULE}.loss_fn"]["output"]
    assert by_name[f"{MODULE}.grad_fn"]["status"] == "passed"
    assert "crashed" in by_name["ex01_tensors.reshaped"]["output"]


def test_a_misnamed_module_gets_a_visible_message_naming_the_file_and_the_fix(bundle, tmp_path):
    reference = (catalogue.SOLUTIONS_DIR / f"{MODULE}.py").read_text()
    document = _run(_autograder_tree(bundle, tmp_path, {"Ex02_Gradient_Descent.py": reference}))
    assert document["score"] == 0 and document["visibility"] == "visible"
    assert "No exercise modules" in document["output"]
    assert f"Ex02_Gradient_Descent.py (name it {MODULE}.py" in document["output"]


def test_in_a_stock_docker_container_the_bundle_grades_the_solutions_as_an_unprivileged_uid(bundle):
    """Docker's default seccomp profile refuses bubblewrap's namespaces and its capability set has no
    CAP_SYS_ADMIN: the run step must still grade (tier uid), at full marks, and say which tier."""
    harness.require("docker")
    with harness.shared_folder("gradescope-") as shared:
        files = {f"exercises/{p.name}": p.read_text() for p in catalogue.SOLUTIONS_DIR.glob("ex*.py")}
        root = _autograder_tree(bundle, shared / "autograder", files)
        for folder in (root, root / "submission", root / "source"):
            folder.chmod(0o755)
        outcome = harness.run("docker", ["/bin/bash", str(root / "run_autograder")], keep=[shared],
                              extra_env={"AUTOGRADER_ROOT": str(root)}, timeout=900)
        assert outcome.returncode == 0, outcome.describe()
        document = json.loads((root / "results" / "results.json").read_text())
    _assert_valid_results(document)
    assert "(isolation: uid)" in document["output"], document["output"]
    assert document["score"] == sum(t["max_score"] for t in document["tests"]) > 0, document["output"]
