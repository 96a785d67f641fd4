"""Stage `preprocess`: validate raw files, split off validation, add extra images, write .npy."""

import logging
from pathlib import Path
from typing import Any

import numpy as np

from apparel_classifier import paths
from apparel_classifier.datasets import (
    CLASS_NAMES,
    Split,
    class_counts,
    load_raw,
    processed_files,
    split_train_val,
    validate,
)
from apparel_classifier.errors import run_stage
from apparel_classifier.extra import ExtraImages, load_extra
from apparel_classifier.fileio import write_json, write_npy
from apparel_classifier.params import load_params

log = logging.getLogger(__name__)


def run(
    raw_dir: Path,
    out_dir: Path,
    train_size: int,
    test_size: int,
    val_fraction: float,
    seed: int,
    extra_dir: Path | None = None,
) -> dict[str, Any]:
    """Turn the raw IDX files into train/val/test .npy files and dataset.json; return the latter.

    Images under `extra_dir` join the training split only, after validation has
    been split off, so val and test keep measuring against the official data.
    """
    official_train, test = load_raw(raw_dir, "train"), load_raw(raw_dir, "test")
    validate(official_train, "training set", train_size)
    validate(test, "test set", test_size)
    train, val = split_train_val(official_train, val_fraction, seed)
    extra = load_extra(extra_dir) if extra_dir is not None else ExtraImages.empty()
    train = Split(
        np.concatenate([train.images, extra.split.images]),
        np.concatenate([train.labels, extra.split.labels]),
    )

    # Statistics of the training split only, in float64 so they do not depend on summation order.
    scaled = train.images.astype(np.float64) / 255.0
    info: dict[str, Any] = {
        "class_names": list(CLASS_NAMES),
        "counts": {
            name: class_counts(s.labels)
            for name, s in (("train", train), ("val", val), ("test", test))
        },
        # Already included in counts.train; listed apart so a dataset version says what it added.
        "extra": {
            "counts": class_counts(extra.split.labels),
            "rejected": extra.rejected,
        },
        "mean": round(float(scaled.mean()), 8),
        "std": round(float(scaled.std()), 8),
        "image_size": list(train.images.shape[1:]),
    }

    files = processed_files(out_dir)
    splits: dict[str, Split] = {"train": train, "val": val, "test": test}
    for name, split in splits.items():
        write_npy(files[f"{name}_images"], np.ascontiguousarray(split.images))
        write_npy(files[f"{name}_labels"], split.labels.astype(np.int64))
    write_json(files["dataset"], info)
    return info


def main() -> None:
    """Entry point for `dvc repro preprocess`."""
    params = load_params()
    info = run(
        paths.RAW_DIR,
        paths.PROCESSED_DIR,
        params.dataset.train_size,
        params.dataset.test_size,
        params.preprocess.val_fraction,
        params.preprocess.seed,
        extra_dir=paths.EXTRA_DIR,
    )
    counts = info["counts"]
    log.info(
        "preprocess: train %d (%d extra, %d rejected), val %d, test %d images; mean %.4f, std %.4f",
        sum(counts["train"].values()),
        sum(info["extra"]["counts"].values()),
        len(info["extra"]["rejected"]),
        *(sum(counts[s].values()) for s in ("val", "test")),
        info["mean"],
        info["std"],
    )


if __name__ == "__main__":
    run_stage(main)
