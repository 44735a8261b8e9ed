"""Shared fixtures of the kit's own tests: one grading service (one torch import) per test session."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator

import pytest
import torch

from grader import catalogue, reference_store
from grader.engine import GradingService


def pytest_configure(config: pytest.Config) -> None:
    """The tests' `grade check` runs keep their reference results in a store of this session's own (subprocesses
    inherit it), never in the user's cache."""
    if reference_store.CACHE_ENV not in os.environ:
        folder = tempfile.mkdtemp(prefix="grade-test-cache-")
        os.environ[reference_store.CACHE_ENV] = folder
        config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))


@pytest.fixture(scope="session")
def grading_service() -> Iterator[GradingService]:
    with GradingService(torch.device("cpu")) as service:
        yield service


@pytest.fixture(scope="session")
def modules() -> list[catalogue.ModuleInfo]:
    return catalogue.load_catalogue()


def module_named(modules: list[catalogue.ModuleInfo], name: str) -> catalogue.ModuleInfo:
    return next(m for m in modules if m.name == name)
