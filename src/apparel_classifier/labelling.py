"""The labelling queue: unlabelled photos ranked by how unsure the model is, most unsure first.

Active learning by uncertainty sampling (Settles 2009, section 3.1): the photos on
which the model hesitates are the ones whose labels teach it most, so the
labelling team should see them first. Two standard measures of hesitation:

* entropy of the calibrated class probabilities (high: spread over many classes);
* margin between the two most likely classes (small: torn between two).
"""

import csv
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from apparel_classifier.fileio import atomic_path
from apparel_classifier.images import ImageError
from apparel_classifier.predictor import Predictor

Measure = Literal["entropy", "margin"]
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff")


@dataclass(frozen=True)
class QueueEntry:
    """One photo for the labelling team: how unsure the model is, and its closest guess."""

    rank: int
    file: str
    entropy: float
    margin: float
    closest: str
    confidence: float
    uncertain: bool


def entropy(probs: np.ndarray) -> np.ndarray:
    """Shannon entropy in nats of each row of `probs` (N, C) -> (N,)."""
    return -(probs * np.log(np.clip(probs, 1e-12, 1.0))).sum(axis=1)


def margin(probs: np.ndarray) -> np.ndarray:
    """Top-1 minus top-2 probability of each row (N, C) -> (N,)."""
    top2 = np.sort(probs, axis=1)[:, -2:]
    return top2[:, 1] - top2[:, 0]


def rank(probs: np.ndarray, by: Measure = "entropy") -> np.ndarray:
    """Row indices of `probs`, most uncertain first (ties kept in input order)."""
    score = entropy(probs) if by == "entropy" else -margin(probs)
    return np.argsort(-score, kind="stable")


def find_photos(folder: Path) -> list[Path]:
    """Every image file under `folder`, recursively, in a fixed (sorted) order."""
    return sorted(
        p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in PHOTO_SUFFIXES
    )


def build_queue(
    predictor: Predictor, photos: Sequence[Path], by: Measure = "entropy"
) -> tuple[list[QueueEntry], dict[str, str]]:
    """Rank `photos` for labelling; also return the files that could not be read, and why."""
    readable: list[Path] = []
    images: list[np.ndarray] = []
    skipped: dict[str, str] = {}
    for path in photos:
        try:
            images.append(predictor.preprocess(path, str(path)))
        except ImageError as exc:
            skipped[str(path)] = str(exc)
            continue
        readable.append(path)
    if not images:
        return [], skipped
    predictions = predictor.predict_arrays(np.stack(images))
    probs = np.array([p.probabilities for p in predictions])
    spread, gap = entropy(probs), margin(probs)
    queue = [
        QueueEntry(
            rank=position + 1,
            file=str(readable[i]),
            entropy=round(float(spread[i]), 6),
            margin=round(float(gap[i]), 6),
            closest=predictions[i].category,
            confidence=round(predictions[i].confidence, 6),
            uncertain=predictions[i].uncertain,
        )
        for position, i in enumerate(rank(probs, by))
    ]
    return queue, skipped


def write_queue(queue: Sequence[QueueEntry], path: Path) -> None:
    """The queue as CSV (one header row, then one row per photo), written atomically."""
    columns = list(QueueEntry.__dataclass_fields__)
    with atomic_path(path) as tmp, tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(asdict(entry) for entry in queue)
