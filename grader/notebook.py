"""Jupyter and Colab: grading the cells a student ran, and notebooks submitted in place of modules.

Three paths share one conversion, :func:`grader.notebook_cells.source_of_cells` (cells in, module source
out):

- ``grade notebook ex02`` (:mod:`grader.notebook_writer`) writes ``ex02_gradient_descent.ipynb``: the
  module docstring, then per item its docstring as markdown and its stub as code, and a last cell
  ``check("ex02")``.
- ``check("ex02")`` inside a notebook reads the kernel's input history (so it works in Colab, where
  the ``.ipynb`` is not on disk), builds the module from it and grades that source with the grader
  ``grade check`` uses: in a sandboxed worker, never the kernel's own objects.
- ``grade check``, ``grade batch`` and the Gradescope bundle accept ``exNN_topic.ipynb`` in place of
  ``exNN_topic.py`` (:func:`module_of_notebook`, :func:`python_modules`).
"""

from __future__ import annotations

import dataclasses
import html
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from grader import catalogue, report
from grader.notebook_cells import Converted, source_of_cells


class NotebookError(Exception):
    """A notebook cannot be read or graded; the message says why and what to do next."""


# ---------------------------------------------------------------- submitted .ipynb files
def code_cells(data: bytes, name: str) -> list[str]:
    """The sources of a notebook file's code cells, in order (markdown and raw cells are not code).

    Raises:
        NotebookError: the bytes are not UTF-8 JSON in the shape of an nbformat-4 notebook.
    """
    fix = "open it in Jupyter and save it again, or submit the .py file instead"
    try:
        document = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise NotebookError(f"{name} is not UTF-8 text, so it is not a notebook; {fix}") from None
    except json.JSONDecodeError as error:
        raise NotebookError(f"{name} is not a readable notebook: its JSON is malformed (line {error.lineno}, "
                            f"column {error.colno}: {error.msg}); {fix}") from None
    except RecursionError:
        raise NotebookError(f"{name} nests its JSON too deeply to be a notebook; {fix}") from None
    if isinstance(document, dict) and "worksheets" in document and "cells" not in document:
        raise NotebookError(f"{name} is an old (nbformat 3) notebook; {fix} (a current Jupyter saves nbformat 4)")
    if not isinstance(document, dict) or not isinstance(document.get("cells"), list):
        raise NotebookError(f'{name} is JSON but not a Jupyter notebook (nbformat 4 holds a list of "cells"); {fix}')
    sources = []
    for number, cell in enumerate(document["cells"], 1):
        if not isinstance(cell, dict):
            raise NotebookError(f"{name}: cell {number} is not a JSON object; {fix}")
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        if isinstance(source, list) and all(isinstance(part, str) for part in source):
            source = "".join(source)
        if not isinstance(source, str):
            raise NotebookError(f"{name}: cell {number}'s source is neither text nor a list of lines; {fix}")
        sources.append(source)
    return sources


def module_of_notebook(data: bytes, name: str) -> Converted:
    """The module a submitted ``exNN_topic.ipynb`` defines (its code cells, top to bottom), as graded.

    Raises:
        NotebookError: ``data`` is not a readable notebook.
    """
    module_name = name.rsplit("/", 1)[-1].removesuffix(".ipynb")
    return source_of_cells(code_cells(data, name), keep=item_names(module_name), label=f"{name}: code cell {{}}")


def python_modules(files: dict[str, bytes], notes: list[str] | None = None) -> dict[str, bytes]:
    """A submission's module files with each ``exNN_topic.ipynb`` replaced by the ``exNN_topic.py`` it
    defines; a ``.py`` of the same module wins and the notebook is set aside. Sentences on what was set aside
    or left out of a notebook are appended to ``notes``.

    Raises:
        NotebookError: a notebook that is not readable (malformed JSON, not nbformat 4, not valid Unicode).
    """
    modules = {name: data for name, data in files.items() if not name.endswith(".ipynb")}
    for name, data in sorted(files.items()):
        if not name.endswith(".ipynb"):
            continue
        target = name.removesuffix(".ipynb") + ".py"
        if target in modules:
            if notes is not None:
                notes.append(f"{name} was set aside: {target} is graded (submit one of the two)")
            continue
        converted = module_of_notebook(data, name)
        try:
            modules[target] = converted.source.encode("utf-8")
        except UnicodeEncodeError:
            raise NotebookError(f"{name} holds text that is not valid Unicode; open it in Jupyter and save it "
                                "again, or submit the .py file instead") from None
        if notes is not None:
            notes.append(f"{name} was graded as {target} (its code cells)")
            notes.extend(f"left out: {note}" for note in converted.dropped)
    return modules


def item_names(module_name: str) -> list[str]:
    """The items of an exercise module, from the catalogue (empty for a module the catalogue lacks)."""
    try:
        modules = catalogue.load_catalogue()
    except catalogue.UsageError:
        return []
    return next(([item.name for item in m.items] for m in modules if m.name == module_name), [])


# ---------------------------------------------------------------- check(): grading a kernel's cells
@dataclasses.dataclass(repr=False)
class NotebookReport(report.GradeReport):
    """What :func:`check` returns: the grading report, plus what was dropped from the cells and the module graded."""

    dropped: list[str] = dataclasses.field(default_factory=list)
    source: str = ""

    def __repr__(self) -> str:
        names = ", ".join(e.name for e in self.exercises)
        return f"<grade report of {names}: {_points(self.score)}/{_points(self.max_score)}>"


def _shell() -> Any:
    """The running IPython shell, or None (no IPython, or not inside a kernel)."""
    try:
        from IPython import get_ipython  # type: ignore[import-not-found]
    except ImportError:
        return None
    return get_ipython()


def kernel_history() -> list[str] | None:
    """The cells run in this IPython kernel, in order (``In[1]``, ``In[2]``...), or None outside IPython."""
    shell = _shell()
    if shell is None:
        return None
    raw = getattr(getattr(shell, "history_manager", None), "input_hist_raw", None)
    cells = list(raw) if raw else list(shell.user_ns.get("In", []))
    return [str(cell) for cell in cells[1:]]  # In[0] is always empty


def module_source(exercise: str, source: str | None = None, history: Sequence[str] | None = None) -> Converted:
    """The module :func:`check` grades: built from ``source`` (one cell), ``history`` (cells in the order
    they ran) or, without either, this kernel's history. ``print(module_source("ex02").source)`` shows it.

    Raises:
        NotebookError: no source, no history and no IPython kernel.
    """
    module = catalogue.select([exercise.split(".", 1)[0]], catalogue.load_catalogue()).modules[0]
    if source is not None:
        cells, label = [source], "the source"
    elif history is not None:
        cells, label = list(history), "cell {}"
    else:
        found = kernel_history()
        if found is None:
            raise NotebookError(
                f'check("{exercise}") grades the cells run in a Jupyter or Colab kernel and this is not one: run '
                f'it in the notebook, or pass the code, check("{exercise}", source=...) or history=[...].')
        cells, label = found, "In [{}]"
    return source_of_cells(cells, keep=[item.name for item in module.items], label=label)


def check(exercise: str, source: str | None = None, history: Sequence[str] | None = None,
          device: str = "auto", show: bool = True) -> NotebookReport:
    """Grade ``exercise`` (``ex02`` or one item, ``ex02.grad_fn``) from the cells run in this notebook.

    The module is built from the kernel's input history (or ``source`` / ``history``, for scripts and
    tests) by :func:`source_of_cells`, written as ``exNN_topic.py`` into a private temporary folder and
    graded like ``grade check`` does: in a sandboxed worker, never with the kernel's own objects.

    Args:
        exercise: ``ex02``, ``ex02_gradient_descent`` or ``ex02.grad_fn``.
        source: the module's code as one text, instead of the kernel's history.
        history: the cells' sources in the order they ran, instead of the kernel's history.
        device: ``auto``, ``cpu``, ``cuda`` or ``mps``, as ``grade check --device``.
        show: display the result (HTML in a notebook, the terminal table elsewhere).

    Returns:
        The report (``.score``, ``.exercises``...), with ``.dropped`` (what was left out of the cells) and
        ``.source`` (the module graded).

    Raises:
        NotebookError: outside IPython without ``source`` or ``history``.
        catalogue.UsageError: unknown exercise or item.
    """
    from grader import engine, reference_store, sandbox  # imports torch: only when grading

    modules = catalogue.load_catalogue()
    selection = catalogue.select([exercise], modules)
    module = selection.modules[0]
    converted = module_source(exercise, source, history)
    folder_store = reference_store.default_folder()
    store = reference_store.ReferenceStore(folder_store) if folder_store is not None else None
    with tempfile.TemporaryDirectory(prefix="grade-notebook-") as folder:
        (Path(folder) / f"{module.name}.py").write_text(converted.source, encoding="utf-8")
        graded = engine.grade(Path(folder), selection, engine.pick_device(device), store=store)
    fields = {field.name: getattr(graded, field.name) for field in dataclasses.fields(graded)}
    fields["submission"] = f"{module.name} (notebook)"
    fields["problems"] = [*graded.problems, *(f"left out: {note}" for note in converted.dropped)]
    result = NotebookReport(**fields, dropped=list(converted.dropped), source=converted.source)
    if show:
        if result.isolation == "reduced" and sandbox.forced_tier() is None:
            print(sandbox.reduced_isolation_warning())
        _display(result)
    return result


def _display(result: NotebookReport) -> None:
    """HTML in an IPython kernel; elsewhere the terminal table, its last line in a notebook's words."""
    if _shell() is None:
        lines = report.render_terminal(result).splitlines()
        print("\n".join([*lines[:-1], next_step(result)]))
        return
    from IPython.display import HTML, display  # type: ignore[import-not-found]

    display(HTML(render_html(result)))


def next_step(result: report.GradeReport) -> str:
    """One line naming the next thing to do, in a notebook's words."""
    todo = report.first_to_do(result)
    if todo is not None:
        kind, exercise, item = todo
        number = exercise.name.split("_", 1)[0]
        if item is None:
            return (f"Next: fix the cell that stops {number} from importing (the error above), run it, then run "
                    f'check("{number}") again; print(module_source("{number}").source) shows the module graded.')
        if item.status == "missing":
            return (f"Next: run the cell that defines {number}.{item.name} (no cell run in this kernel defines "
                    f'it), then check("{number}.{item.name}").')
        if kind == "fix":
            return f'Next: fix {number}.{item.name} in its cell, run that cell, then check("{number}.{item.name}").'
        return (f"Next: write {number}.{item.name} in its cell (in place of its raise NotImplementedError), "
                f'run that cell, then check("{number}.{item.name}").')
    if result.max_score and result.score == result.max_score:
        return "Everything passes. Well done!"
    return "Next: read the notes above."


_STATUS_COLOURS = {"passed": "#1a7f37", "partial": "#9a6700", "not_implemented": "#57606a", "not_graded": "#57606a"}


def render_html(result: report.GradeReport) -> str:
    """The terminal table as HTML: per exercise its items, status and points, the total, notes, what to fix and
    the next step. Every text is escaped (feedback quotes values the student's code returned)."""
    escape = html.escape
    points = _points
    rows = []
    for exercise in result.exercises:
        rows.append(f'<tr><th style="text-align:left" colspan="3">{escape(exercise.name)} '
                    f"{points(exercise.score)}/{points(exercise.max_score)}</th></tr>")
        if exercise.error:
            rows.append(f'<tr><td colspan="3"><pre style="margin:0">{escape(exercise.error)}</pre></td></tr>')
        for item in exercise.items:
            colour = _STATUS_COLOURS.get(item.status, "#cf222e")
            rows.append(f'<tr><td style="text-align:left"><code>{escape(item.name)}</code></td>'
                        f'<td style="text-align:left;color:{colour}">{escape(item.status)}</td>'
                        f'<td style="text-align:right">{points(item.score)}/{points(item.max_score)}</td></tr>')
    total = (f"<p><b>Total: {points(result.score)}/{points(result.max_score)}</b> "
             f"(device: {escape(result.device)}; isolation: {escape(result.isolation)})</p>")
    parts = ['<div class="grade-report">', "<table>", *rows, "</table>", total]
    if result.public_checks_only:
        parts.append("<p>These are the public checks. Hidden checks (other inputs and edge cases) run when your "
                     "instructor grades.</p>")
    if result.problems:
        parts.append("<ul>" + "".join(f"<li>Note: {escape(problem)}</li>" for problem in result.problems) + "</ul>")
    failed = [(e, i) for e in result.exercises for i in e.items
              if i.status not in ("passed", "not_implemented", "not_graded") and i.feedback and not e.error]
    if failed:
        parts.append("<p><b>What to fix:</b></p>")
        for exercise, item in failed:
            parts.append(f"<details open><summary><code>{escape(exercise.name.split('_', 1)[0])}.{escape(item.name)}"
                         f"</code> ({escape(item.status)})</summary><pre>{escape(chr(10).join(item.feedback))}</pre>"
                         "</details>")
    parts += [f"<p>{escape(next_step(result))}</p>", "</div>"]
    return "\n".join(parts)


def _points(value: float) -> str:
    return f"{value:g}" if value == int(value) else f"{value:.2f}"
