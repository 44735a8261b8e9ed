"""Notebook cells in, an exercise module's source out: the one conversion behind ``check()`` in a notebook,
``.ipynb`` submissions and ``grade notebook``'s round trip (:mod:`grader.notebook`).

What it keeps: the last definition (``def``/``class``) of each name, as a student re-runs cells; the imports;
and the assignments (or ``if``/``try`` blocks that assign) those definitions use (a constant, a device).
What it leaves out: IPython shell and magic lines (``!pip``, ``%matplotlib``, ``%%time`` cells), reported,
and every other top-level statement (test calls, prints, plots), which the grader never runs. The cells
are only parsed here (``ast``, ``symtable``), never executed.
"""

from __future__ import annotations

import ast
import dataclasses
import heapq
import re
import symtable
import textwrap
from collections.abc import Collection, Sequence
from typing import NamedTuple

SHOWN_LINE_CHARS = 80
MAX_NOTES = 20
"""Notes on what was left out of the cells, at most (then one sentence counts the rest)."""
_MAGIC_LINE = re.compile(
    r"""^\s*(?:[!%]                              # !pip install x, %matplotlib inline
            |[A-Za-z_]\w*\s*=\s*[!%](?!=)        # files = !ls
            |[\w.]+\s*\?{1,2}\s*$                # torch.zeros?  (help)
            |\?{1,2}\s*[\w.]+\s*$)               # ?torch.zeros
    """, re.VERBOSE)
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")
"""A line as Python's parser counts them (``str.splitlines`` also splits at form feeds and other separators)."""


class Converted(NamedTuple):
    """A module built from cells: its ``source``, and a sentence for each thing ``dropped`` from the cells."""

    source: str
    dropped: list[str]


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
        lines = source_lines(text)
        for node in tree.body:
            segment = segment_of(lines, node)
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
    for number, line in enumerate((line.rstrip("\r\n") for line in source_lines(cell)), 1):
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


def source_lines(text: str) -> list[str]:
    """``text``'s lines with their ends, split where Python's parser splits them (line numbers agree with ``ast``)."""
    return _LINE.findall(text)


def _parsed(text: str) -> ast.Module | None:
    try:
        return ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def segment_of(lines: list[str], node: ast.stmt) -> str:
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


def is_definition(node: ast.stmt) -> bool:
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
        table = definitions if is_definition(statement.node) else others
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


def _shown(line: str) -> str:
    """A line of the student's cell as a note quotes it: one line of printable characters (no escape sequence
    reaches a terminal), at most SHOWN_LINE_CHARS."""
    text = "".join(char for char in " ".join(line.split()) if char.isprintable())
    return text if len(text) <= SHOWN_LINE_CHARS else text[:SHOWN_LINE_CHARS - 3] + "..."
