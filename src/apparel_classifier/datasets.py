"""The Fashion-MNIST dataset: class names, raw files, schema checks and the processed splits."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from apparel_classifier.errors import UserError
from apparel_classifier.idx import read_idx

# Label order from the dataset's README (zalandoresearch/fashion-mnist).
CLASS_NAMES: tuple[str, ...] = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip
NUM_CLASSES = len(CLASS_NAMES)
# Folder of each class under data/extra/, in label order: class names hold "/" and
# spaces ("T-shirt/top", "Ankle boot"), which make poor directory names.
EXTRA_FOLDERS: tuple[str, ...] = (
    "t-shirt_top", "trouser", "pullover", "dress", "coat",
    "sandal", "shirt", "sneaker", "bag", "ankle_boot",
)  # fmt: skip
IMAGE_SIZE = 28

RAW_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
SPLITS = ("train", "val", "test")


class SchemaError(UserError):
    """The data does not have the shape, type or content the dataset promises."""


@dataclass(frozen=True)
class Split:
    """Images as uint8 (N, 28, 28), light items on black, and their labels as int64 (N,)."""

    images: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)


def validate(split: Split, name: str, expected_size: int, balanced: bool = True) -> None:
    """Check a split the way a schema would; the error says what was expected and what was found."""
    img, lab = split.images, split.labels
    checks = [
        (img.dtype == np.uint8, "images of dtype uint8", f"dtype {img.dtype}"),
        (img.shape[1:] == (IMAGE_SIZE, IMAGE_SIZE), "28×28 images", f"shape {img.shape[1:]}"),
        (len(img) == len(lab), "one label per image", f"{len(img)} images, {len(lab)} labels"),
        (len(lab) == expected_size, f"{expected_size} samples", f"{len(lab)}"),
        (
            lab.size == 0 or (lab.min() >= 0 and lab.max() < NUM_CLASSES),
            f"labels in 0–{NUM_CLASSES - 1}",
            f"labels in {lab.min() if lab.size else '-'}–{lab.max() if lab.size else '-'}",
        ),
    ]
    for ok, expected, found in checks:
        if not ok:
            raise SchemaError(f"{name}: expected {expected}, found {found}")
    if balanced:
        counts = np.bincount(lab, minlength=NUM_CLASSES)
        if counts.min() != counts.max():
            raise SchemaError(
                f"{name}: expected balanced classes ({expected_size // NUM_CLASSES} each), "
                f"found per-class counts {counts.tolist()}"
            )


def load_raw(raw_dir: Path, split: str) -> Split:
    """Parse one official split (`train` or `test`) from its two gzipped IDX files."""
    images_file, labels_file = RAW_FILES[split]
    images = read_idx(raw_dir / images_file, ndim=3)
    labels = read_idx(raw_dir / labels_file, ndim=1).astype(np.int64)
    return Split(images=images, labels=labels)


def processed_files(processed_dir: Path) -> dict[str, Path]:
    """Every file the `preprocess` stage writes, keyed by a short name (matches dvc.yaml)."""
    files = {
        f"{s}_{kind}": processed_dir / f"{s}_{kind}.npy"
        for s in SPLITS
        for kind in ("images", "labels")
    }
    files["dataset"] = processed_dir / "dataset.json"
    return files


def load_processed(processed_dir: Path, split: str) -> Split:
    """Load one processed split (`train`, `val` or `test`) written by `preprocess`."""
    files = processed_files(processed_dir)
    try:
        images = np.load(files[f"{split}_images"], allow_pickle=False)
        labels = np.load(files[f"{split}_labels"], allow_pickle=False)
    except FileNotFoundError as exc:
        raise UserError(f"{exc.filename} not found: run `dvc repro preprocess` first") from None
    except ValueError as exc:
        raise UserError(
            f"{processed_dir}: cannot read the {split} split ({exc}); run `dvc repro`"
        ) from None
    return Split(images=images, labels=labels)


def split_train_val(split: Split, val_fraction: float, seed: int) -> tuple[Split, Split]:
    """Hold out a stratified, seeded validation share; both parts keep the original order."""
    indices = np.arange(len(split))
    train_idx, val_idx = train_test_split(
        indices, test_size=val_fraction, stratify=split.labels, random_state=seed
    )
    train_idx, val_idx = np.sort(train_idx), np.sort(val_idx)
    return (
        Split(split.images[train_idx], split.labels[train_idx]),
        Split(split.images[val_idx], split.labels[val_idx]),
    )


def class_counts(labels: np.ndarray) -> dict[str, int]:
    """Samples per class, keyed by class name."""
    counts = np.bincount(labels, minlength=NUM_CLASSES)
    return {name: int(n) for name, n in zip(CLASS_NAMES, counts, strict=True)}
