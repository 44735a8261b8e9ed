"""The grading pipeline: load suites and references, run each check on both sides, score items.

Read top to bottom: :func:`grade` stages the submission, starts one sandboxed worker, and for each
selected module imports the student's code (import failures become per-item statuses), then runs
every check of every item twice, once on the reference in this process (cached: once per check
and device for a whole batch) and once on the student's worker, and turns the comparisons into
item statuses, scores and feedback. Nothing in here executes student code.
"""

from __future__ import annotations

import importlib.util
import inspect
import itertools
import re
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import torch

from grader import catalogue, diagnose, files, report, sandbox, wire, zygote_client
from grader.compare import Tolerance, difference, leaves, normalize
from grader.guards import forbidden_calls
from grader.kit_versions import KitVersionServer
from grader.mistakes import LIKELY, Mistakes, WithMistake
from grader.reference_store import ReferenceStore
from grader.staging import UntouchedModules, stage_submission
from grader.remote import (
    DEFAULT_MEMORY_LIMIT,
    Call,
    GraderUnavailable,
    RemoteConnection,
    RemoteModule,
    StudentError,
    WorkerCrashed,
    WorkerSession,
    WorkerTimeout,
    ZygoteClient,
)
from grader.suite import Check, CheckFailed, Item, Side, Suite, and_join, resolve_build_path

IMPORT_TIMEOUT = 20.0
WALL_CLOCK_FACTOR = 3.0  # CPU time is the limit; wall-clock time only a backstop against sleeping
MAX_FEEDBACK_PER_ITEM = 3


class KitError(RuntimeError):
    """The kit itself is broken (a reference fails its own check): not the student's fault."""


def pick_device(requested: str) -> torch.device:
    """``auto`` means cuda, then mps, then cpu; an unavailable explicit choice is a usage error."""
    if requested == "auto":
        if not catalogue.has_hidden_suites():
            return torch.device("cpu")  # a handout's stored expectations were computed on the CPU
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if requested == "cuda" and not torch.cuda.is_available():
        raise catalogue.UsageError("--device cuda: no CUDA GPU is available here; use --device cpu or auto")
    if requested == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise catalogue.UsageError("--device mps: Apple's MPS is not available here; use --device cpu or auto")
    if requested not in ("cpu", "cuda", "mps"):
        raise catalogue.UsageError(f"unknown device {requested!r}: use auto, cpu, cuda or mps")
    return torch.device(requested)


# ---------------------------------------------------------------- loading trusted code
_LOAD_LOCK = threading.RLock()


def _load_file(qualified: str, path: Path) -> ModuleType:
    with _LOAD_LOCK:
        if qualified in sys.modules:
            return sys.modules[qualified]
        spec = importlib.util.spec_from_file_location(qualified, path)
        if spec is None or spec.loader is None:
            raise KitError(f"cannot load {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[qualified] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[qualified]
            raise
        return module


def load_suite(module_name: str) -> Suite:
    """The hidden suite of an exercise module."""
    module = _load_file(f"_hidden_suites.{module_name}", catalogue.suite_path(module_name))
    suite = getattr(module, "suite", None)
    if not isinstance(suite, Suite):
        raise KitError(f"{module_name}: the hidden suite defines no `suite = Suite(...)`")
    return suite


def load_mistakes(module_name: str) -> Mistakes:
    """The catalogued typical mistakes of an exercise module (none in a handout, or when it has no file)."""
    path = catalogue.SUITES_DIR / "mistakes" / f"{module_name}.py"
    if not catalogue.has_hidden_suites() or not path.is_file():
        return Mistakes(module_name)
    module = _load_file(f"_hidden_mistakes.{module_name}", path)
    mistakes = getattr(module, "mistakes", None)
    if not isinstance(mistakes, Mistakes) or mistakes.module != module_name:
        raise KitError(f"{path} defines no `mistakes = Mistakes({module_name!r})`")
    return mistakes


def load_reference(module_name: str) -> ModuleType:
    """The reference solution of an exercise module (imported in this trusted process only)."""
    return _load_file(f"_reference_solutions.{module_name}", catalogue.SOLUTIONS_DIR / f"{module_name}.py")


# ---------------------------------------------------------------- the reference side
class ReferenceCache:
    """Expected observations, computed once per check and device, shared by a whole batch."""

    def __init__(self, on_first_miss: Callable[[ReferenceCache], None] | None = None,
                 store: ReferenceStore | None = None) -> None:
        """``on_first_miss`` is called once, when a result is first missing (a batch job loads the
        results its parent computes meanwhile; submissions that need none never wait for them).
        ``store`` keeps results on disk between runs (the student's loop; see :mod:`grader.reference_store`)."""
        self._values: dict[tuple[str, str], object] = {}
        self._lock = threading.RLock()
        self._stored: dict[str, object] | None = None
        self._on_first_miss = on_first_miss
        self._store = store if catalogue.has_hidden_suites() else None  # a handout's results are data already
        self._read_from_store: set[tuple[str, str]] = set()
        self._unsaved: set[tuple[str, str]] = set()

    def preload(self, module: str, device: torch.device) -> None:
        """Read the module's stored results, if there is a store and they were not read yet (before any
        submission's code runs)."""
        with self._lock:
            if self._store is None or (module, str(device)) in self._read_from_store:
                return
            self._read_from_store.add((module, str(device)))
            for name, value in self._store.load(module, device).items():
                self._values.setdefault((name, str(device)), _to_device(value, device))

    def save(self) -> None:
        """Write the results computed since the last save into the store (nothing without one)."""
        with self._lock:
            if self._store is None:
                return
            for module, device in sorted(self._unsaved):
                names = {name: value for (name, where), value in self._values.items()
                         if where == device and _module_of(name) == module}
                self._store.save(module, torch.device(device), names)
            self._unsaved.clear()

    def _computed(self, key: tuple[str, str], value: object) -> object:
        self._values[key] = value
        if self._store is not None:
            self._unsaved.add((_module_of(key[0]), key[1]))
        return value

    def expected(self, check: Check, item: Item, device: torch.device) -> object:
        key = (check.qualified_name, str(device))
        with self._lock:
            self.preload(check.module, device)
            if key not in self._values and self._on_first_miss is not None:
                on_first_miss, self._on_first_miss = self._on_first_miss, None
                on_first_miss(self)
            if key not in self._values:
                if catalogue.has_hidden_suites():
                    self._computed(key, self._run(check, item, device))
                else:
                    self._values[key] = self._from_handout(check, device)
            return self._values[key]

    def mistaken(self, check: Check, item: Item, device: torch.device) -> list[list]:
        """What each catalogued mistake of ``item`` produces on ``check``: ``[sentence, kind, what]`` lists.

        ``kind`` is ``"result"`` (``what`` is the returned value), ``"failed"`` (the check's own assertion
        failed with message ``what``) or ``"raised"`` (``what`` is ``"Type: message"``). Only mistakes this
        check tells from the right answer are listed. Computed once per check and device.
        """
        return self._derived(MISTAKES_KEY, check, device, lambda: self._run_mistakes(check, item, device), [])

    def _run_mistakes(self, check: Check, item: Item, device: torch.device) -> list[list]:
        expected = self.expected(check, item, device)
        reference = load_reference(check.module)
        found: list[list] = []
        for mistake in load_mistakes(check.module).for_item(item.name):
            try:
                replacement = mistake.factory(reference)
            except Exception as error:
                raise KitError(f"the catalogued mistake {mistake.sentence!r} of {check.module}.{item.name} cannot be "
                               f"built: {type(error).__name__}: {error}") from error
            _seed_everything(check.seed)
            try:
                module = WithMistake(reference, item.name, replacement)
                side = Side(module, device, check.seed, _local_build)
                with forbidden_calls(item.forbid, f"{check.module}.{item.name}"), warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # a mistake's warnings are not the student's to read
                    result = normalize(check.function(side))
            except CheckFailed as failure:
                found.append([mistake.sentence, "failed", str(failure)])
                continue
            except Exception as error:  # what the student's code would raise, as words
                found.append([mistake.sentence, "raised", _raised_words(type(error).__name__, str(error))])
                continue
            if difference(expected, result, "the result", check.tolerance) is not None:
                found.append([mistake.sentence, "result", result])
        _seed_everything(check.seed)
        return found

    def load(self, path: Path, device: torch.device) -> None:
        """Take expected results written by :func:`write_expected` (a batch's job processes)."""
        stored = wire.loads_untrusted(path.read_bytes())
        with self._lock:
            for name, node in stored.items():
                self._values[(name, str(device))] = _to_device(wire.Decoder().decode(node), device)

    def _from_handout(self, check: Check, device: torch.device, prefix: str = "",
                      default: object = KeyError) -> object:
        """A public check's expected result (or its mistakes' results, under ``prefix``), stored by
        ``grade release`` (a handout has no reference)."""
        if self._stored is None:
            self._stored = wire.loads_untrusted(catalogue.PUBLIC_EXPECTED.read_bytes())
        node = self._stored.get(prefix + check.qualified_name)
        if node is None and default is not KeyError:
            return default
        if node is None:
            raise KitError(f"the handout has no stored result for {check.qualified_name}: rebuild it with "
                           "`grade release`")
        return _to_device(wire.Decoder().decode(node), device)

    def conditioning(self, check: Check, item: Item, device: torch.device) -> dict[str, float]:
        """How far a correct float computation may stray on this check's own inputs, per part of the result.

        The reference is run twice more with its inputs in float64: as written, and moved by their own
        rounding error. For each float32 (or half) part of the expected result, the larger of the float32
        reference's own error and the inputs' sensitivity, times ``CONDITIONING_FACTOR``, is the slack
        added to that part's absolute tolerance: ``standardize`` of values near 1e4 (ill-conditioned) gets
        room for any correct float32 algorithm; a well-conditioned check gets next to none. A part whose
        float64 runs disagree beyond a sane bound gets none (those runs took another path, not a rounding
        difference). Computed once per check and device, only for a check that a student failed.
        """
        return self._derived(CONDITIONING_KEY, check, device, lambda: self._measure_conditioning(check, item, device),
                             {})

    def _derived(self, prefix: str, check: Check, device: torch.device, compute: Callable[[], object],
                 in_handout_without: object) -> Any:
        """A value derived from a check's reference runs, computed once per check and device (in a handout,
        which has no reference, read from what ``grade release`` stored under ``prefix``)."""
        key = (f"{prefix}{check.qualified_name}", str(device))
        with self._lock:
            self.preload(check.module, device)
            if key not in self._values:
                if catalogue.has_hidden_suites():
                    self._computed(key, compute())
                else:
                    self._values[key] = self._from_handout(check, device, prefix, default=in_handout_without)
            return self._values[key]

    def _measure_conditioning(self, check: Check, item: Item, device: torch.device) -> dict[str, float]:
        low_precision = {where: value for where, value in leaves(self.expected(check, item, device)).items()
                         if type(value) is float or value.dtype in (torch.float32, torch.float16, torch.bfloat16)}
        if not low_precision:
            return {}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                in_float64 = leaves(self._run(check, item, device, "float64"))
                perturbed = leaves(self._run(check, item, device, "perturbed"))
        except Exception:  # a check that only works as written: no slack
            return {}
        finally:
            _seed_everything(check.seed)
        slack = {}
        for where, value in low_precision.items():
            error = _float64_gap(value, in_float64.get(where), perturbed.get(where))
            if error is not None and error > 0:
                slack[where] = CONDITIONING_FACTOR * error
        return slack

    @staticmethod
    def _run(check: Check, item: Item, device: torch.device, precision: str = "as_written") -> object:
        reference = load_reference(check.module)
        _seed_everything(check.seed)
        side = Side(reference, device, check.seed, _local_build, precision)
        try:
            with forbidden_calls(item.forbid, f"{check.module}.{item.name}"):
                return normalize(check.function(side))
        except Exception as error:
            if precision != "as_written":
                raise
            raise KitError(f"the reference solution fails its own check {check.qualified_name}: "
                           f"{type(error).__name__}: {error}") from error


def _module_of(name: str) -> str:
    """``ex02_gradient_descent`` for ``ex02_gradient_descent.check`` and ``mistakes::ex02_gradient_descent.check``."""
    return name.rsplit("::", 1)[-1].split(".", 1)[0]


MISTAKES_KEY = "mistakes::"  # stored results of a check's catalogued mistakes: [[sentence, kind, what], ...]
CONDITIONING_KEY = "conditioning::"  # stored slack of a check's float parts: {where: extra absolute tolerance}
CONDITIONING_FACTOR = 8.0
CONDITIONING_BOUND = 1e-2  # slack beyond this fraction of a part's size means the float64 runs differ in kind


def _float64_gap(value: object, in_float64: object, perturbed: object) -> float | None:
    """The largest of |float32 result - float64 result| and |float64 - float64 of perturbed inputs|, or
    None when the parts cannot be compared or differ by more than rounding can explain."""
    try:
        parts = [torch.as_tensor(v).detach().cpu().double() for v in (value, in_float64, perturbed)]
    except (TypeError, RuntimeError, ValueError):
        return None
    if len({p.shape for p in parts}) != 1 or parts[0].numel() == 0:
        return None
    if not all(bool(p.isfinite().all()) for p in parts):
        return None
    gap = max(float((parts[0] - parts[1]).abs().max()), float((parts[1] - parts[2]).abs().max()))
    size = float(parts[1].abs().max())
    if gap * CONDITIONING_FACTOR > CONDITIONING_BOUND * max(size, 1e-30):
        return None
    return gap


def write_expected(selection: catalogue.Selection, device: torch.device, path: Path) -> None:
    """Compute every selected check's reference result once and store it as data in ``path``."""
    cache = ReferenceCache()
    stored = {}
    for module in selection.modules:
        suite = load_suite(module.name)
        for item in suite.items.values():
            wanted = selection.items[module.name]
            if wanted is not None and item.name not in wanted:
                continue
            for check in item.checks:
                if check.requires == "cuda" and device.type != "cuda":
                    continue
                stored[check.qualified_name] = wire.encode_data(cache.expected(check, item, device))
    path.write_bytes(wire.dumps(stored))


def _to_device(value: object, device: torch.device) -> object:
    if type(value) is torch.Tensor:
        return value.to(device)
    if type(value) in (list, tuple):
        return type(value)(_to_device(v, device) for v in value)
    if type(value) is dict:
        return {k: _to_device(v, device) for k, v in value.items()}
    return value


def _raised_words(type_name: str, message: str) -> str:
    """An exception as compared between a mistake's run and the student's: its class name and message."""
    return f"{type_name.rsplit('.', 1)[-1]}: {message[:300]}"


def _seed_everything(seed: int) -> None:
    import random

    torch.set_grad_enabled(True)
    torch.set_default_dtype(torch.float32)
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


def _local_build(path: str, *args: object, **kwargs: object) -> object:
    return resolve_build_path(path)(*args, **kwargs)


# ---------------------------------------------------------------- the student side
@dataclass
class CheckOutcome:
    passed: bool
    message: str = ""
    not_implemented: bool = False
    likely: str | None = None
    """A general relation that explains a wrong result (a factor, a transpose...), when one is recognised."""
    catalogued: tuple[str, ...] = ()
    """The sentences of the item's catalogued mistakes that do on this check what the student's code did."""


COLLECT_SECONDS = 5.0  # to hand over what a check printed and recorded (a few KiB, at most the record's 16 MiB)


@dataclass
class RecordedCall:
    """One call that a check made to a function or class of the student's module (``grade repro``)."""

    function: str
    inputs: bytes | None
    """Its arguments as ``torch.save`` wrote them in the worker (never loaded here), or None."""
    problem: str | None
    """Why they could not be saved, when they could not ("TypeError: cannot pickle 'generator' object")."""


@dataclass
class Collected:
    """What the worker hands over after a check: its printed output and its recorded calls."""

    output: str
    output_bytes: int
    calls: list[RecordedCall]

    @classmethod
    def from_worker(cls, value: object) -> Collected | None:
        """Validate the worker's answer (untrusted data); None when it is malformed."""
        if type(value) is not dict or type(value.get("output")) is not str or type(value.get("output_bytes")) is not int \
                or type(value.get("calls")) is not list:
            return None
        calls = []
        for entry in value["calls"]:
            if type(entry) is not dict or type(entry.get("function")) is not str:
                return None
            inputs, problem = entry.get("inputs"), entry.get("problem")
            if inputs is not None and not (type(inputs) is torch.Tensor and inputs.dtype == torch.uint8
                                           and inputs.dim() == 1 and inputs.device.type == "cpu"):
                return None
            calls.append(RecordedCall(entry["function"][:200], None if inputs is None else inputs.numpy().tobytes(),
                                      problem[:300] if type(problem) is str else None))
        text = value["output"][:report.CHECK_OUTPUT_BYTES]
        return cls(text, max(value["output_bytes"], len(text.encode("utf-8", errors="replace"))), calls)


@dataclass
class CheckRecord:
    """What ``grade repro`` needs of a failing check: the recorded calls and the grader's comparison."""

    check: Check
    calls: list[RecordedCall]
    result_of: int | None
    """The index in ``calls`` of the call whose return value the check compared (or whose exception failed the
    check), when the check compared exactly that; None when it compared something it computed from several calls."""
    expected: object
    got: object
    """The student's result as the check normalised it (None when the check did not return)."""
    message: str
    tolerance: Tolerance
    """The tolerance the comparison used (widened where the inputs' conditioning allows)."""


class ItemCalls:
    """The grader's side of a recording: what each call of a module's function in one check returned or raised.

    It wraps ``connection.call`` so that, at the end of the check, :meth:`result_of` can tell whether what the
    check compared is exactly one call's return value (or its exception).
    """

    def __init__(self, connection: RemoteConnection) -> None:
        self.results: list[object] = []
        self.raised: dict[int, StudentError] = {}
        plain = connection.call

        def call(target: list, args: tuple, kwargs: dict) -> object:
            if target[0] != "module" or len(target) != 3:
                return plain(target, args, kwargs)
            index = len(self.results)
            self.results.append(None)
            try:
                self.results[index] = plain(target, args, kwargs)
            except StudentError as error:
                self.raised[index] = error
                raise
            return self.results[index]

        connection.call = call  # type: ignore[method-assign]

    def result_of(self, raw: object, raised: StudentError | None, recorded: int) -> int | None:
        """The call whose result is ``raw`` (or that raised ``raised``); None when none is, or when the worker
        recorded another number of calls than were made."""
        if recorded != len(self.results):
            return None
        if raised is not None:
            return next((index for index, error in self.raised.items() if error is raised), None)
        if raw is None:
            return None
        return next((index for index in reversed(range(len(self.results))) if self.results[index] is raw), None)


def wall_clock_deadline(cpu_seconds: float) -> float:
    """When to give up on a worker that has ``cpu_seconds`` of CPU time (it may be sleeping or starved)."""
    return time.monotonic() + cpu_seconds * WALL_CLOCK_FACTOR + 1.0


def pieces_of(suite: Suite, item: Item) -> set[str]:
    """The items ``item`` is built from: its ``kit=`` items and, transitively, what they call (``kit=`` and
    ``uses=``): ``training_loop``'s include ``grad_fn``'s ``dloss_fn``."""
    found: set[str] = set()
    frontier = list(item.kit)
    while frontier:
        name = frontier.pop()
        if name in found or name not in suite.items:
            continue
        found.add(name)
        frontier.extend(suite.items[name].kit + suite.items[name].uses)
    return found


class SubmissionGrader:
    """Grades one staged submission, each exercise module in a fresh box of its own.

    A module never sees what another module of the same submission did to the process (patched
    torch functions, default dtype, grad mode, threads, files): each gets a new worker.
    """

    def __init__(self, zygote: ZygoteClient, stage: str, device: torch.device, cache: ReferenceCache,
                 show_output: bool = False, record: bool = False) -> None:
        self.zygote = zygote
        self.stage = stage
        self.session: WorkerSession | None = None
        self.upcoming: WorkerSession | None = None
        self.device = device
        self.cache = cache
        self.output_total = 0
        self.show_output = show_output
        """Bring back what each check printed (``grade check --show-output``)."""
        self.record = record
        """Record the inputs of the student's functions in each check (``grade repro``; never in batch or Gradescope)."""
        self.outputs: dict[str, tuple[str, int]] = {}
        """What each check printed, by qualified name: (the first bytes as text, how many bytes in all)."""
        self.records: dict[str, CheckRecord] = {}
        """What ``grade repro`` needs of each failing check, by qualified name (with ``record`` only)."""
        self.check_outcomes: dict[str, CheckOutcome] = {}
        """What was decided for each check graded, by qualified name (the pytest plugin's per-test results):
        a check skipped after a timeout or a crash, or after the item's own stub, counts as failed; a passed
        edge case that earns nothing counts as failed too, so the passed checks' shares add up to the score."""

    def close(self) -> None:
        for session in (self.session, self.upcoming):
            self._retire(session)
        self.session = self.upcoming = None

    def _retire(self, session: WorkerSession | None) -> None:
        """Close a module's box, counting what its worker printed."""
        if session is not None:
            session.close()
            self.output_total += session.output_total

    def _next_session(self, another_follows: bool) -> WorkerSession:
        """A fresh box for the next module; the one after it is built meanwhile, except in the ``uid``
        tier, where a slot's boxes run one after the other."""
        self._retire(self.session)
        session, self.upcoming = self.upcoming or WorkerSession(self.zygote, self.stage), None
        if another_follows and self.zygote.tier != "uid":
            self.upcoming = WorkerSession(self.zygote, self.stage)
            self.upcoming.prestart()
        return session

    def grade_module(self, info: catalogue.ModuleInfo, only: set[str] | None,
                     another_follows: bool = False) -> report.ExerciseResult:
        self.session = self._next_session(another_follows)
        suite = load_suite(info.name)
        items = [suite.items[i.name] for i in info.items if only is None or i.name in only]
        try:
            present = self.session.import_module(info.name, IMPORT_TIMEOUT)
        except StudentError as error:
            reason = f"{info.name}.py could not be imported: {error}"
            return _all_items(info, items, "error", reason, error=reason)
        except WorkerTimeout as timeout:
            reason = f"importing {info.name}.py {_timeout_sentence(timeout, IMPORT_TIMEOUT, at_import=True)}"
            return _all_items(info, items, "timeout", reason, error=reason)
        except WorkerCrashed as crash:
            reason = f"importing {info.name}.py crashed the worker: {crash}"
            return _all_items(info, items, "crashed", reason, error=reason)
        results: list[report.ItemResult] = []
        passed: set[str] = set()  # items of this module that passed every check in this run, so far
        for item in items:
            own_first = None  # the pieces the kit still answers when the student's own are tried first
            if item.kit and set(item.kit) <= passed:
                own_first = tuple(sorted(pieces_of(suite, item) - passed))
            results.append(self.grade_item(info, item, present, own_first))
            if results[-1].status == "passed":
                passed.add(item.name)
        # "the checks of fit run your own train_step, which..." (a handout runs the student's own kit= items too)
        suite.explain_unpassed_uses(info.number, results, kit_too=not catalogue.has_hidden_suites())
        return report.ExerciseResult(info.name, results, error=None)

    def grade_item(self, info: catalogue.ModuleInfo, item: Item, present: list[str],
                   own_first: tuple[str, ...] | None = None) -> report.ItemResult:
        """Run ``item``'s checks and score them.

        An item built from others (``kit=``) is graded with the kit's versions of them, so that only its own
        code counts. ``own_first`` (not None): each of those passed all its checks in this run; the item is
        then first run with the student's own pieces (:func:`pieces_of`), as the student's module calls them,
        except the pieces named in ``own_first``, which failed and are still the kit's (``grad_fn`` passed
        with the kit's ``dloss_fn``; the student's ``dloss_fn`` is wrong). A passing result costs few or
        none of the thousands of exchanges with the grader that a training loop makes, and wrong code of
        its own could not pass (every piece it runs is right; only its own code is left). Any other
        outcome is discarded and the item graded again with the kit's versions, which alone decide a
        failure.
        """
        qualified = f"{info.number}.{item.name}"
        if item.name not in present:
            message = (f"{info.name}.py has no `{item.name}`: it was renamed or deleted. Restore its definition "
                       f"(the stub is in the kit's exercises/{info.name}.py) and run `grade check {qualified}`.")
            return report.ItemResult(item.name, 0.0, item.points, "missing", [message])
        if own_first is not None and item.kit and catalogue.has_hidden_suites():
            with_own_helpers = self._grade_checks(info, item, kit_names=own_first)
            if with_own_helpers.status == "passed":
                return with_own_helpers
            for check in item.checks:  # what the discarded run left behind
                self.records.pop(check.qualified_name, None)
                self.outputs.pop(check.qualified_name, None)
        return self._grade_checks(info, item, kit_names=item.kit)

    def _grade_checks(self, info: catalogue.ModuleInfo, item: Item, kit_names: tuple[str, ...]) -> report.ItemResult:
        """Run every check of a present item and score it, with the kit's versions of ``kit_names``."""
        qualified = f"{info.number}.{item.name}"
        passed = graded = not_implemented = 0
        feedback: list[str] = []
        failures: list[str] = []
        status_override = None
        not_graded: list[str] = []
        substantive_passed = 0
        edge_cases_passed: list[str] = []  # passed checks that code which never works passes too
        catalogued_counts: dict[str, int] = {}  # catalogued mistakes recognised: on how many failing checks
        general: str | None = None  # the first general relation recognised
        for index, check in enumerate(item.checks):
            if check.requires == "cuda" and self.device.type != "cuda":
                not_graded.append(check.description)
                continue
            graded += 1
            try:
                outcome = self.run_check(check, item, kit_names)
            except WorkerTimeout as timeout:
                status_override = "timeout"
                failures.append(f"{check.description}: {_timeout_sentence(timeout, check.timeout or item.timeout)}; "
                                "the remaining checks were skipped")
                graded += len(self._gradable(item.checks[index + 1:]))
                self._record_skipped(check, item.checks[index + 1:], failures[-1], "timed out")
                break
            except WorkerCrashed as crash:
                status_override = "crashed"
                failures.append(f"{check.description}: {crash}; the remaining checks were skipped")
                graded += len(self._gradable(item.checks[index + 1:]))
                self._record_skipped(check, item.checks[index + 1:], failures[-1], "crashed")
                break
            self.check_outcomes[check.qualified_name] = outcome
            if outcome.passed:
                passed += 1
                if check.substantive:
                    substantive_passed += 1
                else:
                    edge_cases_passed.append(check.description)
            elif outcome.not_implemented:
                not_implemented += 1
                if not failures:
                    failures.append(outcome.message)
                if index == 0 and f"{info.number}.{item.name}" in outcome.message:
                    # the item's own stub: every other check would say the same, skip them
                    remaining = self._gradable(item.checks[1:])
                    graded += len(remaining)
                    not_implemented += len(remaining)
                    self.check_outcomes.update({other.qualified_name: outcome for other in remaining})
                    break
            else:
                failures.append(f"{check.description}: {outcome.message}")
                self.check_outcomes[check.qualified_name] = CheckOutcome(False, failures[-1], likely=outcome.likely,
                                                                         catalogued=outcome.catalogued)
                for sentence in dict.fromkeys(outcome.catalogued):  # one count per check, however many entries
                    catalogued_counts[sentence] = catalogued_counts.get(sentence, 0) + 1
                general = general or outcome.likely
        unearned = []
        if edge_cases_passed and substantive_passed == 0:  # credit only for substance
            passed -= len(edge_cases_passed)
            one = len(edge_cases_passed) == 1
            named = and_join([f"'{description}'" for description in edge_cases_passed])
            unearned = [(f"{named}: passed, but code that never works passes "
                         f"{'it' if one else 'them'} too, so {'it counts' if one else 'they count'} once a check "
                         "that does real work passes")]
            for check in item.checks:  # what passed of them earns nothing: each of those tests fails
                if not check.substantive and getattr(self.check_outcomes.get(check.qualified_name), "passed", False):
                    self.check_outcomes[check.qualified_name] = CheckOutcome(False, unearned[0])
        if graded == 0:
            status, score = "not_graded", 0.0
        elif status_override:
            status, score = status_override, item.points * passed / graded
        elif not_implemented == graded:
            status, score = "not_implemented", 0.0
            failures = [(f"not implemented yet: replace the `raise NotImplementedError` in {info.name}.py "
                         f"with your code, then run `grade check {qualified}`")]
        elif passed == graded:
            status, score = "passed", float(item.points)
        else:
            status = "failed" if passed == 0 else "partial"
            score = item.points * passed / graded
        failures.sort(key=_bare_value_mismatch)  # what names a property (shape, dtype, grad, in place) first
        feedback.extend(failures[:MAX_FEEDBACK_PER_ITEM])
        if status != "not_implemented":
            feedback.extend(unearned)
        # the catalogued mistake that explains the most failing checks (the first declared on a tie)
        likely = max(catalogued_counts, key=catalogued_counts.__getitem__) if catalogued_counts else general
        if likely and status != "passed":
            feedback.append(LIKELY + likely)
        if len(failures) > MAX_FEEDBACK_PER_ITEM:
            feedback.append(f"... and {len(failures) - MAX_FEEDBACK_PER_ITEM} more failing checks")
        if not_graded:
            feedback.append(f"{len(not_graded)} check(s) not graded: they need a CUDA GPU "
                            "(run `grade check --device cuda` on a machine with one)")
        if not item.checks:
            feedback.append("no public check for this item here: it is graded by the hidden checks when your "
                            "instructor grades")
        if status in ("failed", "partial", "timeout", "crashed"):
            feedback.append(f"Hint: run `grade hint {qualified}`")
        output = report.item_output([(check.description, *self.outputs[check.qualified_name]) for check in item.checks
                                     if check.qualified_name in self.outputs]) if self.show_output else None
        return report.ItemResult(item.name, round(score, 4), item.points, status, feedback, output=output)

    def _record_skipped(self, check: Check, rest: list[Check], failure: str, what: str) -> None:
        """``check`` failed with ``failure`` and the item's remaining checks were skipped: each fails."""
        self.check_outcomes[check.qualified_name] = CheckOutcome(False, failure)
        for other in self._gradable(rest):
            self.check_outcomes[other.qualified_name] = CheckOutcome(
                False, f"{other.description}: not run, because {check.description} {what}")

    def _gradable(self, checks: list[Check]) -> list[Check]:
        """The checks this device can run (a CUDA-only check is not graded elsewhere)."""
        return [c for c in checks if c.requires != "cuda" or self.device.type == "cuda"]

    def run_check(self, check: Check, item: Item, kit_names: tuple[str, ...]) -> CheckOutcome:
        """Run one check on the student's side, then compare with the reference's result.

        The reference result is only needed (and only computed) when the student's run returned.
        ``kit_names``: the items replaced by the kit's versions (the item's ``kit=``, or fewer: see
        :meth:`grade_item`).
        """
        cpu_seconds = check.timeout or item.timeout
        try:
            self.session.import_module(check.module, IMPORT_TIMEOUT)  # again after a restart
        except StudentError as error:
            raise WorkerCrashed(f"the module could not be imported again after a restart: {error}") from None
        deadline = wall_clock_deadline(cpu_seconds)
        connection = RemoteConnection(self.session, Call(deadline, item.forbid, f"{check.module}.{item.name}"))
        kit_items = self._install_kit_versions(check, kit_names)
        options = {**({"output": True} if self.show_output else {}), **({"record": True} if self.record else {})}
        # also drops the previous check's handles and puts back what the previous check replaced
        connection.simple(("seed", check.seed, cpu_seconds, check.module, kit_items) + ((options,) if options else ()))
        item_calls = ItemCalls(connection) if self.record else None
        side = Side(RemoteModule(connection, check.module), self.device, check.seed,
                    lambda path, *a, **k: connection.call(["build", path], a, k))
        raw: object = None
        got: object = None
        raised: StudentError | None = None
        outcome: CheckOutcome | None = None
        try:
            raw = check.function(side)
            got = normalize(raw)
        except CheckFailed as failure:
            outcome = CheckOutcome(False, str(failure),
                                   catalogued=self.matching_mistakes(check, item, "failed", str(failure)))
        except StudentError as error:
            raised = error
            if error.not_implemented:
                outcome = CheckOutcome(False, f"{error}", not_implemented=True)
            else:
                matches = self.matching_mistakes(check, item, "raised", _raised_words(error.type_name, error.message))
                outcome = CheckOutcome(False, f"raised {error}", catalogued=matches)
        except (WorkerTimeout, WorkerCrashed, GraderUnavailable, KitError):
            raise
        except Exception as error:  # the check could not use what the student returned
            outcome = CheckOutcome(False, f"what the code returned could not be used: {type(error).__name__}: "
                                          f"{str(error)[:300]}")
        finally:
            self.session.kit_server = None
        collected = self._collect(check) if options else None
        compared = outcome is None
        if outcome is None:
            outcome = self._compared(check, item, got)
        if item_calls is not None and collected is not None and not outcome.passed and not outcome.not_implemented:
            slack = self.cache.conditioning(check, item, self.device) if compared else {}  # computed already
            self.records[check.qualified_name] = CheckRecord(
                check, collected.calls, item_calls.result_of(raw, raised, len(collected.calls)),
                self.cache.expected(check, item, self.device), got, outcome.message,
                check.tolerance.widened(slack) if slack else check.tolerance)
        return outcome

    def _collect(self, check: Check) -> Collected | None:
        """What the check printed, and the inputs its calls of the module's items received, from the worker
        (None when it cannot answer: then they are lost, and grading goes on)."""
        connection = RemoteConnection(self.session, Call(wall_clock_deadline(COLLECT_SECONDS), (), ""))
        try:
            collected = Collected.from_worker(connection.simple(("collect",)))
        except (GraderUnavailable, KitError):
            raise
        except Exception:  # timed out, crashed, raised, or answered nonsense: lost, never a reason to stop
            return None
        if collected is not None and collected.output_bytes:
            self.outputs[check.qualified_name] = (collected.output, collected.output_bytes)
        return collected

    def _compared(self, check: Check, item: Item, got: object) -> CheckOutcome:
        """The outcome of a check whose code returned ``got`` (normalised): compared with the reference's."""
        expected = self.cache.expected(check, item, self.device)
        try:
            found = difference(expected, got, "the result", check.tolerance)
        except Exception as error:  # a hostile value the comparison did not foresee: a failure, never a crash
            found = f"the result could not be compared with the expected one ({type(error).__name__})"
        if found is not None:  # is the difference within what the inputs' own conditioning allows?
            slack = self.cache.conditioning(check, item, self.device)
            if slack:
                found = difference(expected, got, "the result", check.tolerance.widened(slack))
        if found is None:
            return CheckOutcome(True)
        matches = self.matching_mistakes(check, item, "result", got)
        return CheckOutcome(False, found, likely=None if matches else diagnose.explain(expected, got),
                            catalogued=matches)

    def _install_kit_versions(self, check: Check, names: tuple[str, ...]) -> list[list]:
        """Answer this check's calls to the items ``names`` with the reference's; ``[name, is_generator]``
        pairs for the worker. A handout has no reference: its checks run the student's own versions."""
        if not names or not catalogue.has_hidden_suites():
            return []
        reference = load_reference(check.module)
        self.session.kit_server = KitVersionServer(reference, names)
        return [[name, inspect.isgeneratorfunction(getattr(reference, name))] for name in names]

    def matching_mistakes(self, check: Check, item: Item, kind: str, observed: object) -> tuple[str, ...]:
        """The sentences of the catalogued mistakes of ``item`` that do on ``check`` what the student's
        code did: returned the same result, failed the same assertion or raised the same error."""
        found = []
        try:
            for sentence, mistake_kind, what in self.cache.mistaken(check, item, self.device):
                if mistake_kind != kind:
                    continue
                same = (difference(what, observed, "the result", check.tolerance) is None if kind == "result"
                        else what == observed)
                if same:
                    found.append(sentence)
        except KitError:
            raise
        except Exception:  # a diagnosis is a bonus, never a reason to fail grading
            return ()
        return tuple(found)
        return None


_BARE_VALUES = re.compile(r"elements differ|the values differ|: expected -?(?:\d|inf|nan)[^,;]*, got -?(?:\d|inf|nan)")


def _bare_value_mismatch(failure: str) -> bool:
    """Whether a failing check's message only says that numbers differ (it then sorts after those that
    name a property: a shape, a dtype, a missing gradient, an in-place change, an error)."""
    return bool(_BARE_VALUES.search(failure))


def _timeout_sentence(timeout: WorkerTimeout, cpu_seconds: float, at_import: bool = False) -> str:
    if timeout.wall_clock:
        return (f"did not finish within {cpu_seconds * WALL_CLOCK_FACTOR + 1:g} s of wall-clock time, with {cpu_seconds:g} s "
                "of CPU time allowed (sleeping, or waiting for input that never comes?)")
    return (f"did not finish within {cpu_seconds:g} s of CPU time (an endless loop, or far more work than needed?)"
            if not at_import else
            f"took longer than {cpu_seconds:g} s of CPU time (an endless loop or a long computation at module level?)")


def _all_items(info: catalogue.ModuleInfo, items: list[Item], status: str, reason: str,
               error: str) -> report.ExerciseResult:
    results = [report.ItemResult(item.name, 0.0, item.points, status, [reason]) for item in items]
    return report.ExerciseResult(info.name, results, error=error)


# ---------------------------------------------------------------- staging
class GradingService:
    """A sandboxed zygote that grades submissions one after another, each in boxes of its own.

    Starting it costs one torch import (a few seconds); each exercise module of a submission after
    that costs a fork. Use it as a context manager so that every process it started is gone when
    it closes.

    Args:
        device: where checks run.
        cache: reference results shared by a whole batch.
        memory_limit: bytes of resident memory a worker's process tree may use.
        allow_reduced: False refuses to grade when only the ``reduced`` tier works here (a class's
            code must not run as the instructor); ``grade check`` allows it with a warning.
    """

    def __init__(self, device: torch.device, cache: ReferenceCache | None = None,
                 memory_limit: int = DEFAULT_MEMORY_LIMIT, allow_reduced: bool = True,
                 probe_only: bool = False, store: ReferenceStore | None = None) -> None:
        torch.set_num_threads(1)  # the reference side's small computations; workers take the other cores
        self.device = device
        self.cache = cache or ReferenceCache(store=store)
        self._staged = itertools.count(1)
        self._untouched = UntouchedModules()
        early = None if probe_only else zygote_client.take_early(device.type == "cuda", memory_limit)
        if early is not None:  # started by the command before it imported torch
            self._temporary, self.zygote = early.temporary, early.client
        else:
            self._temporary = Path(tempfile.mkdtemp(prefix="grade-"))
            try:
                self.zygote = ZygoteClient(self._places_for, memory_limit, device.type == "cuda", probe_only)
            except BaseException:
                files.remove_tree(str(self._temporary))
                raise
        if sandbox.is_weak_tier(self.isolation) and not allow_reduced:  # reduced, portable: code runs as you
            self.close()
            raise catalogue.UsageError(REDUCED_REFUSED if self.isolation == "reduced" else PORTABLE_REFUSED)

    def _places_for(self, tier: str) -> sandbox.Places:
        return zygote_client.service_places(self._temporary, tier)

    @property
    def isolation(self) -> str:
        """The isolation tier in force: ``namespaces``, ``uid`` or ``reduced``."""
        return self.zygote.tier

    def grade(self, submission: Path, selection: catalogue.Selection, name: str | None = None,
              show_output: bool = False, record: bool = False) -> report.GradeReport:
        """Grade the exercise modules in ``submission`` (a folder that is only read, never changed).

        The submission is staged into a fresh folder that no other submission uses, read only by the
        boxes (each copies it into its own private place), and removed afterwards. ``show_output`` brings
        back what each check printed (each item's ``output``); ``record`` the inputs of the student's
        functions in each failing check (the report's ``records``, for ``grade repro``).
        """
        if catalogue.has_hidden_suites():  # read before any submission's code runs (and could change them)
            for module in selection.modules:
                load_suite(module.name)
                load_reference(module.name)
                self.cache.preload(module.name, self.device)
        stage_name = f"s{next(self._staged)}"
        stage = self.zygote.places.staging / stage_name
        stage.mkdir(mode=0o700)
        try:
            problems = stage_submission(submission, stage)
            keys = {m.name: self._untouched.key(stage, m.name, selection.items[m.name]) for m in selection.modules}
            known = {name: self._untouched.get(key) for name, key in keys.items()}
            to_grade = [m for m in selection.modules if known[m.name] is None]
            for result in known.values():  # remembered untouched stubs: they print nothing
                for item_result in result.items if result is not None else ():
                    item_result.output = None
            grader_ = SubmissionGrader(self.zygote, stage_name, self.device, self.cache, show_output, record)
            try:
                for index, module in enumerate(to_grade):
                    known[module.name] = grader_.grade_module(module, selection.items[module.name],
                                                              another_follows=index < len(to_grade) - 1)
                    self._untouched.remember(keys[module.name], known[module.name])
            finally:
                grader_.close()
            exercises = [known[m.name] for m in selection.modules]
            for item_result in (i for e in exercises for i in e.items if show_output and i.output is None):
                item_result.output = []  # a module that did not import, an item that is missing: nothing printed
        finally:
            files.remove_tree(str(stage))
            self.cache.save()
        return report.GradeReport(name or str(submission), str(self.device), exercises, problems=problems,
                                  isolation=self.isolation,
                                  output_bytes=grader_.output_total,
                                  public_checks_only=not catalogue.has_hidden_suites(),
                                  check_outcomes=grader_.check_outcomes, records=grader_.records)

    def close(self) -> None:
        try:
            self.zygote.close()
        finally:
            files.remove_tree(str(self._temporary))

    def __enter__(self) -> GradingService:  # noqa: PYI034
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


REDUCED_REFUSED = (
    "only reduced isolation is possible on this machine (bubblewrap cannot create user namespaces here, and the "
    "grader is not root), so students' code would run as you and could read or change your files. Install "
    "bubblewrap where user namespaces are allowed, or run the grader as root in a container (workers then run "
    "as unprivileged uids); or pass --allow-unsandboxed to grade anyway.")
PORTABLE_REFUSED = (
    f"this machine runs {sys.platform}, where only the portable tier works (no namespaces, no separate uid), so "
    "students' code would run as you and could read or change your files. Grade a class on Linux (a container "
    "or a virtual machine with bubblewrap installed), or pass --allow-unsandboxed to grade anyway.")


def probe_isolation(device: torch.device, allow_reduced: bool) -> str:
    """The isolation tier this machine allows, found in a moment (nothing is graded, torch is not
    imported there); later services of this process and its forks start in it directly.

    Raises ``catalogue.UsageError`` when only ``reduced`` works and ``allow_reduced`` is False.
    """
    with GradingService(device, allow_reduced=allow_reduced, probe_only=True) as probe:
        return probe.isolation


def grade(submission: Path, selection: catalogue.Selection, device: torch.device,
          allow_reduced: bool = True, store: ReferenceStore | None = None, show_output: bool = False,
          record: bool = False) -> report.GradeReport:
    """Grade one submission folder: the whole pipeline behind ``grade check`` (``show_output`` and ``record``:
    see :meth:`GradingService.grade`).

    Should the grading machinery itself fail half way (a submission that, with reduced isolation,
    kills the zygote), it is started afresh and the submission graded once more.
    """
    for attempt in (1, 2):
        try:
            with GradingService(device, allow_reduced=allow_reduced, store=store) as service:
                return service.grade(submission, selection, show_output=show_output, record=record)
        except GraderUnavailable:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")
