"""Plausible wrong answers (mutants) and different-but-correct answers (equivalents) per module.

Each ``tests/mutants/exNN_topic.py`` defines ``MUTANTS`` and ``EQUIVALENTS``; ``tests/test_mutants.py``
applies each one to a copy of the reference solution and grades it: a mutant must lose points on its
item and on no other item except those whose checks run it (the items that declare ``uses=`` of it in
the hidden suite, directly or through another item), which must then say so in their feedback; an
equivalent must keep full marks.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mutant:
    """A typical mistake: ``find`` (present exactly once in the solution) becomes ``replace``."""

    item: str
    description: str
    find: str
    replace: str
    likely: str | None = None
    """A word or phrase that the feedback's ``Likely mistake:`` line must contain (case-insensitive), naming
    this mistake; None for a mutant whose first feedback line already names it (a forbidden call, ...)."""


@dataclass(frozen=True)
class Equivalent:
    """A correct variant that must keep full marks."""

    description: str
    find: str
    replace: str


def apply(source: str, find: str, replace: str) -> str:
    """``source`` with the single occurrence of ``find`` replaced; ValueError otherwise."""
    count = source.count(find)
    if count != 1:
        raise ValueError(f"expected exactly one occurrence of {find!r} in the solution, found {count}")
    return source.replace(find, replace)
