"""Pristine stubs: what ``exercises/`` holds before anyone tries the exercises.

In the full kit a module's stub is regenerated from its reference module: the same text, with the body of
every item (a function, or every method of a class) after its docstring replaced by ``raise
NotImplementedError("ex02.grad_fn is not implemented yet: ...")``. Trying the exercises cannot change that
source, so ``grade release``, ``grade classroom`` and ``grade gradescope`` ship these stubs, never the edited
``exercises/``. A handout keeps a copy in ``grader/pristine/`` for ``grade reset``.

Stubs are compared as syntax trees (``ast.dump``), so formatting and comments never count as a change.
"""

from __future__ import annotations

import ast
import shutil
import time
from pathlib import Path

from grader import catalogue

STUB_LINE_LIMIT = 120
SHIPPED_STUBS_DIR = Path(__file__).resolve().parent / "pristine"
BACKUP_DIR_NAME = ".grade-backups"


def not_implemented_message(number: str, item: str, method: str | None = None) -> str:
    """The stub's error message: what is missing and the command that checks it."""
    what = f"{number}.{item}" if method in (None, "__init__") else f"{number}.{item}.{method}"
    return f"{what} is not implemented yet: see its docstring, then run `grade check {number}.{item}`"


def _item_nodes(tree: ast.Module, items: set[str]) -> dict[str, ast.stmt]:
    return {node.name: node for node in tree.body
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name in items}


def _body_after_docstring(node: ast.FunctionDef) -> list[ast.stmt]:
    return node.body[1:] if ast.get_docstring(node, clean=False) is not None else node.body


def _raise_lines(indent: str, message: str) -> list[str]:
    literal = '"' + message.replace("\\", "\\\\").replace('"', '\\"') + '"'
    single = f"{indent}raise NotImplementedError({literal})\n"
    if len(single.rstrip("\n")) <= STUB_LINE_LIMIT:
        return [single]
    return [f"{indent}raise NotImplementedError(\n", f"{indent}    {literal}\n", f"{indent})\n"]


def stub_from_reference(reference_source: str, module: catalogue.ModuleInfo) -> str:
    """The stub of ``module``: the reference's text with every item's body (after its docstring) replaced."""
    tree = ast.parse(reference_source)
    lines = reference_source.splitlines(keepends=True)
    replacements: list[tuple[int, int, list[str]]] = []  # (first line, last line), 1-based, inclusive
    for name, node in _item_nodes(tree, {item.name for item in module.items}).items():
        functions = [(node, None)] if isinstance(node, ast.FunctionDef) else [
            (child, child.name) for child in node.body if isinstance(child, ast.FunctionDef)]
        for function, method in functions:
            body = _body_after_docstring(function)
            if not body:
                continue
            first, last = body[0].lineno, body[-1].end_lineno or body[-1].lineno
            indent = lines[first - 1][:body[0].col_offset]
            replacements.append((first, last, _raise_lines(indent, not_implemented_message(module.number, name,
                                                                                             method))))
    for first, last, new in sorted(replacements, reverse=True):
        lines[first - 1:last] = new
    return "".join(lines)


def pristine_source(module_name: str) -> str:
    """The pristine stub of a module: regenerated from ``solutions/`` in the full kit, the copy a handout ships in ``grader/pristine/``.

    Raises:
        catalogue.UsageError: neither is there (a handout written before stubs were shipped).
    """
    reference = catalogue.SOLUTIONS_DIR / f"{module_name}.py"
    if reference.is_file():
        module = next(m for m in catalogue.load_catalogue() if m.name == module_name)
        return stub_from_reference(reference.read_text(encoding="utf-8"), module)
    shipped = SHIPPED_STUBS_DIR / f"{module_name}.py"
    if shipped.is_file():
        return shipped.read_text(encoding="utf-8")
    raise catalogue.UsageError(f"no pristine copy of {module_name}.py in this handout (grader/pristine/ is missing): ask "
                               "your instructor for a fresh handout")


def changed_items(source: str, pristine: str, module: catalogue.ModuleInfo) -> list[str]:
    """Items whose code in ``source`` differs from the pristine stub (solved, started or edited), in catalogue
    order; ``"other code"`` last when something outside the items differs. A file that does not parse has
    every item changed."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return [item.name for item in module.items]
    names = {item.name for item in module.items}
    pristine_tree = ast.parse(pristine)
    mine, stubs = _item_nodes(tree, names), _item_nodes(pristine_tree, names)
    changed = [item.name for item in module.items
               if item.name not in mine or ast.dump(mine[item.name]) != ast.dump(stubs[item.name])]
    rest = [ast.dump(node) for node in tree.body if node not in mine.values()]
    pristine_rest = [ast.dump(node) for node in pristine_tree.body if node not in stubs.values()]
    if rest != pristine_rest:
        changed.append("other code")
    return changed


def reset(folder: Path, module: catalogue.ModuleInfo, item: str | None) -> tuple[Path | None, Path]:
    """Put the pristine stub of ``item`` (None: the whole module) back into ``folder``; (backup, module file).

    The file as it was is copied to ``<folder>/../.grade-backups/<module>.py.<timestamp>.bak`` first (no backup
    when there was no file). An item missing from the file is appended at its end.

    Raises:
        catalogue.UsageError: the module's file does not parse (so one item cannot be located in it).
    """
    target = folder / f"{module.name}.py"
    pristine = pristine_source(module.name)
    backup = None
    current = target.read_text(encoding="utf-8", errors="replace") if target.is_file() else None
    if item is None or current is None:
        updated = pristine
    else:
        try:
            tree = ast.parse(current)
        except SyntaxError as error:
            raise catalogue.UsageError(
                f"{target} does not parse (line {error.lineno}: {error.msg}), so {module.number}.{item} cannot be "
                f"found in it: fix that line, or reset the whole module with `grade reset {module.number}`") from None
        stub_node = _item_nodes(ast.parse(pristine), {item})[item]
        stub_text = "".join(pristine.splitlines(keepends=True)[_first_line(stub_node) - 1:stub_node.end_lineno])
        lines = current.splitlines(keepends=True)
        node = _item_nodes(tree, {item}).get(item)
        if node is None:
            updated = current.rstrip("\n") + "\n\n\n" + stub_text
        else:
            lines[_first_line(node) - 1:node.end_lineno] = [stub_text]
            updated = "".join(lines)
    if current is not None:
        backups = folder.resolve().parent / BACKUP_DIR_NAME
        backups.mkdir(exist_ok=True)
        backup = backups / f"{module.name}.py.{time.strftime('%Y%m%d-%H%M%S')}.bak"
        counter = 1
        while backup.exists():
            backup = backups / f"{module.name}.py.{time.strftime('%Y%m%d-%H%M%S')}-{counter}.bak"
            counter += 1
        shutil.copy2(target, backup)
    partial = target.with_name(target.name + ".partial")
    partial.write_text(updated, encoding="utf-8")
    partial.replace(target)
    return backup, target


def _first_line(node: ast.stmt) -> int:
    decorators = getattr(node, "decorator_list", [])
    return min([node.lineno, *(decorator.lineno for decorator in decorators)])
