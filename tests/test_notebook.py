"""Jupyter and Colab: `grade notebook` writes an exercise as a notebook, `check()` grades the cells a student
ran, and `grade batch` grades a submitted `.ipynb` like the `.py` its code cells define."""

from __future__ import annotations

import ast
import csv
import json
import re
import sys
import types
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader import catalogue, notebook, report, submissions
from grader.cli import main

MODULE = "ex02_gradient_descent"
ITEMS = [item.name for item in next(m for m in catalogue.load_catalogue() if m.name == MODULE).items]
SOLUTION = (catalogue.SOLUTIONS_DIR / f"{MODULE}.py").read_text(encoding="utf-8")


def _write_notebook(folder: Path, *options: str) -> tuple[Path, object]:
    path = folder / f"{MODULE}.ipynb"
    result = CliRunner().invoke(main, ["notebook", "ex02", "--out", str(path), *options])
    return path, result


@pytest.fixture
def fresh_notebook(tmp_path: Path) -> dict:
    path, result = _write_notebook(tmp_path)
    assert result.exit_code == 0, result.output
    return json.loads(path.read_text(encoding="utf-8"))


def _source(cell: dict) -> str:
    return "".join(cell["source"])


def _code_cells(document: dict) -> list[str]:
    return [_source(cell) for cell in document["cells"] if cell["cell_type"] == "code"]


def _solution_of(name: str) -> str:
    """The reference solution's text of one item (signature, docstring and body)."""
    node = next(n for n in ast.parse(SOLUTION).body if getattr(n, "name", None) == name)
    lines = SOLUTION.splitlines(keepends=True)
    return "".join(lines[node.lineno - 1:node.end_lineno])


def _defines(cell: str) -> str | None:
    names = [n.name for n in ast.parse(cell).body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
    return names[0] if names and names[0] in ITEMS else None


def _filled(document: dict) -> dict:
    """The notebook with every stub cell replaced by the reference solution of its item, as a student fills it."""
    filled = json.loads(json.dumps(document))
    for cell in filled["cells"]:
        if cell["cell_type"] == "code" and (name := _defines(_source(cell))):
            cell["source"] = _solution_of(name).splitlines(keepends=True)
    return filled


def _kernel_history(document: dict) -> list[str]:
    """What `In` holds after a student ran the notebook: a magic in the imports cell, every stub as written,
    then the filled cells (a re-defined function: the last definition counts), a test call, a shell line."""
    stubs = _code_cells(document)[:-1]
    filled = _code_cells(_filled(document))
    return ["%matplotlib inline\n" + stubs[0], *stubs[1:], "!pip install --quiet nothing-at-all",
            *filled[1:-1], "t_c, t_u = load_temperatures()\nmodel(t_u, 1.0, 0.0)", filled[-1]]


def test_the_generated_notebook_is_valid_nbformat_4_json_with_markdown_and_code_cells_in_order(fresh_notebook):
    document = fresh_notebook
    assert document["nbformat"] == 4 and document["nbformat_minor"] >= 4
    assert document["metadata"]["kernelspec"]["name"] == "python3"
    ids = [cell["id"] for cell in document["cells"]]
    assert len(set(ids)) == len(ids) and all(re.fullmatch(r"[A-Za-z0-9_-]{1,64}", i) for i in ids)
    for cell in document["cells"]:
        assert set(cell) >= {"cell_type", "metadata", "source", "id"}
        assert isinstance(cell["source"], list) and all(isinstance(line, str) for line in cell["source"])
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None
    kinds = [cell["cell_type"] for cell in document["cells"]]
    assert kinds == ["markdown", "code"] + ["markdown", "code"] * len(ITEMS) + ["markdown", "code"]
    assert _source(document["cells"][0]).startswith(f"# {MODULE}\n\nGradient descent by hand")
    assert "import torch" in _source(document["cells"][1])
    for index, item in enumerate(ITEMS):
        text, code = _source(document["cells"][2 + 2 * index]), _source(document["cells"][3 + 2 * index])
        assert text.startswith(f"## `{item}`") and "**Returns:**" in text
        assert re.match(rf"def {item}\(", code) and "raise NotImplementedError" in code and '"""' not in code
    assert _source(document["cells"][-1]) == 'from grader.notebook import check; check("ex02")'


def test_grade_notebook_refuses_to_overwrite_a_notebook_without_force(tmp_path):
    path, _ = _write_notebook(tmp_path)
    path.write_text("the student's work", encoding="utf-8")
    _, refused = _write_notebook(tmp_path)
    assert refused.exit_code == 2 and "--force" in refused.output
    assert path.read_text(encoding="utf-8") == "the student's work"
    _, forced = _write_notebook(tmp_path, "--force")
    assert forced.exit_code == 0 and json.loads(path.read_text(encoding="utf-8"))["nbformat"] == 4


def test_a_filled_notebook_graded_from_the_kernel_history_gets_full_marks(fresh_notebook, capsys):
    result = notebook.check("ex02", history=_kernel_history(fresh_notebook), device="cpu")
    assert result.score == result.max_score > 0, report.render_terminal(result)
    assert any("%matplotlib inline" in note for note in result.dropped)
    assert any("!pip install" in note for note in result.dropped)
    kinds = {type(node).__name__ for node in ast.parse(result.source).body}
    assert kinds == {"ImportFrom", "Import", "FunctionDef"}  # the test call and the magic are not graded
    shown = capsys.readouterr().out
    assert "Everything passes" in shown and "%matplotlib inline" in shown


def _fake_kernel(monkeypatch: pytest.MonkeyPatch, cells: list[str]) -> list[str]:
    """An IPython kernel as `check` sees it (IPython is not a dependency): the raw input history holds ``cells``
    and the parsed ``In`` something else; what it displays is collected in the list returned."""
    shown: list[str] = []
    shell = types.SimpleNamespace(history_manager=types.SimpleNamespace(input_hist_raw=["", *cells]),
                                  user_ns={"In": ["", "get_ipython().system('not the raw history')"]})
    ipython = types.ModuleType("IPython")
    ipython.get_ipython = lambda: shell
    display = types.ModuleType("IPython.display")
    display.HTML = lambda text: text
    display.display = shown.append
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.setitem(sys.modules, "IPython.display", display)
    return shown


def test_an_unfilled_notebook_run_in_a_kernel_grades_zero_with_every_item_not_implemented(fresh_notebook,
                                                                                           monkeypatch):
    shown = _fake_kernel(monkeypatch, _code_cells(fresh_notebook))
    result = notebook.check("ex02", device="cpu")
    statuses = {item.status for exercise in result.exercises for item in exercise.items}
    assert result.score == 0 and statuses == {"not_implemented"}
    assert len(shown) == 1 and "<table>" in shown[0] and "not_implemented" in shown[0]
    assert "Next: write ex02.load_temperatures in its cell" in shown[0]


def test_a_filled_notebook_is_graded_by_grade_batch_in_place_of_the_py(fresh_notebook, tmp_path):
    root = tmp_path / "submissions"
    filled = _filled(fresh_notebook)
    filled["cells"][1]["source"] = ["%matplotlib inline\n", "!pip install nothing-at-all\n", *filled["cells"][1]["source"]]
    for name, document in (("alice", filled), ("bob", fresh_notebook)):
        (root / name).mkdir(parents=True)
        (root / name / f"{MODULE}.ipynb").write_text(json.dumps(document), encoding="utf-8")
    (root / "carol").mkdir()
    (root / "carol" / f"{MODULE}.ipynb").write_text('{"cells": [', encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["batch", str(root), "ex02", "--out", str(out), "--jobs", "1"])
    assert result.exit_code == 0, result.output
    with open(out / "grades.csv", newline="") as handle:
        rows = {row["submission"]: row for row in csv.DictReader(handle)}
    assert float(rows["alice"]["score"]) == float(rows["alice"]["max_score"]) > 0
    assert float(rows["bob"]["score"]) == 0
    assert rows["carol"]["status"].startswith("rejected:") and "malformed" in rows["carol"]["status"]
    feedback = (out / "feedback" / "alice.md").read_text(encoding="utf-8")
    assert "How your files were read" in feedback
    assert "%matplotlib inline" in feedback and "!pip install nothing-at-all" in feedback
    assert rows["alice"]["status"] == "ok"  # the notes go to the student, not into the gradebook's status
    document = json.loads((out / "reports" / "alice.json").read_text(encoding="utf-8"))
    assert any("%matplotlib inline" in note for note in document["notes"])
    assert report.report_from_dict(document).problems == document["notes"]  # kept by --resume


def test_grade_check_on_a_folder_grades_a_filled_notebook_and_says_which_file_wins_beside_a_py(
        fresh_notebook, tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / f"{MODULE}.ipynb").write_text(json.dumps(_filled(fresh_notebook)), encoding="utf-8")
    result = CliRunner().invoke(main, ["check", "ex02", "--submission", str(folder), "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["score"] == document["max_score"] > 0
    assert any(f"{MODULE}.ipynb was graded as {MODULE}.py" in note for note in document["notes"])

    (folder / f"{MODULE}.py").write_text((catalogue.EXERCISES_DIR / f"{MODULE}.py").read_text(encoding="utf-8"))
    result = CliRunner().invoke(main, ["check", "ex02", "--submission", str(folder)])
    assert "Total: 0/" in result.output, result.output  # the stub .py wins: what `grade check` always read
    assert f"Note: {MODULE}.ipynb was set aside: {MODULE}.py is graded" in result.output


def test_grade_check_names_an_unreadable_notebook_and_grades_the_rest(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / f"{MODULE}.ipynb").write_text('{"cells": [', encoding="utf-8")
    (folder / "ex01_tensors.py").write_text((catalogue.SOLUTIONS_DIR / "ex01_tensors.py").read_text(encoding="utf-8"))
    result = CliRunner().invoke(main, ["check", "ex01", "ex02", "--submission", str(folder), "--json"])
    document = json.loads(result.stdout)
    assert any("malformed" in note for note in document["notes"]), document["notes"]
    scores = {exercise["name"]: exercise["score"] for exercise in document["exercises"]}
    assert scores["ex01_tensors"] == 28 and scores[MODULE] == 0


def test_shell_and_magic_lines_are_dropped_and_reported():
    cells = ["%matplotlib inline\nimport torch", "!pip install torch\nfiles = !ls\ntorch.zeros?",
             "%%time\ndef loss_fn(t_p, t_c):\n    return ((t_p - t_c) ** 2).mean()",
             "get_ipython().run_line_magic('load_ext', 'autoreload')",
             "def model(t_u, w, b):\n    return w * t_u + b"]
    converted = notebook.source_of_cells(cells, keep=ITEMS)
    ast.parse(converted.source)
    assert "%" not in converted.source and "!" not in converted.source and "get_ipython" not in converted.source
    assert "def model" in converted.source and "def loss_fn" not in converted.source
    dropped = "\n".join(converted.dropped)
    for shown in ("%matplotlib inline", "!pip install torch", "files = !ls", "torch.zeros?", "%%time",
                  "run_line_magic"):
        assert shown in dropped
    assert "cell 3: the whole cell" in dropped


def test_the_last_definition_of_each_item_counts_with_the_imports_and_values_it_uses():
    cells = ["import torch\nimport matplotlib.pyplot as plt", "def model(t_u, w, b):\n    raise NotImplementedError",
             "SCALE = 2.0\nt_c, t_u = load_temperatures()", "def model(t_u, w, b):\n    return torch.as_tensor(SCALE * w * t_u + b)",
             "model(t_u, 1.0, 0.0)\nplt.plot([1, 2])", "from grader.notebook import check; check('ex02')"]
    source = notebook.source_of_cells(cells, keep=ITEMS).source
    assert source == ("import torch\n\n\nSCALE = 2.0\n\n\n"
                      "def model(t_u, w, b):\n    return torch.as_tensor(SCALE * w * t_u + b)\n")
    assert notebook.module_source("ex02", history=cells).source == source
    assert notebook.module_source("ex02.model", source="\n".join(cells[2:4])).source == source.replace(
        "import torch\n\n\n", "")


def test_a_malformed_notebook_is_rejected_with_a_message_naming_the_fix(tmp_path):
    for text, expected in (('{"cells": [', "malformed"), ("[1, 2]", "not a Jupyter notebook"),
                           ('{"cells": [{"cell_type": "code", "source": 3}]}', "neither text nor")):
        folder = tmp_path / expected.replace(" ", "_")
        folder.mkdir()
        (folder / f"{MODULE}.ipynb").write_text(text, encoding="utf-8")
        with pytest.raises(submissions.Rejected, match=expected) as refusal:
            submissions.prepare(submissions.Submission("x", folder), tmp_path / f"copy-{folder.name}")
        assert "save it again" in str(refusal.value)


def test_a_zipped_notebook_becomes_the_module_it_defines_and_an_oversized_one_is_refused(fresh_notebook, tmp_path):
    archive = tmp_path / "alice.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr(f"alice/exercises/{MODULE}.ipynb", json.dumps(_filled(fresh_notebook)))
    prepared = submissions.prepare(submissions.Submission("alice", archive), tmp_path / "copy")
    assert prepared.modules == [MODULE]
    graded = (prepared.folder / f"{MODULE}.py").read_text(encoding="utf-8")
    assert all(f"def {item}(" in graded for item in ITEMS) and "NotImplementedError" not in graded
    huge = tmp_path / "bob"
    huge.mkdir()
    (huge / f"{MODULE}.ipynb").write_bytes(b" " * (submissions.MAX_MODULE_BYTES + 1))
    with pytest.raises(submissions.Rejected, match="clear its outputs"):
        submissions.prepare(submissions.Submission("bob", huge), tmp_path / "copy-bob")


def test_a_notebook_beside_a_py_of_the_same_module_is_set_aside_and_the_py_graded(fresh_notebook):
    notes: list[str] = []
    stub = b"import torch\n"
    modules = notebook.python_modules({f"{MODULE}.py": stub, f"{MODULE}.ipynb": json.dumps(fresh_notebook).encode(),
                                       "ex03_autograd.ipynb": json.dumps(fresh_notebook).encode()}, notes)
    assert modules[f"{MODULE}.py"] == stub and "ex03_autograd.py" in modules and len(modules) == 2
    assert any(note.startswith(f"{MODULE}.ipynb was set aside") for note in notes)


def test_check_outside_ipython_without_history_says_so_in_one_sentence():
    with pytest.raises(notebook.NotebookError) as refusal:
        notebook.check("ex02")
    message = str(refusal.value)
    assert "Jupyter or Colab" in message and "source=" in message and message.count(". ") == 0


def test_the_html_table_escapes_what_student_code_returned():
    item = report.ItemResult("model", 0.0, 1.0, "failed", ["returned '<script>alert(1)</script>'"])
    html = notebook.render_html(report.GradeReport("nb", "cpu", [report.ExerciseResult(MODULE, [item])]))
    assert "<script>" not in html and "&lt;script&gt;" in html and "<table>" in html
