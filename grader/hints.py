"""Hints in steps: a nudge first, then the next step on request; the last step may be the formula.

A hint is written in the hidden suite as paragraphs separated by one blank line, each a step. How many
steps a student has asked for is kept per item in the progress file, so ``grade hint ITEM`` shows the same
steps again and ``grade hint ITEM --more`` adds the next one. A handout ships only the first
``hint_steps`` steps of each hint when the instructor caps them (``grade release --hint-steps N``).
"""

from __future__ import annotations


def steps_of(hint: str) -> list[str]:
    """The hint's steps, in order (a hint without blank lines is one step)."""
    return [step.strip() for step in hint.strip().split("\n\n") if step.strip()]


def capped(hint: str, steps: int | None) -> str:
    """The hint with only its first ``steps`` steps (None: all of them)."""
    kept = steps_of(hint) if steps is None else steps_of(hint)[:steps]
    return "\n\n".join(kept)


def render(item: str, points: int, hint: str, shown: int) -> str:
    """Steps 1..``shown`` of the hint (at least one), and how to get the next."""
    steps = steps_of(hint) or ["This item has no hint: read its docstring, then run `grade check` for feedback."]
    shown = max(1, min(shown, len(steps)))
    lines = [f"{item} ({points} point{'s' if points > 1 else ''})"]
    for number, step in enumerate(steps[:shown], start=1):
        prefix = f"Step {number} of {len(steps)}: " if len(steps) > 1 else ""
        lines.append(prefix + step)
    if shown < len(steps):
        lines.append(f"Still stuck? `grade hint {item} --more` shows step {shown + 1} of {len(steps)}.")
    return "\n\n".join(lines)
