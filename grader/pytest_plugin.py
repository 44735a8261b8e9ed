"""Grading with pytest: every check of the hidden suites as a pytest test, graded by the engine of ``grade``.

Installed with the kit (the ``pytest11`` entry point) and idle unless ``--submission`` is given, so the
kit's own ``pytest`` run is unchanged. With it, ``pytest tests/hidden --submission solutions`` collects
``tests/hidden/exNN_topic.py::item::check`` for every check this device grades, in this order:

1. collect: one test per check (a CUDA-only check is not collected elsewhere), carrying its item and its
   share of the item's points (points / the item's checks graded here) as a marker and user properties;
2. grade: at the first test of an exercise module, the module is graded once by one
   :class:`~grader.engine.GradingService` kept for the whole run (the sandboxed workers, comparison and
   feedback of ``grade check``), for the items whose tests were selected (all of them: ``grade check exNN``);
3. report: each test passes or fails as the engine decided for its check; a failure shows the check's own
   sentence and the item's feedback, as ``grade check`` does, never the grader's traceback;
4. summarize: the scores per module and the total, the numbers ``grade check`` prints, and the modules left
   unscored (their grading stopped, or pytest stopped before their tests: ``-x``).

pytest-timeout is the outer guard: unless ``--timeout`` is given, each test gets a limit above the sum of
the engine's own limits for what it grades.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from grader import catalogue

if TYPE_CHECKING:
    import torch

    from grader import report
    from grader.engine import GradingService
    from grader.suite import Check, Item

MARKER = "graded_check"
SUITE_FILE = re.compile(r"^ex\d\d_\w+\.py$")
TIMEOUT_MARGIN = 120.0  # seconds on top of the engine's own limits: the service's start, the reference side


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("grader", "grading a submission with the kit's hidden suites")
    group.addoption("--submission", nargs="?", const="", default=None, metavar="PATH",
                    help="grade the exercise modules in PATH with the hidden suites (the checks are collected "
                         "only with this option; alone, it grades the kit's exercises/)")
    group.addoption("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto",
                    help="where the checks' inputs live, as for `grade check --device` (default: auto)")


@dataclass
class Grading:
    """The state of one pytest run: where and what to grade, the warm service and the results."""

    submission: Path
    device: torch.device
    service: GradingService | None = None
    selectors: dict[str, list[str]] = field(default_factory=dict)
    """Per exercise module, what to grade: ``["ex02"]`` or ``["ex02.grad_fn", ...]`` (the selected tests')."""
    reports: dict[str, report.GradeReport] = field(default_factory=dict)
    stopped: dict[str, str] = field(default_factory=dict)
    """Modules whose grading did not finish, with the reason their remaining tests give."""
    isolation: str = "unknown"

    def report_of(self, module: str) -> report.GradeReport:
        """The module's results, graded at the first call (a grader that fails is started afresh once,
        as ``grade check`` does)."""
        if module in self.reports:
            return self.reports[module]
        if module in self.stopped:
            raise GradingStopped(self.stopped[module])
        from grader import engine

        selection = catalogue.select(self.selectors.get(module, [module]), catalogue.load_catalogue())
        try:
            for attempt in (1, 2):
                try:
                    if self.service is None:
                        self.service = engine.GradingService(self.device)
                        self.isolation = self.service.isolation
                    self.reports[module] = self.service.grade(self.submission, selection)
                    break
                except engine.GraderUnavailable:
                    self.close()
                    if attempt == 2:
                        raise
        except BaseException as error:  # a timeout of pytest-timeout included: the service may be mid-request
            self.stopped[module] = f"grading {module} stopped: {type(error).__name__}: {error}"
            self.close()
            raise
        return self.reports[module]

    def close(self) -> None:
        service, self.service = self.service, None
        if service is not None:
            service.close()


GRADING = pytest.StashKey[Grading]()


class GradingStopped(Exception):
    """An earlier test's grading of this module did not finish."""


class CheckFailure(Exception):
    """The engine failed this check; the message is the feedback ``grade check`` shows."""


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{MARKER}(item, points): a check of a hidden suite's item (ex02.grad_fn), "
                                       "worth `points` of the kit's score when it passes")
    value = config.getoption("submission")
    if value is None:
        return
    from grader import engine  # imports torch: only when grading

    folder = Path(value) if value else catalogue.EXERCISES_DIR
    folder = folder if folder.is_absolute() else config.invocation_params.dir / folder
    if not folder.is_dir():
        raise pytest.UsageError(f"--submission {value}: no such folder; name a folder of exercise modules "
                                "(or give --submission alone to grade the kit's exercises/)")
    try:
        device = engine.pick_device(config.getoption("device"))
    except catalogue.UsageError as error:
        raise pytest.UsageError(str(error)) from None
    config.stash[GRADING] = Grading(folder.resolve(), device)


def pytest_unconfigure(config: pytest.Config) -> None:
    grading = config.stash.get(GRADING, None)
    if grading is not None:
        grading.close()


def _is_suite_file(path: Path) -> bool:
    """Whether ``path`` is the suite the engine grades its module with (not a mutant, not a mistake file)."""
    if not SUITE_FILE.match(path.name):
        return False
    try:
        return path.resolve() == catalogue.suite_path(path.stem).resolve()
    except (OSError, catalogue.UsageError):
        return False


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> SuiteFile | None:
    if GRADING not in parent.config.stash or not _is_suite_file(file_path):
        return None
    python_files = parent.config.getini("python_files")
    if parent.session.isinitpath(file_path) or any(fnmatch.fnmatch(file_path.name, p) for p in python_files):
        return None  # pytest's Python plugin asks pytest_pycollect_makemodule for it: answered below
    return SuiteFile.from_parent(parent, path=file_path)


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makemodule(module_path: Path, parent: pytest.Collector) -> SuiteFile | None:
    if GRADING not in parent.config.stash or not _is_suite_file(module_path):
        return None
    return SuiteFile.from_parent(parent, path=module_path)


class SuiteFile(pytest.File):
    """A hidden suite file: one collector per item, in the catalogue's order."""

    def collect(self) -> Iterator[ItemNode]:
        from grader import engine

        suite = engine.load_suite(self.path.stem)
        module = next(m for m in catalogue.load_catalogue() if m.name == self.path.stem)
        for info in module.items:
            yield ItemNode.from_parent(self, name=info.name, item=suite.items[info.name])


class ItemNode(pytest.Collector):
    """An item of a suite: one test per check graded on this device."""

    def __init__(self, *, item: Item, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.item = item

    def collect(self) -> Iterator[CheckTest]:
        device = self.config.stash[GRADING].device
        graded = [check for check in self.item.checks if check.requires != "cuda" or device.type == "cuda"]
        for check in graded:
            yield CheckTest.from_parent(self, name=check.name, check=check, item=self.item,
                                        share=self.item.points / len(graded))


class CheckTest(pytest.Item):
    """One check of one item: passes or fails as the engine decided when it graded the module."""

    def __init__(self, *, check: Check, item: Item, share: float, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.check = check
        self.item = item
        self.share = share
        self.qualified_item = f"{check.module.split('_', 1)[0]}.{item.name}"
        self.user_properties.extend([("item", self.qualified_item), ("points", share)])
        self.add_marker(getattr(pytest.mark, MARKER)(item=self.qualified_item, points=share))

    def runtest(self) -> None:
        graded = self.config.stash[GRADING].report_of(self.check.module)
        passed, text = _decision(graded, self.check, self.item)
        self.user_properties.append(("score", self.share if passed else 0.0))
        if not passed:
            raise CheckFailure(text)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: str | None = None) -> str:
        if isinstance(excinfo.value, CheckFailure | GradingStopped):
            return str(excinfo.value)
        stopped = self.config.stash[GRADING].stopped.get(self.check.module)
        if stopped is not None and isinstance(excinfo.value, pytest.fail.Exception):
            # pytest-timeout's limit interrupted the grading: its message, not the grader's stack at that moment
            number = self.check.module.split("_", 1)[0]
            return (f"{stopped}\nThe module's tests fail without a score. Run `grade check {number}` to see which "
                    "item does not finish (each has its own time limit there), or give pytest a longer --timeout.")
        return str(super().repr_failure(excinfo, style=style))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"{self.qualified_item}: {self.check.description}"


def _decision(graded: report.GradeReport, check: Check, item: Item) -> tuple[bool, str]:
    """What the engine decided for ``check``, and the failure text: the check's sentence, then the item's
    feedback as ``grade check`` lists it under "What to fix"."""
    exercise = next(e for e in graded.exercises if e.name == check.module)
    result = next(i for i in exercise.items if i.name == item.name)
    outcome = graded.check_outcomes.get(check.qualified_name)
    if outcome is not None and outcome.passed:
        return True, ""
    if outcome is None and result.status == "passed":
        raise AssertionError(f"the engine passed {check.module}.{item.name} without grading {check.name}")
    # no outcome: the item was judged as a whole (the module does not import, the item is missing, or the
    # module is the untouched stub the service graded before)
    own = outcome is not None and not outcome.not_implemented  # the item's feedback lists 3 failures at most
    lines = [outcome.message] if own else []  # a stub's own words: the item's "not implemented yet" says it
    number = check.module.split("_", 1)[0]
    lines.append(f"{number}.{item.name} ({result.status}, {result.score:g}/{result.max_score:g} points):")
    lines.extend(f"    {line}" for line in result.feedback)
    return False, "\n".join(lines)


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """What each module's grading covers (the selected tests' items) and each test's outer time limit."""
    grading = session.config.stash.get(GRADING, None)
    if grading is None:
        return
    from grader import engine

    tests = [test for test in session.items if isinstance(test, CheckTest)]
    chosen: dict[str, dict[str, Item]] = {}
    for test in tests:
        chosen.setdefault(test.check.module, {})[test.item.name] = test.item
    for module, items in chosen.items():
        gradable = {name for name, item in engine.load_suite(module).items.items()
                    if any(c.requires != "cuda" or grading.device.type == "cuda" for c in item.checks)}
        number = module.split("_", 1)[0]
        grading.selectors[module] = [number] if gradable <= set(items) else [f"{number}.{name}" for name in items]
    timeout_set = session.config.getoption("timeout", None) is not None  # the user's --timeout wins
    if timeout_set or not session.config.pluginmanager.hasplugin("timeout"):
        return
    first: set[str] = set()
    for test in tests:
        seconds = _item_seconds(test.item, grading.device) + TIMEOUT_MARGIN
        if test.check.module not in first:  # this test grades the whole module
            first.add(test.check.module)
            seconds = (engine.IMPORT_TIMEOUT * engine.WALL_CLOCK_FACTOR + TIMEOUT_MARGIN
                       + sum(_item_seconds(item, grading.device) for item in chosen[test.check.module].values()))
        test.add_marker(pytest.mark.timeout(round(seconds)))


def _item_seconds(item: Item, device: torch.device) -> float:
    """The wall-clock time the engine allows an item's checks at most (CPU-time limit times its factor)."""
    from grader import engine

    return sum((check.timeout or item.timeout) * engine.WALL_CLOCK_FACTOR + 1 for check in item.checks
               if check.requires != "cuda" or device.type == "cuda")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    grading = config.stash.get(GRADING, None)
    if grading is None or not (grading.reports or grading.stopped):
        return
    from grader import report, sandbox

    order = [module.name for module in catalogue.load_catalogue()]
    exercises = [exercise for name in order if name in grading.reports
                 for exercise in grading.reports[name].exercises]
    combined = report.GradeReport(str(grading.submission), str(grading.device), exercises,
                                  isolation=grading.isolation)
    terminalreporter.write_sep("=", f"grade: {grading.submission}")
    if exercises:
        for line in report.render_scores(combined):
            terminalreporter.write_line(line)
    for name in grading.stopped:
        terminalreporter.write_line(f"Not scored: {grading.stopped[name]}")
    for name in grading.selectors:  # selected, but pytest stopped first (-x, --maxfail, Ctrl-C)
        if name not in grading.reports and name not in grading.stopped:
            number = name.split("_", 1)[0]
            terminalreporter.write_line(f"Not graded: {name}: pytest stopped before its tests ran, so its points "
                                        f"are not in the total. Run `grade check {number}` for its score.")
    problems = dict.fromkeys(p for graded in grading.reports.values() for p in graded.problems)
    for problem in problems:
        terminalreporter.write_line(f"Note: {problem}")
    if grading.isolation == "reduced" and sandbox.forced_tier() is None:
        terminalreporter.write_line(sandbox.reduced_isolation_warning())
