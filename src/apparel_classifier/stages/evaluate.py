"""Stage `evaluate`: score the model on the test split and the field photos; write metrics."""

import csv
import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from apparel_classifier import paths
from apparel_classifier.errors import run_stage
from apparel_classifier.evaluation import (
    calibration_metrics,
    coverage_rows,
    field_answers,
    field_metrics,
    field_mistakes,
    mistakes_grid,
    most_confident_mistakes,
    network_view,
    photo_and_view,
    predicted_caption,
    softmax_proba,
    uncertainty_metrics,
)
from apparel_classifier.fileio import atomic_path, write_json
from apparel_classifier.model_card import check_dataset, load_model
from apparel_classifier.networks import predict_logits
from apparel_classifier.params import EvaluateParams, load_params
from apparel_classifier.scores import classification_metrics, confusion_rows, per_class_accuracy
from apparel_classifier.splits import FIELD_VAL, load_dataset_info, load_processed
from apparel_classifier.transforms import normalize

log = logging.getLogger(__name__)

METRICS_FILE = "metrics.json"
FIELD_METRICS_FILE = "field.json"
CONFUSION_FILE = "confusion.csv"
PER_CLASS_FILE = "per_class_accuracy.csv"
MISTAKES_FILE = "mistakes.png"
FIELD_CONFUSION_FILE = "field_confusion.csv"
FIELD_MISTAKES_FILE = "field_mistakes.png"
COVERAGE_FILE = "coverage.csv"  # coverage-accuracy curve, test split
FIELD_COVERAGE_FILE = "field_coverage.csv"  # the same on the in-catalogue field photos
_COVERAGE_COLUMNS = ["threshold", "coverage", "accuracy"]


def _write_csv(path: Path, rows: list[dict[str, Any]], columns: list[str]) -> None:
    with atomic_path(path) as tmp, tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def _write_png(path: Path, image: Image.Image) -> None:
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG")


def run(
    processed_dir: Path,
    model_dir: Path,
    metrics_dir: Path,
    plots_dir: Path,
    params: EvaluateParams,
) -> dict[str, dict[str, Any]]:
    """Evaluate `model_dir` on the test split and the field validation photos.

    Writes metrics.json and field.json to `metrics_dir`, the plot files to
    `plots_dir`, and returns both metrics as {"test": ..., "field": ...}.
    """
    check_dataset(model_dir, processed_dir)
    model, card = load_model(model_dir)
    norm, classes = card.normalization, card.classes
    temperature, threshold = card.calibration.temperature, card.calibration.threshold

    def logits(images: np.ndarray) -> torch.Tensor:
        """Once per split: the calibrated and the raw probabilities both come from them."""
        if len(images) == 0:
            return torch.zeros((0, len(classes)))
        x = normalize(torch.from_numpy(images), norm["mean"], norm["std"])
        return predict_logits(model, x, params.batch_size, *card.model.views)

    test = load_processed(processed_dir, "test")
    test_logits = logits(test.images)
    probs = softmax_proba(test_logits, temperature)  # calibrated: what the predictor answers
    predicted = probs.argmax(axis=1)
    right = predicted == test.labels
    metrics = classification_metrics(test.labels, probs, classes)
    raw = softmax_proba(test_logits)  # at temperature 1: the network's own confidence
    metrics["calibration"] = calibration_metrics(raw, probs, right, temperature)
    pair = ["actual", "predicted"]
    confusion = confusion_rows(test.labels, predicted, classes)
    per_class = per_class_accuracy(test.labels, predicted, classes)
    worst = most_confident_mistakes(test.labels, probs, params.mistakes_shown)
    mistakes = mistakes_grid(
        [network_view(test.images[i]) for i in worst],
        [(classes[test.labels[i]], predicted_caption(probs[i], classes)) for i in worst],
    )

    # The field photos: the same model on what users actually send.
    photos = load_processed(processed_dir, FIELD_VAL)
    info = load_dataset_info(processed_dir)
    folders, files = info["field"]["folders"], info["field"]["val_files"]
    field_logits = logits(photos.images)
    field_probs = softmax_proba(field_logits, temperature)
    answers = field_answers(info["field"]["classes"], photos.labels, field_probs, classes)
    correct, in_catalogue = answers
    field_scores = field_metrics(folders, photos.labels, field_probs, answers)
    field_scores["calibration"] = calibration_metrics(
        softmax_proba(field_logits)[in_catalogue], field_probs[in_catalogue],
        correct[in_catalogue], temperature,
    )  # fmt: skip
    field_scores["uncertainty"] = uncertainty_metrics(field_probs, answers, threshold)
    field_rows = [
        {"actual": folders[k], "predicted": classes[p]}
        for k, p in zip(photos.labels, field_probs.argmax(axis=1), strict=True)
    ]
    worst = field_mistakes(field_probs, answers, params.mistakes_shown)
    field_grid = mistakes_grid(
        [photo_and_view(Path(files[i]), photos.images[i]) for i in worst],
        [(folders[photos.labels[i]], predicted_caption(field_probs[i], classes)) for i in worst],
    )

    # Written together at the end: a failure above leaves the previous outputs whole.
    write_json(metrics_dir / METRICS_FILE, metrics)
    write_json(metrics_dir / FIELD_METRICS_FILE, field_scores)
    _write_csv(plots_dir / CONFUSION_FILE, confusion, pair)
    _write_csv(plots_dir / PER_CLASS_FILE, per_class, ["class", "accuracy"])
    _write_png(plots_dir / MISTAKES_FILE, mistakes)
    _write_csv(plots_dir / COVERAGE_FILE, coverage_rows(probs, right), _COVERAGE_COLUMNS)
    _write_csv(plots_dir / FIELD_CONFUSION_FILE, field_rows, pair)
    _write_png(plots_dir / FIELD_MISTAKES_FILE, field_grid)
    _write_csv(
        plots_dir / FIELD_COVERAGE_FILE,
        coverage_rows(field_probs[in_catalogue], correct[in_catalogue]),
        _COVERAGE_COLUMNS,
    )
    return {"test": metrics, "field": field_scores}


def main() -> None:
    """Entry point for `dvc repro evaluate`."""
    params = load_params()
    metrics = run(
        paths.PROCESSED_DIR,
        paths.MODELS_DIR,
        paths.METRICS_DIR,
        paths.PLOTS_DIR,
        params.evaluate,
    )
    test, field = metrics["test"], metrics["field"]
    log.info(
        "evaluate: test accuracy %.4f, macro F1 %.4f, loss %.4f; field accuracy %s on %d photos",
        test["accuracy"], test["macro_f1"], test["loss"],
        "n/a" if field["accuracy"] is None else f"{field['accuracy']:.4f}", field["photos"],
    )  # fmt: skip


if __name__ == "__main__":
    run_stage(main)
