"""Learning curves over dataset size: stratified shares of the training split, and the points."""

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from apparel_classifier.errors import UserError


def stratified_share(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Sorted indices of `fraction` of the rows, the same share of every label, seeded.

    Each label keeps round(fraction × its count) rows, at least one, so a small
    share still has every class (and the field photos' "outside" rows) in proportion.
    """
    rng = np.random.default_rng(seed)
    chosen = []
    for label in np.unique(labels):
        rows = np.flatnonzero(labels == label)
        keep = max(1, round(fraction * len(rows)))
        chosen.append(rng.permutation(rows)[:keep])
    return np.sort(np.concatenate(chosen))


@dataclass(frozen=True)
class Point:
    """One model trained on one share of the training split, and how it scored."""

    model: str
    fraction: float
    train_size: int
    test_accuracy: float
    field_accuracy: float | None  # None: no field photos in the catalogue to score on


def point_file(points_dir: Path, model: str, fraction: float) -> Path:
    """Where the point of `model` at `fraction` is written (dvc.yaml names the same path)."""
    return points_dir / f"{model}-{fraction}.json"


def read_point(path: Path) -> Point:
    """A point written by the `point` stage; a missing one names the stage to run."""
    try:
        return Point(**json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise UserError(f"{path} not found: run `dvc repro learning_curve/dvc.yaml`") from None


def curve_rows(points: list[Point]) -> list[dict[str, Any]]:
    """One model's points as CSV rows, smallest training set first."""
    rows = [asdict(p) for p in sorted(points, key=lambda p: p.train_size)]
    for row in rows:
        del row["model"]  # one file per model
    return rows
