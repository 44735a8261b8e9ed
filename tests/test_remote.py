"""Student calls over the pipe behave like local calls: side effects, identity and views come back."""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
import pytest
import torch

from grader.engine import GradingService
from grader.remote import Call, RemoteConnection, RemoteModule, WorkerSession

STUDENT_CODE = '''
import torch

def reshape(t, shape):
    return t.reshape(shape)

def transpose(t):
    return t.t()

def step(n, optimizer, params):
    for _ in range(n):
        optimizer.zero_grad()
        (params ** 2).sum().backward()
        optimizer.step()
    return params

def share(array):
    return torch.from_numpy(array)
'''


@pytest.fixture(scope="module")
def module() -> Iterator[tuple[RemoteConnection, RemoteModule]]:
    with GradingService(torch.device("cpu")) as service:
        stage = service.zygote.places.staging / "student"
        stage.mkdir()
        (stage / "student.py").write_text(STUDENT_CODE)
        session = WorkerSession(service.zygote, "student")
        session.import_module("student", 30)
        connection = RemoteConnection(session, Call(time.monotonic() + 120, (), "student"))
        yield connection, RemoteModule(connection, "student")
        session.close()


def test_a_view_of_a_sliced_argument_shares_memory_with_that_slice(module):
    _, student = module
    rows = torch.arange(24.0).reshape(4, 6)[1:]
    view = student.reshape(rows, (3, 6))
    assert torch.equal(view, rows.reshape(3, 6))
    rows[0, 0] = -1.0
    assert view[0, 0] == -1.0


def test_a_transpose_comes_back_as_a_view_with_the_right_values(module):
    _, student = module
    rows = torch.arange(24.0).reshape(4, 6)[1:]
    view = student.transpose(rows)
    assert torch.equal(view, rows.t()) and view.data_ptr() == rows.data_ptr()


def test_a_reshape_of_a_strided_argument_gives_the_right_values(module):
    _, student = module
    strided = torch.arange(24.0).reshape(4, 6)[:, ::2]
    assert torch.equal(student.reshape(strided, (12,)), strided.reshape(12))


def test_an_optimizer_built_there_updates_the_very_tensor_passed_later(module):
    connection, student = module
    params = torch.tensor([1.0, 2.0], requires_grad=True)
    optimizer = connection.call(["build", "torch.optim:SGD"], ([params],), {"lr": 0.1})
    result = student.step(3, optimizer, params)
    assert result is params
    assert torch.allclose(params.detach(), torch.tensor([0.512, 1.024]))
    assert params.grad is not None


def test_a_tensor_from_numpy_shares_memory_with_the_local_array(module):
    _, student = module
    array = np.arange(5.0)
    tensor = student.share(array)
    array += 1
    assert torch.equal(tensor, torch.arange(1.0, 6.0, dtype=torch.float64))


def test_only_modules_that_use_neither_optimizers_nor_torchvision_get_a_light_zygote(tmp_path, monkeypatch):
    from grader import catalogue, zygote_client

    assert not zygote_client.needs_heavy_imports(["ex01_tensors", "ex02_gradient_descent", "ex03_autograd"])
    for name in ("ex04_optimizers", "ex06_data", "ex08_cnn"):
        assert zygote_client.needs_heavy_imports(["ex02_gradient_descent", name])
    stub = tmp_path / "ex02_gradient_descent.py"
    stub.write_text("import torchvision\n")  # a kit whose stub names torchvision
    monkeypatch.setattr(catalogue, "EXERCISES_DIR", tmp_path)
    assert zygote_client.needs_heavy_imports(["ex02_gradient_descent"])


HEAVY_STUDENT_CODE = '''
import torch
import torchvision

def optimizer_steps(params):
    optimizer = torch.optim.SGD([params], lr=0.5)
    params.grad = torch.ones_like(params)
    optimizer.step()
    return torchvision.__name__
'''


def test_a_box_of_a_light_zygote_still_imports_torchvision_and_builds_optimizers_itself():
    from grader import zygote_client

    zygote_client.start_early(False, light=True)
    with GradingService(torch.device("cpu")) as service:
        assert service.zygote.light
        stage = service.zygote.places.staging / "heavy"
        stage.mkdir()
        (stage / "heavy.py").write_text(HEAVY_STUDENT_CODE)
        session = WorkerSession(service.zygote, "heavy")
        try:
            session.import_module("heavy", 60)
            connection = RemoteConnection(session, Call(time.monotonic() + 120, (), "heavy"))
            params = torch.ones(2)
            assert RemoteModule(connection, "heavy").optimizer_steps(params) == "torchvision"
            assert torch.equal(params, torch.full((2,), 0.5))
        finally:
            session.close()
