"""``grade repro ITEM``: a script, in the student's folder, that reruns the item's first failing check.

Two halves. :func:`write_repro` (the grader's side) grades the item with recording on: in the worker,
each call that a check makes to a function or class of the student's module keeps its inputs as
``torch.save`` wrote them, with their gradients and the random states of the moment
(:func:`grader.worker.snapshot_inputs`); the grader never loads those bytes, it writes them into
``repro_<exNN>_<item>.pt`` beside ``repro_<exNN>_<item>.py``, with the expected result of its own
comparison. :func:`load` (the script's side) reads them back when the student runs the script.

The script takes one of two shapes:

* *the call*: when what the check compared is exactly what one call returned (or raised), the script
  imports the student's function and calls it with the saved inputs, under the item's rules
  (``forbid``), so ``python -m pdb`` or a ``breakpoint()`` lands in the student's code at once;
* *the check*: when the check compares something it computes from several calls (a model's
  ``state_dict`` after a step, a fixture's observations), or the inputs could not be saved (a
  generator object, a lambda), or the worker stopped (a timeout), the script runs the check's own
  code on the student's module in this process, as the grader runs the reference, with the check's
  source in a comment that shows how to do it by hand.

Either way it prints expected and got and the grader's sentence for how they differ. Repro is a student
command: it grades with the checks the student has (the public ones in a handout, every check in the
instructor's kit), and ``grade batch`` and Gradescope never record anything.
"""

from __future__ import annotations

import ast
import contextlib
import inspect
import io
import random
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from grader import catalogue, report
from grader.compare import difference, normalize
from grader.guards import forbidden_calls

FORMAT = 1


# ---------------------------------------------------------------- the grader's side
@dataclass
class Written:
    """What ``grade repro`` did: a sentence or two for the terminal, and the files it wrote (none when
    nothing fails)."""

    message: str
    paths: tuple[Path, ...] = ()


def script_name(module: catalogue.ModuleInfo, item: str) -> str:
    """``repro_ex02_grad_fn.py``."""
    return f"repro_{module.number}_{item}.py"


def write_repro(folder: Path, module: catalogue.ModuleInfo, item: catalogue.ItemInfo, device: torch.device,
                store: object = None) -> Written:
    """Grade ``item`` of the submission in ``folder`` with recording on; write the repro of its first failing
    check into ``folder``, or say why there is nothing to reproduce (then nothing is written)."""
    from grader import engine

    qualified = f"{module.number}.{item.name}"
    selection = catalogue.Selection([module], {module.name: {item.name}})
    result = engine.grade(folder, selection, device, store=store, record=True)  # type: ignore[arg-type]
    exercise = result.exercises[0]
    graded = exercise.items[0]
    if exercise.error:
        return Written(f"{exercise.error}\nFix that first (`grade check {module.number}`); nothing written.")
    why_not = _nothing_to_reproduce(qualified, graded, module)
    if why_not:
        return Written(why_not)
    suite = engine.load_suite(module.name)
    check = next((c for c in suite.items[item.name].checks
                  if not getattr(result.check_outcomes.get(c.qualified_name), "passed", True)), None)
    if check is None:
        return Written(f"{qualified} is {graded.status}, but no single check of it fails: nothing to reproduce, "
                       "nothing written.")
    outcome = result.check_outcomes[check.qualified_name]
    message = outcome.message.removeprefix(f"{check.description}: ")  # as the script words it
    record = result.records.get(check.qualified_name)
    suite_item = suite.items[item.name]
    expected = record.expected if record is not None else \
        engine.ReferenceCache(store=store).expected(check, suite_item, device)  # type: ignore[arg-type]
    data = {
        "format": FORMAT, "module": module.name, "number": module.number, "item": item.name,
        "check": check.name, "description": check.description, "device": str(device),
        "forbid": list(suite_item.forbid), "kit": list(suite_item.kit) if catalogue.has_hidden_suites() else [],
        "tolerance": record.tolerance if record is not None else check.tolerance,
        "expected": expected, "message": message, "status": graded.status,
        "calls": [[call.function, call.inputs, call.problem] for call in (record.calls if record else [])],
    }
    direct = data["call"] = _direct_call(record)
    script = (_call_script(module, item.name, check, record.calls[direct].function, folder) if direct is not None
              else _check_script(module, item.name, check, _why_the_check_runs(record, graded.status)))
    base = folder / script_name(module, item.name)
    pt_path = base.with_suffix(".pt")
    torch.save(data, pt_path)
    base.write_text(script, encoding="utf-8")
    shown = report.printable(message).replace("\n", " ")
    return Written(
        f"{qualified} fails its check \"{check.description}\":\n    {shown}\n"
        f"Wrote {base} (its inputs and the expected result: {pt_path.name}). From {folder}:\n"
        f"    python {base.name}            prints expected and got\n"
        f"    python -m pdb {base.name}     steps through it (or put breakpoint() in your {item.name})",
        (base, pt_path))


def _nothing_to_reproduce(qualified: str, graded: report.ItemResult, module: catalogue.ModuleInfo) -> str | None:
    """Why an item's status leaves nothing to reproduce (None when a check of it fails)."""
    if graded.status == "passed":
        return f"{qualified} passes every check: nothing to reproduce, nothing written."
    if graded.status == "not_implemented":
        return (f"{qualified} is not implemented yet: replace its `raise NotImplementedError` in "
                f"{module.name}.py first; nothing written.")
    if graded.status == "missing":
        return f"{graded.feedback[0] if graded.feedback else qualified + ' is missing.'} Nothing written."
    if graded.status == "not_graded":
        return f"no check of {qualified} runs here ({'; '.join(graded.feedback)}); nothing written."
    return None


def _direct_call(record: object) -> int | None:
    """The index of the recorded call that the script can make itself, or None."""
    if record is None or record.result_of is None:  # type: ignore[attr-defined]
        return None
    call = record.calls[record.result_of]  # type: ignore[attr-defined]
    return record.result_of if call.inputs is not None and call.function.isidentifier() else None  # type: ignore


def _why_the_check_runs(record: object, status: str) -> str:
    """Why the script runs the check's code rather than one call, in words for its header."""
    if record is None:
        what = {"timeout": "timed out", "crashed": "crashed"}.get(status, "stopped")
        return (f"When graded, the check {what}, so its inputs were not recorded: this script runs the check's "
                "code on your module (it may not end either: press Ctrl-C to stop it, and `where` in pdb shows "
                "where it was).")
    if record.result_of is not None:  # type: ignore[attr-defined]
        call = record.calls[record.result_of]  # type: ignore[attr-defined]
        return (f"The inputs of {call.function} could not be saved ({call.problem}): this script runs the check's "
                f"code on your module, which builds them the same way. To call {call.function} by hand, build its "
                "inputs as the code below does.")
    return ("The check compares what it computes from your code's results (not one return value): this script "
            "runs the check's code on your module, in this process, as the grader runs it.")


def _comment(text: str, prefix: str = "# ", wrap: bool = True) -> str:
    """``text`` as comment lines, made printable: nothing in it can end the comment or change the code."""
    lines = report.printable(text).split("\n")
    if wrap:
        lines = [part for line in lines for part in textwrap.wrap(line, 100 - len(prefix)) or [""]]
    return "\n".join((prefix + line).rstrip() for line in lines)


def _header(module: catalogue.ModuleInfo, item: str, check: object, how: str) -> str:
    qualified = f"{module.number}.{item}"
    name = script_name(module, item)
    return (
        f'"""Rerun the first failing check of {qualified} on your code: `python {name}`.\n\n'
        f"Written by `grade repro {qualified}`; its inputs and the expected result are in {name[:-3]}.pt.\n"
        f"It prints expected and got. Debug it with `python -m pdb {name}`, or put breakpoint() in your\n"
        f"{item} and run it with python. It runs your code outside the grader's sandbox.\n"
        '"""\n'
        f"{_comment('The check: ' + check.description)}\n"  # type: ignore[attr-defined]
        f"{_comment(how)}\n"
    )


def _call_script(module: catalogue.ModuleInfo, item: str, check: object, function: str, folder: Path) -> str:
    """The script that calls the student's ``function`` with the saved inputs."""
    line = _first_line_of(folder / f"{module.name}.py", function)
    where = (f"# With pdb: `b {module.name}.py:{line}`, then `c`, stops in {function}.\n" if line else "")
    how = (f"It calls your {function} with the very inputs the check gave it, in the state torch was in "
           "(random states, grad mode), under the item's rules.")
    return (
        _header(module, item, check, how) + where + "\n"
        "from grader import repro\n\n"
        f"from {module.name} import {function}\n\n"
        "case = repro.load(__file__)  # the saved inputs: case.args, case.kwargs\n"
        "with case.rules():  # the random states, grad mode and forbidden calls of the moment it was called\n"
        f"    got = {function}(*case.args, **case.kwargs)\n"
        "case.report(got)  # prints expected and got, and how they differ\n"
    )


def _check_script(module: catalogue.ModuleInfo, item: str, check: object, why: str) -> str:
    """The script that runs the check's own code on the student's module."""
    try:
        source = "\n\n".join(_sources(check.function))  # type: ignore[attr-defined]
        where = f"{Path(inspect.getsourcefile(check.function) or '?').name}"  # type: ignore[attr-defined]
    except (OSError, TypeError):
        source, where = "(its source is not available here)", "?"
    return (
        _header(module, item, check, why) + "#\n"
        f"# The check's code (from {where}); `side.module` is your {module.name}:\n#\n"
        f"{_comment(source.rstrip(), prefix='#     ', wrap=False)}\n\n"
        "from grader import repro\n\n"
        f"import {module.name}\n\n"
        "case = repro.load(__file__)  # the expected result, and the inputs recorded when graded (case.calls)\n"
        f"got = case.run_check({module.name})  # the check's code above, on your module\n"
        "case.report(got)  # prints expected and got, and how they differ\n"
    )


def _sources(function: object, depth: int = 2) -> list[str]:
    """The source of ``function`` and of the functions of its own module that it calls (two levels deep)."""
    module = inspect.getmodule(function)
    found: list[object] = [function]
    frontier = [function]
    for _ in range(depth):
        names = {node.id for f in frontier for node in ast.walk(ast.parse(textwrap.dedent(inspect.getsource(f))))
                 if isinstance(node, ast.Name)}
        frontier = [helper for name in sorted(names) if inspect.isfunction(helper := getattr(module, name, None))
                    and helper.__module__ == function.__module__ and helper not in found]  # type: ignore[attr-defined]
        found.extend(frontier)
    return [inspect.getsource(f).rstrip() for f in found]  # type: ignore[arg-type]


def _first_line_of(path: Path, name: str) -> int | None:
    """The line of the first statement of function ``name`` in ``path`` (after its docstring), read without
    running it; None when there is no such function."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return None
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name and node.body:
            body = node.body
            if len(body) > 1 and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                body = body[1:]
            return body[0].lineno
    return None


# ---------------------------------------------------------------- the script's side
@dataclass
class CheckFailure:
    """The check's own assertion failed (what ``Side.expect`` says), instead of a result to compare."""

    message: str


class Case:
    """A failing check as ``grade repro`` saved it; what a repro script uses.

    Attributes:
        args, kwargs: the inputs of the call the script makes (a "call" script only).
        expected: the reference's result, as the grader compared it.
    """

    def __init__(self, data: dict) -> None:
        if data.get("format") != FORMAT:
            raise RuntimeError("this repro file was written by another version of the grader: run `grade repro` "
                               "again")
        self.data = data
        self.expected = data["expected"]
        self.args: list = []
        self.kwargs: dict = {}
        self._state: dict = {}
        if data["call"] is not None:
            self._state = _loaded(data["calls"][data["call"]][1])[2]
            self.args, self.kwargs = list(self._state["args"]), dict(self._state["kwargs"])

    @property
    def calls(self) -> list[tuple[str, object, object]]:
        """``(function, args, kwargs)`` of each call the check made to your module when graded (None, None where
        its inputs could not be saved)."""
        return [(function, *_loaded(inputs)[:2]) for function, inputs, _ in self.data["calls"]]

    @property
    def qualified(self) -> str:
        return f"{self.data['number']}.{self.data['item']}"

    @contextlib.contextmanager
    def rules(self) -> Iterator[None]:
        """The state the check's call found: random states, grad mode, default dtype; and the item's forbidden
        calls switched off, as while graded."""
        state = self._state
        if state:
            _set_rng(state["rng"])
            torch.set_grad_enabled(bool(state["grad_enabled"]))
            torch.set_default_dtype(state["default_dtype"])
        try:
            with forbidden_calls(tuple(self.data["forbid"]), f"{self.data['module']}.{self.data['item']}"):
                yield
        except BaseException:  # the call raised, as when graded: say what was expected, then the traceback
            self._header()
            print(f"got:      {self.data['calls'][self.data['call']][0] if self.data['call'] is not None else 'it'} "
                  "raised (the traceback follows)")
            raise

    def run_check(self, module: object) -> object:
        """Run the check's own code on ``module`` (your exercise module) here, as the grader runs the reference:
        the same seeds, the item's forbidden calls switched off. Its result, or a :class:`CheckFailure`."""
        from grader import engine
        from grader.suite import CheckFailed, Side

        suite = engine.load_suite(self.data["module"])
        item = suite.items[self.data["item"]]
        check = next(c for c in item.checks if c.name == self.data["check"])
        engine._seed_everything(check.seed)
        side = Side(module, torch.device(self.data["device"]), check.seed, engine._local_build)
        try:
            with forbidden_calls(item.forbid, f"{self.data['module']}.{item.name}"):
                return check.function(side)
        except CheckFailed as failure:
            return CheckFailure(str(failure))

    def report(self, got: object) -> None:
        """Print expected and got, and the grader's sentence for how they differ (or that they match now)."""
        self._header()
        if isinstance(got, CheckFailure):
            print(f"got:      the check's own test failed: {got.message}")
            now: str | None = got.message
        else:
            got = normalize(got)
            print(f"got:     {_shown(got)}")
            now = difference(self.expected, got, "the result", self.data["tolerance"])
            print(now if now is not None else "They match: this check passes now.")
        if now != self.data["message"]:
            print(f"When graded: {self.data['message']}")


    def _header(self) -> None:
        print(f"{self.qualified}, check: {self.data['description']}")
        if self.data["kit"]:
            print(f"Note: when graded, its calls to {', '.join(self.data['kit'])} reached the kit's versions; here "
                  "they run yours. If those do not pass their own checks, fix them first.")
        print(f"expected:{_shown(self.expected)}")


def load(script: str) -> Case:
    """The case saved beside ``script`` (``repro_ex02_grad_fn.py`` reads ``repro_ex02_grad_fn.pt``).

    The file holds what your own code's process saved (it is loaded with ``weights_only=False``, so it may
    rebuild your classes): load only repro files that ``grade repro`` wrote for you.
    """
    path = Path(script).with_suffix(".pt")
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run `grade repro` again to write it")
    return Case(torch.load(path, weights_only=False))


def _loaded(inputs: bytes | None) -> tuple[object, object, dict]:
    """``(args, kwargs, state)`` of one recorded call, each ``.grad`` put back (``torch.save`` drops it);
    ``(None, None, {})`` when its inputs were not saved."""
    if inputs is None:
        return None, None, {}
    state = torch.load(io.BytesIO(inputs), weights_only=False)
    for tensor, grad in state["grads"]:
        tensor.grad = grad
    return state["args"], state["kwargs"], state


def _set_rng(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["random"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _shown(value: object) -> str:
    """A value as the script prints it after a label: a dict one entry per line."""
    if type(value) is dict and value:
        return "\n" + "\n".join(f"    {key!r}: {_indented(repr(part))}" for key, part in value.items())
    return " " + _indented(repr(value))


def _indented(text: str) -> str:
    return text.replace("\n", "\n    ")
