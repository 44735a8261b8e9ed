"""A right answer gets full marks however it is written: checks judge what the code does, not which probe it uses."""

from __future__ import annotations

from pathlib import Path

from grader import catalogue

_REFERENCE_PICK_DEVICE = (
    "    if torch.cuda.is_available():\n"
    '        return torch.device("cuda")\n'
    "    if torch.backends.mps.is_available():\n"
    '        return torch.device("mps")\n'
    '    return torch.device("cpu")\n'
)


def _grade_pick_device(grading_service, modules, tmp_path: Path, body: str):
    source = (catalogue.SOLUTIONS_DIR / "ex08_cnn.py").read_text(encoding="utf-8")
    assert source.count(_REFERENCE_PICK_DEVICE) == 1
    (tmp_path / "ex08_cnn.py").write_text(source.replace(_REFERENCE_PICK_DEVICE, body), encoding="utf-8")
    report = grading_service.grade(tmp_path, catalogue.select(["ex08.pick_device"], modules))
    (item,) = report.exercises[0].items
    return item


def test_pick_device_written_with_device_count_like_d2l_try_gpu_gets_full_marks(grading_service, modules, tmp_path):
    item = _grade_pick_device(grading_service, modules, tmp_path, (
        "    i = 0\n"
        "    if torch.cuda.device_count() >= i + 1:\n"
        "        return torch.device(f'cuda:{i}')\n"
        "    if torch.backends.mps.is_built() and torch.backends.mps.is_available():\n"
        "        return torch.device('mps')\n"
        "    return torch.device('cpu')\n"
    ))
    assert item.score == item.max_score, item.feedback


def test_pick_device_written_with_torch_accelerator_gets_full_marks(grading_service, modules, tmp_path):
    item = _grade_pick_device(grading_service, modules, tmp_path, (
        "    if torch.accelerator.is_available():\n"
        "        return torch.device(torch.accelerator.current_accelerator().type)\n"
        "    return torch.device('cpu')\n"
    ))
    assert item.score == item.max_score, item.feedback


def test_pick_device_that_returns_a_gpu_the_machine_lacks_loses_its_point_and_is_told_why(
        grading_service, modules, tmp_path):
    item = _grade_pick_device(grading_service, modules, tmp_path, (
        "    if torch.cuda.device_count() > 0:\n"
        "        return torch.device('cuda', torch.cuda.device_count())\n"
        "    if torch.backends.mps.is_available():\n"
        "        return torch.device('mps')\n"
        "    return torch.device('cpu')\n"
    ))
    assert item.score < item.max_score
    assert any("torch.device('cuda:0')" in line for line in item.feedback), item.feedback


# ---------------------------------------------------------------- each item graded on its own
def _grade_edited(grading_service, modules, tmp_path: Path, module: str, edits: list[tuple[str, str]],
                  selector: str | None = None) -> dict:
    source = (catalogue.SOLUTIONS_DIR / f"{module}.py").read_text(encoding="utf-8")
    for find, replace in edits:
        assert source.count(find) == 1, find
        source = source.replace(find, replace)
    (tmp_path / f"{module}.py").write_text(source, encoding="utf-8")
    report = grading_service.grade(tmp_path, catalogue.select([selector or module], modules))
    return {item.name: item for item in report.exercises[0].items}


_GRAD_FN_SUM = "    return torch.stack([dloss_dw.sum(), dloss_db.sum()])\n"
_DLOSS = "    return 2 * (t_p - t_c) / t_p.size(0)\n"


def test_a_wrong_dmodel_dw_costs_points_on_dmodel_dw_only_not_on_the_grad_fn_and_loop_that_call_it(
        grading_service, modules, tmp_path):
    items = _grade_edited(grading_service, modules, tmp_path, "ex02_gradient_descent",
                          [("    return t_u\n", "    return t_u * 2\n")])
    assert items["dmodel_dw"].score == 0
    lost = {name: item.feedback for name, item in items.items() if name != "dmodel_dw" and item.score != item.max_score}
    assert not lost, lost


def test_two_wrong_helpers_cannot_cancel_a_grad_fn_that_averages_loses_points_beside_a_dloss_fn_without_its_n(
        grading_service, modules, tmp_path):
    items = _grade_edited(grading_service, modules, tmp_path, "ex02_gradient_descent", [
        (_GRAD_FN_SUM, "    return torch.stack([dloss_dw.mean(), dloss_db.mean()])\n"),
        (_DLOSS, "    return 2 * (t_p - t_c)\n"),
    ])
    assert items["grad_fn"].score < items["grad_fn"].max_score, items["grad_fn"].feedback
    assert items["dloss_fn"].score < items["dloss_fn"].max_score, items["dloss_fn"].feedback
    assert items["training_loop"].score == items["training_loop"].max_score, items["training_loop"].feedback


def test_a_correct_grad_fn_written_inline_without_calling_the_helpers_keeps_full_marks(
        grading_service, modules, tmp_path):
    items = _grade_edited(grading_service, modules, tmp_path, "ex02_gradient_descent", [(
        "    dloss_dtp = dloss_fn(t_p, t_c)\n",
        ("    dloss_dtp = 2 * (t_p - t_c) / t_p.shape[0]\n"
         "    return torch.stack([(dloss_dtp * t_u).sum(), dloss_dtp.sum()])\n"),
    )], selector="ex02.grad_fn")
    assert items["grad_fn"].score == items["grad_fn"].max_score, items["grad_fn"].feedback


def test_a_wrong_sgd_costs_train_linreg_nothing_since_its_checks_call_the_kit_s_sgd(grading_service, modules, tmp_path):
    items = _grade_edited(grading_service, modules, tmp_path, "ex06_data", [(
        "            param -= lr * param.grad / batch_size\n", "            param -= lr * param.grad\n")])
    assert items["sgd"].score < items["sgd"].max_score
    assert items["train_linreg"].score == items["train_linreg"].max_score, items["train_linreg"].feedback


# ---------------------------------------------------------------- changes made through .data count
_SGD_BODY = ("    with torch.no_grad():\n        for param in params:\n            param -= lr * param.grad / batch_size\n"
             "            param.grad.zero_()\n")


def test_an_old_tutorial_sgd_updating_through_data_and_zeroing_the_gradients_gets_full_marks(
        grading_service, modules, tmp_path):
    items = _grade_edited(grading_service, modules, tmp_path, "ex06_data", [(_SGD_BODY, (
        "    for param in params:\n        param.data -= lr * param.grad.data / batch_size\n"
        "        param.grad.data.zero_()\n"))], selector="ex06.sgd")
    assert items["sgd"].score == items["sgd"].max_score, items["sgd"].feedback


def test_an_sgd_through_data_that_never_zeroes_the_gradients_loses_points_and_is_told_about_the_gradients(
        grading_service, modules, tmp_path):
    items = _grade_edited(grading_service, modules, tmp_path, "ex06_data", [(_SGD_BODY, (
        "    for param in params:\n        param.data -= lr * param.grad.data / batch_size\n"))],
        selector="ex06.sgd")
    sgd = items["sgd"]
    assert sgd.score < sgd.max_score
    assert "grad" in " ".join(sgd.feedback[:2]), sgd.feedback
    assert not any("values" in line and "grad" not in line for line in sgd.feedback[:1]), sgd.feedback


# ---------------------------------------------------------------- tolerances from the inputs' conditioning
_STANDARDIZE = "    mean, std = train.mean(), train.std()\n"


def test_standardize_written_with_std_mean_gets_full_marks(grading_service, modules, tmp_path):
    items = _grade_edited(grading_service, modules, tmp_path, "ex04_optimizers", [(
        _STANDARDIZE, "    std, mean = torch.std_mean(train)\n")], selector="ex04.standardize")
    assert items["standardize"].score == items["standardize"].max_score, items["standardize"].feedback


def test_standardize_with_a_hand_written_two_pass_variance_gets_full_marks(grading_service, modules, tmp_path):
    items = _grade_edited(grading_service, modules, tmp_path, "ex04_optimizers", [(_STANDARDIZE, (
        "    flat = train.reshape(-1)\n    mean = flat.sum() / flat.numel()\n"
        "    std = (((flat - mean) ** 2).sum() / (flat.numel() - 1)).sqrt()\n"))], selector="ex04.standardize")
    assert items["standardize"].score == items["standardize"].max_score, items["standardize"].feedback


def test_standardize_with_the_biased_std_still_loses_points_under_the_widened_tolerance(grading_service, modules, tmp_path):
    items = _grade_edited(grading_service, modules, tmp_path, "ex04_optimizers", [(
        _STANDARDIZE, "    mean, std = train.mean(), train.std(unbiased=False)\n")], selector="ex04.standardize")
    assert items["standardize"].score < items["standardize"].max_score


# ---------------------------------------------------------------- credit only for substance
def test_a_loop_that_crashes_on_every_real_call_earns_nothing_from_its_zero_epoch_check(grading_service, modules, tmp_path):
    items = _grade_edited(grading_service, modules, tmp_path, "ex04_optimizers", [(
        "        loss.backward()\n", "        loss.backwards()\n")], selector="ex04.training_loop")
    loop = items["training_loop"]
    assert loop.score == 0, loop.feedback
    assert any("0 epochs" in line and "real work" in line for line in loop.feedback), loop.feedback


def test_the_zero_epoch_check_counts_again_once_a_check_with_real_work_passes(grading_service, modules, tmp_path):
    items = _grade_edited(grading_service, modules, tmp_path, "ex04_optimizers", [], selector="ex04.training_loop")
    assert items["training_loop"].score == items["training_loop"].max_score, items["training_loop"].feedback


# ---------------------------------------------------------------- errors inside grader code point at the student's code
def test_a_lazy_conv_in_a_residual_block_is_reported_at_the_student_s_class_with_the_reason(
        grading_service, modules, tmp_path):
    items = _grade_edited(grading_service, modules, tmp_path, "ex08_cnn", [(
        "        self.conv1 = nn.Conv2d(\n            in_channels, out_channels,",
        "        self.conv1 = nn.LazyConv2d(\n            out_channels,")], selector="ex08.ResidualBlock")
    block = items["ResidualBlock"]
    assert block.score < block.max_score
    text = " ".join(block.feedback)
    assert "ex08_cnn.py:" in text and "ResidualBlock" in text, block.feedback
    assert "conv1" in text and "Lazy" in text, block.feedback
