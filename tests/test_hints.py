"""Hints come in steps: a nudge first, the next step with --more (remembered per item), the formula last;
an instructor can cap the steps a handout ships."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from grader import catalogue, hints, release
from grader.cli import main

THREE_STEPS = "Look at broadcasting.\n\nMultiply t_u by w, then add b.\n\nreturn w * t_u + b"


@pytest.fixture
def kit_with_a_three_step_hint(tmp_path, monkeypatch):
    """A folder holding exercises/ (where the progress file lives) and a catalogue whose ex02.model hint has three
    steps."""
    (tmp_path / "exercises").mkdir()
    monkeypatch.chdir(tmp_path)
    module = catalogue.ModuleInfo("ex02_gradient_descent", [catalogue.ItemInfo("model", 1, THREE_STEPS),
                                                            catalogue.ItemInfo("loss_fn", 1, "One step only.")])
    monkeypatch.setattr(catalogue, "load_catalogue", lambda: [module])
    return tmp_path


def test_a_hint_shows_its_nudge_first_and_more_adds_one_step_at_a_time_remembered_per_item(
        kit_with_a_three_step_hint):
    runner = CliRunner()
    first = runner.invoke(main, ["hint", "ex02.model"])
    assert first.exit_code == 0
    assert "Step 1 of 3: Look at broadcasting." in first.output
    assert "Multiply" not in first.output and "return w" not in first.output
    assert "`grade hint ex02.model --more` shows step 2 of 3" in first.output
    second = runner.invoke(main, ["hint", "ex02.model", "--more"])
    assert "Step 2 of 3: Multiply t_u by w, then add b." in second.output and "return w" not in second.output
    again = runner.invoke(main, ["hint", "ex02.model"])
    assert again.output == second.output, "asking again shows the steps already seen, no more"
    assert runner.invoke(main, ["hint", "ex02.loss_fn"]).output.strip().endswith("One step only.")
    last = runner.invoke(main, ["hint", "ex02.model", "--more"])
    assert "Step 3 of 3: return w * t_u + b" in last.output and "--more` shows" not in last.output
    beyond = runner.invoke(main, ["hint", "ex02.model", "--more"])
    assert "That was the last step" in beyond.output
    state = json.loads((kit_with_a_three_step_hint / ".grade-progress.json").read_text())
    assert state["hints"] == {"ex02.model": 3}


def test_grading_keeps_the_hint_steps_already_seen(kit_with_a_three_step_hint):
    from grader import progress
    from grader.report import ExerciseResult, GradeReport, ItemResult

    progress.record_hint_steps("ex02.model", 2)
    progress.record(GradeReport("exercises", "cpu", [ExerciseResult("ex02_gradient_descent", [
        ItemResult("model", 1.0, 1.0, "passed")])]))
    assert progress.load_hint_steps() == {"ex02.model": 2}
    assert progress.load() == {"ex02_gradient_descent.model": "passed"}


def test_capping_keeps_the_first_steps_only():
    assert hints.capped(THREE_STEPS, 1) == "Look at broadcasting."
    assert hints.steps_of(hints.capped(THREE_STEPS, 2)) == ["Look at broadcasting.", "Multiply t_u by w, then add b."]
    assert hints.capped(THREE_STEPS, None) == THREE_STEPS


def test_a_handout_released_with_hint_steps_ships_only_the_first_steps(tmp_path):
    out = tmp_path / "handout"
    release.build_handout(out, module_names=["ex03_autograd"], hint_steps=1)
    shipped = json.loads((out / "grader" / "catalogue.json").read_text())["modules"]
    assert [m["name"] for m in shipped] == ["ex03_autograd"]
    kit = next(m for m in catalogue.load_catalogue() if m.name == "ex03_autograd")
    for item, full in zip(shipped[0]["items"], kit.items):
        assert item["hint"] == hints.steps_of(full.hint)[0]


def test_every_item_has_a_nudge_before_its_formula():
    for module in catalogue.load_catalogue():
        for item in module.items:
            steps = hints.steps_of(item.hint)
            assert 2 <= len(steps) <= 3, f"{module.number}.{item.name}: a hint needs a nudge and the next steps"
            assert len(steps[0]) < len(item.hint), f"{module.number}.{item.name}: the nudge is not the whole hint"
