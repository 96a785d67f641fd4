"""A tiny model saved with the real artifact contract, shared by the predictor tests."""

from pathlib import Path

import pytest

from apparel_classifier.predictor import Predictor


@pytest.fixture(scope="session")
def predictor(tiny_model_dir: Path) -> Predictor:
    return Predictor(tiny_model_dir)
