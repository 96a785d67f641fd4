"""Metrics and plot data for a classifier's predictions: sklearn metrics, confusion, mistakes."""

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont
from sklearn.metrics import accuracy_score, f1_score, log_loss, precision_recall_fscore_support
from torch import Tensor, nn

from apparel_classifier.networks import predict_logits


def predict_proba(model: nn.Module, x: Tensor, batch_size: int) -> np.ndarray:
    """Class probabilities (N, C) as float64 for normalised images `x` (N, 1, 28, 28)."""
    logits = predict_logits(model, x, batch_size)
    probs = torch.softmax(logits, dim=1).cpu().numpy().astype(np.float64)
    return probs / probs.sum(axis=1, keepdims=True)  # float32 softmax rows sum to 1 ± 1e-7 only


def classification_metrics(
    labels: np.ndarray, probs: np.ndarray, class_names: Sequence[str]
) -> dict[str, Any]:
    """accuracy, macro_f1, loss (mean cross-entropy) and per_class.<name>.precision|recall|f1."""
    classes = list(range(len(class_names)))
    predicted = probs.argmax(axis=1)
    precision, recall, f1, _ = precision_recall_fscore_support(
        labels, predicted, labels=classes, zero_division=0
    )
    return {
        "accuracy": float(accuracy_score(labels, predicted)),
        "macro_f1": float(
            f1_score(labels, predicted, labels=classes, average="macro", zero_division=0)
        ),
        "loss": float(log_loss(labels, probs, labels=classes)),
        "per_class": {
            name: {"precision": float(p), "recall": float(r), "f1": float(f)}
            for name, p, r, f in zip(class_names, precision, recall, f1, strict=True)
        },
    }


def confusion_rows(
    labels: np.ndarray, predicted: np.ndarray, class_names: Sequence[str]
) -> list[dict[str, str]]:
    """One {actual, predicted} row per sample: the input DVC's `confusion` template counts."""
    return [
        {"actual": class_names[a], "predicted": class_names[p]}
        for a, p in zip(labels, predicted, strict=True)
    ]


def per_class_accuracy(
    labels: np.ndarray, predicted: np.ndarray, class_names: Sequence[str]
) -> list[dict[str, Any]]:
    """Share of each class's samples predicted correctly (the class's recall)."""
    return [
        {
            "class": name,
            "accuracy": float((predicted[labels == k] == k).mean()) if (labels == k).any() else 0.0,
        }
        for k, name in enumerate(class_names)
    ]


def most_confident_mistakes(labels: np.ndarray, probs: np.ndarray, count: int) -> np.ndarray:
    """Indices of up to `count` wrong predictions, most confident first (ties by index)."""
    predicted = probs.argmax(axis=1)
    wrong = np.flatnonzero(predicted != labels)
    confidence = probs[wrong, predicted[wrong]]
    return wrong[np.lexsort((wrong, -confidence))][:count]


def mistakes_grid(
    images: np.ndarray,
    labels: np.ndarray,
    probs: np.ndarray,
    indices: np.ndarray,
    class_names: Sequence[str],
    columns: int = 5,
    scale: int = 3,
) -> Image.Image:
    """A grid of the uint8 images (N, 28, 28) at `indices`, captioned true / predicted label."""
    tile, caption = 28 * scale, 24
    rows = max(1, -(-len(indices) // columns))  # ceiling division
    cell_w, cell_h = tile + 40, tile + caption
    grid = Image.new("L", (columns * cell_w, rows * cell_h), color=255)
    draw = ImageDraw.Draw(grid)
    font = ImageFont.load_default()
    for n, i in enumerate(indices):
        left, top = (n % columns) * cell_w + 20, (n // columns) * cell_h
        picture = Image.fromarray(images[i]).resize((tile, tile), Image.Resampling.NEAREST)
        grid.paste(picture, (left, top))
        p = int(probs[i].argmax())
        draw.text((left - 18, top + tile + 1), f"T: {class_names[labels[i]]}", fill=0, font=font)
        draw.text(
            (left - 18, top + tile + 12),
            f"P: {class_names[p]} {probs[i, p]:.2f}",
            fill=0,
            font=font,
        )
    return grid
