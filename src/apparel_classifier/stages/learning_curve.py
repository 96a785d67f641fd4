"""Stages of learning_curve/dvc.yaml: `point` trains one model on a share of the data; `plot`.

python -m apparel_classifier.stages.learning_curve point --model cnn --fraction 0.25
python -m apparel_classifier.stages.learning_curve plot
"""

import argparse
import csv
import logging
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from apparel_classifier import paths, training
from apparel_classifier.baseline import baseline_proba, fit_baseline
from apparel_classifier.errors import UserError, run_stage
from apparel_classifier.evaluation import field_answers, predict_proba
from apparel_classifier.fashion_mnist import CLASS_NAMES, NUM_CLASSES
from apparel_classifier.fileio import atomic_path, write_json
from apparel_classifier.learning_curve import (
    Point,
    curve_rows,
    point_file,
    read_point,
    stratified_share,
)
from apparel_classifier.params import LearningCurveParams, Params, load_params
from apparel_classifier.splits import (
    FIELD_VAL,
    Split,
    load_dataset_info,
    load_processed,
)
from apparel_classifier.transforms import normalize

log = logging.getLogger(__name__)

_CSV_COLUMNS = ["train_size", "fraction", "test_accuracy", "field_accuracy"]


def _cnn_proba(processed_dir: Path, keep: np.ndarray, params: Params) -> dict[str, np.ndarray]:
    """Train FashionCNN as the `train` stage does, on the rows `keep`; probabilities per split."""
    device = training.resolve_device(params.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError("params.yaml asks for device: cuda, but no CUDA GPU is visible")
    # One process: the curve compares data sizes, not how many processes shared a batch.
    training.make_deterministic(params.seed)
    data = training.load_data(processed_dir, device, ("train", "val", "test"))
    x, y = data.tensors["train"]
    rows = torch.from_numpy(keep).to(device)
    model = training.build_network(params).to(device)
    result = training.fit(model, (x[rows], y[rows]), data.tensors["val"], params, data.background)
    model.load_state_dict(result.best_state)
    field = load_processed(processed_dir, FIELD_VAL).images
    flip, shift_px = params.views  # answered as the train stage's model would be served

    def proba(images: torch.Tensor) -> np.ndarray:
        return predict_proba(model, images, params.val_batch_size, flip=flip, shift_px=shift_px)

    return {
        "test": proba(data.tensors["test"][0]),
        "field": proba(normalize(torch.from_numpy(field), data.mean, data.std).to(device))
        if len(field)
        else np.zeros((0, NUM_CLASSES)),
    }


def _baseline_proba(processed_dir: Path, keep: np.ndarray, params: Params) -> dict[str, np.ndarray]:
    """Fit the baseline on the rows `keep`; probabilities per split."""
    train = load_processed(processed_dir, "train")
    classifier = fit_baseline(Split(train.images[keep], train.labels[keep]), params.baseline)
    field = load_processed(processed_dir, FIELD_VAL).images
    return {
        "test": baseline_proba(classifier, load_processed(processed_dir, "test").images),
        "field": baseline_proba(classifier, field) if len(field) else np.zeros((0, NUM_CLASSES)),
    }


# The curve's models, in the order of learning_curve/dvc.yaml's matrix; each writes <name>.csv.
MODELS = {"cnn": _cnn_proba, "baseline": _baseline_proba}


def run_point(
    processed_dir: Path, points_dir: Path, model: str, fraction: float, params: Params
) -> Point:
    """Train `model` on `fraction` of the training split; score it; write and return its point."""
    if model not in MODELS:
        raise UserError(f"unknown model {model!r}: use one of {sorted(MODELS)}")
    if not 0.0 < fraction <= 1.0:
        raise UserError(f"fraction must be in (0, 1], got {fraction}")
    labels = load_processed(processed_dir, "train").labels
    keep = stratified_share(labels, fraction, params.seed)
    probs = MODELS[model](processed_dir, keep, params)

    test = load_processed(processed_dir, "test").labels
    field_labels = load_processed(processed_dir, FIELD_VAL).labels
    info = load_dataset_info(processed_dir)
    correct, in_catalogue = field_answers(
        info["field"]["classes"], field_labels, probs["field"], CLASS_NAMES
    )
    point = Point(
        model=model,
        fraction=fraction,
        train_size=len(keep),
        test_accuracy=float((probs["test"].argmax(axis=1) == test).mean()),
        field_accuracy=float(correct[in_catalogue].mean()) if in_catalogue.any() else None,
    )
    write_json(point_file(points_dir, model, fraction), asdict(point))
    return point


def run_plot(points_dir: Path, curve_dir: Path, params: LearningCurveParams) -> dict[str, Path]:
    """Write one CSV per model (its points by training-set size) for `dvc plots show`."""
    points = {
        model: [read_point(point_file(points_dir, model, f)) for f in params.fractions]
        for model in MODELS
    }  # read them all first: a missing point leaves every CSV as it was
    written = {}
    for model, model_points in points.items():
        path = curve_dir / f"{model}.csv"
        with atomic_path(path) as tmp, tmp.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=_CSV_COLUMNS)
            writer.writeheader()
            writer.writerows(curve_rows(model_points))
        written[model] = path
    return written


def main() -> None:
    """Entry point for the stages of `dvc repro learning_curve/dvc.yaml`."""
    parser = argparse.ArgumentParser(prog="python -m apparel_classifier.stages.learning_curve")
    commands = parser.add_subparsers(dest="command", required=True)
    point = commands.add_parser("point", help="train one model on one share of the data")
    point.add_argument("--model", required=True, choices=sorted(MODELS))
    point.add_argument("--fraction", required=True, type=float)
    commands.add_parser("plot", help="gather the points into one CSV per model")
    args = parser.parse_args()
    params = load_params()
    if args.command == "point":
        p = run_point(
            paths.PROCESSED_DIR, paths.LEARNING_CURVE_POINTS_DIR, args.model, args.fraction, params
        )
        field = "n/a" if p.field_accuracy is None else f"{p.field_accuracy:.4f}"
        log.info(
            "learning curve: %s on %d images (%.0f %%): test accuracy %.4f, field accuracy %s",
            p.model, p.train_size, 100 * p.fraction, p.test_accuracy, field,
        )  # fmt: skip
    else:
        written = run_plot(
            paths.LEARNING_CURVE_POINTS_DIR, paths.LEARNING_CURVE_DIR, params.learning_curve
        )
        log.info("learning curve: wrote %s", ", ".join(map(str, written.values())))


if __name__ == "__main__":
    run_stage(main)
