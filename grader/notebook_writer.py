"""``grade notebook EXERCISE``: an exercise module as a Jupyter notebook (nbformat 4, built with ``json``:
neither Jupyter nor IPython is needed): the module docstring, then per item its docstring as markdown and
its stub as code, and a last cell that grades it with ``check()`` (:mod:`grader.notebook`).
"""

from __future__ import annotations

import ast
import inspect
import json
import re
import textwrap
from pathlib import Path
from typing import Any

from grader import catalogue
from grader.notebook_cells import is_definition, segment_of, source_lines

NBFORMAT = 4
NBFORMAT_MINOR = 5
_SECTION = re.compile(r"^(Args|Arguments|Returns|Yields|Raises|Example|Examples|Hint|Note|Notes|Attributes):\s*(.*)$")
_LIST_SECTIONS = ("Args", "Arguments", "Raises", "Attributes")
_GRADE_CHECK = re.compile(r"`{1,2}grade check (ex\d\d[\w.]*)`{1,2}")


def write_notebook(exercise: str, out: Path | None = None, force: bool = False) -> Path:
    """Write the notebook of ``exercise`` (``ex02``) to ``out`` (default ``./exNN_topic.ipynb``; a folder
    receives that name); the path written.

    Raises:
        catalogue.UsageError: unknown exercise, an item instead of an exercise, no stubs in this kit, or a
            notebook already there without ``force`` (it may hold the student's work).
    """
    module = _one_module(exercise)
    target = out if out is not None else Path.cwd() / f"{module.name}.ipynb"
    if target.is_dir():
        target = target / f"{module.name}.ipynb"
    if target.suffix != ".ipynb":
        raise catalogue.UsageError(f"--out {target}: name the notebook with a .ipynb ending (Jupyter opens only "
                                   f"those), e.g. {module.name}.ipynb")
    if target.exists() and not force:
        raise catalogue.UsageError(f"{target} exists and may hold your work: open it, choose another --out, or "
                                   "pass --force to replace it with a fresh notebook")
    document = build_notebook(module, stub_source(module))
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    partial.replace(target)
    return target


def _one_module(exercise: str) -> catalogue.ModuleInfo:
    if "." in exercise:
        raise catalogue.UsageError(f"{exercise!r} names an item; a notebook holds a whole exercise: name it as "
                                   f"{exercise.split('.', 1)[0]!r}")
    return catalogue.select([exercise], catalogue.load_catalogue()).modules[0]


def stub_source(module: catalogue.ModuleInfo) -> str:
    """The untouched stubs of ``module``: regenerated from solutions/ (full kit), the handout's
    grader/pristine/ copy, else ``exercises/``."""
    from grader import stubs

    try:
        return stubs.pristine_source(module.name)
    except catalogue.UsageError:
        fallback = catalogue.EXERCISES_DIR / f"{module.name}.py"
        if fallback.is_file():
            return fallback.read_text(encoding="utf-8")
        raise


def build_notebook(module: catalogue.ModuleInfo, source: str) -> dict[str, Any]:
    """The nbformat-4 document of ``module`` from its stub ``source``: the module docstring, the imports, per
    item its docstring (markdown) and stub (code), and a last cell that grades the notebook."""
    tree = ast.parse(source)
    lines = source_lines(source)
    items = {item.name for item in module.items}
    cells = [_markdown(_introduction(module, ast.get_docstring(tree) or ""))]
    imports = [segment_of(lines, node) for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
    if imports:
        cells.append(_code("".join(imports)))
    other: list[str] = []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)) or node is _docstring_node(tree):
            continue
        if is_definition(node) and node.name in items:  # type: ignore[attr-defined]
            if other:
                cells.append(_code("\n\n".join(other)))
                other = []
            cells.append(_markdown(f"## `{node.name}`\n\n" + docstring_markdown(ast.get_docstring(node) or "")))
            cells.append(_code(_stub_without_docstring(node, lines)))
        else:
            other.append(segment_of(lines, node).rstrip("\n"))
    if other:
        cells.append(_code("\n\n".join(other)))
    cells.append(_markdown(
        "## Grade your work\n\n"
        "Run this cell after the cells above. It grades the code you ran in this kernel: the last "
        "definition of each function counts, and shell or magic lines (`!pip`, `%time`) are left out. "
        "Restarted the kernel? Run your cells again first."))
    cells.append(_code(f'from grader.notebook import check; check("{module.number}")'))
    for index, cell in enumerate(cells):
        cell["id"] = f"{module.number}-{index:02d}"
    return {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": NBFORMAT,
        "nbformat_minor": NBFORMAT_MINOR,
    }


def _docstring_node(tree: ast.Module) -> ast.stmt | None:
    return tree.body[0] if ast.get_docstring(tree) is not None else None


def _introduction(module: catalogue.ModuleInfo, docstring: str) -> str:
    return (f"# {module.name}\n\n{docstring_markdown(docstring)}\n\n"
            "---\n\n"
            "**Working in this notebook.** Run the imports cell, then write each function below in its cell "
            "and run that cell. The last cell grades what you ran: "
            f'`check("{module.number}")`, or one item, e.g. `check("{module.number}.{module.items[0].name}")`. '
            "In Colab, install the kit (or your handout) in the first cell: `!pip install ...` as your "
            "instructor says.")


def _stub_without_docstring(node: ast.stmt, lines: list[str]) -> str:
    """An item's stub as it stands in the module, less its own docstring (the markdown cell above shows it)."""
    first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
    body = node.body  # type: ignore[attr-defined]
    if ast.get_docstring(node) is None:  # type: ignore[arg-type]
        return "".join(lines[first - 1:node.end_lineno]).rstrip() + "\n"
    docstring = body[0]
    head = lines[first - 1:docstring.lineno - 1]
    tail = lines[docstring.end_lineno:node.end_lineno]
    if len(body) == 1:
        tail = [lines[docstring.lineno - 1][:docstring.col_offset] + "...\n"]
    while tail and not tail[0].strip():
        tail = tail[1:]
    return "".join(head + tail).rstrip() + "\n"


def docstring_markdown(docstring: str) -> str:
    """A Google-style docstring as markdown: ``Args:``-like sections as bullet lists, examples as code, and
    ``grade check ex02`` as the notebook's ``check("ex02")``."""
    lines = inspect.cleandoc(docstring).splitlines() if docstring.strip() else []
    out: list[str] = []
    index = 0
    while index < len(lines):
        match = _SECTION.match(lines[index])
        if not match:
            out.append(lines[index])
            index += 1
            continue
        title, inline = match.groups()
        index += 1
        block = []
        while index < len(lines) and (not lines[index].strip() or lines[index].startswith((" ", "\t"))):
            block.append(lines[index])
            index += 1
        body = textwrap.dedent("\n".join(block)).strip("\n")
        out += ["", f"**{title}:**" + (f" {inline}" if inline else "")]
        if body and title.startswith("Example"):
            out += ["", "```python", body, "```"]
        elif body and title in _LIST_SECTIONS:
            out.append("")
            for line in body.splitlines():
                if line and not line[0].isspace():
                    out.append(f"- {line}")
                elif line.strip():
                    out[-1] += " " + line.strip()
        elif body:
            out += ([] if inline else [""]) + [body]
        if body or not inline:  # "Hint: text" may go on, unindented, on the next lines
            out.append("")
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip()
    return _GRADE_CHECK.sub(lambda match: f'``check("{match.group(1)}")``', text)


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def _markdown(text: str) -> dict[str, Any]:
    return {"cell_type": "markdown", "metadata": {}, "source": _lines(text.rstrip("\n"))}


def _code(text: str) -> dict[str, Any]:
    return {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
            "source": _lines(text.rstrip("\n"))}
