"""The processed dataset: the Split type, the files `preprocess` writes, and loading them back."""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from apparel_classifier.errors import UserError

SPLITS = ("train", "val", "test")
# The field validation photos, as 28×28 images and folder indices (params.field.categories
# order). Only `evaluate` reads them: the model never trains, nor selects epochs, on them.
FIELD_VAL = "field_val"
# The field train photos held out of training (params.field.calibration_share), also as
# folder indices: `train` fits the confidence temperature on them.
FIELD_CAL = "field_cal"
# What readers of dataset.json rely on: class names, the normalisation, the field photos.
_DATASET_KEYS = ("class_names", "mean", "std", "field")


@dataclass(frozen=True)
class Split:
    """Images as uint8 (N, 28, 28), light items on black, and their labels as int64 (N,)."""

    images: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)


def processed_files(processed_dir: Path) -> dict[str, Path]:
    """Every file the `preprocess` stage writes, keyed by a short name (matches dvc.yaml)."""
    files = {
        f"{s}_{kind}": processed_dir / f"{s}_{kind}.npy"
        for s in (*SPLITS, FIELD_CAL, FIELD_VAL)
        for kind in ("images", "labels")
    }
    files["dataset"] = processed_dir / "dataset.json"
    return files


def training_files(processed_dir: Path) -> dict[str, Path]:
    """The processed files a model depends on (and its card names): all but the field validation.

    Matches the `train` stage's data deps in dvc.yaml.
    """
    return {k: p for k, p in processed_files(processed_dir).items() if not k.startswith(FIELD_VAL)}


def load_processed(processed_dir: Path, split: str) -> Split:
    """One split `preprocess` wrote: `train`, `val`, `test`, `field_cal` or `field_val`."""
    files = processed_files(processed_dir)
    try:
        images = np.load(files[f"{split}_images"], allow_pickle=False)
        labels = np.load(files[f"{split}_labels"], allow_pickle=False)
    except FileNotFoundError as exc:
        raise UserError(f"{exc.filename} not found: run `dvc repro preprocess` first") from None
    except (ValueError, EOFError, OSError) as exc:  # not an .npy, empty, unreadable
        raise UserError(
            f"{processed_dir}: cannot read the {split} split ({exc}); run `dvc repro`"
        ) from None
    return Split(images=images, labels=labels)


def load_dataset_info(processed_dir: Path) -> dict[str, Any]:
    """`preprocess`'s dataset.json: class names and counts, normalisation, the field photos."""
    path = processed_files(processed_dir)["dataset"]
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path} not found: run `dvc repro preprocess` first") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{path} cannot be read ({exc}); run `dvc repro`") from None
    missing = [k for k in _DATASET_KEYS if k not in info] if isinstance(info, dict) else ["keys"]
    if missing:
        raise UserError(
            f"{path} lacks {', '.join(missing)}: not what `preprocess` writes; run `dvc repro`"
        )
    return info
