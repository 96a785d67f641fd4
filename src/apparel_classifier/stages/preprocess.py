"""Stage `preprocess`: validate raw data, split off validation, add extra and field photos."""

import logging
from pathlib import Path
from typing import Any

import numpy as np

from apparel_classifier import paths
from apparel_classifier.errors import run_stage
from apparel_classifier.fashion_mnist import EXTRA_FOLDERS, OUTSIDE
from apparel_classifier.fileio import write_json, write_npy
from apparel_classifier.params import DatasetParams, FieldParams, PreprocessParams, load_params
from apparel_classifier.photos import load_folders
from apparel_classifier.preprocessing import (
    describe,
    field_training_split,
    folder_counts,
    hold_out_for_calibration,
    import_version,
    load_raw,
    split_train_val,
)
from apparel_classifier.schema import validate
from apparel_classifier.splits import FIELD_CAL, FIELD_VAL, Split, processed_files
from apparel_classifier.synthetic import staged_rows

log = logging.getLogger(__name__)


def run(
    raw_dir: Path,
    out_dir: Path,
    dataset: DatasetParams,
    params: PreprocessParams,
    field: FieldParams,
    extra_dir: Path | None = None,
    field_dir: Path | None = None,
) -> dict[str, Any]:
    """Turn the raw IDX files and photos into train/val/test/field_* .npy and dataset.json.

    Images under `extra_dir`, the field train photos under `field_dir`, and training
    images staged as photos (`synthetic`) join the training split only, after
    validation has been split off, so val and test keep measuring against the
    official data. A share of the field train photos is held out for calibration
    (field_cal), and the field validation photos are written apart, for `evaluate`
    alone.
    """
    official_train, test = load_raw(raw_dir, "train"), load_raw(raw_dir, "test")
    validate(official_train, "training set", dataset.train_size)
    validate(test, "test set", dataset.test_size)
    train, val = split_train_val(official_train, params.val_fraction, params.seed)
    staged = staged_rows(train, params.staged_photos, params.seed)

    extra = load_folders(extra_dir, EXTRA_FOLDERS)
    folders = list(field.categories)
    field_dirs = {k: field_dir / v for k, v in paths.FIELD_SPLITS.items()} if field_dir else {}
    field_train = load_folders(field_dirs.get("train"), folders)
    field_val = load_folders(field_dirs.get("val"), folders)
    trained, held_out = hold_out_for_calibration(field_train, field.calibration_share, params.seed)
    from_field = field_training_split(trained, field, params.seed)
    train = Split(
        np.concatenate([train.images, staged.images, extra.images, from_field.images]),
        np.concatenate([train.labels, staged.labels, extra.labels, from_field.labels]),
    )
    splits = {"train": train, "val": val, "test": test}
    info = describe(splits, Split(extra.images, extra.labels), extra.rejected)
    if len(staged):  # absent when none: a dataset made without them stays as it was, byte for byte
        info["staged_photos"] = len(staged)  # already in counts.train, like the extra images
    info["field"] = {
        "version": import_version(field_dir) if field_dir else None,
        "folders": folders,
        # Each folder's right classes, in the order of `folders` (JSON keys get sorted):
        # how `train` and `evaluate` score the photos, from the data they were made with.
        "classes": [field.categories[f] for f in folders],
        "counts": {
            "train": folder_counts(trained, folders),
            "calibration": folder_counts(held_out, folders),
            "validation": folder_counts(field_val, folders),
        },
        # Rows the field photos added to the training split (repeats included), and of
        # those, rows of garments outside the catalogue (trained towards "not sure").
        "train_rows": len(from_field),
        "outside_rows": int((from_field.labels == OUTSIDE).sum()),
        "rejected": field_train.rejected | field_val.rejected,
        "calibration_files": held_out.files,  # in the order of field_cal_*.npy
        "val_files": field_val.files,  # in the order of field_val_*.npy
    }

    files = processed_files(out_dir)
    splits[FIELD_CAL] = Split(held_out.images, held_out.labels)
    splits[FIELD_VAL] = Split(field_val.images, field_val.labels)
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
        params.dataset,
        params.preprocess,
        params.field,
        extra_dir=paths.EXTRA_DIR,
        field_dir=paths.FIELD_DIR,
    )
    counts, field = info["counts"], info["field"]
    log.info(
        "preprocess: train %d (%d staged as photos, %d extra, %d field rows, %d of them out of "
        "the catalogue), "
        "val %d, test %d, field calibration %d, field val %d images; %d rejected; "
        "mean %.4f, std %.4f",
        sum(counts["train"].values()) + field["outside_rows"],
        info.get("staged_photos", 0),
        sum(info["extra"]["counts"].values()),
        field["train_rows"],
        field["outside_rows"],
        *(sum(counts[s].values()) for s in ("val", "test")),
        len(field["calibration_files"]),
        len(field["val_files"]),
        len(info["extra"]["rejected"]) + len(field["rejected"]),
        info["mean"],
        info["std"],
    )


if __name__ == "__main__":
    run_stage(main)
