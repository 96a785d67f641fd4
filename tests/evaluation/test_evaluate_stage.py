"""The `evaluate` and `baseline` stages on tiny data: metrics schema, plots, dataset check."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from apparel_classifier.errors import UserError
from apparel_classifier.evaluation import (
    field_answers,
    field_metrics,
    field_mistakes,
    most_confident_mistakes,
)
from apparel_classifier.fashion_mnist import CLASS_NAMES
from apparel_classifier.params import BaselineParams, EvaluateParams
from apparel_classifier.scores import classification_metrics
from apparel_classifier.stages import baseline, evaluate, train
from tests.tiny_pipeline import TinyProject, make_tiny_project

EVAL = EvaluateParams(batch_size=64, mistakes_shown=6)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> TinyProject:
    project = make_tiny_project(tmp_path_factory.mktemp("tiny"), epochs=3)
    train.run(project.processed, project.models(), None, project.params, project.params.dataset)
    return project


def assert_metrics_schema(metrics: dict[str, object], calibrated: bool = True) -> None:
    assert set(metrics) == {"accuracy", "macro_f1", "loss", "per_class"} | (
        {"calibration"} if calibrated else set()
    )
    if calibrated:
        calibration = metrics["calibration"]
        assert isinstance(calibration, dict)
        assert set(calibration) == {"temperature", "ece_before", "ece_after"}
        assert calibration["temperature"] > 0.0
    for key in ("accuracy", "macro_f1"):
        assert 0.0 <= metrics[key] <= 1.0  # type: ignore[operator]
    assert metrics["loss"] >= 0.0  # type: ignore[operator]
    per_class = metrics["per_class"]
    assert isinstance(per_class, dict)
    assert list(per_class) == list(CLASS_NAMES)
    for scores in per_class.values():
        assert set(scores) == {"precision", "recall", "f1"}
        assert all(0.0 <= v <= 1.0 for v in scores.values())


def test_evaluate_writes_metrics_and_plot_data(trained: TinyProject, tmp_path: Path) -> None:
    result = evaluate.run(
        trained.processed,
        trained.models(),
        tmp_path,
        tmp_path / "plots",
        EVAL,
    )
    metrics = result["test"]
    assert json.loads((tmp_path / "metrics.json").read_text()) == metrics
    assert_metrics_schema(metrics)
    # The fake classes are bars at distinct heights: even a tiny, short run separates them.
    assert metrics["accuracy"] > 0.5

    with (tmp_path / "plots" / "confusion.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 100
    assert set(rows[0]) == {"actual", "predicted"}
    agree = sum(r["actual"] == r["predicted"] for r in rows) / len(rows)
    assert agree == pytest.approx(metrics["accuracy"])

    with (tmp_path / "plots" / "per_class_accuracy.csv").open() as fh:
        per_class = {r["class"]: float(r["accuracy"]) for r in csv.DictReader(fh)}
    assert per_class == pytest.approx({k: v["recall"] for k, v in metrics["per_class"].items()})

    grid = Image.open(tmp_path / "plots" / "mistakes.png")
    assert grid.format == "PNG"
    assert grid.width > 0

    # The coverage-accuracy curve: at threshold 0 every answer is kept.
    with (tmp_path / "plots" / "coverage.csv").open() as fh:
        curve = [{k: float(v) for k, v in r.items()} for r in csv.DictReader(fh)]
    assert curve[0] == {"threshold": 0.0, "coverage": 1.0, "accuracy": metrics["accuracy"]}
    coverages = [r["coverage"] for r in curve]
    assert coverages == sorted(coverages, reverse=True)


def test_evaluate_scores_the_field_photos_with_the_footwear_rule(
    trained: TinyProject, tmp_path: Path
) -> None:
    categories = trained.params.field.categories
    result = evaluate.run(trained.processed, trained.models(), tmp_path, tmp_path, EVAL)
    scores = result["field"]
    assert json.loads((tmp_path / "field.json").read_text()) == scores
    in_catalogue = [f for f, classes in categories.items() if classes]
    assert scores["photos"] == 2 * len(in_catalogue)  # two validation photos per folder
    assert set(scores["recall"]) == set(in_catalogue)
    assert 0.0 <= scores["accuracy"] <= 1.0
    assert set(scores["mean_confidence"]) == {"in_catalogue", "out_of_catalogue"}
    assert set(scores["calibration"]) == {"temperature", "ece_before", "ece_after"}
    uncertainty = scores["uncertainty"]
    assert uncertainty["threshold"] == trained.params.confidence_threshold
    assert 0.0 <= uncertainty["in_catalogue_sure_and_right"] <= scores["accuracy"]
    assert 0.0 <= uncertainty["out_of_catalogue_sure"] <= 1.0
    assert (tmp_path / "field_coverage.csv").is_file()

    with (tmp_path / "field_confusion.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 2 * len(categories)  # every validation photo, hats included
    right = [r["predicted"] in categories[r["actual"]] for r in rows if categories[r["actual"]]]
    assert sum(right) / len(right) == pytest.approx(scores["accuracy"])
    assert Image.open(tmp_path / "field_mistakes.png").format == "PNG"


def test_footwear_counts_as_right_for_shoes_and_nothing_for_hats() -> None:
    folders = ["shoes", "hat", "pants"]
    classes = [["Sandal", "Sneaker", "Ankle boot"], [], ["Trouser"]]  # dataset.json's
    labels = np.array([0, 0, 1, 2])
    predicted = [CLASS_NAMES.index(c) for c in ("Sneaker", "Bag", "Trouser", "Dress")]
    probs = np.eye(len(CLASS_NAMES))[predicted] * 0.9 + 0.01
    answers = field_answers(classes, labels, probs, CLASS_NAMES)
    assert answers[0].tolist() == [True, False, False, False]
    assert answers[1].tolist() == [True, True, False, True]
    scores = field_metrics(folders, labels, probs, answers)
    assert scores["accuracy"] == pytest.approx(1 / 3)
    assert scores["recall"] == {"shoes": 0.5, "pants": 0.0}
    assert field_mistakes(probs, answers, 5).tolist() == [1, 3]


def test_evaluate_refuses_a_model_trained_on_other_data(tmp_path: Path) -> None:
    project = make_tiny_project(tmp_path, epochs=1)
    train.run(project.processed, project.models(), None, project.params, project.params.dataset)
    make_tiny_project(tmp_path, seed=7, epochs=1)  # new data in the same place
    with pytest.raises(UserError, match="different dataset") as err:
        evaluate.run(project.processed, project.models(), tmp_path / "m", tmp_path / "p", EVAL)
    message = str(err.value)
    assert "data/processed/train_images.npy" in message
    assert "dvc repro" in message
    assert not (tmp_path / "m").exists()


def test_baseline_writes_its_own_metrics(trained: TinyProject, tmp_path: Path) -> None:
    params = BaselineParams(max_iter=50, c=1.0)
    metrics = baseline.run(trained.processed, tmp_path / "baseline.json", params)
    assert json.loads((tmp_path / "baseline.json").read_text()) == metrics
    assert_metrics_schema(metrics, calibrated=False)
    assert metrics["accuracy"] > 0.5


def test_metrics_of_perfect_and_wrong_predictions() -> None:
    labels = np.arange(10)
    perfect = np.full((10, 10), 0.01)
    np.fill_diagonal(perfect, 0.91)  # rows sum to one
    metrics = classification_metrics(labels, perfect, CLASS_NAMES)
    assert metrics["accuracy"] == 1.0
    assert metrics["macro_f1"] == 1.0
    assert metrics["loss"] == pytest.approx(-np.log(0.91))
    wrong = np.roll(perfect, 1, axis=1)
    assert classification_metrics(labels, wrong, CLASS_NAMES)["accuracy"] == 0.0


def test_most_confident_mistakes_come_first() -> None:
    labels = np.array([0, 0, 0, 1])
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.3, 0.7]])
    assert most_confident_mistakes(labels, probs, 5).tolist() == [1, 2]
    assert most_confident_mistakes(labels, probs, 1).tolist() == [1]
