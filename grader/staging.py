"""A submission's files, copied into the private folder its boxes read, and the results of untouched stubs.

:func:`stage_submission` copies what a box may import (never a link, an oversized or non-UTF-8 file) and
turns a notebook into the module its code cells define; :class:`UntouchedModules` remembers the result of
a module that is still the stub, by its exact bytes, so that a class's untouched submissions cost no box.
"""

from __future__ import annotations

import copy
import hashlib
import re
from pathlib import Path

from grader import report, submissions

MAX_SUBMISSION_FILE_BYTES = 1 << 20
EXERCISE_FILE = re.compile(r"^ex\d\d_\w+\.py$")


def stage_submission(source: Path, stage: Path) -> list[str]:
    """Copy a submission's Python files into its private folder; problems and notes found, as sentences.

    Only regular ``.py`` files at the top level are copied (helpers the student imports included), and
    each ``exNN_topic.ipynb`` becomes the module its code cells define, unless a ``.py`` of that module
    is there too (:func:`grader.notebook.python_modules`, as in a batch); symlinks, oversized and
    non-UTF-8 files are refused, never followed.
    """
    problems = []
    for path in sorted(source.glob("*.py")):
        data = _submitted_bytes(path, problems)
        if data is None:
            continue
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            problems.append(f"{path.name} is not UTF-8 text")
            continue
        (stage / path.name).write_bytes(data)
    _stage_notebooks(source, stage, problems)
    return problems


def _submitted_bytes(path: Path, problems: list[str]) -> bytes | None:
    """A submitted file's bytes, or None (and a sentence in ``problems``) for a link or an oversized file."""
    if path.is_symlink():
        problems.append(f"{path.name} is a symbolic link; submit the file itself")
        return None
    if not path.is_file():
        return None
    with path.open("rb") as source:  # never more than the limit is read
        data = source.read(MAX_SUBMISSION_FILE_BYTES + 1)
    if len(data) > MAX_SUBMISSION_FILE_BYTES:
        problems.append(submissions.too_large(path.name, MAX_SUBMISSION_FILE_BYTES))
        return None
    return data


def _stage_notebooks(source: Path, stage: Path, problems: list[str]) -> None:
    """Stage each ``exNN_topic.ipynb`` of ``source`` as the ``exNN_topic.py`` its code cells define."""
    from grader import notebook

    staged = {path.name: b"" for path in stage.glob("*.py")}  # their names only: a .py of a module wins
    for path in sorted(source.glob("ex[0-9][0-9]_*.ipynb")):
        data = _submitted_bytes(path, problems)
        if data is None:
            continue
        try:
            modules = notebook.python_modules({**staged, path.name: data}, problems)
        except notebook.NotebookError as error:
            problems.append(str(error))
            continue
        for name, source_bytes in modules.items():
            if name not in staged:
                (stage / name).write_bytes(source_bytes)


class UntouchedModules:
    """The results of modules that are still stubs: every item not implemented.

    A class's early submissions are mostly untouched stubs; grading one costs a box per module and
    always gives the same result. A module whose grading found every item not implemented is
    remembered by the exact bytes of its file and of every non-exercise ``.py`` file beside it (what
    its imports could reach); a later submission with the very same files gets the same result
    without a box. Anything else (one changed byte, any other outcome) is graded as usual.
    """

    def __init__(self) -> None:
        self._results: dict[str, report.ExerciseResult] = {}

    @staticmethod
    def key(stage: Path, module: str, only: set[str] | None) -> str | None:
        """The key of ``module`` as staged (None when the submission lacks it)."""
        path = stage / f"{module}.py"
        if not path.is_file():
            return None
        digest = hashlib.sha256(f"{module}\0{sorted(only) if only is not None else '*'}\0".encode())
        digest.update(path.read_bytes())
        for helper in sorted(stage.glob("*.py")):
            if not EXERCISE_FILE.match(helper.name):
                digest.update(f"\0{helper.name}\0".encode() + helper.read_bytes())
        return digest.hexdigest()

    def get(self, key: str | None) -> report.ExerciseResult | None:
        result = self._results.get(key) if key is not None else None
        return copy.deepcopy(result) if result is not None else None

    def remember(self, key: str | None, result: report.ExerciseResult) -> None:
        if key is not None and result.items and all(i.status == "not_implemented" for i in result.items):
            self._results[key] = copy.deepcopy(result)
