"""How a hidden suite declares its items and checks.

A suite file (``tests/hidden/exNN_topic.py``) reads::

    suite = Suite("ex02_gradient_descent")
    suite.item("grad_fn", points=2, forbid=("autograd",), hint="...")

    @suite.check("grad_fn", "on the tutorial's 11 readings")
    def grad_fn_on_readings(side: Side) -> object:
        t_c, t_u = readings(side)
        return side.module.grad_fn(t_u, t_c, ...)

Every check is an *experiment* written once: the engine runs it with ``side`` bound to the
reference solution and again with ``side`` bound to the student's worker, with identical seeded
inputs, and compares what the two runs return (see :mod:`grader.compare`). A check can also assert
properties itself with ``side.expect(...)``; the reference run proves such a check can pass.

Points, time limit, forbidden calls and the hint are declared once, on the item. The declarations
must use literal values: ``grade list`` and ``grade hint`` read them without importing torch.

An item built from other items of its module (``grad_fn`` calls ``dloss_fn``, ``dmodel_dw`` and
``dmodel_db``) is graded on its own: it declares them with ``kit=(...)``, and while its checks run the
student's versions of those are replaced by stand-ins that the grader answers with the reference's
results, computed in the grading process (:mod:`grader.kit_versions`): no answer code runs beside
student code, one wrong helper costs points on that helper only, and two wrong helpers cannot cancel.
Where a check deliberately runs the student's own helper (``load_weights`` reads what the student's
``save_weights`` wrote), the item declares it with ``uses=(...)`` and its feedback names those that do
not pass their own checks (:meth:`Suite.explain_unpassed_uses`). A handout has no reference code: there
``kit=`` items run the student's own versions too, and the feedback says so.
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from grader import report
from grader.compare import Tolerance

BUILD_ROOTS = ("torch", "grader.fixtures", "collections", "numpy")
# an item's feedback names the used items that do not pass when its own status is one of these
_EXPLAINED_STATUSES = ("failed", "partial", "not_implemented", "timeout", "crashed")
_STATUS_WORDS = {"not_implemented": "not implemented", "timeout": "timed out"}


class CheckFailed(Exception):
    """A check's own assertion failed; the message is shown to the student."""


@dataclass
class Check:
    """One experiment on one item."""

    module: str
    item: str
    name: str
    description: str
    function: Callable[[Side], object]
    tolerance: Tolerance = field(default_factory=Tolerance)
    requires: str | None = None
    timeout: float | None = None
    substantive: bool = True
    """False for a check that code which never works can pass (0 epochs, an empty input): it counts only
    when a substantive check of the same item passes too."""

    @property
    def qualified_name(self) -> str:
        return f"{self.module}.{self.name}"

    @property
    def seed(self) -> int:
        """The check's seed, derived from its name: same inputs on every run and every side."""
        return int.from_bytes(hashlib.sha256(self.qualified_name.encode()).digest()[:4], "big")


@dataclass
class Item:
    """A gradable function or class of an exercise module."""

    name: str
    points: int
    hint: str
    timeout: float = 5.0
    forbid: tuple[str, ...] = ()
    uses: tuple[str, ...] = ()
    """Other items of the module that this item's checks run in the student's own versions, on purpose."""
    kit: tuple[str, ...] = ()
    """Other items of the module that this item calls, replaced by the kit's versions while it is graded."""
    checks: list[Check] = field(default_factory=list)


class Suite:
    """The hidden checks of one exercise module."""

    def __init__(self, module: str) -> None:
        self.module = module
        self.items: dict[str, Item] = {}

    def item(self, name: str, *, points: int, hint: str, timeout: float = 5.0,
             forbid: tuple[str, ...] = (), uses: tuple[str, ...] = (), kit: tuple[str, ...] = ()) -> None:
        """Declare an item with its points (1 to 3), hint, per-check time limit and forbidden calls.

        ``kit`` names the items declared before it that it calls and that are replaced, while its checks
        run, by the kit's versions (computed by the grader), so the item is graded on its own code.
        ``uses`` names those its checks deliberately run in the student's own version (``load_weights``
        reads what ``save_weights`` wrote): a mistake there may cost this item's points too, and its
        feedback then says so.
        """
        if not 1 <= points <= 3:
            raise ValueError(f"{self.module}.{name}: points must be 1, 2 or 3, not {points}")
        if name in self.items:
            raise ValueError(f"{self.module}.{name} is declared twice")
        unknown = [used for used in (*uses, *kit) if used not in self.items]
        if unknown:
            raise ValueError(f"{self.module}.{name} uses {', '.join(unknown)}: declare those items before it")
        if set(uses) & set(kit):
            raise ValueError(f"{self.module}.{name}: an item is either run in the student's version (uses) or the "
                             f"kit's (kit), not both: {sorted(set(uses) & set(kit))}")
        self.items[name] = Item(name, points, hint.strip(), timeout, tuple(forbid), tuple(uses), tuple(kit))

    def check(self, item: str, description: str, *, rtol: float | None = None, atol: float | None = None,
              requires: str | None = None, timeout: float | None = None, substantive: bool = True
              ) -> Callable[[Callable[[Side], object]], Callable[[Side], object]]:
        """Register the decorated function as a check of ``item``.

        Args:
            item: the item it grades (declared before with :meth:`item`).
            description: what the check does, shown in feedback ("on a batch of 1").
            rtol, atol: tolerances overriding the dtype defaults.
            requires: "cuda" for a check that only makes sense on a GPU (not graded elsewhere).
            timeout: seconds, overriding the item's time limit.
            substantive: False for an edge case that code which never works passes too (0 epochs, an
                empty loader): it earns its share only when a substantive check of the item passes.
        """
        if item not in self.items:
            raise ValueError(f"{self.module}: check for undeclared item {item!r}")

        def register(function: Callable[[Side], object]) -> Callable[[Side], object]:
            self.items[item].checks.append(Check(
                self.module, item, function.__name__, description, function,
                Tolerance(rtol, atol), requires, timeout, substantive))
            return function

        return register

    @property
    def checks(self) -> list[Check]:
        return [check for item in self.items.values() for check in item.checks]

    def users_of(self, name: str, kit_too: bool = False) -> set[str]:
        """The items whose checks run the student's item ``name``, directly or through another item
        (``kit_too``: also those that call it through ``kit=``, as in a handout, which has no kit versions)."""
        users: set[str] = set()
        frontier = {name}
        while frontier:
            frontier = {item.name for item in self.items.values()
                        if set(item.uses + (item.kit if kit_too else ())) & frontier and item.name not in users}
            users |= frontier
        return users

    def explain_unpassed_uses(self, number: str, results: list[report.ItemResult], kit_too: bool = False) -> None:
        """Add to each non-passing item's feedback which of the items it uses do not pass (or were not graded).

        ``results`` are this module's graded items; the line goes before the closing hint line, e.g.
        "The checks of train_linreg run your own sgd, which does not pass its own checks yet (ex06.sgd
        failed): fix it first, then run `grade check ex06.train_linreg`."
        """
        statuses = {result.name: result.status for result in results}
        for result in results:
            item = self.items.get(result.name)
            uses = () if item is None else item.uses + (item.kit if kit_too else ())
            if not uses or result.status not in _EXPLAINED_STATUSES:
                continue
            unpassed = [name for name in uses if statuses.get(name, "passed") not in ("passed", "not_graded")]
            ungraded = [name for name in uses if name not in statuses]
            qualified = f"{number}.{result.name}"
            if unpassed:
                one = len(unpassed) == 1
                details = ", ".join(f"{number}.{name} {_STATUS_WORDS.get(statuses[name], statuses[name])}"
                                    for name in unpassed)
                line = (f"The checks of {result.name} run your own {and_join(unpassed)}, which "
                        f"{'does not pass its' if one else 'do not pass their'} own checks yet ({details}): "
                        f"fix {'it' if one else 'them'} first, then run `grade check {qualified}`")
            elif ungraded:
                one = len(ungraded) == 1
                line = (f"The checks of {result.name} run your own {and_join(ungraded)}: run `grade check {number}` "
                        f"to see whether {'it passes its' if one else 'they pass their'} own checks")
            else:
                continue
            # the item's own "Likely mistake:" may only echo the piece's mistake: the piece comes first
            result.feedback[:] = [kept for kept in result.feedback if not kept.startswith("Likely mistake:")]
            at = len(result.feedback) - 1 if result.feedback and result.feedback[-1].startswith("Hint:") \
                else len(result.feedback)
            result.feedback.insert(at, line)



def and_join(names: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


class Side:
    """What a check sees: the module under test, the device and seeded input makers.

    Attributes:
        module: the exercise module (the reference, or a stand-in for the student's).
        device: where inputs are created and outputs must stay.
        generator: a CPU ``torch.Generator`` seeded from the check's name.
    """

    def __init__(self, module: object, device: torch.device, seed: int,
                 builder: Callable[..., object], precision: str = "as_written") -> None:
        """``precision`` is how the input makers build floating inputs: ``as_written``; ``float64`` (the
        same values in double precision); or ``perturbed`` (float64, each value moved by up to the
        rounding error of its written dtype). The grader runs the reference the latter two ways to
        measure how much a correct float computation of a check's own inputs may err."""
        self.module = module
        self.device = device
        self.generator = torch.Generator().manual_seed(seed)
        self._builder = builder
        if precision not in ("as_written", "float64", "perturbed"):
            raise ValueError(f"unknown precision {precision!r}")
        self.precision = precision
        self._noise = torch.Generator().manual_seed(seed ^ 0x5EED)

    def _made(self, value: torch.Tensor) -> torch.Tensor:
        """An input as this side's precision wants it (unchanged unless the grader measures conditioning)."""
        if self.precision == "as_written" or not value.is_floating_point() or value.dtype == torch.float64:
            return value.to(self.device)
        rounding = torch.finfo(value.dtype).eps / 2
        value = value.double()
        if self.precision == "perturbed":
            value = value * (1 + rounding * (2 * torch.rand(value.shape, generator=self._noise, dtype=torch.float64) - 1))
        return value.to(self.device)

    # -- seeded inputs on the grading device --
    def randn(self, *shape: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """Standard normal values of ``shape`` on the grading device."""
        return self._made(torch.randn(tuple(shape), generator=self.generator, dtype=dtype))

    def rand(self, *shape: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """Uniform values in [0, 1) of ``shape`` on the grading device."""
        return self._made(torch.rand(tuple(shape), generator=self.generator, dtype=dtype))

    def randint(self, low: int, high: int, shape: tuple[int, ...], dtype: torch.dtype = torch.int64) -> torch.Tensor:
        """Integers in [low, high) of ``shape`` on the grading device."""
        return torch.randint(low, high, shape, generator=self.generator, dtype=dtype).to(self.device)

    def tensor(self, data: object, dtype: torch.dtype | None = None) -> torch.Tensor:
        """``torch.tensor(data)`` on the grading device."""
        return self._made(torch.tensor(data, dtype=dtype))

    def new_seed(self) -> int:
        """A further seed drawn from the check's generator (for builders that take a seed)."""
        return int(torch.randint(0, 2**31 - 1, (1,), generator=self.generator))

    def function(self, name: str) -> object:
        """The module's function or class ``name`` itself, to hand to a fixture that calls it.

        On the reference side that is the real function; on the student's side a handle to it, which
        a fixture running in the worker receives as the student's function.
        """
        attribute = getattr(self.module, name)
        fetch = getattr(type(attribute), "value", None)
        return attribute.value() if callable(fetch) else attribute

    # -- objects built where the code under test runs --
    def build(self, path: str, *args: object, **kwargs: object) -> object:
        """Call ``package.module:attribute`` on this side (``torch.nn:MSELoss``, ``grader.fixtures:...``)."""
        return self._builder(path, *args, **kwargs)

    # -- assertions --
    @staticmethod
    def fail(message: str) -> None:
        raise CheckFailed(message)

    @staticmethod
    def expect(condition: bool, message: str) -> None:
        """Fail the check with ``message`` unless ``condition`` is exactly True."""
        if condition is not True:
            raise CheckFailed(message)

    @staticmethod
    def type_names(value: object) -> tuple[str, ...]:
        """Qualified names of the classes of ``value`` (works for local and worker objects)."""
        mro = getattr(value, "_mro", None)
        if mro is not None and type(value).__name__ == "RemoteObject":
            return tuple(mro)
        return tuple(f"{c.__module__}.{c.__qualname__}" for c in type(value).__mro__)

    def isinstance(self, value: object, qualified_name: str) -> bool:
        """``isinstance`` by class name, e.g. ``side.isinstance(model, "torch.nn.Module")``.

        torch re-exports classes (``torch.nn.Linear`` is ``torch.nn.modules.linear.Linear``), so a
        name matches when its last part matches and its package prefix does.
        """
        package, _, name = qualified_name.rpartition(".")
        return any(n.rsplit(".", 1)[-1] == name and n.startswith(package.split(".")[0]) for n in self.type_names(value))


def resolve_build_path(path: str) -> object:
    """The object named by ``package.module:attribute.path`` (only torch and grader.fixtures)."""
    module_name, _, attribute_path = path.partition(":")
    if not module_name.startswith(BUILD_ROOTS) or not attribute_path:
        raise ValueError(f"cannot build {path!r}: use 'torch...:Name' or 'grader.fixtures:name'")
    obj: object = importlib.import_module(module_name)
    for attribute in attribute_path.split("."):
        obj = getattr(obj, attribute)
    return obj
