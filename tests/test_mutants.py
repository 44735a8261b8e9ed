"""Every typical wrong answer loses points on its item, and elsewhere only on the items whose checks
deliberately run it (listed beside it); every correct variant keeps full marks; most are named by a
``Likely mistake:`` line."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from grader import catalogue
from grader.engine import load_suite
from tests.mutants import Equivalent, Mutant, apply

MUTANTS_DIR = Path(__file__).parent / "mutants"


def _cases() -> list:
    cases = []
    for path in sorted(MUTANTS_DIR.glob("ex*.py")):
        definitions = importlib.import_module(f"tests.mutants.{path.stem}")
        for mutant in definitions.MUTANTS:
            cases.append(pytest.param(path.stem, mutant, id=f"{path.stem}:{mutant.item}:{mutant.description}"))
        for equivalent in definitions.EQUIVALENTS:
            cases.append(pytest.param(path.stem, equivalent, id=f"{path.stem}:equivalent:{equivalent.description}"))
    return cases


def _grade_variant(grading_service, modules, tmp_path: Path, module_name: str, find: str, replace: str):
    source = (catalogue.SOLUTIONS_DIR / f"{module_name}.py").read_text(encoding="utf-8")
    (tmp_path / f"{module_name}.py").write_text(apply(source, find, replace), encoding="utf-8")
    selection = catalogue.select([module_name], modules)
    report = grading_service.grade(tmp_path, selection)
    return {item.name: item for item in report.exercises[0].items}


def test_most_mutants_record_the_likely_mistake_their_feedback_must_name():
    """At least 80% of the mutants are diagnosed by name (each such mutant's test asserts its keyword)."""
    mutants = [case.values[1] for case in _cases() if isinstance(case.values[1], Mutant)]
    named = [mutant for mutant in mutants if mutant.likely]
    assert len(named) >= 0.8 * len(mutants), f"only {len(named)} of {len(mutants)} mutants record a likely mistake"


@pytest.mark.parametrize(("module_name", "variant"), _cases())
def test_a_variant_is_graded_as_its_kind(grading_service, modules, tmp_path, module_name, variant):
    items = _grade_variant(grading_service, modules, tmp_path, module_name, variant.find, variant.replace)
    if isinstance(variant, Mutant):
        broken = items[variant.item]
        assert broken.score < broken.max_score, f"the mutant '{variant.description}' kept full marks"
        assert broken.feedback, "a lost point must come with feedback"
        if variant.likely is not None:
            likely = [line for line in broken.feedback if line.startswith("Likely mistake:")]
            assert any(variant.likely.lower() in line.lower() for line in likely), (
                f"the feedback for '{variant.description}' does not name it in a 'Likely mistake:' line "
                f"containing {variant.likely!r}: {broken.feedback}")
        suite = load_suite(module_name)
        users = suite.users_of(variant.item)
        assert set(variant.also) <= users, (
            f"the mutant '{variant.description}' lists {sorted(set(variant.also) - users)} in also=, but their checks "
            f"do not run the student's own {variant.item} (they would need uses= in the suite)")
        others = {name: (i.status, i.feedback) for name, i in items.items()
                  if name != variant.item and i.score != i.max_score}
        assert set(others) == set(variant.also), (
            f"the mutant of {variant.item} cost points on {sorted(others)}, but its list of items that deliberately "
            f"run it says {sorted(variant.also)}: {others}")
        unexplained = {name: items[name].feedback for name in variant.also
                       if not any(line.startswith(f"The checks of {name} run your own") for line in items[name].feedback)}
        assert not unexplained, f"an item that runs a failing item does not name it in its feedback: {unexplained}"
    else:
        assert isinstance(variant, Equivalent)
        lost = {name: (i.status, i.feedback) for name, i in items.items() if i.score != i.max_score}
        assert not lost, f"the correct variant '{variant.description}' lost points: {lost}"
