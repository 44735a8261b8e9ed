"""Jupyter and Colab: an exercise as a notebook, and grading the cells a student ran.

Three paths share one conversion, :func:`source_of_cells` (cells in, module source out):

- ``grade notebook ex02`` writes ``ex02_gradient_descent.ipynb`` (nbformat 4, built with the ``json``
  module: neither Jupyter nor IPython is needed): the module docstring, then per item its docstring as
  markdown and its stub as code, and a last cell ``check("ex02")``.
- ``check("ex02")`` inside a notebook reads the kernel's input history (so it works in Colab, where
  the ``.ipynb`` is not on disk), builds the module from it and grades that source with the grader
  ``grade check`` uses: in a sandboxed worker, never the kernel's own objects.
- ``grade batch`` and the Gradescope bundle accept ``exNN_topic.ipynb`` in place of ``exNN_topic.py``
  (:func:`module_of_notebook`).

What the conversion keeps: the last definition (``def``/``class``) of each name, as a student re-runs
cells; the imports; and the assignments (or ``if``/``try`` blocks that assign) those definitions use (a
constant, a device). What it leaves
out: IPython shell and magic lines (``!pip``, ``%matplotlib``, ``%%time`` cells), reported, and every
other top-level statement (test calls, prints, plots), which the grader never runs. The cells are only
parsed here (``ast``, ``symtable``), never executed.
"""

from __future__ import annotations

import ast
import dataclasses
import heapq
import html
import inspect
import json
import re
import symtable
import tempfile
import textwrap
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from grader import catalogue, report

NBFORMAT = 4
NBFORMAT_MINOR = 5
SHOWN_LINE_CHARS = 80
MAX_NOTES = 20
"""Notes on what was left out of the cells, at most (then one sentence counts the rest)."""

_MAGIC_LINE = re.compile(
    r"""^\s*(?:[!%]                              # !pip install x, %matplotlib inline
            |[A-Za-z_]\w*\s*=\s*[!%](?!=)        # files = !ls
            |[\w.]+\s*\?{1,2}\s*$                # torch.zeros?  (help)
            |\?{1,2}\s*[\w.]+\s*$)               # ?torch.zeros
    """, re.VERBOSE)
_SECTION = re.compile(r"^(Args|Arguments|Returns|Yields|Raises|Example|Examples|Hint|Note|Notes|Attributes):\s*(.*)$")
_LIST_SECTIONS = ("Args", "Arguments", "Raises", "Attributes")
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")
"""A line as Python's parser counts them (``str.splitlines`` also splits at form feeds and other separators)."""
_GRADE_CHECK = re.compile(r"`{1,2}grade check (ex\d\d[\w.]*)`{1,2}")


class NotebookError(Exception):
    """A notebook cannot be read or graded; the message says why and what to do next."""


class Converted(NamedTuple):
    """A module built from cells: its ``source``, and a sentence for each thing ``dropped`` from the cells."""

    source: str
    dropped: list[str]


# ---------------------------------------------------------------- cells -> module source
@dataclasses.dataclass
class _Statement:
    position: int
    text: str
    node: ast.stmt
    binds: set[str]


def source_of_cells(cells: Sequence[str], keep: Collection[str] = (), label: str = "cell {}") -> Converted:
    """The module a list of cells defines, as ``grade`` grades it; the one conversion of all three paths.

    Args:
        cells: the cells' sources, in the order they ran (a notebook's code cells, or a kernel's history).
        keep: names the module must define (the exercise's items): the module holds what they need. Empty:
            every function and class defined in the cells, and what they need.
        label: how a cell is named in the notes, ``{}`` standing for its number (from 1).

    Returns:
        The source (imports, then the last definition of each name kept and the assignments they use) and,
        for each shell or magic line, ``%%`` cell or cell that does not parse, a sentence saying what was
        left out.
    """
    statements: list[_Statement] = []
    dropped: list[str] = []
    for number, cell in enumerate(cells, 1):
        where = label.format(number)
        parsed = _python_of_cell(str(cell), where, dropped)
        if parsed is None:
            continue
        text, tree = parsed
        lines = _source_lines(text)
        for node in tree.body:
            segment = _segment(lines, node)
            if _calls_ipython(node):
                dropped.append(f"{where}: `{_shown(segment)}` (IPython's own command, not Python)")
                continue
            try:
                binds = _bound_names(node)
            except RecursionError:
                dropped.append(f"{where}: `{_shown(segment)}` nests too deeply to be graded and was left out")
                continue
            if binds or isinstance(node, (ast.Import, ast.ImportFrom)):
                statements.append(_Statement(len(statements), segment, node, binds))
    chosen = _needed(statements, keep)
    if len(dropped) > MAX_NOTES:
        dropped[MAX_NOTES:] = [f"... and {len(dropped) - MAX_NOTES} more lines or cells like these"]
    return Converted(_module_text(chosen), dropped)


def _python_of_cell(cell: str, where: str, dropped: list[str]) -> tuple[str, ast.Module] | None:
    """The cell as Python and its syntax tree (shell and magic lines removed and reported), or None when nothing
    of it can be used."""
    first = next((line.strip() for line in cell.splitlines() if line.strip()), "")
    if first.startswith("%%"):
        magic = first.split()[0]
        dropped.append(f"{where}: the whole cell, which starts with the cell magic `{_shown(first)}` (IPython, not "
                       f"Python): its code is not graded; remove the {magic} line to have it graded")
        return None
    tree = _parsed(cell)
    if tree is not None:
        return cell, tree
    kept = []
    for number, line in enumerate((line.rstrip("\r\n") for line in _source_lines(cell)), 1):
        if _MAGIC_LINE.match(line):
            dropped.append(f"{where}, line {number}: `{_shown(line)}` (an IPython shell or magic line)")
            indent = line[: len(line) - len(line.lstrip())]
            kept.append(f"{indent}pass" if indent else "")
        else:
            kept.append(line)
    text = "\n".join(kept) + "\n"
    try:
        return text, ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
        line = f"line {error.lineno}: {error.msg}" if isinstance(error, SyntaxError) else type(error).__name__
        dropped.append(f"{where} is not valid Python ({line}), so none of it is graded: fix it (and run it again)")
        return None


def _source_lines(text: str) -> list[str]:
    """``text``'s lines with their ends, split where Python's parser splits them (line numbers agree with ``ast``)."""
    return _LINE.findall(text)


def _parsed(text: str) -> ast.Module | None:
    try:
        return ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _segment(lines: list[str], node: ast.stmt) -> str:
    """A top-level statement's source: whole lines for a definition (decorators and comments kept), else exact.

    (Not ``ast.get_source_segment``: it splits the whole text again for every statement.)
    """
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
        return "".join(lines[first - 1:node.end_lineno]).rstrip() + "\n"
    first, last = node.lineno - 1, (node.end_lineno or node.lineno) - 1
    start, end = node.col_offset, node.end_col_offset  # offsets in UTF-8 bytes
    if first == last:
        return lines[first].encode()[start:end].decode(errors="replace") + "\n"
    return (lines[first].encode()[start:].decode(errors="replace") + "".join(lines[first + 1:last])
            + lines[last].encode()[:end].decode(errors="replace") + "\n")


def _calls_ipython(node: ast.stmt) -> bool:
    """A top-level statement that calls ``get_ipython()``: a magic or shell line as IPython's ``In`` stores it."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return False
    return any(isinstance(sub, ast.Call) and isinstance(sub.func, ast.Name) and sub.func.id == "get_ipython"
               for sub in ast.walk(node))


def _bound_names(node: ast.stmt) -> set[str]:
    """The names a top-level statement the module may keep binds (empty for anything else)."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    if isinstance(node, ast.Import):
        return {(alias.asname or alias.name).split(".")[0] for alias in node.names}
    if isinstance(node, ast.ImportFrom):
        return {alias.asname or alias.name for alias in node.names if alias.name != "*"}
    if isinstance(node, (ast.If, ast.Try)):  # `if torch.cuda.is_available(): device = ...`, `try: import x ...`
        names: set[str] = set()
        pending: list[ast.stmt] = [node]
        while pending:  # not recursive: an `elif` chain nests as deep as it is long
            current = pending.pop()
            if isinstance(current, (ast.If, ast.Try)):
                pending += [*current.body, *current.orelse, *getattr(current, "finalbody", []),
                            *(s for handler in getattr(current, "handlers", []) for s in handler.body)]
            else:
                names |= _bound_names(current)
        return names
    targets = node.targets if isinstance(node, ast.Assign) else (
        [node.target] if isinstance(node, ast.AnnAssign) and node.value is not None else [])
    names: set[str] = set()
    for target in targets:
        for sub in ast.walk(target):
            if isinstance(sub, ast.Name):
                names.add(sub.id)
            elif not isinstance(sub, (ast.Tuple, ast.List, ast.Starred, ast.Store, ast.Load)):
                return set()  # an attribute or item assignment changes something else: not module code
    return names


def _is_definition(node: ast.stmt) -> bool:
    return isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))


def _is_grader_import(node: ast.stmt) -> bool:
    """``from grader.notebook import check``: the kit's own cell, not the student's module."""
    if isinstance(node, ast.ImportFrom):
        return (node.module or "").split(".")[0] == "grader" and node.level == 0
    return isinstance(node, ast.Import) and all(a.name.split(".")[0] == "grader" for a in node.names)


def _needed(statements: list[_Statement], keep: Collection[str]) -> list[_Statement]:
    """The statements the module holds: what ``keep`` (or every definition) needs, transitively.

    Each name is bound by its last ``def``/``class`` when it has one (a re-run cell replaces the earlier
    definition), else by its last import or assignment.
    """
    definitions: dict[str, _Statement] = {}
    others: dict[str, _Statement] = {}
    for statement in statements:
        if _is_grader_import(statement.node):
            continue
        table = definitions if _is_definition(statement.node) else others
        for name in statement.binds:
            table[name] = statement
    binding = {**others, **definitions}
    roots = [name for name in keep if name in binding] if keep else list(definitions)
    chosen: dict[int, _Statement] = {}
    pending = list(roots)
    while pending:
        statement = binding.get(pending.pop())
        if statement is None or statement.position in chosen:
            continue
        chosen[statement.position] = statement
        pending.extend(_references(statement))
    for statement in statements:  # star imports and __future__ bind names no one can see
        node = statement.node
        if isinstance(node, ast.ImportFrom) and not _is_grader_import(node) and (
                node.module == "__future__" or any(alias.name == "*" for alias in node.names)):
            chosen[statement.position] = statement
    return [chosen[position] for position in sorted(chosen)]


def _references(statement: _Statement) -> set[str]:
    """The global names a statement reads, now or when its functions run (locals and parameters excluded)."""
    try:
        table = symtable.symtable(textwrap.dedent(statement.text), "<cell>", "exec")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return {sub.id for sub in ast.walk(statement.node) if isinstance(sub, ast.Name)}
    names = {symbol.get_name() for symbol in table.get_symbols() if symbol.is_referenced()}
    tables = list(table.get_children())
    while tables:
        child = tables.pop()
        names |= {s.get_name() for s in child.get_symbols() if s.is_referenced() and s.is_global()}
        tables.extend(child.get_children())
    return names


def _definition_time_names(node: ast.stmt) -> set[str]:
    """The names a statement reads while it runs (bases, decorators, defaults, values; not function bodies)."""
    names: set[str] = set()
    pending: list[ast.AST] = [node]
    while pending:
        current = pending.pop()
        if isinstance(current, (ast.FunctionDef, ast.AsyncFunctionDef)):
            pending += [*current.decorator_list, *current.args.defaults,
                        *(d for d in current.args.kw_defaults if d is not None)]
            continue
        if isinstance(current, ast.Lambda):
            pending += [*current.args.defaults, *(d for d in current.args.kw_defaults if d is not None)]
            continue
        if isinstance(current, ast.Name) and isinstance(current.ctx, ast.Load):
            names.add(current.id)
        pending.extend(ast.iter_child_nodes(current))
    return names


def _module_text(chosen: list[_Statement]) -> str:
    """Imports first (``__future__`` at the top, each once), then the rest in an order that runs: a statement
    after those it reads while it runs, else in the order the cells ran (a cycle keeps that order)."""
    imports = [s for s in chosen if isinstance(s.node, (ast.Import, ast.ImportFrom))]
    imports.sort(key=lambda s: (not (isinstance(s.node, ast.ImportFrom) and s.node.module == "__future__"),
                                s.position))
    rest = {s.position: s for s in chosen if not isinstance(s.node, (ast.Import, ast.ImportFrom))}
    provider = {name: s.position for s in rest.values() for name in s.binds}
    dependents: dict[int, list[int]] = {position: [] for position in rest}
    waiting = dict.fromkeys(rest, 0)
    for position, statement in rest.items():
        for needed in {provider[n] for n in _definition_time_names(statement.node) if n in provider} - {position}:
            dependents[needed].append(position)
            waiting[position] += 1
    ready = [position for position, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    in_order, cursor, done = sorted(rest), 0, set()
    ordered: list[_Statement] = []
    while len(ordered) < len(rest):
        if ready:
            position = heapq.heappop(ready)
            if position in done:
                continue
        else:  # a cycle: the first statement not yet placed, in the order the cells ran
            while in_order[cursor] in done:
                cursor += 1
            position = in_order[cursor]
        done.add(position)
        ordered.append(rest[position])
        for later in dependents[position]:
            waiting[later] -= 1
            if waiting[later] == 0 and later not in done:
                heapq.heappush(ready, later)
    texts = list(dict.fromkeys(s.text for s in imports))
    blocks = (["".join(texts)] if texts else []) + [s.text for s in ordered]
    return "\n\n\n".join(block.rstrip("\n") for block in blocks) + "\n" if blocks else ""


def _points(value: float) -> str:
    return f"{value:g}" if value == int(value) else f"{value:.2f}"


def _shown(line: str) -> str:
    """A line of the student's cell as a note quotes it: one line of printable characters (no escape sequence
    reaches a terminal), at most SHOWN_LINE_CHARS."""
    text = "".join(char for char in " ".join(line.split()) if char.isprintable())
    return text if len(text) <= SHOWN_LINE_CHARS else text[:SHOWN_LINE_CHARS - 3] + "..."


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


# ---------------------------------------------------------------- grade notebook: writing one
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
    lines = _source_lines(source)
    items = {item.name for item in module.items}
    cells = [_markdown(_introduction(module, ast.get_docstring(tree) or ""))]
    imports = [_segment(lines, node) for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
    if imports:
        cells.append(_code("".join(imports)))
    other: list[str] = []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)) or node is _docstring_node(tree):
            continue
        if _is_definition(node) and node.name in items:  # type: ignore[attr-defined]
            if other:
                cells.append(_code("\n\n".join(other)))
                other = []
            cells.append(_markdown(f"## `{node.name}`\n\n" + docstring_markdown(ast.get_docstring(node) or "")))
            cells.append(_code(_stub_without_docstring(node, lines)))
        else:
            other.append(_segment(lines, node).rstrip("\n"))
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
