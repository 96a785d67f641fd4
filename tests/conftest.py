"""Fixtures shared across test groups, and the rule that a test's folder is its marker."""

from pathlib import Path

import pytest

from tests.fake_models import save_tiny_model

TESTS_DIR = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test with the name of its folder: `pytest -m serving` runs tests/serving/.

    Folders and markers cannot disagree this way; a new folder must be registered as a
    marker in pyproject.toml, or --strict-markers stops the run.
    """
    for item in items:
        parts = item.path.relative_to(TESTS_DIR).parts
        if len(parts) < 2:  # a folder, then the file
            raise pytest.UsageError(f"{item.path}: put each test file in a tests/<group>/ folder")
        item.add_marker(getattr(pytest.mark, parts[0]))


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny model saved with the real artifact contract (used by predictor and serving tests)."""
    model_dir = tmp_path_factory.mktemp("models")
    save_tiny_model(model_dir)
    return model_dir


@pytest.fixture(scope="session")
def unsure_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model with a confidence threshold of 1: every answer is "not sure, closest: X"."""
    model_dir = tmp_path_factory.mktemp("unsure_model")
    save_tiny_model(model_dir, threshold=1.0)
    return model_dir


@pytest.fixture(scope="session")
def second_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Another tiny model, with other weights: the candidate in rollout tests."""
    model_dir = tmp_path_factory.mktemp("second_model")
    save_tiny_model(model_dir, epochs=2)
    return model_dir
