"""`grade release` writes a handout that installs in a fresh venv, grades offline, and holds no answers."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader import catalogue, wire
from grader.cli import main
from grader.release import answer_snippets, fixture_answers, strip_strings
from grader.stubs import pristine_source


def _code_without_strings(path: Path) -> str:
    return ast.unparse(strip_strings(ast.parse(path.read_text(encoding="utf-8"))))


@pytest.fixture(scope="module")
def handout(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("handout") / "course"
    result = CliRunner().invoke(main, ["release", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_release_refuses_a_non_empty_folder_unless_forced(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    result = CliRunner().invoke(main, ["release", str(tmp_path)])
    assert result.exit_code == 2 and "not empty" in result.output and "--force" in result.output
    assert (tmp_path / "keep.txt").read_text() == "mine"


def test_the_handout_contains_stubs_grader_readme_and_no_reference_code(handout):
    assert sorted(p.name for p in handout.iterdir()) == [".gitignore", "README.md", "exercises", "grader",
                                                         "pyproject.toml"]
    assert not (handout / "solutions").exists() and not (handout / "tests").exists()
    for module in catalogue.load_catalogue():
        assert (handout / "exercises" / f"{module.name}.py").read_text() == \
            (catalogue.EXERCISES_DIR / f"{module.name}.py").read_text()
    handout_code = "\n".join(_code_without_strings(p) for p in handout.rglob("*.py"))
    for module in catalogue.load_catalogue():
        snippets = answer_snippets(catalogue.SOLUTIONS_DIR / f"{module.name}.py", pristine_source(module.name))
        leaked = [text for text in snippets if text in handout_code]
        assert not leaked, f"reference code of {module.name} found in the handout: {leaked[:3]}"


def test_the_handout_ships_the_grader_fixtures_whole(handout):
    for path in sorted((catalogue.KIT_ROOT / "grader").glob("fixtures*.py")):
        assert (handout / "grader" / path.name).read_text() == path.read_text()


def test_a_fixture_that_holds_reference_code_is_found_before_a_handout_is_written(tmp_path):
    snippets = answer_snippets(catalogue.SOLUTIONS_DIR / "ex08_cnn.py", pristine_source("ex08_cnn"))
    (tmp_path / "fixtures_ex08.py").write_text(
        'def write_weights_file(model, path):\n    """Looks harmless."""\n    torch.save(model.state_dict(), path)\n')
    (tmp_path / "fixtures.py").write_text("def square(x):\n    return x ** 2\n")
    assert fixture_answers(tmp_path, snippets) == ["fixtures_ex08.py: 'torch.save(model.state_dict(), path)'"]
    assert fixture_answers(catalogue.KIT_ROOT / "grader", snippets) == []


def test_the_handout_keeps_one_public_check_per_item(handout):
    for module in catalogue.load_catalogue():
        public = (handout / "grader" / "public" / f"{module.name}.py").read_text()
        hidden = (catalogue.SUITES_DIR / f"{module.name}.py").read_text()
        assert 0 < public.count("@suite.check(") <= len(module.items) < hidden.count("@suite.check(")


def test_the_handout_installs_in_a_fresh_venv_and_grades_stubs_and_a_correct_submission(handout, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    copy = tmp_path / "student"
    shutil.copytree(handout, copy)
    install = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "-e", str(copy)],
                             capture_output=True, text=True, check=False)
    assert install.returncode == 0, install.stderr
    where = subprocess.run([str(venv / "bin" / "python"), "-c", "import grader; print(grader.__file__)"],
                           capture_output=True, text=True, check=True, cwd=tmp_path)
    assert where.stdout.strip().startswith(str(copy))
    grade = str(venv / "bin" / "grade")

    stubs = subprocess.run([grade, "check", "--json"], capture_output=True, text=True, check=False, cwd=copy)
    assert stubs.returncode == 0, stubs.stderr
    document = json.loads(stubs.stdout)
    assert document["score"] == 0 and document["max_score"] > 0
    assert {i["status"] for e in document["exercises"] for i in e["items"]} <= {"not_implemented", "not_graded"}
    assert sum(i["status"] == "not_graded" for e in document["exercises"] for i in e["items"]) <= 5

    shutil.copytree(catalogue.SOLUTIONS_DIR, tmp_path / "correct", ignore=shutil.ignore_patterns("__pycache__"))
    correct = subprocess.run([grade, "check", "--submission", str(tmp_path / "correct"), "--json"],
                             capture_output=True, text=True, check=False, cwd=copy)
    assert correct.returncode == 0, correct.stderr
    document = json.loads(correct.stdout)
    items = [i for e in document["exercises"] for i in e["items"]]
    assert {i["status"] for i in items} <= {"passed", "not_graded"}
    assert sum(i["status"] == "passed" for i in items) >= 0.9 * len(items)
    assert document["score"] == sum(i["max_score"] for i in items if i["status"] == "passed") > 0

    wrong = tmp_path / "wrong"
    wrong.mkdir()
    softmax = (catalogue.SOLUTIONS_DIR / "ex07_classification.py").read_text(encoding="utf-8")
    softmax = softmax.replace("X_exp / X_exp.sum(dim=1, keepdim=True)", "X_exp / X_exp.sum(dim=0, keepdim=True)")
    (wrong / "ex07_classification.py").write_text(softmax, encoding="utf-8")
    diagnosed = subprocess.run([grade, "check", "ex07.softmax", "--submission", str(wrong), "--json"],
                               capture_output=True, text=True, check=False, cwd=copy)
    feedback = json.loads(diagnosed.stdout)["exercises"][0]["items"][0]["feedback"]
    assert any(line.startswith("Likely mistake:") and "dim 0" in line for line in feedback), feedback

    table = subprocess.run([grade, "check", "ex02"], capture_output=True, text=True, check=False, cwd=copy)
    assert "public checks" in table.stdout
    refused = subprocess.run([grade, "solution", "ex02.model"], capture_output=True, text=True, check=False, cwd=copy)
    assert refused.returncode != 0


def test_the_handout_ships_what_its_public_checks_need_to_name_a_likely_mistake_as_data_not_code(handout):
    stored = wire.loads_untrusted((handout / "grader" / "public" / "expected.pt").read_bytes())
    mistakes = {name: node for name, node in stored.items() if name.startswith("mistakes::")}
    assert "mistakes::ex07_classification.softmax_random" in mistakes
    decoded = wire.Decoder().decode(mistakes["mistakes::ex07_classification.softmax_random"])
    assert any("dim 0" in sentence for sentence, _, _ in decoded)
    assert not (handout / "tests").exists()


def test_in_the_handout_reset_restores_a_stub_from_the_shipped_pristine_copy(handout, tmp_path):
    copy = tmp_path / "course"
    shutil.copytree(handout, copy)
    module = copy / "exercises" / "ex01_tensors.py"
    stub = module.read_text()
    solved = stub.replace('"ex01.reshaped is not implemented yet', '"started: ex01.reshaped is not implemented yet', 1)
    assert solved != stub
    module.write_text(solved)
    done = subprocess.run([sys.executable, "-m", "grader.cli", "reset", "ex01.reshaped"], cwd=copy,
                          capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    assert module.read_text() == stub
    assert (copy / ".grade-backups").is_dir() and ".grade-backups/" in (copy / ".gitignore").read_text()


def test_the_handouts_help_lists_the_students_commands_only(handout):
    done = subprocess.run([sys.executable, "-m", "grader.cli", "--help"], cwd=handout, capture_output=True, text=True,
                          check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    listed = {line.split()[0] for line in done.stdout.split("Commands:", 1)[1].splitlines() if line.strip()}
    assert listed == {"check", "hint", "list", "notebook", "repro", "reset", "update", "watch"}
    kit = subprocess.run([sys.executable, "-m", "grader.cli", "--help"], cwd=catalogue.KIT_ROOT, capture_output=True,
                         text=True, check=False, timeout=120)
    assert {"batch", "release", "gradescope", "classroom", "solution", "export"} <= {
        line.split()[0] for line in kit.stdout.split("Commands:", 1)[1].splitlines() if line.strip()}


def test_the_handout_and_classroom_install_the_torch_ranges_of_the_kits_own_pyproject():
    tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from Python 3.11")
    from grader import TORCH_REQUIREMENTS

    dependencies = tomllib.loads((catalogue.KIT_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert set(TORCH_REQUIREMENTS) <= set(dependencies)
