"""Assignments: `grade release`, `gradescope`, `classroom`, `batch` and `check` grade and total a selection of
exercises or items, named by EXERCISE/ITEM selectors or once in assignments.toml (`--assignment NAME`)."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader import assignments, catalogue, wire
from grader.cli import main

WEEK3 = """\
[assignments.week3]
title = "Week 3: optimizers and nn modules"
select = ["ex04", "ex05"]
visibility = "after_due_date"

[assignments]
fit = ["ex05.fit_curve"]
"""
STEP_TIMEOUT = 900


def points_of(*selectors: str) -> int:
    return assignments.total_points(catalogue.select(list(selectors), catalogue.load_catalogue()))


WEEK3_POINTS = points_of("ex04", "ex05")
FIT_POINTS = points_of("ex05.fit_curve")


@pytest.fixture(scope="module")
def assignments_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("assignments") / "assignments.toml"
    path.write_text(WEEK3, encoding="utf-8")
    return path


def invoke(arguments: list[str], assignments_file: Path | None = None) -> object:
    env = {assignments.ENV_VAR: str(assignments_file)} if assignments_file else None
    return CliRunner().invoke(main, arguments, env=env)


def handout_grade(handout: Path, *arguments: str) -> subprocess.CompletedProcess:
    """The handout's own `grade` (its grader package, run from its folder), as a student runs it."""
    return subprocess.run([sys.executable, "-m", "grader.cli", *arguments], cwd=handout, capture_output=True,
                          text=True, check=False, timeout=STEP_TIMEOUT)


def copy_of_solutions(tmp_path: Path, *modules: str) -> Path:
    folder = tmp_path / "correct"
    folder.mkdir()
    for module in modules:
        shutil.copy(catalogue.SOLUTIONS_DIR / f"{module}.py", folder / f"{module}.py")
    return folder


def autograder_run(bundle: Path, root: Path, submission: dict[str, str]) -> tuple[dict, str]:
    """Unpack ``bundle`` as Gradescope does, put ``submission`` in, run run_autograder: results.json and the step."""
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(root / "source")
        run_step = archive.read("run_autograder").decode("utf-8")
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
    (root / "submission").mkdir()
    for name, text in submission.items():
        (root / "submission" / name).write_text(text, encoding="utf-8")
    done = subprocess.run(["bash", str(root / "run_autograder")], env={**os.environ, "AUTOGRADER_ROOT": str(root)},
                          capture_output=True, text=True, timeout=STEP_TIMEOUT, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads((root / "results" / "results.json").read_text(encoding="utf-8")), run_step


@pytest.fixture(scope="module")
def week3_handout(tmp_path_factory, assignments_file) -> Path:
    out = tmp_path_factory.mktemp("week3") / "handout"
    result = invoke(["release", str(out), "--assignment", "week3"], assignments_file)
    assert result.exit_code == 0, result.output
    assert f"2 exercise modules, {WEEK3_POINTS} points" in result.output
    return out


def test_the_example_assignments_file_loads_and_follows_the_curriculum_order():
    declared = assignments.load(catalogue.KIT_ROOT / assignments.EXAMPLE_NAME)
    assert 2 <= len(declared) <= 3
    order = [m.number for m in catalogue.load_catalogue()]
    firsts = [order.index(a.select[0].split(".")[0]) for a in declared.values()]
    assert firsts == sorted(firsts) and all(a.title for a in declared.values())


def test_an_assignment_is_a_table_with_select_title_and_visibility_or_a_bare_list(assignments_file):
    declared = assignments.load(assignments_file)
    assert declared["week3"] == assignments.Assignment("week3", ("ex04", "ex05"), "after_due_date",
                                                       "Week 3: optimizers and nn modules")
    assert declared["fit"] == assignments.Assignment("fit", ("ex05.fit_curve",))


def test_a_week3_release_ships_only_ex04_and_ex05_and_records_the_assignment(week3_handout):
    assert sorted(p.name for p in (week3_handout / "exercises").iterdir()) == ["ex04_optimizers.py",
                                                                               "ex05_nn_modules.py"]
    record = json.loads((week3_handout / "grader" / "assignment.json").read_text())
    assert record == {"name": "week3", "title": "Week 3: optimizers and nn modules", "select": ["ex04", "ex05"],
                      "points": WEEK3_POINTS}
    shipped = json.loads((week3_handout / "grader" / "catalogue.json").read_text())
    assert [m["name"] for m in shipped["modules"]] == ["ex04_optimizers", "ex05_nn_modules"]
    assert sorted(p.name for p in (week3_handout / "grader" / "public").glob("*.py")) == [
        "ex04_optimizers.py", "ex05_nn_modules.py"]
    assert "Week 3: optimizers and nn modules" in (week3_handout / "README.md").read_text()


def test_the_week3_handouts_grade_totals_that_selections_points_on_the_stubs(week3_handout):
    assert WEEK3_POINTS == 24
    done = handout_grade(week3_handout, "check", "--device", "cpu")
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"Total: 0/{WEEK3_POINTS}" in done.stdout, done.stdout[-2000:]
    assert "ex01_tensors" not in done.stdout
    listed = handout_grade(week3_handout, "list")
    assert listed.returncode == 0, listed.stderr[-2000:]
    assert listed.stdout.startswith(f"Assignment week3 (Week 3: optimizers and nn modules): ex04, ex05; "
                                    f"{WEEK3_POINTS} points")


def test_an_item_level_release_ships_the_whole_stub_file_but_grades_only_that_item(tmp_path):
    out = tmp_path / "handout"
    result = invoke(["release", str(out), "ex05.fit_curve"])
    assert result.exit_code == 0, result.output
    module = "ex05_nn_modules"
    assert (out / "exercises" / f"{module}.py").read_text() == (catalogue.EXERCISES_DIR / f"{module}.py").read_text()
    shipped = json.loads((out / "grader" / "catalogue.json").read_text())
    assert [(m["name"], [i["name"] for i in m["items"]]) for m in shipped["modules"]] == [(module, ["fit_curve"])]
    assert json.loads((out / "grader" / "assignment.json").read_text())["select"] == ["ex05.fit_curve"]
    public = (out / "grader" / "public" / f"{module}.py").read_text()
    assert public.count("@suite.check(") == 1 and "@suite.check('fit_curve'" in public
    stored = wire.loads_untrusted((out / "grader" / "public" / "expected.pt").read_bytes())
    assert stored and all(".fit_curve" in name for name in stored), sorted(stored)

    correct = copy_of_solutions(tmp_path, module)
    done = handout_grade(out, "check", "--submission", str(correct), "--device", "cpu", "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    document = json.loads(done.stdout)
    assert [i["name"] for e in document["exercises"] for i in e["items"]] == ["fit_curve"]
    assert document["score"] == document["max_score"] == FIT_POINTS == 3


def test_a_week3_gradescope_bundle_totals_the_selections_points_with_the_assignments_visibility(
        tmp_path, assignments_file):
    bundle = tmp_path / "week3.zip"
    result = invoke(["gradescope", str(bundle), "--assignment", "week3"], assignments_file)
    assert result.exit_code == 0, result.output
    assert f"grades {WEEK3_POINTS} points; test visibility: after_due_date" in result.output
    stubs = {f"{m}.py": (catalogue.EXERCISES_DIR / f"{m}.py").read_text() for m in ("ex04_optimizers",
                                                                                    "ex05_nn_modules")}
    document, run_step = autograder_run(bundle, tmp_path / "autograder", stubs)
    assert "--visibility after_due_date ex04 ex05" in run_step
    assert sum(test["max_score"] for test in document["tests"]) == WEEK3_POINTS
    assert len(document["tests"]) == 12 and document["score"] == 0
    assert {t["name"].split(".")[0] for t in document["tests"]} == {"ex04_optimizers", "ex05_nn_modules"}
    assert document["visibility"] == "after_due_date"
    assert {test["visibility"] for test in document["tests"]} == {"after_due_date"}
    assert f"/ {WEEK3_POINTS} " in document["output"]


def test_an_item_level_gradescope_bundle_grades_that_item_with_the_chosen_visibility(tmp_path):
    bundle = tmp_path / "fit.zip"
    result = invoke(["gradescope", str(bundle), "ex05.fit_curve", "--visibility", "hidden"])
    assert result.exit_code == 0, result.output
    solution = {"ex05_nn_modules.py": (catalogue.SOLUTIONS_DIR / "ex05_nn_modules.py").read_text()}
    document, run_step = autograder_run(bundle, tmp_path / "autograder", solution)
    assert run_step.rstrip().endswith("--visibility hidden ex05.fit_curve")
    assert [(t["name"], t["max_score"], t["visibility"]) for t in document["tests"]] == [
        ("ex05_nn_modules.fit_curve", FIT_POINTS, "hidden")]
    assert document["score"] == FIT_POINTS


def test_the_visibility_option_overrides_the_assignments_and_every_test_is_visible_by_default(
        tmp_path, assignments_file):
    overridden = tmp_path / "overridden.zip"
    result = invoke(["gradescope", str(overridden), "--assignment", "week3", "--visibility", "after_published"],
                    assignments_file)
    assert result.exit_code == 0, result.output
    assert "--visibility after_published ex04 ex05" in zipfile.ZipFile(overridden).read("run_autograder").decode()
    plain = tmp_path / "plain.zip"
    result = invoke(["gradescope", str(plain), "--assignment", "fit"], assignments_file)
    assert result.exit_code == 0, result.output
    run_step = zipfile.ZipFile(plain).read("run_autograder").decode()
    assert "--visibility" not in run_step and run_step.rstrip().endswith(" ex05.fit_curve")


def test_check_batch_and_classroom_take_an_assignment_and_total_its_points(tmp_path, assignments_file):
    stub = (catalogue.EXERCISES_DIR / "ex05_nn_modules.py").read_text()
    (tmp_path / "class" / "alice").mkdir(parents=True)
    (tmp_path / "class" / "alice" / "ex05_nn_modules.py").write_text(stub)

    checked = invoke(["check", "--assignment", "fit", "--submission", str(tmp_path / "class" / "alice"),
                      "--device", "cpu", "--json"], assignments_file)
    assert checked.exit_code == 0, checked.output
    assert json.loads(checked.output)["max_score"] == FIT_POINTS

    graded = invoke(["batch", str(tmp_path / "class"), "--out", str(tmp_path / "results"), "--assignment", "fit",
                     "--jobs", "1", "--device", "cpu", "--allow-unsandboxed"], assignments_file)
    assert graded.exit_code == 0, graded.output
    with open(tmp_path / "results" / "grades.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(row["submission"], float(row["max_score"])) for row in rows] == [("alice", FIT_POINTS)]

    template = tmp_path / "template"
    made = invoke(["classroom", str(template), "--assignment", "fit"], assignments_file)
    assert made.exit_code == 0, made.output
    assert f"1 grading steps worth {FIT_POINTS} points" in made.output
    assert json.loads((template / "grader" / "assignment.json").read_text())["name"] == "fit"


@pytest.mark.parametrize(("command", "text", "words"), [
    (["release", "{out}", "--assignment", "week3", "ex04"], WEEK3, ["--assignment week3", "ex04", "not both"]),
    (["gradescope", "{out}.zip", "--assignment", "week9"], WEEK3, ["week9", "known: fit, week3"]),
    (["classroom", "{out}", "--assignment", "w"], '[assignments.w\nselect = ["ex04"]\n', ["not valid TOML",
                                                                                            "line 1"]),
    (["release", "{out}", "--assignment", "w"], '[assignments.w]\nselect = ["ex99"]\n',
     ["assignments.w.select", "unknown exercise 'ex99'"]),
    (["check", "--assignment", "w"], '[assignments.w]\nselect = ["ex05.fit"]\n',
     ["assignments.w.select", "no item 'fit'", "fit_curve"]),
    (["batch", "{out}", "--out", "{out}-results", "--assignment", "w"],
     '[assignments.w]\nselect = ["ex04"]\nvisibilty = "hidden"\n', ["assignments.w", "unknown key 'visibilty'"]),
    (["gradescope", "{out}.zip", "--assignment", "w"], '[assignments.w]\nselect = ["ex04"]\nvisibility = "later"\n',
     ["assignments.w.visibility", "'later'", "after_due_date"]),
    (["release", "{out}", "--assignment", "w"], '[week3]\nselect = ["ex04"]\n',
     ["unknown top-level key 'week3'", "[assignments.NAME]"]),
], ids=["both", "unknown-name", "syntax", "unknown-exercise", "unknown-item", "unknown-key", "bad-visibility",
        "table-outside-assignments"])
def test_a_bad_assignment_or_assignments_file_is_a_usage_error_naming_the_file_key_and_fix(
        tmp_path, command, text, words):
    path = tmp_path / "assignments.toml"
    path.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    result = invoke([part.replace("{out}", str(out)) for part in command], path)
    assert result.exit_code == 2, result.output
    message = " ".join(result.output.split())
    for word in words:
        assert word in message, message
    if not any(word.startswith("known:") or word == "not both" for word in words):  # the file itself is bad
        assert str(path) in message and "Fix the file" in message
    assert not any(out.iterdir()) and not (tmp_path / "out.zip").exists()


def test_an_assignment_without_an_assignments_file_says_where_it_looked_and_how_to_start_one(tmp_path):
    result = invoke(["release", str(tmp_path / "out"), "--assignment", "week3"], tmp_path / "missing.toml")
    assert result.exit_code == 2
    assert "no assignments file at" in result.output and "assignments.example.toml" in result.output
    assert not (tmp_path / "out").exists()
