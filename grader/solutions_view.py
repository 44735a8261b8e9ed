"""Read the reference source of one item (for `grade solution`), without importing it."""

from __future__ import annotations

import ast

from grader import catalogue


def source_of(module_name: str, item_name: str) -> str:
    """The source text of the top-level function or class ``item_name`` in the reference module."""
    path = catalogue.SOLUTIONS_DIR / f"{module_name}.py"
    text = path.read_text(encoding="utf-8")
    for node in ast.parse(text).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name == item_name:
            return ast.get_source_segment(text, node, padded=True) or ""
    raise catalogue.UsageError(f"{module_name} has no {item_name} in the reference solutions")
