"""Stage `evaluate`: score the trained model on the test split; write metrics and plot data."""

import csv
import logging
from pathlib import Path
from typing import Any

import torch

from apparel_classifier import paths
from apparel_classifier.errors import UserError, run_stage
from apparel_classifier.evaluation import (
    classification_metrics,
    confusion_rows,
    mistakes_grid,
    most_confident_mistakes,
    per_class_accuracy,
    predict_proba,
)
from apparel_classifier.fileio import atomic_path, write_json
from apparel_classifier.model_card import dataset_mismatches, load_card, load_model
from apparel_classifier.params import EvaluateParams, load_params
from apparel_classifier.splits import load_processed
from apparel_classifier.transforms import normalize

log = logging.getLogger(__name__)

CONFUSION_FILE = "confusion.csv"
PER_CLASS_FILE = "per_class_accuracy.csv"
MISTAKES_FILE = "mistakes.png"


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    with atomic_path(path) as tmp, tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def check_dataset(model_dir: Path, processed_dir: Path) -> None:
    """Refuse a model whose card names other processed data than the files present."""
    problems = dataset_mismatches(load_card(model_dir), processed_dir)
    if problems:
        raise UserError(
            f"{model_dir} was trained on a different dataset than the one in {processed_dir} "
            f"({'; '.join(problems)}). Run `dvc repro` to retrain on the current data, "
            "or `dvc checkout` to restore the matching data."
        )


def run(
    processed_dir: Path,
    model_dir: Path,
    metrics_file: Path,
    plots_dir: Path,
    params: EvaluateParams,
) -> dict[str, Any]:
    """Evaluate `model_dir` on the test split; write metrics and plot files; return the metrics."""
    check_dataset(model_dir, processed_dir)
    model, card = load_model(model_dir)
    test = load_processed(processed_dir, "test")
    norm = card.normalization
    x = normalize(torch.from_numpy(test.images), norm["mean"], norm["std"])
    probs = predict_proba(model, x, params.batch_size)
    predicted = probs.argmax(axis=1)
    classes = card.classes

    metrics = classification_metrics(test.labels, probs, classes)
    write_json(metrics_file, metrics)
    _write_csv(plots_dir / CONFUSION_FILE, confusion_rows(test.labels, predicted, classes))
    _write_csv(plots_dir / PER_CLASS_FILE, per_class_accuracy(test.labels, predicted, classes))
    worst = most_confident_mistakes(test.labels, probs, params.mistakes_shown)
    grid = mistakes_grid(test.images, test.labels, probs, worst, classes)
    with atomic_path(plots_dir / MISTAKES_FILE) as tmp:
        grid.save(tmp, format="PNG")
    return metrics


def main() -> None:
    """Entry point for `dvc repro evaluate`."""
    params = load_params()
    metrics = run(
        paths.PROCESSED_DIR, paths.MODELS_DIR, paths.METRICS_FILE, paths.PLOTS_DIR, params.evaluate
    )
    log.info(
        "evaluate: test accuracy %.4f, macro F1 %.4f, loss %.4f",
        metrics["accuracy"], metrics["macro_f1"], metrics["loss"],
    )  # fmt: skip


if __name__ == "__main__":
    run_stage(main)
