"""Plausible wrong answers (mutants) and different-but-correct answers (equivalents) per module.

Each ``tests/mutants/exNN_topic.py`` defines ``MUTANTS`` and ``EQUIVALENTS``; ``tests/test_mutants.py``
applies each one to a copy of the reference solution and grades it: a mutant must lose points on its
item and on no other item except those listed in its ``also``, which must be items whose checks
deliberately run the student's own version of it (``uses=`` in the hidden suite, directly or through
another item) and must say so in their feedback. Items that call it through ``kit=`` get the kit's
version and keep their points. An equivalent must keep full marks.
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
    also: tuple[str, ...] = ()
    """Items whose checks deliberately run the student's own version of this item (``uses=`` in the suite)
    and that lose points through this mistake; they must say so in their feedback."""
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
