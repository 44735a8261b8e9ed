"""``grade release OUT``: a self-contained student handout without answers.

The handout holds the stubs, the grader, a student README and ``pyproject.toml``. Its checks are a
public subset: the first check of every item whose shipped code holds no answer, with the hidden
suite's other checks removed from the source, and the expected results computed from the reference
now and stored as data. It contains no reference code and no hidden check, so neither can be rebuilt
from it. The grader, fixtures included, ships whole: fixtures run beside student code and so hold no
answer (``tests/test_no_answers_in_worker.py``); a handout is refused if one does.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import shutil
from pathlib import Path

import torch

from grader import assignments, catalogue, hints, stubs, update, wire
from grader.compare import normalize
from grader.engine import CONDITIONING_KEY, MISTAKES_KEY, KitError, ReferenceCache, load_suite

HANDOUT_PYPROJECT = """\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "pytorch-exercises-handout"
version = "{version}"
description = "PyTorch exercises with a grader that explains what is wrong (student handout)"
readme = "README.md"
requires-python = ">=3.10"
dependencies = [
    "{torch}",
    "{torchvision}",
    "numpy>=1.24",
    "click>=8.1",
]

[project.scripts]
grade = "grader.cli:run"

[tool.setuptools]
packages = ["grader"]

[tool.setuptools.package-data]
grader = ["catalogue.json", "assignment.json", "handout.json", "public/*.py", "public/expected.pt", "pristine/*.py"]
"""

STUDENT_README = """\
# PyTorch exercises

Nine short exercise modules, from tensors to a custom training loop, with a grader that tells you
exactly what is wrong.

## Set up

Python 3.10 or newer. In this folder:

```sh
pip install -e . && grade
```

That installs PyTorch and the grader, then grades the untouched exercises (score 0: every item is
still "todo").

## How to work

1. Open `exercises/ex01_tensors.py`. Every function says in its docstring what it receives (shapes,
   dtypes), what it returns, and shows an example.
2. Replace the `raise NotImplementedError(...)` line with your code.
3. Run `grade check ex01` (or one item: `grade check ex01.reshaped`). Failed items show what was
   called, what was expected and what you returned, and the next thing to try.
4. Stuck? `grade hint ex01.reshaped` gives a nudge; `grade hint ex01.reshaped --more` the next step.
   Your progress: `grade list`.
5. Want to start an item over? `grade reset ex01.reshaped` puts its stub back (your file is saved in
   `.grade-backups/` first).
6. A newer handout from your instructor? Unpack it next to this folder, then run
   `grade update ../NEW_HANDOUT` here: your solved items keep your code, the rest takes the new stubs
   (everything it changes is saved in `.grade-backups/` first). `grade --version` shows your handout.
7. Debugging: `grade check ex02 --show-output` also shows what your code printed during each check;
   `grade repro ex02.grad_fn` writes `exercises/repro_ex02_grad_fn.py`, a script that calls your
   function with the inputs of its first failing check and prints expected and got; run it with
   `python` or under a debugger (`python -m pdb exercises/repro_ex02_grad_fn.py`).
8. Prefer Jupyter or Colab? `grade notebook ex02` writes `ex02_gradient_descent.ipynb`: the
   docstrings as text, one cell per function, and a last cell that grades the cells you ran
   (`from grader.notebook import check; check("ex02")`). Hand in the notebook or the `.py`, as your
   instructor asks.

## What the statuses mean

| status | meaning |
|---|---|
| `passed` | every check of the item passes: full points |
| `partial` | some of its checks pass: that share of the points |
| `failed` | no check passes; the feedback under "What to fix" says what was expected and what you returned |
| `not_implemented` | the function still raises `NotImplementedError` (0 points, not an error) |
| `missing` | the function is not in your module (renamed or deleted?) |
| `error` | the module does not import: the error and its line are shown |
| `timeout` | your code ran past its time limit (an endless loop, or far too slow) |
| `crashed` | the process running your code died (it exited, or used too much memory) |
| `not_graded` | the check needs a device this machine lacks (a GPU); it never counts as passed |

## About the checks

Here `grade` runs the **public checks**: one experiment per item, with expected results stored in
this folder. When your instructor grades your work, **hidden checks** run as well: the same items
on other inputs and edge cases (a batch of 1, odd shapes, float64, non-contiguous tensors, ...).
Code that is correct for every input passes both; code tuned to the public inputs will not.

## How to submit

Hand in the files of your `exercises/` folder (for example as a zip of that folder), as your
instructor tells you.
"""


def assignment_section(selection: catalogue.Selection, assignment: assignments.Assignment | None) -> str:
    """The student README's section naming what this handout's assignment covers and its points."""
    heading = (assignment.title or assignment.name) if assignment else "This assignment"
    lines = [f"\n## {heading}\n", (f"This handout grades only these exercises ({assignments.total_points(selection)} "
                                   "points in all; `grade list` shows them):\n")]
    for module in assignments.narrowed(selection):
        whole = selection.items[module.name] is None
        items = "every item" if whole else ", ".join(f"`{i.name}`" for i in module.items)
        lines.append(f"- `exercises/{module.name}.py`: {items} ({module.max_score} points)")
    if any(selection.items[m.name] is not None for m in selection.modules):
        lines.append("\nThe other functions of those files are not part of this assignment; an item that calls "
                     "one of them runs your version, so it may need to work too.")
    return "\n".join(lines) + "\n"


def is_empty_folder(path: Path) -> bool:
    return not path.exists() or (path.is_dir() and not any(path.iterdir()))


def public_suite_source(path: Path, chosen: dict[str, str] | None = None) -> tuple[str, set[str]]:
    """The suite's source with one check per item kept (``chosen[item]``, else the first one).

    With ``chosen``, items missing from it keep no check. Returns the source and the kept check names.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    kept_items: set[str] = set()
    kept_checks: set[str] = set()
    body = []
    for node in tree.body:
        item = _check_item(node)
        if item is None:
            body.append(node)
        elif item not in kept_items and (chosen is None or chosen.get(item) == node.name):  # type: ignore[attr-defined]
            kept_items.add(item)
            kept_checks.add(node.name)  # type: ignore[attr-defined]
            body.append(node)
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant):
        body = body[1:]
    body = _prune_unused_definitions(body)
    for node in body:  # hints ship once, in catalogue.json (for `grade hint`)
        for call in ast.walk(node):
            if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "item":
                for keyword in call.keywords:
                    if keyword.arg == "hint":
                        keyword.value = ast.Constant("run `grade hint` for this item's hint")
    docstring = ast.Expr(ast.Constant(f"Public checks of {path.stem}, written by `grade release`: one check of "
                                      "each item. The hidden checks run when your instructor grades."))
    tree.body = [docstring, *body]
    return ast.unparse(tree) + "\n", kept_checks


def strip_strings(tree: ast.AST) -> ast.AST:
    """Empty every string literal (docstrings and messages may quote an idiom; code may not)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            node.value = ""
    return tree


def answer_snippets(solution: Path, stub_source: str) -> list[str]:
    """Runs of two statements (or a lone long one) of each reference function that the stub (its pristine source)
    does not show."""
    stub_text = "".join(stub_source.split())
    snippets = []
    for node in ast.walk(ast.parse(solution.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.FunctionDef):
            continue
        body = node.body[1:] if ast.get_docstring(node) is not None else node.body
        statements = [ast.unparse(strip_strings(statement)) for statement in body]
        runs = ["\n".join(statements[i:i + 2]) for i in range(len(statements) - 1)]
        if len(statements) == 1 and len(statements[0]) > 30:
            runs.append(statements[0])
        snippets += [run for run in runs if "".join(run.split()) not in stub_text]
    return snippets


def choose_public_checks(path: Path, snippets: list[str]) -> dict[str, str]:
    """For each item the first check whose shipped code (with the suite's helpers it needs) holds no answer.

    An item all of whose checks need such code gets no public check: it is left to the hidden checks.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    candidates: dict[str, list[str]] = {}
    for node in tree.body:
        item = _check_item(node)
        if item is not None:
            candidates.setdefault(item, []).append(node.name)  # type: ignore[attr-defined]
    chosen = {}
    for item, names in candidates.items():
        for name in names:
            source, _ = public_suite_source(path, {item: name})
            code = ast.unparse(strip_strings(ast.parse(source)))
            if not any(snippet in code for snippet in snippets):
                chosen[item] = name
                break
    return chosen


def _defined_names(node: ast.stmt) -> set[str]:
    if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
        return {node.name}
    if isinstance(node, (ast.Assign, ast.AnnAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    return set()


def _prune_unused_definitions(body: list[ast.stmt]) -> list[ast.stmt]:
    """Drop helper functions, classes and constants that no kept check uses (directly or not).

    A helper used only by hidden checks may re-implement part of an answer; it must not ship.
    """
    roots = [n for n in body if _check_item(n) is not None or not _defined_names(n) or "suite" in _defined_names(n)]
    used: set[str] = set()
    frontier = roots
    definitions = {name: node for node in body for name in _defined_names(node)}
    kept_nodes: set[int] = {id(n) for n in roots}
    while frontier:
        names = {n.id for node in frontier for n in ast.walk(node) if isinstance(n, ast.Name)}
        names |= {n.value.id for node in frontier for n in ast.walk(node)
                  if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)}
        new = [definitions[name] for name in names - used if name in definitions]
        used |= names
        frontier = [node for node in new if id(node) not in kept_nodes]
        kept_nodes |= {id(node) for node in frontier}
    return [node for node in body if id(node) in kept_nodes]


def fixture_answers(grader_dir: Path, snippets: list[str]) -> list[str]:
    """``fixtures*.py: snippet`` for every answer snippet found in a fixture module (there should be none)."""
    found = []
    for path in sorted(grader_dir.glob("fixtures*.py")):
        code = ast.unparse(strip_strings(ast.parse(path.read_text(encoding="utf-8"))))
        found += [f"{path.name}: {snippet!r}" for snippet in snippets if snippet in code]
    return found


def _check_item(node: ast.stmt) -> str | None:
    if not isinstance(node, ast.FunctionDef):
        return None
    for decorator in node.decorator_list:
        if (isinstance(decorator, ast.Call) and isinstance(decorator.func, ast.Attribute)
                and decorator.func.attr == "check" and decorator.args
                and isinstance(decorator.args[0], ast.Constant)):
            return str(decorator.args[0].value)
    return None


def shippable_stub(module: catalogue.ModuleInfo, pristine: str) -> tuple[str, str | None]:
    """The stub to ship for ``module``: the kit's ``exercises/`` copy while it is pristine (its exact text), else the
    stub regenerated from the reference, with a note naming what differed (solved, started or edited there)."""
    path = catalogue.EXERCISES_DIR / f"{module.name}.py"
    current = path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""
    changed = stubs.changed_items(current, pristine, module) if current else ["the whole file (missing)"]
    if not changed:
        return current, None
    named = ", ".join(f"{module.number}.{name}" if name in {i.name for i in module.items} else name for name in changed)
    return pristine, (f"exercises/{module.name}.py differs from its stub in {named} (solved or edited there): the "
                      "output has the pristine stub, regenerated from solutions/. `grade reset` restores it in "
                      "exercises/ too, keeping a backup")


def build_handout(out: Path, force: bool = False, module_names: list[str] | None = None,
                  hint_steps: int | None = None, selection: catalogue.Selection | None = None,
                  assignment: assignments.Assignment | None = None) -> list[str]:
    """Write the handout of ``selection`` (else of ``module_names``; default: every module) into ``out``; notes on
    items left without a public check. ``hint_steps`` caps the steps of each hint it ships (None: all).

    A selected module ships its whole stub file, but the handout's catalogue lists, and its ``grade`` grades and
    totals, only the selected items; their public checks and expected results alone ship. What was selected (and
    the ``assignment`` it came from) is recorded in ``grader/assignment.json``.

    Raises:
        catalogue.UsageError: ``out`` is not empty and ``force`` is False, or this is already a handout.
        KitError: a grader fixture holds reference code (nothing is written then).
    """
    if not catalogue.has_hidden_suites():
        raise catalogue.UsageError("this is a student handout: `grade release` needs the full kit "
                                   "(with solutions/ and tests/hidden/)")
    if not is_empty_folder(out) and not force:
        raise catalogue.UsageError(f"{out} is not empty: choose an empty or new folder, or pass --force to "
                                   "replace what is there")
    every_module = catalogue.load_catalogue()
    if selection is None:
        selection = catalogue.select([m.name for m in every_module if module_names is None or m.name in module_names],
                                     every_module)
    modules = selection.modules
    graded = {module.name: module for module in assignments.narrowed(selection)}  # only the selected items
    pristine = {module.name: stubs.pristine_source(module.name) for module in every_module}
    snippets = [snippet for module in every_module
                for snippet in answer_snippets(catalogue.SOLUTIONS_DIR / f"{module.name}.py", pristine[module.name])]
    leaked = fixture_answers(catalogue.KIT_ROOT / "grader", snippets)
    if leaked:
        raise KitError("grader fixtures hold reference code, yet they run beside student code and ship in the "
                       f"handout: {'; '.join(leaked[:3])}. Remove it (see tests/test_no_answers_in_worker.py), then "
                       "run `grade release` again")
    if out.exists() and force:
        shutil.rmtree(out)
    (out / "exercises").mkdir(parents=True)
    grader_out = out / "grader"
    shutil.copytree(catalogue.KIT_ROOT / "grader", grader_out,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "public", "pristine", "catalogue.json",
                                                  "assignment.json"))
    (grader_out / "pristine").mkdir()
    notes: list[str] = []
    for module in modules:
        stub, note = shippable_stub(module, pristine[module.name])
        notes += [note] if note else []
        (out / "exercises" / f"{module.name}.py").write_text(stub, encoding="utf-8")
        (grader_out / "pristine" / f"{module.name}.py").write_text(pristine[module.name], encoding="utf-8")
    public = grader_out / "public"
    public.mkdir()
    expected: dict[str, object] = {}
    cache = ReferenceCache()
    device = torch.device("cpu")
    for module in modules:
        suite_file = catalogue.SUITES_DIR / f"{module.name}.py"
        wanted = selection.items.get(module.name)
        chosen = {item: check for item, check in choose_public_checks(suite_file, snippets).items()
                  if wanted is None or item in wanted}
        source, kept = public_suite_source(suite_file, chosen)
        for info in graded[module.name].items:
            if info.name not in chosen:
                notes.append(f"{module.number}.{info.name} has no public check (each of its checks would ship code "
                             "that holds an answer); the hidden checks grade it")
        (public / f"{module.name}.py").write_text(source, encoding="utf-8")
        suite = load_suite(module.name)
        for item in suite.items.values():
            for check in item.checks:
                if check.name in kept and check.requires is None:
                    value = normalize(cache.expected(check, item, device))
                    expected[check.qualified_name] = wire.encode_data(value)
                    slack = cache.conditioning(check, item, device)  # tolerances from the inputs' conditioning
                    if slack:
                        expected[CONDITIONING_KEY + check.qualified_name] = wire.encode_data(slack)
                    mistaken = cache.mistaken(check, item, device)  # for "Likely mistake:" lines, as data
                    if mistaken:
                        expected[MISTAKES_KEY + check.qualified_name] = wire.encode_data(mistaken)
    (public / "expected.pt").write_bytes(wire.dumps(expected))
    shipped = [catalogue.ModuleInfo(m.name, [dataclasses.replace(i, hint=hints.capped(i.hint, hint_steps))
                                             for i in m.items]) for m in graded.values()]
    (grader_out / "catalogue.json").write_text(catalogue.catalogue_json(shipped) + "\n", encoding="utf-8")
    record = assignments.handout_record(selection, assignment)
    (grader_out / "assignment.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    from grader import TORCH_REQUIREMENTS, __version__

    (out / "pyproject.toml").write_text(HANDOUT_PYPROJECT.format(version=__version__, torch=TORCH_REQUIREMENTS[0],
                                                                       torchvision=TORCH_REQUIREMENTS[1]), encoding="utf-8")
    partial = len(modules) < len(every_module) or any(selection.items[m.name] is not None for m in modules)
    (out / "README.md").write_text(STUDENT_README + (assignment_section(selection, assignment) if partial else ""),
                                   encoding="utf-8")
    (out / ".gitignore").write_text(".grade-progress.json\n.grade-backups/\n__pycache__/\n*.egg-info/\n"
                                   "exercises/repro_*\n", encoding="utf-8")  # `grade repro` scripts
    update.write_record(out)  # grader/handout.json: version, build time, digest; what `grade update` compares
    return notes
