"""Print the feedback each mutant of a module gets: ``python -m tests.mutants.feedback ex07_classification [item]``.

A developer's tool for writing the mistake catalogue (tests/hidden/mistakes/): it shows, per mutant, the
score of its item, whether its recorded ``likely`` keyword is found, and the item's feedback lines.
"""

from __future__ import annotations

import importlib
import sys
import tempfile
from pathlib import Path

import torch

from grader import catalogue
from grader.engine import GradingService
from tests.mutants import Mutant, apply


def main(module_name: str, only_item: str | None = None) -> None:
    definitions = importlib.import_module(f"tests.mutants.{module_name}")
    modules = catalogue.load_catalogue()
    selection = catalogue.select([module_name], modules)
    source = (catalogue.SOLUTIONS_DIR / f"{module_name}.py").read_text(encoding="utf-8")
    named = total = 0
    with GradingService(torch.device("cpu")) as service, tempfile.TemporaryDirectory() as folder:
        for mutant in definitions.MUTANTS:
            if not isinstance(mutant, Mutant) or (only_item and mutant.item != only_item):
                continue
            (Path(folder) / f"{module_name}.py").write_text(apply(source, mutant.find, mutant.replace), encoding="utf-8")
            report = service.grade(Path(folder), selection)
            items = {item.name: item for item in report.exercises[0].items}
            result = items[mutant.item]
            likely = [line for line in result.feedback if line.startswith("Likely mistake:")]
            found = bool(mutant.likely) and any(mutant.likely.lower() in line.lower() for line in likely)
            total += 1
            named += found
            mark = "OK " if found else ("-- " if mutant.likely is None else "BAD")
            print(f"{mark} {mutant.item}: {mutant.description}  [{result.score}/{result.max_score}] "
                  f"likely={mutant.likely!r}")
            for line in result.feedback:
                print(f"      {line}")
            for name, item in items.items():
                if name != mutant.item and item.score != item.max_score:
                    print(f"      ALSO {name}: {item.score}/{item.max_score} {item.feedback[:2]}")
    print(f"\n{named} of {total} mutants named by their recorded keyword")


if __name__ == "__main__":
    main(*sys.argv[1:3])
