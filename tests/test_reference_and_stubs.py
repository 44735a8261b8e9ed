"""The reference solutions earn every point, the untouched stubs earn none, and the two mirror each other."""

from __future__ import annotations

import importlib.util
import inspect
from pathlib import Path
from types import ModuleType

import pytest

from grader import catalogue, engine

MODULE_NAMES = [path.stem for path in sorted(catalogue.SUITES_DIR.glob("ex*.py"))]


def _load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _public(module: ModuleType) -> dict[str, object]:
    return {name: value for name, value in vars(module).items()
            if not name.startswith("_") and getattr(value, "__module__", None) == module.__name__}


def test_the_reference_solutions_earn_full_marks(grading_service, modules):
    report = grading_service.grade(catalogue.SOLUTIONS_DIR, catalogue.select([], modules))
    not_passed = {f"{e.name}.{i.name}": (i.status, i.feedback) for e in report.exercises for i in e.items
                  if i.status != "passed"}
    assert not not_passed
    assert report.score == report.max_score > 0


def test_the_untouched_stubs_score_zero_with_every_item_not_implemented(grading_service, modules):
    report = grading_service.grade(catalogue.EXERCISES_DIR, catalogue.select([], modules))
    assert report.score == 0
    statuses = {f"{e.name}.{i.name}": i.status for e in report.exercises for i in e.items}
    assert set(statuses.values()) == {"not_implemented"}, statuses


@pytest.mark.parametrize("module_name", MODULE_NAMES)
def test_exercise_and_solution_have_the_same_items_signatures_and_docstrings(module_name):
    stub = _load(catalogue.EXERCISES_DIR / f"{module_name}.py", f"_stub_{module_name}")
    reference = _load(catalogue.SOLUTIONS_DIR / f"{module_name}.py", f"_ref_{module_name}")
    assert stub.__doc__ == reference.__doc__
    stub_items, reference_items = _public(stub), _public(reference)
    assert list(stub_items) == list(reference_items)
    for name, stub_value in stub_items.items():
        reference_value = reference_items[name]
        assert inspect.getdoc(stub_value) == inspect.getdoc(reference_value), name
        if inspect.isclass(stub_value):
            stub_methods = {k: v for k, v in vars(stub_value).items() if inspect.isfunction(v)}
            reference_methods = {k: v for k, v in vars(reference_value).items() if inspect.isfunction(v)}
            assert list(stub_methods) == list(reference_methods), name
            for method, function in stub_methods.items():
                assert inspect.signature(function) == inspect.signature(reference_methods[method]), f"{name}.{method}"
                assert inspect.getdoc(function) == inspect.getdoc(reference_methods[method]), f"{name}.{method}"
        else:
            assert inspect.signature(stub_value) == inspect.signature(reference_value), name


@pytest.mark.parametrize("module_name", MODULE_NAMES)
def test_every_public_name_of_an_exercise_is_a_graded_item(module_name, modules):
    stub = _load(catalogue.EXERCISES_DIR / f"{module_name}.py", f"_stub2_{module_name}")
    items = [item.name for item in next(m for m in modules if m.name == module_name).items]
    assert list(_public(stub)) == items


@pytest.mark.parametrize("module_name", MODULE_NAMES)
def test_the_catalogue_read_without_importing_agrees_with_the_suite(module_name, modules):
    suite = engine.load_suite(module_name)
    info = next(m for m in modules if m.name == module_name)
    assert [(i.name, i.points, i.hint) for i in info.items] == \
        [(i.name, i.points, i.hint) for i in suite.items.values()]
    for item in suite.items.values():
        assert item.checks, f"{module_name}.{item.name} has no checks"
        assert item.hint, f"{module_name}.{item.name} has no hint"


def test_check_seeds_derive_from_check_names_and_differ():
    seeds = [check.seed for name in MODULE_NAMES for check in engine.load_suite(name).checks]
    assert len(set(seeds)) == len(seeds)
