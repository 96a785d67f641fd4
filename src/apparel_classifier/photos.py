"""Labelled photo folders (`<root>/<folder>/<photo>`) read into Fashion-MNIST-format arrays.

Two sources use it: the extra training images under data/extra/ (one folder per
Fashion-MNIST class) and the field photos under data/field/{train,validation}/
(the labelling team's folders). Any picture PIL can read is mapped onto
Fashion-MNIST's format by `transforms.to_fashion_mnist`, the function the
predictor uses; a file that cannot be used is reported by name and skipped, so
one bad photo never blocks the rest.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from apparel_classifier.fashion_mnist import IMAGE_SIZE
from apparel_classifier.transforms import to_fashion_mnist

log = logging.getLogger(__name__)

# What PIL raises for a file that is not a usable image (DecompressionBombError
# derives from Exception directly, so it is named on its own).
_UNREADABLE = (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError)
# Field photos are ~400×533; JPEG's DCT decodes a reduced scale for free, and the
# item ends up 28 pixels wide anyway (the predictor decodes uploads the same way).
_DRAFT_SIZE = (512, 512)


@dataclass(frozen=True)
class LabelledPhotos:
    """Usable photos as 28×28 uint8 images, each one's folder index and file, and the rejects."""

    images: np.ndarray  # (N, 28, 28) uint8, light item on black
    labels: np.ndarray  # (N,) int64: index into the `folders` given to `load_folders`
    files: list[str]  # (N,) paths as found, in the same order
    rejected: dict[str, str]  # path -> why it was skipped

    def __len__(self) -> int:
        return len(self.labels)


def read_photo(path: Path) -> np.ndarray:
    """One photo file as a (28, 28) uint8 Fashion-MNIST image; raises what PIL raises."""
    with Image.open(path) as image:
        if image.format == "JPEG":
            image.draft("RGB", _DRAFT_SIZE)
        image.load()  # decode now, inside the caller's error handling
        return to_fashion_mnist(image)


def load_folders(root: Path | None, folders: Sequence[str]) -> LabelledPhotos:
    """Read every photo under `root`/<folder>/, in a fixed (sorted) order.

    A photo's label is its folder's index in `folders`; a folder not listed there
    is rejected whole, with a message naming the allowed folders. A missing `root`
    (or None) means no photos.
    """
    images: list[np.ndarray] = []
    labels: list[int] = []
    files: list[str] = []
    rejected: dict[str, str] = {}
    present = sorted(p for p in root.iterdir() if p.is_dir()) if root and root.is_dir() else []
    for folder in present:
        photos = sorted(p for p in folder.rglob("*") if p.is_file())
        if folder.name not in folders:
            why = f"unknown class folder {folder.name!r} (use one of: {', '.join(folders)})"
            rejected.update(dict.fromkeys(map(str, photos), why))
            continue
        label = folders.index(folder.name)
        for photo in photos:
            try:
                images.append(read_photo(photo))
            except _UNREADABLE as exc:
                rejected[str(photo)] = f"not a readable image ({exc})"
                continue
            labels.append(label)
            files.append(str(photo))
    for path, reason in rejected.items():
        log.warning("skipped photo %s: %s", path, reason)
    stacked = np.stack(images) if images else np.zeros((0, IMAGE_SIZE, IMAGE_SIZE), np.uint8)
    return LabelledPhotos(stacked, np.asarray(labels, dtype=np.int64), files, rejected)
