"""The catalogue of typical mistakes: what a wrong answer *is*, recognised from what it returns.

A hidden suite's mistakes live beside it in ``tests/hidden/mistakes/exNN_topic.py``::

    mistakes = Mistakes("ex07_classification")

    @mistakes.of("softmax", "your softmax normalises over dim 0, the batch; each row should sum to 1")
    def softmax_over_the_batch(reference):
        def softmax(X):
            X_exp = torch.exp(X)
            return X_exp / X_exp.sum(dim=0, keepdim=True)
        return softmax

Each entry is a *wrong implementation* of one item, written in this trusted process (it never runs
beside student code). When a student's result on a check differs from the reference's, the engine
runs the same check on the reference module with that item replaced by each mistake of it, and when
the student's result matches one mistake's result (and the mistake's result differs from the right
one on that check) the feedback says ``Likely mistake: <sentence>``. Nothing here reads the student's
source: the diagnosis comes only from matching what the code returned, on the check's own inputs.

``factory(reference)`` receives the reference module (to call its other, correct items) and returns
what replaces the item: a function for a function, a class for a class (often a subclass of the
reference class with one method changed).

In a handout, which has no reference code, the mistaken results of the public checks are computed by
``grade release`` and ship as data beside the expected results.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

LIKELY = "Likely mistake: "


@dataclass(frozen=True)
class Mistake:
    """One typical wrong answer to one item."""

    item: str
    sentence: str
    factory: Callable[[ModuleType], object]

    @property
    def line(self) -> str:
        return LIKELY + self.sentence


class Mistakes:
    """The catalogued mistakes of one exercise module, in the order they are tried."""

    def __init__(self, module: str) -> None:
        self.module = module
        self.entries: list[Mistake] = []

    def of(self, item: str, sentence: str) -> Callable[[Callable[[ModuleType], object]], Callable[[ModuleType], object]]:
        """Register the decorated factory as a mistake of ``item``, told to the student as ``sentence``.

        The sentence is written for a beginner and names the mistake and its fix ("your gradient is N
        times too large: the mean's 1/N is missing"), not the symptom.
        """
        sentence = " ".join(sentence.split())
        if not sentence or sentence.startswith(LIKELY.strip()):
            raise ValueError(f"{self.module}.{item}: a mistake's sentence is the text after '{LIKELY.strip()}'")

        def register(factory: Callable[[ModuleType], object]) -> Callable[[ModuleType], object]:
            self.entries.append(Mistake(item, sentence, factory))
            return factory

        return register

    def for_item(self, item: str) -> list[Mistake]:
        return [mistake for mistake in self.entries if mistake.item == item]


class WithMistake:
    """The reference module with one item replaced by a mistaken version (what a check runs on).

    Attributes other than the replaced item are the reference's own; the reference's internal calls
    are untouched (only the checks of the replaced item run on this).
    """

    def __init__(self, reference: ModuleType, item: str, replacement: object) -> None:
        self._reference = reference
        self._item = item
        self._replacement = replacement

    def __getattr__(self, name: str) -> object:
        if name == self._item:
            return self._replacement
        return getattr(self._reference, name)
