"""The `preprocess` stage's library: official raw splits in, validation held out, dataset described.

The IDX parser (`idx`), the schema checks (`schema`) and the extra images (`extra`)
are its other parts; the image transform it shares with serving is `transforms`.
"""

import hashlib
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import yaml
from sklearn.model_selection import train_test_split

from apparel_classifier.fashion_mnist import (
    CLASS_NAMES,
    IMAGE_SIZE,
    NUM_CLASSES,
    OUTSIDE,
    RAW_FILES,
)
from apparel_classifier.idx import read_idx
from apparel_classifier.params import FieldParams
from apparel_classifier.photos import LabelledPhotos
from apparel_classifier.splits import Split


def load_raw(raw_dir: Path, split: str) -> Split:
    """Parse one official split (`train` or `test`) from its two gzipped IDX files."""
    images_file, labels_file = RAW_FILES[split]
    images = read_idx(raw_dir / images_file, ndim=3)
    labels = read_idx(raw_dir / labels_file, ndim=1).astype(np.int64)
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
    """Samples per class, keyed by class name (labels OUTSIDE the classes are not counted)."""
    counts = np.bincount(labels[labels >= 0], minlength=NUM_CLASSES)
    return {name: int(n) for name, n in zip(CLASS_NAMES, counts, strict=True)}


def hold_out_for_calibration(
    photos: LabelledPhotos, share: float, seed: int
) -> tuple[LabelledPhotos, LabelledPhotos]:
    """(photos to train on, photos to fit the temperature on): about `share` of each folder's.

    A photo is held out when the hash of its bytes, salted with `seed`, falls in the
    lowest `share` of the hash range. So the draw is the photo's own: a new delivery
    never moves a photo already delivered to the other side (and `dvc metrics diff`
    then shows the new photos, not a redraw of the old ones), and a photo delivered
    twice, under two names, lands on one side only. Each folder's share is exact only
    on average. Both parts keep the photos' order.
    """
    held = np.asarray([_hash_share(Path(f), seed) < share for f in photos.files], bool)
    return photos.select(~held), photos.select(held)


def _hash_share(path: Path, seed: int) -> float:
    """Where the photo's bytes, salted with `seed`, fall in [0, 1): uniform over photos."""
    digest = hashlib.sha256(f"{seed}:".encode() + path.read_bytes()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def field_training_split(photos: LabelledPhotos, field: FieldParams, seed: int) -> Split:
    """The field train photos as training rows, each repeated as the params say.

    A folder's photos train as its first class, `train_repeats` times: `shoes` (pairs
    seen from above, which footwear is not said) as Sneaker, so the network learns
    that such photos are footwear, and any footwear counts as right. Photos of
    folders without a class train `outside_repeats` times as OUTSIDE (towards a
    uniform answer: "not sure"). Each repeat after a photo's first is another view of
    it (`other_views`), drawn with `seed`.
    """
    label_of = {
        i: CLASS_NAMES.index(cs[0]) if cs else OUTSIDE
        for i, cs in enumerate(field.categories.values())
    }
    labels = np.asarray([label_of[int(k)] for k in photos.labels], dtype=np.int64)
    repeats = np.where(labels == OUTSIDE, field.outside_repeats, field.train_repeats)
    rows = np.repeat(np.arange(len(labels)), repeats)  # photo i, repeats[i] times in a row
    images = photos.images[rows]
    if field.repeat_rotation_deg or field.repeat_shrink:  # else plain copies: nothing to warp
        later = np.flatnonzero(np.diff(rows, prepend=-1) == 0)  # every row but a photo's first
        images[later] = other_views(images[later], field, np.random.default_rng(seed))
    return Split(images, labels[rows])


def other_views(images: np.ndarray, field: FieldParams, rng: np.random.Generator) -> np.ndarray:
    """Each 28×28 image rotated about its centre and shrunk, at random within the params.

    Training's own augmentation only mirrors and shifts by a pixel, which fits
    Fashion-MNIST's upright, frame-filling studio shots; a photographed garment lies
    at an angle and fills less of its box. Shrinking only: serving fits every item's
    longest side to the frame, so a larger view would be cut off.
    """
    angles = rng.uniform(-field.repeat_rotation_deg, field.repeat_rotation_deg, len(images))
    scales = rng.uniform(1.0 - field.repeat_shrink, 1.0, len(images))
    centre = ((IMAGE_SIZE - 1) / 2, (IMAGE_SIZE - 1) / 2)
    views = np.empty_like(images)
    for i, (image, angle, scale) in enumerate(zip(images, angles, scales, strict=True)):
        matrix = cv2.getRotationMatrix2D(centre, float(angle), float(scale))
        views[i] = cv2.warpAffine(image, matrix, (IMAGE_SIZE, IMAGE_SIZE), flags=cv2.INTER_LINEAR)
    return views


def import_version(imported_dir: Path) -> str | None:
    """The hash DVC records for an imported directory (in `<dir>.dvc`), None when not imported."""
    dvc_file = imported_dir.with_name(imported_dir.name + ".dvc")
    try:
        outs = yaml.safe_load(dvc_file.read_text(encoding="utf-8"))["outs"]
    except (OSError, KeyError, TypeError):
        return None
    md5: str = outs[0]["md5"]
    return md5


def folder_counts(photos: LabelledPhotos, folders: list[str]) -> dict[str, int]:
    """Photos per folder, keyed by folder name."""
    counts = np.bincount(photos.labels, minlength=len(folders))
    return {name: int(n) for name, n in zip(folders, counts, strict=True)}


def describe(splits: dict[str, Split], extra: Split, rejected: dict[str, str]) -> dict[str, Any]:
    """dataset.json: class names and counts, what extra data added, and the training statistics."""
    # Statistics of the training split only, in float64 so they do not depend on summation order.
    scaled = splits["train"].images.astype(np.float64) / 255.0
    return {
        "class_names": list(CLASS_NAMES),
        "counts": {name: class_counts(s.labels) for name, s in splits.items()},
        # Already included in counts.train; listed apart so a dataset version says what it added.
        "extra": {"counts": class_counts(extra.labels), "rejected": rejected},
        "mean": round(float(scaled.mean()), 8),
        "std": round(float(scaled.std()), 8),
        "image_size": list(splits["train"].images.shape[1:]),
    }
