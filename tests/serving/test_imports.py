"""The server imports the product's serving path only: no training, scikit-learn or downloader."""

import subprocess
import sys

import pytest

# What serving must never load: each is slow to import, or has no business in a server.
TRAINING_SIDE = (
    "sklearn",
    "dvclive",
    "apparel_classifier.download",
    "apparel_classifier.idx",
    "apparel_classifier.preprocessing",
    "apparel_classifier.training",
)


@pytest.mark.parametrize(
    "module", ["apparel_classifier.serving.app", "apparel_classifier.predictor"]
)
def test_serving_does_not_import_the_training_side(module: str) -> None:
    # A fresh interpreter: this test process has imported everything already.
    code = (
        f"import sys, {module}; print(' '.join(m for m in {TRAINING_SIDE!r} if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == []
