"""Shared fixtures of the kit's own tests: one grading service (one torch import) per test session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

from grader import catalogue
from grader.engine import GradingService


@pytest.fixture(scope="session")
def grading_service() -> Iterator[GradingService]:
    with GradingService(torch.device("cpu")) as service:
        yield service


@pytest.fixture(scope="session")
def modules() -> list[catalogue.ModuleInfo]:
    return catalogue.load_catalogue()


def module_named(modules: list[catalogue.ModuleInfo], name: str) -> catalogue.ModuleInfo:
    return next(m for m in modules if m.name == name)
