"""Stage `baseline`: logistic regression on raw pixels, the bar the CNN has to clear."""

import logging
import time
from pathlib import Path
from typing import Any

from apparel_classifier import paths
from apparel_classifier.baseline import baseline_proba, fit_baseline
from apparel_classifier.errors import run_stage
from apparel_classifier.fashion_mnist import CLASS_NAMES
from apparel_classifier.fileio import write_json
from apparel_classifier.params import BaselineParams, load_params
from apparel_classifier.scores import classification_metrics
from apparel_classifier.splits import load_processed

log = logging.getLogger(__name__)


def run(processed_dir: Path, metrics_file: Path, params: BaselineParams) -> dict[str, Any]:
    """Fit on the training split, score the test split, write the metrics; return them."""
    train, test = load_processed(processed_dir, "train"), load_processed(processed_dir, "test")
    started = time.perf_counter()
    probs = baseline_proba(fit_baseline(train, params), test.images)
    metrics = classification_metrics(test.labels, probs, CLASS_NAMES)
    write_json(metrics_file, metrics)  # no timings in it: the git-tracked file must be reproducible
    log.info("baseline: fitted and scored in %.0f s", time.perf_counter() - started)
    return metrics


def main() -> None:
    """Entry point for `dvc repro baseline`."""
    params = load_params()
    metrics = run(paths.PROCESSED_DIR, paths.BASELINE_METRICS_FILE, params.baseline)
    log.info(
        "baseline: test accuracy %.4f, macro F1 %.4f", metrics["accuracy"], metrics["macro_f1"],
    )  # fmt: skip


if __name__ == "__main__":
    run_stage(main)
