"""`grade check --show-output`: what the student's code printed during each check, bounded and printable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from grader import catalogue, report
from grader.cli import main

PRINTING_MODEL = '''
def model(t_u, w, b):
    """A correct model that talks: a line, escape sequences, a bell and undecodable bytes."""
    import sys
    print("model sees", tuple(t_u.shape))
    print("\\x1b[2J\\x1b[31mred\\x07 after the bell\\r")
    sys.stderr.write("to stderr\\n")
    sys.stdout.buffer.write(b"\\xff\\xfe raw bytes\\n")
    return w * t_u + b
'''

FLOODING_LOSS = '''
def loss_fn(t_p, t_c):
    """A correct loss that prints a megabyte."""
    print("y" * 1_000_000)
    return ((t_p - t_c) ** 2).mean()
'''


@pytest.fixture(scope="module")
def submission(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("printing")
    source = (catalogue.SOLUTIONS_DIR / "ex02_gradient_descent.py").read_text()
    (folder / "ex02_gradient_descent.py").write_text(source + PRINTING_MODEL + FLOODING_LOSS)
    return folder


def _check(submission: Path, *options: str) -> Result:
    result = CliRunner().invoke(main, ["check", "ex02.model", "ex02.loss_fn", "--submission", str(submission),
                                       *options])
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def shown(submission: Path) -> str:
    return _check(submission, "--show-output").output


@pytest.fixture(scope="module")
def not_shown(submission: Path) -> str:
    return _check(submission).output


def test_what_an_item_prints_is_shown_under_show_output_labelled_with_its_check(shown):
    assert "What your code printed (--show-output):" in shown
    assert '- ex02.model, check "model on 7 random float64 readings":' in shown
    assert "    model sees (7,)" in shown and "    to stderr" in shown
    assert shown.index("Total:") < shown.index("What your code printed")  # after the table


def test_without_show_output_nothing_the_code_printed_appears(not_shown, shown):
    assert "model sees" not in not_shown and "What your code printed" not in not_shown
    assert not_shown.splitlines()[:5] == shown.splitlines()[:5]  # the table itself is unchanged


def test_a_flood_of_output_is_cut_to_two_kib_per_check_with_a_count_of_the_rest(shown):
    lines = shown.splitlines()
    floods = [line.strip() for line in lines if set(line.strip()) == {"y"}]
    assert floods and all(len(line) == report.CHECK_OUTPUT_BYTES for line in floods)
    assert f"... ({1_000_001 - report.CHECK_OUTPUT_BYTES} more bytes)" in shown
    assert len(shown) < 4 * report.ITEM_OUTPUT_BYTES


def test_control_characters_and_escape_sequences_are_stripped_but_the_text_stays(shown):
    assert not any(char in shown for char in "\x1b\x07\r")
    assert "[2J[31mred after the bell" in shown
    assert "\ufffd\ufffd raw bytes" in shown  # undecodable bytes are replaced, never passed through


def test_the_json_document_carries_each_items_output_per_check(submission):
    document = json.loads(_check(submission, "--show-output", "--json").stdout)
    assert document["schema"] == 4
    items = {item["name"]: item for item in document["exercises"][0]["items"]}
    model_output = items["model"]["output"]
    assert [entry["check"] for entry in model_output] == [c.description for c in _model_checks()]
    assert model_output[0]["text"].startswith("model sees (11,)\n") and model_output[0]["more_bytes"] == 0
    flood = items["loss_fn"]["output"]
    assert sum(len(entry["text"]) for entry in flood) <= report.ITEM_OUTPUT_BYTES
    assert flood[0]["more_bytes"] == 1_000_001 - report.CHECK_OUTPUT_BYTES


def test_without_show_output_the_json_output_field_is_null(submission):
    document = json.loads(_check(submission, "--json").stdout)
    assert {item["output"] for item in document["exercises"][0]["items"]} == {None}


def test_an_items_output_is_bounded_per_check_and_per_item():
    printed = [(f"check {n}", "z" * 5000, 5000) for n in range(6)] + [("silent", "", 0)]
    shown = report.item_output(printed)
    assert [len(entry.text) for entry in shown] == [2048, 2048, 2048, 2048, 0, 0]
    assert [entry.more_bytes for entry in shown] == [2952, 2952, 2952, 2952, 5000, 5000]


def _model_checks() -> list:
    from grader.engine import load_suite

    return load_suite("ex02_gradient_descent").items["model"].checks
