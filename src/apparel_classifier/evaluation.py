"""The `evaluate` stage's helpers: probabilities, field answers, calibration, mistake grids."""

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from torch import Tensor, nn

from apparel_classifier.calibration import (
    calibrated_probabilities,
    coverage_curve,
    expected_calibration_error,
    is_uncertain,
    right_classes,
)
from apparel_classifier.networks import predict_logits


def predict_proba(
    model: nn.Module,
    x: Tensor,
    batch_size: int,
    *,
    temperature: float = 1.0,
    flip: bool = False,
    shift_px: int = 0,
) -> np.ndarray:
    """Class probabilities (N, C) as float64 for normalised images `x` (N, 1, 28, 28).

    `temperature` is the card's calibration (1.0: the network's raw softmax); `flip` and
    `shift_px`, the card's test-time views (`networks.predict_logits`). Keywords only:
    `predict_logits` takes the views where this would take the temperature, so a
    positional `*card.model.views` here would have calibrated by the flip.
    """
    return softmax_proba(predict_logits(model, x, batch_size, flip, shift_px), temperature)


def softmax_proba(logits: Tensor, temperature: float = 1.0) -> np.ndarray:
    """Class probabilities (N, C) as float64 for logits (N, C), at a calibration `temperature`."""
    probs = calibrated_probabilities(logits, temperature).cpu().numpy().astype(np.float64)
    return probs / probs.sum(axis=1, keepdims=True)  # float32 softmax rows sum to 1 ± 1e-7 only


def most_confident(probs: np.ndarray, wrong: np.ndarray, count: int) -> np.ndarray:
    """Indices of up to `count` rows where `wrong` is set, most confident first (ties by index)."""
    indices = np.flatnonzero(wrong)
    confidence = probs[indices].max(axis=1)
    return indices[np.lexsort((indices, -confidence))][:count]


def most_confident_mistakes(labels: np.ndarray, probs: np.ndarray, count: int) -> np.ndarray:
    """Indices of up to `count` wrong predictions, most confident first (ties by index)."""
    return most_confident(probs, probs.argmax(axis=1) != labels, count)


TILE = 84  # 3× Fashion-MNIST's 28 pixels


def network_view(image: np.ndarray) -> Image.Image:
    """A (28, 28) uint8 image as the network saw it, enlarged without smoothing, RGB."""
    return Image.fromarray(image).resize((TILE, TILE), Image.Resampling.NEAREST).convert("RGB")


def photo_and_view(photo: Path, image: np.ndarray) -> Image.Image:
    """A field photo (fitted into TILE×TILE) beside the 28×28 image the network saw."""
    tile = Image.new("RGB", (2 * TILE, TILE), "white")
    with Image.open(photo) as original:
        original.draft("RGB", (4 * TILE, 4 * TILE))
        thumb = original.convert("RGB")
    thumb.thumbnail((TILE, TILE))
    tile.paste(thumb, ((TILE - thumb.width) // 2, (TILE - thumb.height) // 2))
    tile.paste(network_view(image), (TILE, 0))
    return tile


def mistakes_grid(
    tiles: Sequence[Image.Image], captions: Sequence[tuple[str, str]], columns: int = 5
) -> Image.Image:
    """Tiles of equal size in a grid, each captioned with two lines (true, predicted)."""
    tile_w, tile_h = (tiles[0].width, tiles[0].height) if tiles else (TILE, TILE)
    rows = max(1, -(-len(tiles) // columns))  # ceiling division
    cell_w, cell_h = max(tile_w, 120) + 8, tile_h + 26
    grid = Image.new("RGB", (columns * cell_w, rows * cell_h), "white")
    draw = ImageDraw.Draw(grid)
    font = ImageFont.load_default()
    for n, (tile, (truth, answer)) in enumerate(zip(tiles, captions, strict=True)):
        left, top = (n % columns) * cell_w + 4, (n // columns) * cell_h
        grid.paste(tile, (left + (cell_w - 8 - tile_w) // 2, top))
        draw.text((left, top + tile_h + 1), f"T: {truth}", fill="black", font=font)
        draw.text((left, top + tile_h + 12), f"P: {answer}", fill="black", font=font)
    return grid


def predicted_caption(probs: np.ndarray, class_names: Sequence[str]) -> str:
    """`Pullover 0.87`: the predicted class and its probability, for one row of `probs`."""
    k = int(probs.argmax())
    return f"{class_names[k]} {probs[k]:.2f}"


def field_answers(
    classes: Sequence[Sequence[str]],
    labels: np.ndarray,
    probs: np.ndarray,
    class_names: Sequence[str],
) -> tuple[np.ndarray, np.ndarray]:
    """Per field photo: (answered right, in the catalogue), as two boolean arrays (N,).

    `classes` are each folder's right classes, as in `right_classes`. A photo is in the
    catalogue when its folder has any; the answer is right when it is any of them (so
    `shoes` is right as any footwear).
    """
    right = right_classes(classes, labels, class_names)
    correct = right[np.arange(len(labels)), probs.argmax(axis=1)]
    in_catalogue = np.asarray(right.any(axis=1))
    return correct, in_catalogue


def field_metrics(
    folders: Sequence[str], labels: np.ndarray, probs: np.ndarray, answers: tuple[np.ndarray, ...]
) -> dict[str, Any]:
    """Accuracy and per-folder recall on in-catalogue photos; confidence in and out of it.

    `answers` is `field_answers(...)`. Photos outside the catalogue have no right
    answer: how confident the model was on them is what tells of its honesty.
    """
    correct, in_catalogue = answers
    confidence = probs.max(axis=1)

    def mean(values: np.ndarray) -> float | None:
        return float(values.mean()) if values.size else None

    return {
        "accuracy": mean(correct[in_catalogue]),
        "photos": int(in_catalogue.sum()),
        "recall": {
            f: float(correct[labels == k].mean())
            for k, f in enumerate(folders)
            if in_catalogue[labels == k].any()
        },
        "mean_confidence": {
            "in_catalogue": mean(confidence[in_catalogue]),
            "out_of_catalogue": mean(confidence[~in_catalogue]),
        },
    }


def calibration_metrics(
    raw: np.ndarray, calibrated: np.ndarray, correct: np.ndarray, temperature: float
) -> dict[str, float]:
    """The expected calibration error of the raw and the temperature-scaled confidences."""
    return {
        "temperature": temperature,
        "ece_before": expected_calibration_error(raw.max(axis=1), correct),
        "ece_after": expected_calibration_error(calibrated.max(axis=1), correct),
    }


def uncertainty_metrics(
    probs: np.ndarray, answers: tuple[np.ndarray, ...], threshold: float
) -> dict[str, float | None]:
    """How the "not sure" rule splits the field photos, at the model's threshold.

    Out of the catalogue, an answer given with confidence is a false claim; in it,
    what counts is an answer that is both confident and right.
    """
    correct, in_catalogue = answers
    sure = ~np.array([is_uncertain(float(c), threshold) for c in probs.max(axis=1)], bool)

    def share(values: np.ndarray) -> float | None:
        return float(values.mean()) if values.size else None

    return {
        "threshold": threshold,
        "in_catalogue_sure_and_right": share((sure & correct)[in_catalogue]),
        "out_of_catalogue_sure": share(sure[~in_catalogue]),
    }


def coverage_rows(
    probs: np.ndarray, correct: np.ndarray, steps: int = 50
) -> list[dict[str, float]]:
    """The coverage-accuracy curve: answers kept above each threshold, and their accuracy."""
    return coverage_curve(probs.max(axis=1), correct, np.linspace(0.0, 1.0, steps, endpoint=False))


def field_mistakes(probs: np.ndarray, answers: tuple[np.ndarray, ...], count: int) -> np.ndarray:
    """Indices of up to `count` wrong answers on in-catalogue photos, most confident first."""
    correct, in_catalogue = answers
    return most_confident(probs, in_catalogue & ~correct, count)
