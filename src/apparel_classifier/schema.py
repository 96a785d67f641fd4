"""Schema checks for a split: dtype, shape, sizes, label range and class balance."""

import numpy as np

from apparel_classifier.errors import UserError
from apparel_classifier.fashion_mnist import IMAGE_SIZE, NUM_CLASSES
from apparel_classifier.splits import Split


class SchemaError(UserError):
    """The data does not have the shape, type or content the dataset promises."""


def validate(split: Split, name: str, expected_size: int) -> None:
    """Check a split the way a schema would; the error says what was expected and what was found.

    The official splits are balanced (6,000 and 1,000 images per class), so an
    unbalanced one means a damaged or foreign file.
    """
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
    counts = np.bincount(lab, minlength=NUM_CLASSES)
    if counts.min() != counts.max():
        raise SchemaError(
            f"{name}: expected balanced classes ({expected_size // NUM_CLASSES} each), "
            f"found per-class counts {counts.tolist()}"
        )
