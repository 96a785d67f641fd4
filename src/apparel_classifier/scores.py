"""Scores of predicted classes against labels: scikit-learn's metrics and the rows DVC plots.

numpy and scikit-learn only, so that the `baseline` stage scores its logistic
regression without loading torch (about 1.2 s of every run). The server's Prometheus
metrics are `serving/metrics.py`'s.
"""

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, log_loss, precision_recall_fscore_support


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
