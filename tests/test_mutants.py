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
    """(module, variant, whole module?) per variant. The first mutant of each item and every equivalent are graded
    on the whole module, which shows that a mistake in an item costs points nowhere but where it should; the
    item's other mutants change the same function body, so they are graded on the items that can feel it (the
    item and those that run it deliberately), which keeps this file's run to minutes."""
    cases = []
    for path in sorted(MUTANTS_DIR.glob("ex*.py")):
        definitions = importlib.import_module(f"tests.mutants.{path.stem}")
        seen: set[str] = set()
        for mutant in definitions.MUTANTS:
            cases.append(pytest.param(path.stem, mutant, mutant.item not in seen,
                                      id=f"{path.stem}:{mutant.item}:{mutant.description}"))
            seen.add(mutant.item)
        for equivalent in definitions.EQUIVALENTS:
            cases.append(pytest.param(path.stem, equivalent, True,
                                      id=f"{path.stem}:equivalent:{equivalent.description}"))
    return cases


def _grade_variant(grading_service, modules, tmp_path: Path, module_name: str, find: str, replace: str,
                   items: list[str] | None = None):
    source = (catalogue.SOLUTIONS_DIR / f"{module_name}.py").read_text(encoding="utf-8")
    (tmp_path / f"{module_name}.py").write_text(apply(source, find, replace), encoding="utf-8")
    number = module_name.split("_", 1)[0]
    selection = catalogue.select([f"{number}.{item}" for item in items] if items else [module_name], modules)
    report = grading_service.grade(tmp_path, selection)
    return {item.name: item for item in report.exercises[0].items}


def test_most_mutants_record_the_likely_mistake_their_feedback_must_name():
    """At least 80% of the mutants are diagnosed by name (each such mutant's test asserts its keyword)."""
    mutants = [case.values[1] for case in _cases() if isinstance(case.values[1], Mutant)]
    named = [mutant for mutant in mutants if mutant.likely]
    assert len(named) >= 0.8 * len(mutants), f"only {len(named)} of {len(mutants)} mutants record a likely mistake"


def _used_by(suite, name: str) -> set[str]:
    """The items whose student versions ``name``'s checks run (``uses=``), directly or not."""
    found: set[str] = set()
    frontier = set(suite.items[name].uses)
    while frontier:
        found |= frontier
        frontier = {used for item in frontier for used in suite.items[item].uses} - found
    return found


@pytest.mark.parametrize(("module_name", "variant", "whole_module"), _cases())
def test_a_variant_is_graded_as_its_kind(grading_service, modules, tmp_path, module_name, variant, whole_module):
    graded = None
    if not whole_module:  # the item, the items it runs (their verdicts shape its feedback), and those that run it
        suite = load_suite(module_name)
        graded = sorted({variant.item, *_used_by(suite, variant.item), *variant.also, *suite.users_of(variant.item)})
    items = _grade_variant(grading_service, modules, tmp_path, module_name, variant.find, variant.replace, graded)
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
