"""Honest confidences: temperature scaling, its measure (ECE), and the "not sure" rule.

A network trained with label smoothing, or shown photos unlike its training data,
says "0.6" where it is right 90 % of the time, or "0.9" where it is right half the
time. Temperature scaling (Guo et al. 2017, "On Calibration of Modern Neural
Networks") divides the logits by one scalar T, fitted on held-out data by
minimising the negative log-likelihood. It never changes which class wins, only
how sure the answer says it is; the expected calibration error (ECE) measures
the gap between stated confidence and accuracy.
"""

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

ECE_BINS = 15  # Guo et al.'s choice: equal-width confidence bins over [0, 1]
_LOG_T_BOUNDS = (-3.0, 3.0)  # T in [0.05, 20]: anything outside is a broken fit


def fit_temperature(logits: Tensor, right: Tensor) -> float:
    """The T > 0 minimising the NLL of softmax(logits / T) on held-out answers.

    `right` (N, C) bool marks each row's right classes: one (a Fashion-MNIST label, see
    `one_hot`), several (a field photo of shoes: any footwear), or none (a garment
    outside the catalogue, whose target is the uniform answer, as in training). A row's
    NLL is minus the log of its right classes' summed probability; a row without any,
    the cross-entropy to uniform. With one right class or none per row the NLL is convex
    in 1/T; rows with several can in principle bend it, so the bounded golden-section
    search on log T finds a minimum deterministically (no learning rate, no random
    start), which on real data has been the only one (README, Calibration).

    At least one row must have a right class: rows that all want the uniform answer
    would send T to its upper bound, every answer then "not sure".
    """
    if not bool(right.any()):
        raise ValueError("no answer with a right class to fit the temperature on")
    logits, right = logits.detach().double().cpu(), right.cpu()
    outside = ~right.any(dim=1)

    def nll(log_t: float) -> float:
        log_p = torch.log_softmax(logits / float(np.exp(log_t)), dim=1)
        of_right = torch.logsumexp(log_p.masked_fill(~right, -torch.inf), dim=1)
        return float(-torch.where(outside, log_p.mean(dim=1), of_right).mean())

    low, high = _LOG_T_BOUNDS
    ratio = (np.sqrt(5.0) - 1.0) / 2.0
    a, b = high - ratio * (high - low), low + ratio * (high - low)
    f_a, f_b = nll(a), nll(b)
    for _ in range(60):  # shrinks the bracket by 0.618^60: far below float precision of T
        if f_a < f_b:
            high, b, f_b = b, a, f_a
            a = high - ratio * (high - low)
            f_a = nll(a)
        else:
            low, a, f_a = a, b, f_b
            b = low + ratio * (high - low)
            f_b = nll(b)
    return round(float(np.exp((low + high) / 2.0)), 6)


def one_hot(labels: Tensor, num_classes: int) -> Tensor:
    """(N,) class labels as the (N, C) bool `right` mask of `fit_temperature`."""
    return torch.nn.functional.one_hot(labels.long(), num_classes).bool()


def right_classes(
    classes: Sequence[Sequence[str]], labels: np.ndarray, class_names: Sequence[str]
) -> np.ndarray:
    """(N, C) bool: the classes that are a right answer for each field photo, by its folder.

    `labels` index `classes`, each folder's right classes (dataset.json's
    `field.classes`, in its `folders` order); a folder outside the catalogue has none,
    and its rows are all False.
    """
    table = np.zeros((len(classes), len(class_names)), bool)
    for k, folder_classes in enumerate(classes):
        table[k, [class_names.index(c) for c in folder_classes]] = True
    return table[labels] if len(labels) else np.zeros((0, len(class_names)), bool)


def calibrated_probabilities(logits: Tensor, temperature: float) -> Tensor:
    """softmax(logits / T) in float32, (N, C): the confidences every answer states."""
    return torch.softmax(logits.float() / temperature, dim=1)


def expected_calibration_error(
    confidence: np.ndarray, correct: np.ndarray, bins: int = ECE_BINS
) -> float:
    """ECE: the bin-size-weighted mean |accuracy - mean confidence| over confidence bins."""
    if len(confidence) == 0:
        return 0.0
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    gap = 0.0
    for b in range(bins):
        in_bin = which == b
        if in_bin.any():
            gap += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return float(gap)


def is_uncertain(confidence: float, threshold: float) -> bool:
    """The one rule for "not sure": a calibrated confidence below the model's threshold."""
    return confidence < threshold


def coverage_curve(
    confidence: np.ndarray, correct: np.ndarray, thresholds: np.ndarray
) -> list[dict[str, float]]:
    """Per threshold: the share of answers given with confidence, and their accuracy."""
    rows = []
    for t in thresholds:
        kept = confidence >= t
        rows.append(
            {
                "threshold": round(float(t), 4),
                "coverage": float(kept.mean()) if len(kept) else 0.0,
                "accuracy": float(correct[kept].mean()) if kept.any() else 1.0,
            }
        )
    return rows
