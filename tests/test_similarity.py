"""Similarity: a disguised copy is flagged, independent correct work is not, and nothing is ever run."""

from __future__ import annotations

import ast
import csv
import io
import re
import textwrap
import zipfile

import pytest
from click.testing import CliRunner

from grader import catalogue, similarity
from grader.cli import main

EX02 = "ex02_gradient_descent"
EX05 = "ex05_nn_modules"
MODULES = {m.name: m for m in catalogue.load_catalogue()}


def _source(module: str) -> str:
    return (catalogue.SOLUTIONS_DIR / f"{module}.py").read_text(encoding="utf-8")


def _items(*modules: str) -> dict[str, list[str]]:
    return {name: [item.name for item in MODULES[name].items] for name in modules}


def _index(*modules: str) -> similarity.Index:
    return similarity.Index(_items(*modules), similarity.stub_sources(modules))


def with_bodies(source: str, bodies: dict[str, str]) -> str:
    """``source`` with the body (after the docstring) of each named function replaced by the given text."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    replacements = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name in bodies:
            body = node.body[1:] if ast.get_docstring(node) is not None else node.body
            text = textwrap.indent(textwrap.dedent(bodies[node.name]).strip("\n") + "\n", "    ")
            replacements.append((body[0].lineno, body[-1].end_lineno, text))
    for first, last, text in sorted(replacements, reverse=True):
        lines[first - 1:last] = [text]
    return "".join(lines)


def disguise(source: str, renames: dict[str, str]) -> str:
    """A copy as a student hides one: local variables renamed, the functions in reverse order, comments changed."""
    for old, new in renames.items():
        source = re.sub(rf"\b{re.escape(old)}\b", new, source)
    source = re.sub(r"  # .*$", "", source, flags=re.MULTILINE)
    source = source.replace("\n    return ", "\n    # my own work, checked twice\n    return ")
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    definitions = [node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))]
    head = "".join(lines[:definitions[0].lineno - 1])
    chunks = ["".join(lines[node.lineno - 1:node.end_lineno]) for node in definitions]
    return head + "\n\n".join(reversed(chunks)) + "\n"


EX02_RENAMES = {"dloss_dtp": "upstream", "dloss_dw": "grad_w", "dloss_db": "grad_b", "squared_diffs": "sq",
                "grad": "direction"}
EX05_RENAMES = {"train_losses": "history_t", "val_losses": "history_v", "train_loss": "lt", "val_loss": "lv",
                "param": "weight"}

# Correct implementations written by hand, independently of solutions/ (another student's way).
INDEPENDENT_EX02 = {
    "load_temperatures": """
        celsius = [0.5, 14.0, 15.0, 28.0, 11.0, 8.0, 3.0, -4.0, 6.0, 13.0, 21.0]
        unknown = [35.7, 55.9, 58.2, 81.9, 56.3, 48.9, 33.9, 21.8, 48.4, 60.4, 68.4]
        return torch.tensor(celsius, dtype=torch.float32), torch.tensor(unknown, dtype=torch.float32)
    """,
    "loss_fn": """
        diff = t_p - t_c
        return (diff * diff).sum() / diff.numel()
    """,
    "dloss_fn": """
        n = t_p.shape[0]
        return (t_p - t_c) * (2.0 / n)
    """,
    "grad_fn": """
        per_sample = dloss_fn(t_p, t_c)
        grads = [(per_sample * derivative(t_u, w, b)).sum() for derivative in (dmodel_dw, dmodel_db)]
        return torch.stack(grads)
    """,
    "training_loop": """
        current = params.clone()
        epoch = 0
        while epoch < n_epochs:
            w, b = current[0], current[1]
            predictions = model(t_u, w, b)
            current = current - learning_rate * grad_fn(t_u, t_c, predictions, w, b)
            epoch += 1
        return current
    """,
}
INDEPENDENT_EX05 = {
    "sgd_step": """
        with torch.no_grad():
            for p in model.parameters():
                if p.grad is None:
                    continue
                p.sub_(p.grad * learning_rate)
        model.zero_grad()
    """,
    "training_loop": """
        history_train, history_val = [], []
        for epoch in range(n_epochs):
            pred = model(t_u_train)
            loss_train = loss_fn(pred, t_c_train)
            with torch.no_grad():
                loss_val = loss_fn(model(t_u_val), t_c_val)
            optimizer.zero_grad()
            loss_train.backward()
            optimizer.step()
            history_train.append(float(loss_train))
            history_val.append(float(loss_val))
        return history_train, history_val
    """,
    "fit_curve": """
        torch.manual_seed(seed)
        net = nn.Sequential(
            nn.Linear(1, 32), nn.Tanh(),
            nn.Linear(32, 32), nn.Tanh(),
            nn.Linear(32, 1),
        )
        net = net.to(x.device)
        criterion = nn.MSELoss()
        epoch = 0
        while epoch < epochs:
            criterion(net(x), y).backward()
            sgd_step(net, learning_rate)
            epoch += 1
        return net
    """,
    "make_mlp": """
        layers = OrderedDict()
        layers["hidden"] = nn.Linear(1, n_hidden)
        layers["hidden_activation"] = nn.Tanh()
        layers["output"] = nn.Linear(n_hidden, 1)
        return nn.Sequential(layers)
    """,
    "make_sine_data": """
        xs = torch.linspace(-math.pi, math.pi, steps=n).reshape(n, 1)
        ys = xs.sin()
        return xs, ys
    """,
}


# ---------------------------------------------------------------- flagged and not flagged
def test_a_copy_with_renamed_variables_reordered_functions_and_changed_comments_is_flagged():
    index = _index(EX02, EX05)
    for module, renames in ((EX02, EX02_RENAMES), (EX05, EX05_RENAMES)):
        index.add("original", module, _source(module))
        index.add("copier", module, disguise(_source(module), renames))
    result = index.result()

    assert [(pair.a, pair.b) for pair in result.pairs] == [("copier", "original")]
    pair = result.pairs[0]
    assert {"ex02.grad_fn", "ex02.training_loop", "ex05.training_loop", "ex05.fit_curve", "ex05.sgd_step"} <= set(
        pair.items)
    assert all(match.similarity == 1.0 for match in pair.matches)
    assert pair.overall == 1.0 and pair.compared == len(pair.matches)


def test_a_copy_with_a_line_added_and_a_call_changed_is_still_flagged():
    edited = with_bodies(_source(EX05), {"training_loop": """
        tl, vl = [], []   # the losses
        for i in range(n_epochs):
            tr = loss_fn(model(t_u_train), t_c_train)
            with torch.no_grad():
                va = loss_fn(model(t_u_val), t_c_val)
            print("epoch", i)
            optimizer.zero_grad()
            tr.backward()
            optimizer.step()
            tl.append(tr.item())
            vl.append(va.item())
        return tl, vl
    """})
    index = _index(EX05)
    index.add("original", EX05, _source(EX05))
    index.add("edited", EX05, edited)
    [pair] = index.result().pairs
    assert "ex05.training_loop" in pair.items


def test_the_reference_and_an_independent_correct_implementation_are_not_flagged():
    index = _index(EX02, EX05)
    for module, bodies in ((EX02, INDEPENDENT_EX02), (EX05, INDEPENDENT_EX05)):
        index.add("reference", module, _source(module))
        index.add("independent", module, with_bodies(_source(module), bodies))
    assert index.result().pairs == []
    # and the items were compared (long enough on both sides), with a similarity well below the bar
    compared = [item for item, entries in index.entries.items() if {"reference", "independent"} <= set(entries)]
    assert {"ex02.grad_fn", "ex02.training_loop", "ex05.sgd_step", "ex05.training_loop", "ex05.fit_curve",
            "ex05.make_mlp"} <= set(compared)
    for item in compared:
        first = index.entries[item]["reference"].fingerprints.keys()
        second = index.entries[item]["independent"].fingerprints.keys()
        assert len(first & second) / len(first | second) < similarity.SIMILAR_AT - 0.1, item


def test_a_short_body_like_return_w_times_t_u_plus_b_is_not_counted():
    assert len(similarity.item_code(_source(EX02), ["model"])["model"].tokens) < similarity.MIN_TOKENS
    index = _index(EX02)
    # the same short bodies (model, loss_fn, dloss_fn...), everything long written independently
    index.add("reference", EX02, _source(EX02))
    index.add("independent", EX02, with_bodies(_source(EX02), {k: v for k, v in INDEPENDENT_EX02.items()
                                                                 if k in ("grad_fn", "training_loop")}))
    assert index.result().pairs == []
    assert "ex02.model" not in index.entries and "ex02.loss_fn" not in index.entries


def test_the_stubs_signature_docstring_and_raise_never_count():
    stub = similarity.stub_sources([EX02])[EX02]
    assert all(code.tokens == [] for code in similarity.item_code(stub, _items(EX02)[EX02], stub).values())
    index = _index(EX02)
    index.add("untouched_1", EX02, stub)
    index.add("untouched_2", EX02, stub)
    assert index.result().pairs == [] and index.entries == {}


def test_renaming_every_identifier_and_reformatting_give_the_same_tokens():
    original = "def f(a, b):\n    total = max(a, b)  # the larger\n    return total * 2\n"
    renamed = "def g(x,\n      y):\n    s = max(x,\n            y)\n\n    # doubled\n    return s * 7\n"
    assert [t for t, _ in similarity.normalized_tokens(original)] == [t for t, _ in similarity.normalized_tokens(renamed)]


def test_code_that_more_than_the_common_limit_share_is_the_natural_solution_not_a_copy():
    index = _index(EX02)
    for number in range(similarity.COMMON_LIMIT + 1):
        index.add(f"student{number:02d}", EX02, _source(EX02))
    assert index.result().pairs == []


def test_a_module_that_does_not_parse_is_noted_and_left_out():
    index = _index(EX02)
    index.add("broken", EX02, "def grad_fn(:\n")
    index.add("fine", EX02, _source(EX02))
    result = index.result()
    assert result.pairs == [] and result.submissions == 2
    assert any("broken" in note and "does not parse" in note for note in result.notes)


# ---------------------------------------------------------------- reading a class and the CSV
def test_submissions_are_read_again_from_folders_and_zips_and_a_rejected_one_is_noted(tmp_path):
    root = tmp_path / "class"
    (root / "folder_student").mkdir(parents=True)
    (root / "folder_student" / f"{EX02}.py").write_text(_source(EX02), encoding="utf-8")
    with zipfile.ZipFile(root / "zip_student.zip", "w") as bundle:
        bundle.writestr(f"zip_student/exercises/{EX02}.py", disguise(_source(EX02), EX02_RENAMES))
    with zipfile.ZipFile(root / "slip.zip", "w") as bundle:
        bundle.writestr(f"../{EX02}.py", _source(EX02))
    from grader import submissions

    result = similarity.compare_submissions(submissions.discover(root), _items(EX02))
    assert [(pair.a, pair.b) for pair in result.pairs] == [("folder_student", "zip_student")]
    assert any(note.startswith("slip: not read") for note in result.notes)


def test_similarity_csv_names_the_pair_its_similar_items_their_similarity_and_the_overall_ratio():
    index = _index(EX02)
    index.add("b, with a comma", EX02, _source(EX02))
    index.add("a", EX02, disguise(_source(EX02), EX02_RENAMES))
    rows = list(csv.DictReader(io.StringIO(similarity.similarity_csv(index.result()))))
    assert list(rows[0]) == similarity.CSV_HEADER
    assert rows[0]["submission_a"] == "a" and rows[0]["submission_b"] == "b, with a comma"
    assert rows[0]["items"] == "2" and rows[0]["similar_items"] == "ex02.grad_fn ex02.training_loop"
    assert rows[0]["similarity_per_item"] == "ex02.grad_fn=1.00 ex02.training_loop=1.00"
    assert rows[0]["overall"] == "1.00"


# ---------------------------------------------------------------- grading a class
@pytest.mark.timeout(900)
def test_grade_batch_writes_similarity_csv_and_report_html_with_the_copy_pair_flagged(tmp_path):
    root = tmp_path / "submissions"
    sources = {"ada": _source(EX02), "bea": disguise(_source(EX02), EX02_RENAMES),
               "cal": with_bodies(_source(EX02), INDEPENDENT_EX02),
               "dan": (catalogue.EXERCISES_DIR / f"{EX02}.py").read_text(encoding="utf-8")}
    for name, source in sources.items():
        (root / name).mkdir(parents=True)
        (root / name / f"{EX02}.py").write_text(source, encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["batch", str(root), "--out", str(out), "ex02", "--jobs", "1",
                                       "--memory-limit", "2"])
    assert result.exit_code == 0, result.output

    with open(out / "similarity.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(row["submission_a"], row["submission_b"]) for row in rows] == [("ada", "bea")]
    assert "ex02.grad_fn" in rows[0]["similar_items"] and "ex02.training_loop" in rows[0]["similar_items"]
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "ada &harr; bea" in page and "cal &harr;" not in page and "&harr; cal" not in page
    for name in sources:
        assert f'href="feedback/{name}.md"' in page
    assert (out / "feedback" / "ada.md").is_file()
