"""Fixtures for pipeline tests: a fresh tiny project per test."""

from pathlib import Path

import pytest

from tests.pipeline.repo import Repo, make_repo


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    """A committed tiny copy of the project; nothing reproduced yet."""
    return make_repo(tmp_path)
