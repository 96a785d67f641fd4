"""A tiny model saved with the real artifact contract, shared by the predictor tests."""

from pathlib import Path

import pytest

from apparel_classifier.predictor import Predictor
from tests.fake_models import save_tiny_model


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    model_dir = tmp_path_factory.mktemp("models")
    save_tiny_model(model_dir)
    return model_dir


@pytest.fixture(scope="session")
def predictor(tiny_model_dir: Path) -> Predictor:
    return Predictor(tiny_model_dir)
