"""Fixtures shared across test groups."""

from pathlib import Path

import pytest

from tests.fake_models import save_tiny_model


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny model saved with the real artifact contract (used by predictor and serving tests)."""
    model_dir = tmp_path_factory.mktemp("models")
    save_tiny_model(model_dir)
    return model_dir
