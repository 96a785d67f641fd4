"""Extra labelled images under data/extra/<class folder>/, turned into a Fashion-MNIST split.

Each class folder is its own `dvc add`-ed directory (data/extra/README.md explains
the layout). Any picture PIL can read is accepted and mapped onto Fashion-MNIST's
format by the same function the predictor uses; a file that cannot be used is
reported by name and skipped, so one bad photo never blocks the rest.
"""

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from apparel_classifier.fashion_mnist import EXTRA_FOLDERS, IMAGE_SIZE
from apparel_classifier.splits import Split
from apparel_classifier.transforms import to_fashion_mnist

log = logging.getLogger(__name__)

# What PIL raises for a file that is not a usable image (DecompressionBombError
# derives from Exception directly, so it is named on its own).
_UNREADABLE = (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError)


@dataclass(frozen=True)
class ExtraImages:
    """The usable extra images as a split, and a reason for every file left out."""

    split: Split
    rejected: dict[str, str]  # path -> why it was skipped

    @classmethod
    def empty(cls) -> "ExtraImages":
        """No extra images at all."""
        return cls(_empty_split(), {})


def _empty_split() -> Split:
    return Split(np.zeros((0, IMAGE_SIZE, IMAGE_SIZE), np.uint8), np.zeros(0, np.int64))


def _load_image(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        image.load()  # decode now, inside the caller's error handling
        return to_fashion_mnist(image)


def load_extra(extra_dir: Path) -> ExtraImages:
    """Read every image under `extra_dir`/<class folder>/, in a fixed (sorted) order."""
    images: list[np.ndarray] = []
    labels: list[int] = []
    rejected: dict[str, str] = {}
    folders = sorted(p for p in extra_dir.iterdir() if p.is_dir()) if extra_dir.is_dir() else []
    for folder in folders:
        files = sorted(p for p in folder.rglob("*") if p.is_file())
        if folder.name not in EXTRA_FOLDERS:
            why = f"unknown class folder {folder.name!r} (use one of: {', '.join(EXTRA_FOLDERS)})"
            rejected.update(dict.fromkeys(map(str, files), why))
            continue
        label = EXTRA_FOLDERS.index(folder.name)
        for file in files:
            try:
                images.append(_load_image(file))
            except _UNREADABLE as exc:
                rejected[str(file)] = f"not a readable image ({exc})"
                continue
            labels.append(label)
    for path, reason in rejected.items():
        log.warning("skipped extra image %s: %s", path, reason)
    if not images:
        return ExtraImages(_empty_split(), rejected)
    return ExtraImages(Split(np.stack(images), np.asarray(labels, dtype=np.int64)), rejected)
