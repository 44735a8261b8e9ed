"""`grade repro ITEM`: a script in the student's folder that reruns the item's first failing check."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from grader import catalogue, repro, worker
from grader.cli import main
from grader.compare import Tolerance
from grader.engine import CheckRecord, RecordedCall, load_suite

# each a deliberate mistake in a copy of the reference: (module, what to replace, its replacement)
MISTAKES = [
    ("ex02_gradient_descent", "2 * (t_p - t_c) / t_p.size(0)", "-2 * (t_p - t_c) / t_p.size(0)"),  # dloss_fn
    ("ex05_nn_modules", "param -= learning_rate * param.grad", "param += learning_rate * param.grad"),  # sgd_step
    ("ex08_cnn", '    if torch.cuda.is_available():\n        return torch.device("cuda")',
     '    if torch.cuda.is_available() and False:\n        return torch.device("cuda")'),  # pick_device
]


@pytest.fixture(scope="module")
def exercises(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A student's exercises/ folder: copies of the solutions, each with one sign or test changed."""
    folder = tmp_path_factory.mktemp("student") / "exercises"
    folder.mkdir()
    for module, right, wrong in MISTAKES:
        source = (catalogue.SOLUTIONS_DIR / f"{module}.py").read_text()
        assert source.count(right) == 1, (module, right)
        (folder / f"{module}.py").write_text(source.replace(right, wrong))
    return folder


def _repro(exercises: Path, item: str) -> str:
    result = CliRunner().invoke(main, ["repro", item, "--submission", str(exercises)])
    assert result.exit_code == 0, result.output
    return result.output


def _run_script(exercises: Path, name: str) -> str:
    """Run a written repro script as the student would: `python repro_....py` in their folder."""
    done = subprocess.run([sys.executable, name], check=False, cwd=exercises, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _reported(output: str) -> str:
    """The grader's sentence for the failing check, as `grade repro` quotes it (its second line)."""
    return output.splitlines()[1].strip()


def test_a_failing_call_is_written_as_a_script_that_prints_the_graders_expected_and_got(exercises):
    output = _repro(exercises, "ex02.dloss_fn")
    script = exercises / "repro_ex02_dloss_fn.py"
    assert script.is_file() and script.with_suffix(".pt").is_file()
    assert "expected 9.8, got -9.8" in _reported(output)
    text = script.read_text()
    assert "from ex02_gradient_descent import dloss_fn" in text and "got = dloss_fn(*case.args, **case.kwargs)" in text
    printed = _run_script(exercises, script.name)
    assert _reported(output) in printed.splitlines()  # the same sentence, from the student's own call now
    assert "expected: tensor([6.4000, 7.6182" in printed and "got:      tensor([-6.4000, -7.6182" in printed


def test_the_saved_inputs_are_the_very_tensors_the_check_passed(exercises):
    case = repro.load(str(exercises / "repro_ex02_dloss_fn.py"))
    t_c = torch.tensor([0.5, 14.0, 15.0, 28.0, 11.0, 8.0, 3.0, -4.0, 6.0, 13.0, 21.0])
    t_u = torch.tensor([35.7, 55.9, 58.2, 81.9, 56.3, 48.9, 33.9, 21.8, 48.4, 60.4, 68.4])
    assert len(case.args) == 2 and torch.equal(case.args[0], t_u) and torch.equal(case.args[1], t_c)


def test_a_check_on_a_built_model_reruns_the_checks_code_on_the_students_module(exercises):
    output = _repro(exercises, "ex05.sgd_step")
    script = exercises / "repro_ex05_sgd_step.py"
    text = script.read_text()
    assert "got = case.run_check(ex05_nn_modules)" in text
    assert "#     def sgd_step_linear(side: Side) -> object:" in text and "#     def _step(" in text  # how, by hand
    assert "['the parameters after the step']['weight']" in _reported(output)
    printed = _run_script(exercises, script.name)
    assert _reported(output) in printed.splitlines()
    assert "'the parameters after the step':" in printed


def test_a_check_through_a_fixture_reproduces_the_checks_own_failure(exercises):
    output = _repro(exercises, "ex08.pick_device")
    assert "pick_device() returned torch.device('cpu'); expected torch.device('cuda')" in _reported(output)
    printed = _run_script(exercises, "repro_ex08_pick_device.py")
    assert f"got:      the check's own test failed: {_reported(output)}" in printed.splitlines()
    assert "expected: 'cuda'" in printed


def test_nothing_is_written_when_every_check_of_the_item_passes(exercises):
    output = _repro(exercises, "ex02.loss_fn")
    assert "ex02.loss_fn passes every check: nothing to reproduce, nothing written." in output
    assert not list(exercises.glob("repro_ex02_loss_fn*"))


def test_inputs_that_cannot_be_saved_are_named_with_the_reason():
    inputs, problem = worker.snapshot_inputs([lambda x: x, (n for n in range(3))], {}, worker.RECORD_BYTES)
    assert inputs is None and "pickle" in problem


def test_a_check_whose_inputs_were_not_saved_gets_a_script_saying_so_and_how_to_call_it_by_hand():
    module = next(m for m in catalogue.load_catalogue() if m.name == "ex02_gradient_descent")
    check = load_suite(module.name).items["grad_fn"].checks[0]
    record = CheckRecord(check, [RecordedCall("grad_fn", None, "TypeError: cannot pickle 'generator' object")], 0,
                         None, None, "the result differs", Tolerance())
    text = repro._check_script(module, "grad_fn", check, repro._why_the_check_runs(record, "failed"))
    comments = " ".join(line.removeprefix("# ") for line in text.splitlines() if line.startswith("# "))
    assert "The inputs of grad_fn could not be saved (TypeError: cannot pickle 'generator' object)" in comments
    assert "To call grad_fn by hand, build its inputs as the code below does." in comments
    assert "#     def grad_fn_on_readings(side: Side) -> object:" in text
    compile(text, "repro.py", "exec")


def test_saved_inputs_keep_their_gradients_and_the_random_state_of_the_call(tmp_path):
    model = torch.nn.Linear(2, 1)
    model(torch.ones(1, 2)).sum().backward()
    torch.manual_seed(7)
    inputs, problem = worker.snapshot_inputs([model, 0.1], {"flag": True}, worker.RECORD_BYTES)
    assert problem is None
    expected_draw = torch.rand(3)
    data = {"format": repro.FORMAT, "module": "m", "number": "ex00", "item": "f", "check": "c", "description": "d",
            "device": "cpu", "forbid": [], "kit": [], "tolerance": Tolerance(), "expected": None, "message": "",
            "status": "failed", "calls": [["f", inputs.numpy().tobytes(), None]], "call": 0}
    case = repro.Case(data)
    loaded, rate = case.args
    assert rate == 0.1 and case.kwargs == {"flag": True}
    assert torch.equal(loaded.weight.grad, model.weight.grad) and torch.equal(loaded.bias.grad, model.bias.grad)
    torch.manual_seed(0)
    with case.rules():
        assert torch.equal(torch.rand(3), expected_draw)
