"""Every docstring example of the reference solutions runs and prints what it shows, and none is skipped.

A student reads the examples before writing a line, so an example that is false misleads them. Each
module of ``solutions/`` is loaded from its file and run through :mod:`doctest`, as
``python -m doctest solutions/exNN_topic.py`` would. The stubs in ``exercises/`` carry the same
docstrings (``tests/test_reference_and_stubs.py`` proves it), so they are checked for ``+SKIP`` too:
an example that cannot run is not an example.
"""

from __future__ import annotations

import ast
import doctest
import importlib.util
import io
import re
import sys
from pathlib import Path

import pytest
import torch

from grader import catalogue

MODULE_NAMES = [path.stem for path in sorted(catalogue.SOLUTIONS_DIR.glob("ex*.py"))]
SKIP_DIRECTIVE = re.compile(r"doctest:.*\+\s*SKIP", re.IGNORECASE)


def _run_doctests(path: Path) -> tuple[doctest.TestResults, str]:
    """Run every docstring example of the module at ``path``; the results and the failure report."""
    name = f"_doctest_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # classes find their module by name, as under python -m doctest
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: on a busy machine more threads only wait for each other
    try:
        spec.loader.exec_module(module)
        report = io.StringIO()
        runner = doctest.DocTestRunner(verbose=False)
        for test in doctest.DocTestFinder().find(module, path.stem):
            runner.run(test, out=report.write)
        return doctest.TestResults(runner.failures, runner.tries), report.getvalue()
    finally:
        torch.set_num_threads(threads)
        del sys.modules[name]


def _docstrings(path: Path) -> list[tuple[str, str]]:
    """``(where, docstring)`` for the module, every class and every function of the file at ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            docstring = ast.get_docstring(node, clean=False)
            if docstring:
                found.append((getattr(node, "name", path.stem), docstring))
    return found


@pytest.mark.parametrize("module_name", MODULE_NAMES)
def test_every_docstring_example_of_the_solution_prints_what_it_shows(module_name):
    results, report = _run_doctests(catalogue.SOLUTIONS_DIR / f"{module_name}.py")
    assert results.failed == 0, f"solutions/{module_name}.py: {results.failed} example(s) failed:\n{report}"
    assert results.attempted >= 1, f"solutions/{module_name}.py has no docstring example at all"


@pytest.mark.parametrize("folder", [catalogue.SOLUTIONS_DIR, catalogue.EXERCISES_DIR], ids=["solutions", "exercises"])
def test_no_docstring_example_is_skipped(folder):
    skipped = [f"{path.name}: {where}" for path in sorted(folder.glob("ex*.py"))
               for where, docstring in _docstrings(path) if SKIP_DIRECTIVE.search(docstring)]
    assert not skipped, f"these docstrings skip an example with +SKIP; make it run instead: {skipped}"
