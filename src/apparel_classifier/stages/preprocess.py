"""Stage `preprocess`: validate raw files, split off validation, add extra images, write .npy."""

import logging
from pathlib import Path
from typing import Any

import numpy as np

from apparel_classifier import paths
from apparel_classifier.errors import run_stage
from apparel_classifier.extra import ExtraImages, load_extra
from apparel_classifier.fileio import write_json, write_npy
from apparel_classifier.params import DatasetParams, PreprocessParams, load_params
from apparel_classifier.preprocessing import describe, load_raw, split_train_val
from apparel_classifier.schema import validate
from apparel_classifier.splits import Split, processed_files

log = logging.getLogger(__name__)


def run(
    raw_dir: Path,
    out_dir: Path,
    dataset: DatasetParams,
    params: PreprocessParams,
    extra_dir: Path | None = None,
) -> dict[str, Any]:
    """Turn the raw IDX files into train/val/test .npy files and dataset.json; return the latter.

    Images under `extra_dir` join the training split only, after validation has
    been split off, so val and test keep measuring against the official data.
    """
    official_train, test = load_raw(raw_dir, "train"), load_raw(raw_dir, "test")
    validate(official_train, "training set", dataset.train_size)
    validate(test, "test set", dataset.test_size)
    train, val = split_train_val(official_train, params.val_fraction, params.seed)
    extra = load_extra(extra_dir) if extra_dir is not None else ExtraImages.empty()
    train = Split(
        np.concatenate([train.images, extra.split.images]),
        np.concatenate([train.labels, extra.split.labels]),
    )
    splits = {"train": train, "val": val, "test": test}
    info = describe(splits, extra.split, extra.rejected)

    files = processed_files(out_dir)
    for name, split in splits.items():
        write_npy(files[f"{name}_images"], np.ascontiguousarray(split.images))
        write_npy(files[f"{name}_labels"], split.labels.astype(np.int64))
    write_json(files["dataset"], info)
    return info


def main() -> None:
    """Entry point for `dvc repro preprocess`."""
    params = load_params()
    info = run(
        paths.RAW_DIR, paths.PROCESSED_DIR, params.dataset, params.preprocess, paths.EXTRA_DIR
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
