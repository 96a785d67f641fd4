"""Labelled photo folders (`<root>/<folder>/<photo>`) read into Fashion-MNIST-format arrays.

Two sources use it: the extra training images under data/extra/ (one folder per
Fashion-MNIST class) and the field photos under data/field/{train,validation}/
(the labelling team's folders). Any picture PIL can read is mapped onto
Fashion-MNIST's format by `transforms.to_fashion_mnist` after being decoded by
`images.load_image`: the very functions the predictor uses. A file that cannot be
used is reported by name and skipped, so one bad photo never blocks the rest.
"""

import logging
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np

from apparel_classifier.fashion_mnist import IMAGE_SIZE
from apparel_classifier.images import ImageError, load_image
from apparel_classifier.transforms import to_fashion_mnist

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

# Cutting a garment out of a scene costs ~11 ms of one core per photo; thousands of
# photos are worth a process per core. Small batches (tests) stay in-process.
_PARALLEL_FROM = 64


@dataclass(frozen=True)
class LabelledPhotos:
    """Usable photos as 28×28 uint8 images, each one's folder index and file, and the rejects."""

    images: np.ndarray  # (N, 28, 28) uint8, light item on black
    labels: np.ndarray  # (N,) int64: index into the `folders` given to `load_folders`
    files: list[str]  # (N,) paths as found, in the same order
    rejected: dict[str, str]  # path -> why it was skipped

    def __len__(self) -> int:
        return len(self.labels)

    def select(self, keep: np.ndarray) -> "LabelledPhotos":
        """The photos where the (N,) bool `keep` is True, in order (the rejects stay listed)."""
        files = [f for f, k in zip(self.files, keep, strict=True) if k]
        return LabelledPhotos(self.images[keep], self.labels[keep], files, self.rejected)


def read_photo(path: Path) -> np.ndarray | str:
    """One photo file as a (28, 28) uint8 Fashion-MNIST image, or why it cannot be used."""
    try:
        return to_fashion_mnist(load_image(path, path.name))
    except ImageError as exc:
        return str(exc)


def read_photos(paths: Sequence[Path]) -> list[np.ndarray | str]:
    """`read_photo` of each path, in order; on all cores when there are many."""
    return map_on_cores(read_photo, paths)


def map_on_cores(function: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """`function` of each item, in order: a process per core when there are many items."""
    if len(items) < _PARALLEL_FROM:
        return [function(item) for item in items]
    workers = min(os.cpu_count() or 1, 8)
    with ProcessPoolExecutor(workers) as pool:
        return list(pool.map(function, items, chunksize=32))


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
    wanted: list[tuple[Path, int]] = []
    for folder in present:
        photos = sorted(p for p in folder.rglob("*") if p.is_file())
        if folder.name not in folders:
            why = f"unknown class folder {folder.name!r} (use one of: {', '.join(folders)})"
            rejected.update(dict.fromkeys(map(str, photos), why))
            continue
        wanted += [(photo, folders.index(folder.name)) for photo in photos]
    for (photo, label), image in zip(wanted, read_photos([p for p, _ in wanted]), strict=True):
        if isinstance(image, str):
            rejected[str(photo)] = f"not a readable image ({image})"
            continue
        images.append(image)
        labels.append(label)
        files.append(str(photo))
    for path, reason in rejected.items():
        log.warning("skipped photo %s: %s", path, reason)
    stacked = np.stack(images) if images else np.zeros((0, IMAGE_SIZE, IMAGE_SIZE), np.uint8)
    return LabelledPhotos(stacked, np.asarray(labels, dtype=np.int64), files, rejected)
