"""The real model on the real test set clears the project's target (after `make run`)."""

import json
from pathlib import Path

import pytest

from apparel_classifier import paths
from apparel_classifier.params import EvaluateParams
from apparel_classifier.stages import evaluate
from tests.fakes import REPO_ROOT
from tests.needs import need
from tools.quality_gate import MIN_ACCURACY, MIN_FIELD_ACCURACY


@pytest.fixture
def trained_project(monkeypatch: pytest.MonkeyPatch) -> None:
    trained = (REPO_ROOT / paths.MODELS_DIR / "model_card.json").is_file()
    need(trained, "no trained model: run `make run` first")
    monkeypatch.chdir(REPO_ROOT)


@pytest.mark.usefixtures("trained_project")
def test_real_model_reaches_the_targets_and_beats_the_baseline(tmp_path: Path) -> None:
    # Re-evaluates from the weights (not from metrics.json), into a scratch directory.
    params = EvaluateParams(batch_size=1000, mistakes_shown=4)
    result = evaluate.run(paths.PROCESSED_DIR, paths.MODELS_DIR, tmp_path, tmp_path, params)
    metrics = result["test"]
    assert metrics["accuracy"] >= MIN_ACCURACY
    assert result["field"]["accuracy"] >= MIN_FIELD_ACCURACY
    baseline = json.loads((REPO_ROOT / paths.BASELINE_METRICS_FILE).read_text())
    assert metrics["accuracy"] > baseline["accuracy"]
