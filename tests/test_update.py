"""`grade update NEW_HANDOUT` brings a newer handout into a student's copy: solved items keep their code, the rest
takes the new stubs, docstrings, checks and hints, every file is backed up first, and an older handout is refused."""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

import grader
from grader import catalogue, merge, stubs, update
from grader.cli import main

EX02 = "ex02_gradient_descent"
SOLVED = ("model", "loss_fn")
NEW_MODEL_SIGNATURE = ("def model(t_u: torch.Tensor, w: torch.Tensor | float, b: torch.Tensor | float, "
                       "scale: float = 1.0) -> torch.Tensor:")
NEW_ITEM = '''

def to_fahrenheit(t_c: torch.Tensor) -> torch.Tensor:
    """Convert Celsius temperatures to Fahrenheit: ``t_c * 9 / 5 + 32``.

    Args:
        t_c: (N,) float tensor of temperatures in degrees Celsius.

    Returns:
        (N,) float tensor of the same temperatures in degrees Fahrenheit.
    """
    raise NotImplementedError("ex02.to_fahrenheit is not implemented yet: see its docstring, then run `grade check ex02.to_fahrenheit`")
'''
NEW_HINT = "Multiply every reading by w and add b: one line, no loop. (Revised for this term.)"


def item_source(source: str, name: str) -> str:
    """The exact text of the top-level function or class ``name`` in ``source`` ("" when it is not there)."""
    node = next((n for n in ast.parse(source).body if getattr(n, "name", None) == name), None)
    return (ast.get_source_segment(source, node) or "") if node is not None else ""


def body_text(source: str, name: str) -> str:
    """The lines of function ``name`` after its docstring, exactly as written."""
    node = next(n for n in ast.parse(source).body if getattr(n, "name", None) == name)
    lines = source.splitlines(keepends=True)
    return "".join(lines[node.body[1].lineno - 1:node.end_lineno])


def solve(copy: Path, *items: str) -> str:
    """Paste the reference solution of ``items`` of ex02 into the copy, as a student who solved them; the new text."""
    path = copy / "exercises" / f"{EX02}.py"
    text = path.read_text(encoding="utf-8")
    solution = (catalogue.SOLUTIONS_DIR / f"{EX02}.py").read_text(encoding="utf-8")
    for item in items:
        text = text.replace(item_source(text, item), item_source(solution, item))
    path.write_text(text, encoding="utf-8")
    return text


def edit_stub(handout: Path, change: Callable[[str], str]) -> None:
    """Apply ``change`` (text -> text) to ex02's stub, both the one students start from and the pristine copy."""
    for path in (handout / "exercises" / f"{EX02}.py", handout / "grader" / "pristine" / f"{EX02}.py"):
        path.write_text(change(path.read_text(encoding="utf-8")), encoding="utf-8")


def make_newer(handout: Path) -> None:
    """Turn a copy of a handout into the next release: a changed docstring (of a solved and of an unsolved item), a
    changed signature, a new item, a removed item, a revised public check and hint, a newer version."""
    def change(text: str) -> str:
        text = text.replace("Mean squared error between predictions", "Mean squared error (MSE) between predictions")
        text = text.replace(item_source(text, "model").splitlines()[0], NEW_MODEL_SIGNATURE)
        dloss = item_source(text, "dloss_fn")
        text = text.replace(dloss, dloss.replace('"""', '"""Revised: ', 1))
        text = text.replace(item_source(text, "load_temperatures") + "\n\n\n", "")
        return text + NEW_ITEM
    edit_stub(handout, change)
    data = json.loads((handout / "grader" / "catalogue.json").read_text(encoding="utf-8"))
    ex02 = next(m for m in data["modules"] if m["name"] == EX02)
    ex02["items"] = [i for i in ex02["items"] if i["name"] != "load_temperatures"]
    next(i for i in ex02["items"] if i["name"] == "model")["hint"] = NEW_HINT
    ex02["items"].append({"name": "to_fahrenheit", "points": 1, "hint": "Scale, then shift.", "timeout": 5.0,
                          "forbid": []})
    (handout / "grader" / "catalogue.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    public = handout / "grader" / "public" / f"{EX02}.py"
    tree = ast.parse(public.read_text(encoding="utf-8"))
    tree.body = [node for node in tree.body if "'load_temperatures'" not in ast.unparse(node)]
    public.write_text(ast.unparse(tree) + "\n# revised for the new term\n", encoding="utf-8")
    record = json.loads((handout / "grader" / "handout.json").read_text(encoding="utf-8"))
    record.update(version="0.2.0", built_at="2099-01-01T00:00:00Z", release_id="next-term")
    (handout / "grader" / "handout.json").write_text(json.dumps(record), encoding="utf-8")
    pyproject = handout / "pyproject.toml"
    pyproject.write_text(re.sub(r'^version = ".*"', 'version = "0.2.0"', pyproject.read_text(), flags=re.MULTILINE))


@pytest.fixture(scope="module")
def handouts(tmp_path_factory) -> tuple[Path, Path]:
    """(the handout students started from, the next release of it): built once, copied by each test."""
    root = tmp_path_factory.mktemp("handouts")
    result = CliRunner().invoke(main, ["release", str(root / "old")])
    assert result.exit_code == 0, result.output
    shutil.copytree(root / "old", root / "new")
    make_newer(root / "new")
    return root / "old", root / "new"


def student_copy(handout: Path, where: Path) -> Path:
    copy = where / "student"
    shutil.copytree(handout, copy)
    return copy


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def run_grade(copy: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``grade ARGS`` as the student runs it: the copy's own grader, from inside the copy."""
    return subprocess.run([sys.executable, "-m", "grader.cli", *args], cwd=copy, capture_output=True, text=True,
                          check=False, timeout=300)


def test_a_handout_records_its_version_build_time_and_modules(handouts):
    old, _ = handouts
    record = json.loads((old / "grader" / "handout.json").read_text(encoding="utf-8"))
    assert record["version"] == grader.__version__
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", record["built_at"])
    assert record["modules"] == [m.name for m in catalogue.load_catalogue()]
    assert record["release_id"] == update.content_digest(old)
    assert '"handout.json"' in (old / "pyproject.toml").read_text(), "a non-editable install ships it too"
    shown = run_grade(old, "--version")
    assert shown.returncode == 0 and shown.stdout.strip() == f"grade {grader.__version__} (handout built {record['built_at']})"
    assert CliRunner().invoke(main, ["--version"]).output.strip() == f"grade {grader.__version__}"


def test_update_keeps_solved_bodies_takes_new_stubs_checks_and_hints_and_backs_up_first(handouts, tmp_path):
    old, new = handouts
    copy = student_copy(old, tmp_path)
    before = solve(copy, *SOLVED)
    progress = json.dumps({"items": {f"{EX02}.model": "passed"}, "hints": {"ex02.model": 2}})
    (copy / ".grade-progress.json").write_text(progress, encoding="utf-8")

    done = run_grade(copy, "update", str(new))

    assert done.returncode == 0, done.stderr
    assert "from handout 0.1.0" in done.stdout and "to 0.2.0, built 2099-01-01T00:00:00Z" in done.stdout
    assert "kept your code: ex02.model, ex02.loss_fn" in done.stdout
    assert "new stubs (you had not started them): ex02.dloss_fn" in done.stdout
    assert "new items: ex02.to_fahrenheit" in done.stdout
    assert "removed from the course (you had not started them): ex02.load_temperatures" in done.stdout
    assert "ex02.model: its signature changed in the new handout" in done.stdout and "grade check ex02.model" in done.stdout
    after = (copy / "exercises" / f"{EX02}.py").read_text(encoding="utf-8")
    solution = (catalogue.SOLUTIONS_DIR / f"{EX02}.py").read_text(encoding="utf-8")
    new_stub = (new / "exercises" / f"{EX02}.py").read_text(encoding="utf-8")
    for item in SOLVED:
        assert body_text(after, item) == body_text(solution, item), f"the body of ex02.{item} is kept exactly"
        assert ast.get_docstring(next(n for n in ast.parse(after).body if getattr(n, "name", "") == item)) == \
            ast.get_docstring(next(n for n in ast.parse(new_stub).body if getattr(n, "name", "") == item))
    assert "Mean squared error (MSE) between predictions" in item_source(after, "loss_fn")
    assert item_source(after, "model").splitlines()[0] == NEW_MODEL_SIGNATURE
    for item in ("dloss_fn", "dmodel_dw", "dmodel_db", "grad_fn", "training_loop", "to_fahrenheit"):
        assert item_source(after, item) == item_source(new_stub, item), f"ex02.{item} takes the new stub"
    assert item_source(after, "load_temperatures") == ""
    assert (copy / "exercises" / "ex01_tensors.py").read_text() == (new / "exercises" / "ex01_tensors.py").read_text()

    backups = copy / ".grade-backups"
    saved = list(backups.glob(f"{EX02}.py.*.bak"))
    assert len(saved) == 1 and saved[0].read_text(encoding="utf-8") == before
    assert not list(backups.glob("ex01_tensors.py.*.bak")), "an unchanged module needs no backup"
    old_handout = next(backups.glob("handout-0.1.0*"))
    assert (old_handout / "grader" / "handout.json").read_bytes() == (old / "grader" / "handout.json").read_bytes()
    for part in ("grader/public/ex02_gradient_descent.py", "grader/catalogue.json", "grader/handout.json",
                 "grader/pristine/ex02_gradient_descent.py", "pyproject.toml", "README.md"):
        assert (copy / part).read_bytes() == (new / part).read_bytes(), f"{part} is the new handout's"
    assert (copy / ".grade-progress.json").read_text(encoding="utf-8") == progress

    hint = run_grade(copy, "hint", "ex02.model")
    assert hint.returncode == 0 and "Revised for this term" in hint.stdout
    graded = run_grade(copy, "check", "ex02.model", "ex02.loss_fn", "--json")
    assert graded.returncode == 0, graded.stderr
    items = {i["name"]: i for e in json.loads(graded.stdout)["exercises"] for i in e["items"]}
    assert {name: (i["status"], i["score"] == i["max_score"] > 0) for name, i in items.items()} == {
        "model": ("passed", True), "loss_fn": ("passed", True)}


def test_an_older_handout_another_assignment_the_full_kit_and_a_folder_without_stubs_are_refused(handouts,
                                                                                                     tmp_path):
    old, new = handouts
    copy = student_copy(new, tmp_path)
    solve(copy, *SOLVED)
    not_a_handout = tmp_path / "not-a-handout"
    shutil.copytree(old, not_a_handout)
    shutil.rmtree(not_a_handout / "grader" / "pristine")
    other_assignment = tmp_path / "week4"
    shutil.copytree(new, other_assignment)
    for folder, name in ((copy, "week3"), (other_assignment, "week4")):
        (folder / "grader" / "assignment.json").write_text(json.dumps({"name": name}), encoding="utf-8")
    before = snapshot(copy)
    refusals = {
        str(old): ["handout 0.1.0, built", "older than your copy's 0.2.0, built 2099-01-01T00:00:00Z", "--force"],
        str(catalogue.KIT_ROOT): ["full instructor kit"],
        str(not_a_handout): ["not a student handout", "grader/pristine"],
        str(tmp_path / "missing"): ["no such folder"],
        str(other_assignment): ["assignment 'week4' and your copy is of 'week3'", "different assignment"],
    }
    for target, phrases in refusals.items():
        result = CliRunner().invoke(main, ["update", target, "--copy", str(copy)])
        assert result.exit_code == 2, result.output
        message = " ".join(result.output.split())
        assert all(phrase in message for phrase in phrases), message
        assert snapshot(copy) == before, f"refusing {target} changed nothing"
    in_the_kit = CliRunner().invoke(main, ["update", str(new), "--copy", str(catalogue.KIT_ROOT)])
    assert in_the_kit.exit_code == 2 and "full instructor kit" in in_the_kit.output

    forced = CliRunner().invoke(main, ["update", str(old), "--copy", str(copy), "--force"])
    assert forced.exit_code == 0, forced.output
    assert "Went back (--force)" in forced.output
    assert json.loads((copy / "grader" / "handout.json").read_text())["version"] == grader.__version__
    after = (copy / "exercises" / f"{EX02}.py").read_text(encoding="utf-8")
    solution = (catalogue.SOLUTIONS_DIR / f"{EX02}.py").read_text(encoding="utf-8")
    assert all(body_text(after, item) == body_text(solution, item) for item in SOLVED)


def test_a_removed_item_the_student_solved_is_kept_at_the_end_of_the_module_under_a_comment(handouts, tmp_path):
    old, new = handouts
    copy = student_copy(old, tmp_path)
    solve(copy, "load_temperatures")
    result = CliRunner().invoke(main, ["update", str(new), "--copy", str(copy)])
    assert result.exit_code == 0, result.output
    after = (copy / "exercises" / f"{EX02}.py").read_text(encoding="utf-8")
    solution = (catalogue.SOLUTIONS_DIR / f"{EX02}.py").read_text(encoding="utf-8")
    kept = item_source(solution, "load_temperatures")
    assert after.rstrip("\n").endswith(kept.rstrip("\n"))
    assert "# Kept by `grade update`: ex02.load_temperatures is not part of handout 0.2.0" in after
    assert "ex02.load_temperatures is not part of the new handout: your code is kept at the end" in \
        " ".join(result.output.split())


def test_a_module_that_does_not_parse_is_left_as_is_and_the_same_update_merges_it_once_fixed(handouts, tmp_path):
    old, new = handouts
    copy = student_copy(old, tmp_path)
    solved = solve(copy, *SOLVED)
    module = copy / "exercises" / f"{EX02}.py"
    broken = solved.replace("def loss_fn(", "def loss_fn(:", 1)
    module.write_text(broken, encoding="utf-8")

    first = CliRunner().invoke(main, ["update", str(new), "--copy", str(copy)])
    assert first.exit_code == 0, first.output
    message = " ".join(first.output.split())
    assert f"exercises/{EX02}.py does not parse (line" in message and f"grade update {new}` again" in message
    assert module.read_text(encoding="utf-8") == broken
    assert (copy / "grader" / "catalogue.json").read_bytes() == (new / "grader" / "catalogue.json").read_bytes()

    module.write_text(solved, encoding="utf-8")
    second = CliRunner().invoke(main, ["update", str(new), "--copy", str(copy)])
    assert second.exit_code == 0, second.output
    assert "kept your code: ex02.model, ex02.loss_fn" in second.output
    after = module.read_text(encoding="utf-8")
    assert item_source(after, "model").splitlines()[0] == NEW_MODEL_SIGNATURE
    assert (copy / "grader" / "pristine" / f"{EX02}.py").read_bytes() == \
        (new / "grader" / "pristine" / f"{EX02}.py").read_bytes()
    third = CliRunner().invoke(main, ["update", str(new), "--copy", str(copy)])
    assert third.exit_code == 0 and "already has handout 0.2.0" in third.output
    assert module.read_text(encoding="utf-8") == after


def test_a_solved_class_keeps_its_methods_and_the_students_own_code_stays_where_it_was():
    name = "ex06_data"
    old = stubs.pristine_source(name)
    solution = (catalogue.SOLUTIONS_DIR / f"{name}.py").read_text(encoding="utf-8")
    mine = old.replace(item_source(old, "ListDataset"), item_source(solution, "ListDataset"))
    mine = mine.replace("\nimport torch\n", "\nimport torch\nimport math  # mine\n", 1)
    mine += "\n\ndef my_helper(x):\n    # a note of mine\n    return math.sqrt(x)\n"
    new = old.replace('    def __len__(self) -> int:\n        """Return the number of samples.',
                      '    def __len__(self) -> int:\n        """Return how many samples there are.')
    assert new != old
    plan = merge.merge_module(name, mine, old, new, "0.2.0")
    assert plan.outcome == "updated" and plan.kept == ["ex06.ListDataset"] and plan.attention == []
    merged = ast.parse(plan.text)
    ours = next(n for n in merged.body if getattr(n, "name", "") == "ListDataset")
    reference = next(n for n in ast.parse(solution).body if getattr(n, "name", "") == "ListDataset")
    for method, expected in zip(ours.body[1:], reference.body[1:], strict=True):
        assert ast.dump(ast.Module(method.body[1:] if ast.get_docstring(method) else method.body, [])) == \
            ast.dump(ast.Module(expected.body[1:] if ast.get_docstring(expected) else expected.body, []))
    assert ast.get_docstring(ours.body[2]).startswith("Return how many samples there are.")
    assert "import math  # mine\n" in plan.text and plan.text.endswith(
        "def my_helper(x):\n    # a note of mine\n    return math.sqrt(x)\n")
    assert plan.text.index("import math") < plan.text.index("class ListDataset")


def test_versions_order_handouts_by_version_then_build_time():
    older, newer = update.Release("0.1.0", "2025-01-01T00:00:00Z", "a"), update.Release("0.1.0", "2025-02-01T00:00:00Z", "b")
    assert update.relation(newer, older) == "newer" and update.relation(older, newer) == "older"
    assert update.relation(update.Release("0.10.0"), update.Release("0.9.1", "2030-01-01T00:00:00Z")) == "newer"
    assert update.relation(older, update.Release("0.1.0", "2025-01-01T00:00:00Z", "a")) == "same"
    assert update.relation(update.Release("0.1.0"), older) == "older", "a handout without a record predates one with"
