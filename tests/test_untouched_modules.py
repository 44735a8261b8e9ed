"""Untouched stub modules are recognised by their exact files; anything else is graded as usual."""

from __future__ import annotations

import shutil
from pathlib import Path

from grader import catalogue
from grader.staging import UntouchedModules

MODULE = "ex01_tensors"


def _stub_copy(folder: Path) -> Path:
    folder.mkdir()
    shutil.copy(catalogue.EXERCISES_DIR / f"{MODULE}.py", folder / f"{MODULE}.py")
    return folder


def _grade(service, modules, folder: Path):
    return service.grade(folder, catalogue.select([MODULE], modules)).exercises[0]


def test_a_second_untouched_stub_gets_the_same_result_without_a_box(grading_service, modules, tmp_path):
    first = _grade(grading_service, modules, _stub_copy(tmp_path / "a"))
    spawned_before = grading_service.zygote.spawned
    second = _grade(grading_service, modules, _stub_copy(tmp_path / "b"))
    assert grading_service.zygote.spawned == spawned_before, "an untouched stub was graded in a box again"
    assert [(i.name, i.status, i.score) for i in second.items] == [(i.name, i.status, i.score) for i in first.items]
    assert {i.status for i in second.items} == {"not_implemented"}


def test_a_stub_with_one_item_written_is_graded_in_a_box(grading_service, modules, tmp_path):
    _grade(grading_service, modules, _stub_copy(tmp_path / "stub"))
    folder = _stub_copy(tmp_path / "one_item")
    reference = (catalogue.SOLUTIONS_DIR / f"{MODULE}.py").read_text(encoding="utf-8")
    with (folder / f"{MODULE}.py").open("a", encoding="utf-8") as module:
        module.write("\n\n" + reference.replace("from __future__ import annotations\n", ""))  # later defs win
    spawned_before = grading_service.zygote.spawned
    result = _grade(grading_service, modules, folder)
    assert grading_service.zygote.spawned > spawned_before
    assert result.score == result.max_score > 0


def test_a_helper_file_beside_the_module_changes_its_key(tmp_path):
    folder = _stub_copy(tmp_path / "with_helper")
    plain = UntouchedModules.key(folder, MODULE, None)
    (folder / "numpy.py").write_text("raise ImportError('a shadowing helper')\n", encoding="utf-8")
    assert UntouchedModules.key(folder, MODULE, None) != plain
    (folder / "numpy.py").unlink()
    (folder / "ex02_gradient_descent.py").write_text("x = 1\n", encoding="utf-8")
    assert UntouchedModules.key(folder, MODULE, None) == plain, "another exercise module is graded in its own box"
    assert UntouchedModules.key(folder, MODULE, {"reshaped"}) != plain
    assert UntouchedModules.key(folder, "ex03_autograd", None) is None
