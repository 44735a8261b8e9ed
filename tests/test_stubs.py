"""Pristine stubs come from the reference modules, so what an instructor solved in exercises/ never ships,
and `grade reset` puts a stub back while keeping the student's file."""

from __future__ import annotations

import ast
import shutil
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader import catalogue, release, stubs
from grader.cli import main

EX02 = "ex02_gradient_descent"


def module_info(name: str) -> catalogue.ModuleInfo:
    return next(m for m in catalogue.load_catalogue() if m.name == name)


def function_source(path: Path, name: str) -> str:
    source = path.read_text(encoding="utf-8")
    node = next(n for n in ast.parse(source).body if getattr(n, "name", None) == name)
    return ast.get_source_segment(source, node) or ""


def solve(folder: Path, module: str, *items: str) -> None:
    """Replace the stubs of ``items`` in ``folder/module.py`` by the reference's code, as an instructor trying them."""
    path = folder / f"{module}.py"
    text = path.read_text(encoding="utf-8")
    for item in items:
        text = text.replace(function_source(path, item), function_source(catalogue.SOLUTIONS_DIR / f"{module}.py", item))
    path.write_text(text, encoding="utf-8")


@pytest.fixture
def solved_kit_exercises(tmp_path, monkeypatch) -> Path:
    """The kit's exercises/ as an instructor leaves it after solving ex02.grad_fn and ex02.model."""
    folder = tmp_path / "exercises"
    shutil.copytree(catalogue.EXERCISES_DIR, folder)
    solve(folder, EX02, "grad_fn", "model")
    monkeypatch.setattr(catalogue, "EXERCISES_DIR", folder)
    return folder


@pytest.mark.parametrize("module", [m.name for m in catalogue.load_catalogue()])
def test_the_stub_regenerated_from_the_reference_is_the_kits_exercise_module(module):
    pristine = stubs.pristine_source(module)
    exercise = (catalogue.EXERCISES_DIR / f"{module}.py").read_text(encoding="utf-8")
    assert stubs.changed_items(exercise, pristine, module_info(module)) == [], (
        f"exercises/{module}.py is not its pristine stub: run `grade reset {module.split('_')[0]}` (it keeps a backup)")
    assert ast.dump(ast.parse(pristine)) == ast.dump(ast.parse(exercise))
    assert "not implemented yet" in pristine


def test_every_item_of_a_solution_counts_as_changed_and_a_comment_does_not():
    info = module_info(EX02)
    pristine = stubs.pristine_source(EX02)
    solution = (catalogue.SOLUTIONS_DIR / f"{EX02}.py").read_text(encoding="utf-8")
    assert stubs.changed_items(solution, pristine, info) == [item.name for item in info.items]
    assert stubs.changed_items(pristine + "\n# my notes\n", pristine, info) == []
    assert stubs.changed_items(pristine + "\nimport numpy\n", pristine, info) == ["other code"]
    assert stubs.changed_items("def broken(:\n", pristine, info) == [item.name for item in info.items]


def test_a_solved_item_in_the_kits_exercises_never_reaches_a_handout_and_the_note_names_it(solved_kit_exercises,
                                                                                             tmp_path):
    out = tmp_path / "handout"
    notes = release.build_handout(out, module_names=[EX02])
    shipped = (out / "exercises" / f"{EX02}.py").read_text(encoding="utf-8")
    assert stubs.changed_items(shipped, stubs.pristine_source(EX02), module_info(EX02)) == []
    assert function_source(catalogue.SOLUTIONS_DIR / f"{EX02}.py", "grad_fn") not in shipped
    assert any("ex02.model, ex02.grad_fn" in note and "pristine stub" in note for note in notes), notes
    assert (out / "grader" / "pristine" / f"{EX02}.py").read_text(encoding="utf-8") == stubs.pristine_source(EX02)


def test_a_solved_item_never_reaches_a_gradescope_bundle_or_a_classroom_template(solved_kit_exercises, tmp_path):
    bundle = tmp_path / "autograder.zip"
    result = CliRunner().invoke(main, ["gradescope", str(bundle)])
    assert result.exit_code == 0, result.output
    assert "Note: exercises/ex02_gradient_descent.py differs from its stub in ex02.model, ex02.grad_fn" in result.output
    with zipfile.ZipFile(bundle) as archive:
        shipped = archive.read(f"kit/exercises/{EX02}.py").decode("utf-8")
        others = archive.read("kit/exercises/ex01_tensors.py").decode("utf-8")
    assert stubs.changed_items(shipped, stubs.pristine_source(EX02), module_info(EX02)) == []
    assert others == (catalogue.EXERCISES_DIR / "ex01_tensors.py").read_text(encoding="utf-8"), "untouched: as is"
    template = tmp_path / "classroom"
    result = CliRunner().invoke(main, ["classroom", str(template), "ex02.model"])
    assert result.exit_code == 0, result.output
    shipped = (template / "exercises" / f"{EX02}.py").read_text(encoding="utf-8")
    assert stubs.changed_items(shipped, stubs.pristine_source(EX02), module_info(EX02)) == []


def test_reset_of_an_item_restores_its_stub_keeps_the_other_solved_items_and_a_backup(tmp_path):
    folder = tmp_path / "exercises"
    folder.mkdir()
    shutil.copy(catalogue.SOLUTIONS_DIR / f"{EX02}.py", folder / f"{EX02}.py")
    before = (folder / f"{EX02}.py").read_text(encoding="utf-8")
    result = CliRunner().invoke(main, ["reset", "ex02.grad_fn", "--submission", str(folder)])
    assert result.exit_code == 0, result.output
    after = (folder / f"{EX02}.py").read_text(encoding="utf-8")
    info = module_info(EX02)
    assert stubs.changed_items(after, stubs.pristine_source(EX02), info) == [
        item.name for item in info.items if item.name != "grad_fn"]
    backups = list((tmp_path / ".grade-backups").iterdir())
    assert len(backups) == 1 and backups[0].read_text(encoding="utf-8") == before
    assert str(backups[0]) in result.output.replace("\n", "")
    assert list(folder.iterdir()) == [folder / f"{EX02}.py"], "nothing else appears among the exercise modules"


def test_reset_of_a_whole_exercise_and_of_an_item_in_a_file_that_does_not_parse(tmp_path):
    folder = tmp_path / "exercises"
    folder.mkdir()
    (folder / f"{EX02}.py").write_text("def model(:\n    return 1\n", encoding="utf-8")
    refused = CliRunner().invoke(main, ["reset", "ex02.model", "--submission", str(folder)])
    assert refused.exit_code == 1 and "does not parse (line 1" in refused.output and "grade reset ex02" in refused.output
    assert (folder / f"{EX02}.py").read_text(encoding="utf-8") == "def model(:\n    return 1\n"
    whole = CliRunner().invoke(main, ["reset", "ex02", "--submission", str(folder)])
    assert whole.exit_code == 0, whole.output
    assert (folder / f"{EX02}.py").read_text(encoding="utf-8") == stubs.pristine_source(EX02)
    assert [p.read_text() for p in (tmp_path / ".grade-backups").iterdir()] == ["def model(:\n    return 1\n"]
    unknown = CliRunner().invoke(main, ["reset", "ex02.nope", "--submission", str(folder)])
    assert unknown.exit_code == 2 and "has no item 'nope'" in unknown.output


def test_reset_of_an_item_missing_from_the_file_appends_its_stub(tmp_path):
    folder = tmp_path / "exercises"
    folder.mkdir()
    (folder / f"{EX02}.py").write_text("import torch\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["reset", "ex02.model", "--submission", str(folder)])
    assert result.exit_code == 0, result.output
    text = (folder / f"{EX02}.py").read_text(encoding="utf-8")
    assert text.startswith("import torch\n") and "ex02.model is not implemented yet" in text
    compile(text, "reset.py", "exec")
