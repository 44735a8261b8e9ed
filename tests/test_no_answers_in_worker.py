"""No answer runs where student code runs: the grader's fixtures re-implement no graded item.

Every ``grader/fixtures*.py`` module is preloaded in the sandboxed worker (and ships in the student
handout), so student code can import anything defined there. A fixture may build inputs, read
objects out as data or record calls; it may not do the work of an item. A check that needs a graded
piece runs the student's own (``Suite.item(..., uses=...)``).
"""

from __future__ import annotations

import ast
import copy

import pytest

from grader import catalogue

FIXTURE_PATHS = sorted((catalogue.KIT_ROOT / "grader").glob("fixtures*.py"))

# Stand-ins that once did an item's work beside student code (a submission of stubs that imported
# them scored 23 points). None may come back, under any fixture module.
FORMER_STAND_INS = {
    "_plain_sgd_step", "with_correct_sgd_step",  # ex05.sgd_step, for fit_curve
    "data_iter", "linreg", "squared_loss", "sgd", "TrustedLabelMappedDataset", "TRUSTED",
    "call_with_trusted",  # ex06, for train_linreg and load_cifar_pair
    "weighted_grads",  # ex03.backward_with_weights in all but name
    "mse",  # ex02.loss_fn
    "_kit_l2_penalty", "with_kit_l2_penalty", "this_machine_device", "write_weights_file",  # ex08
    "_KitMean", "_KitAccuracy", "_kit_update", "_kit_train_step", "_kit_test_step", "KIT_PARTS",
    "with_kit_parts", "snapshot",  # ex09, for fit
}

# A reference body smaller than this many syntax nodes (``return t_u``, ``return 1.0``) says nothing.
MIN_ANSWER_NODES = 8

# Fixture names that end like an item's name without being that item: (fixture, item) -> why.
NOT_THE_ITEM = {
    ("scaled_model", "model"): "a Linear with buffers for count_parameters, not ex02's w * t_u + b",
    ("shared_layer_model", "model"): "a network that uses one layer twice, not ex02's w * t_u + b",
}


def _definitions(source: str) -> list[ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef]:
    """Every function, method and class defined in ``source``, nested ones included."""
    return [node for node in ast.walk(ast.parse(source))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]


def _top_level_names(source: str) -> set[str]:
    """The names ``source`` defines at module level: functions, classes and assigned constants."""
    names = set()
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {name.id for target in targets for name in ast.walk(target) if isinstance(name, ast.Name)}
    return names


def _squashed(name: str) -> str:
    """``_kit_train_step`` -> ``kittrainstep``, ``TrustedLabelMappedDataset`` -> ``trustedlabelmappeddataset``."""
    return name.replace("_", "").lower()


def _shape(statements: list[ast.stmt]) -> str:
    """The statements' syntax tree with every name numbered by first use and every string emptied.

    Two bodies have the same shape when one is the other with variables renamed and messages reworded.
    """
    module = ast.Module(body=copy.deepcopy(statements), type_ignores=[])
    numbers: dict[str, str] = {}
    for node in ast.walk(module):
        if isinstance(node, ast.Name):
            node.id = numbers.setdefault(node.id, f"v{len(numbers)}")
        elif isinstance(node, ast.arg):
            node.arg = numbers.setdefault(node.arg, f"v{len(numbers)}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            node.value = ""
    return ast.dump(module, annotate_fields=False)


def _bodies(source: str) -> list[tuple[str, list[ast.stmt]]]:
    """``(name, body without its docstring)`` of every function and method in ``source``."""
    bodies = []
    for node in _definitions(source):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body[1:] if ast.get_docstring(node) is not None else node.body
            if body:
                bodies.append((node.name, body))
    return bodies


def answer_bodies_in(source: str, reference: str) -> list[str]:
    """``fixture <- reference function`` for each reference body found, renamed or not, inside a fixture body."""
    found = []
    wanted = [(name, len(body), _shape(body)) for name, body in _bodies(reference)
              if sum(1 for statement in body for _ in ast.walk(statement)) >= MIN_ANSWER_NODES]
    for fixture, body in _bodies(source):
        for name, length, shape in wanted:
            if any(_shape(body[start:start + length]) == shape for start in range(len(body) - length + 1)):
                found.append(f"{fixture} <- {name}")
    return found


def names_like_items(source: str, modules: list[catalogue.ModuleInfo]) -> list[str]:
    """``fixture (like exNN.item)`` for each definition whose name ends with a graded item's name."""
    return [f"{node.name} (like {module.number}.{item.name})"
            for node in _definitions(source) for module in modules for item in module.items
            if _squashed(node.name).endswith(_squashed(item.name)) and (node.name, item.name) not in NOT_THE_ITEM]


def _solution(module: catalogue.ModuleInfo) -> str:
    return (catalogue.SOLUTIONS_DIR / f"{module.name}.py").read_text(encoding="utf-8")


@pytest.mark.parametrize("path", FIXTURE_PATHS, ids=[path.stem for path in FIXTURE_PATHS])
def test_no_fixture_is_named_after_a_graded_item(path, modules):
    clashes = names_like_items(path.read_text(encoding="utf-8"), modules)
    assert not clashes, f"{path.name} defines what looks like a graded item, importable by student code: {clashes}"


@pytest.mark.parametrize("path", FIXTURE_PATHS, ids=[path.stem for path in FIXTURE_PATHS])
def test_none_of_the_former_trusted_stand_ins_is_back(path):
    back = sorted(_top_level_names(path.read_text(encoding="utf-8")) & FORMER_STAND_INS)
    assert not back, f"{path.name} defines former stand-ins for graded items: {back}"


@pytest.mark.parametrize("path", FIXTURE_PATHS, ids=[path.stem for path in FIXTURE_PATHS])
def test_no_fixture_contains_the_body_of_a_reference_function(path, modules):
    source = path.read_text(encoding="utf-8")
    copies = [f"{found} ({module.name})" for module in modules
              for found in answer_bodies_in(source, _solution(module))]
    assert not copies, f"{path.name} holds reference code, where student code can reach it: {copies}"


@pytest.mark.parametrize("path", FIXTURE_PATHS, ids=[path.stem for path in FIXTURE_PATHS])
def test_no_fixture_imports_the_reference_solutions_or_the_hidden_suites(path):
    imported = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
    assert not {name for name in imported if name.split(".")[0] in ("solutions", "tests")}


def test_the_checks_recognise_a_renamed_copy_of_an_answer_and_its_name(modules):
    ex05 = next(module for module in modules if module.name == "ex05_nn_modules")
    stand_in = '''
def _plain_sgd_step(net, rate):
    """Looks harmless."""
    with torch.no_grad():
        for weight in net.parameters():
            if weight.grad is not None:
                weight -= rate * weight.grad
    net.zero_grad()
'''
    assert answer_bodies_in(stand_in, _solution(ex05)) == ["_plain_sgd_step <- sgd_step"]
    assert names_like_items(stand_in, modules) == ["_plain_sgd_step (like ex05.sgd_step)"]
    assert answer_bodies_in("def describe(model):\n    return type(model).__name__\n", _solution(ex05)) == []


def test_composite_items_call_the_kit_s_versions_and_deliberate_uses_of_the_student_s_own_are_declared():
    from grader.engine import load_suite

    modules = ("ex02_gradient_descent", "ex05_nn_modules", "ex06_data", "ex08_cnn", "ex09_training_loops")
    suites = {module: load_suite(module) for module in modules}
    kit = {f"{m}.{item.name}": item.kit for m, suite in suites.items() for item in suite.items.values() if item.kit}
    uses = {f"{m}.{item.name}": item.uses for m, suite in suites.items() for item in suite.items.values() if item.uses}
    assert kit == {
        "ex02_gradient_descent.grad_fn": ("dloss_fn", "dmodel_dw", "dmodel_db"),
        "ex02_gradient_descent.training_loop": ("model", "grad_fn"),
        "ex05_nn_modules.fit_curve": ("sgd_step",),
        "ex06_data.train_linreg": ("data_iter", "linreg", "squared_loss", "sgd"),
        "ex08_cnn.train_epoch": ("l2_penalty",),
    }
    assert uses == {
        "ex06_data.load_cifar_pair": ("LabelMappedDataset",),
        "ex08_cnn.load_weights": ("save_weights",),
        "ex09_training_loops.fit": ("MeanMetric", "AccuracyMetric", "train_step", "test_step"),
    }
