"""An item whose checks deliberately run the student's own helpers (``uses=``) says so when one of them does
not pass; items called through ``kit=`` get the kit's versions, and only a handout runs the student's own."""

from __future__ import annotations

import pytest

from grader.engine import load_suite
from grader.report import ItemResult
from grader.suite import Suite


def _suite() -> Suite:
    suite = Suite("ex06_data")
    for name in ("data_iter", "linreg", "sgd"):
        suite.item(name, points=1, hint="...")
    suite.item("train_linreg", points=3, hint="...", uses=("data_iter", "linreg", "sgd"))
    return suite


def test_an_item_can_only_use_items_declared_before_it():
    suite = Suite("ex06_data")
    with pytest.raises(ValueError, match="uses sgd: declare those items before it"):
        suite.item("train_linreg", points=3, hint="...", uses=("sgd",))


def test_a_failing_item_names_the_items_it_uses_that_do_not_pass_before_its_hint_line():
    results = [ItemResult("data_iter", 1, 1, "passed"), ItemResult("linreg", 0.5, 1, "partial"),
               ItemResult("sgd", 0, 1, "not_implemented"),
               ItemResult("train_linreg", 0, 3, "failed", ["a check: wrong w", "Hint: run `grade hint ex06.train_linreg`"])]
    _suite().explain_unpassed_uses("ex06", results)
    assert results[-1].feedback == [
        "a check: wrong w",
        ("The checks of train_linreg run your own linreg and sgd, which do not pass their own checks yet "
         "(ex06.linreg partial, ex06.sgd not implemented): fix them first, then run `grade check ex06.train_linreg`"),
        "Hint: run `grade hint ex06.train_linreg`",
    ]
    assert [r.feedback for r in results[:3]] == [[], [], []]


def test_a_passing_item_gets_no_such_line_even_when_an_item_it_uses_fails():
    results = [ItemResult("data_iter", 0, 1, "failed"), ItemResult("train_linreg", 3, 3, "passed")]
    _suite().explain_unpassed_uses("ex06", results)
    assert results[1].feedback == []


def test_items_it_uses_that_were_not_graded_in_this_run_are_named_with_the_command_that_grades_them():
    results = [ItemResult("train_linreg", 0, 3, "failed", ["a check: wrong w"])]
    _suite().explain_unpassed_uses("ex06", results)
    assert results[0].feedback[-1] == ("The checks of train_linreg run your own data_iter, linreg and sgd: run "
                                       "`grade check ex06` to see whether they pass their own checks")


def test_items_called_through_the_kit_do_not_run_the_student_s_version_except_in_a_handout():
    suite = load_suite("ex02_gradient_descent")
    assert suite.users_of("dloss_fn") == set()
    assert suite.users_of("dloss_fn", kit_too=True) == {"grad_fn", "training_loop"}
    assert suite.users_of("model", kit_too=True) == {"training_loop"}
    assert suite.users_of("training_loop", kit_too=True) == set()


def test_the_items_that_deliberately_run_an_item_are_found():
    assert load_suite("ex08_cnn").users_of("save_weights") == {"load_weights"}
    assert load_suite("ex09_training_loops").users_of("train_step") == {"fit"}


def test_an_item_is_called_either_in_the_kit_s_version_or_the_student_s_not_both():
    suite = Suite("ex06_data")
    suite.item("sgd", points=1, hint="...")
    with pytest.raises(ValueError, match="not both"):
        suite.item("train_linreg", points=3, hint="...", uses=("sgd",), kit=("sgd",))


def test_in_a_handout_an_item_names_the_kit_items_it_called_in_the_student_s_own_version():
    suite = Suite("ex02_gradient_descent")
    suite.item("dloss_fn", points=1, hint="...")
    suite.item("grad_fn", points=2, hint="...", kit=("dloss_fn",))
    results = [ItemResult("dloss_fn", 0, 1, "failed"), ItemResult("grad_fn", 0, 2, "failed", ["a check: wrong"])]
    suite.explain_unpassed_uses("ex02", results)
    assert results[1].feedback == ["a check: wrong"]
    suite.explain_unpassed_uses("ex02", results, kit_too=True)
    assert results[1].feedback[-1].startswith("The checks of grad_fn run your own dloss_fn")


def test_an_item_s_likely_mistake_gives_way_to_the_failing_piece_it_runs():
    results = [ItemResult("sgd", 0, 1, "failed"),
               ItemResult("train_linreg", 0, 3, "failed", ["a check: wrong w", "Likely mistake: a guess",
                                                           "Hint: run `grade hint ex06.train_linreg`"])]
    _suite().explain_unpassed_uses("ex06", results)
    assert not any(line.startswith("Likely mistake:") for line in results[1].feedback)
