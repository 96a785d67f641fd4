"""Temperature scaling lowers the calibration error; the "not sure" rule and its curve."""

import numpy as np
import pytest
import torch

from apparel_classifier.calibration import (
    coverage_curve,
    expected_calibration_error,
    fit_temperature,
    is_uncertain,
    one_hot,
    right_classes,
)


def _overconfident(n: int = 4000, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits of a 10-class model that is right ~70 % of the time but says ~99 %."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    right = rng.random(n) < 0.7
    predicted = np.where(right, labels, (labels + rng.integers(1, 10, n)) % 10)
    logits = rng.normal(0, 1, (n, 10))
    logits[np.arange(n), predicted] += 8.0  # far too sure
    return torch.tensor(logits), torch.tensor(labels)


def _ece(logits: torch.Tensor, labels: torch.Tensor, temperature: float) -> float:
    probs = torch.softmax(logits / temperature, dim=1).numpy()
    return expected_calibration_error(probs.max(axis=1), probs.argmax(axis=1) == labels.numpy())


def test_temperature_scaling_lowers_the_ece_of_an_overconfident_model() -> None:
    logits, labels = _overconfident()
    temperature = fit_temperature(logits, one_hot(labels, 10))
    assert temperature > 1.5  # softens an overconfident model
    before, after = _ece(logits, labels, 1.0), _ece(logits, labels, temperature)
    assert before > 0.2
    assert after < before / 2
    # Fitted on one sample, it holds on another from the same model.
    other_logits, other_labels = _overconfident(seed=1)
    assert _ece(other_logits, other_labels, temperature) < before / 2


def test_temperature_scaling_never_changes_the_answer() -> None:
    logits, labels = _overconfident()
    temperature = fit_temperature(logits, one_hot(labels, 10))
    assert torch.equal((logits / temperature).argmax(1), logits.argmax(1))


def test_fit_is_deterministic_and_an_underconfident_model_is_sharpened() -> None:
    logits, labels = _overconfident()
    right = one_hot(labels, 10)
    assert fit_temperature(logits, right) == fit_temperature(logits, right)
    timid = logits / 20.0  # says ~15 % where it is right 70 %
    assert fit_temperature(timid, right) < 1.0


def test_one_label_is_plain_cross_entropy_and_any_right_class_counts() -> None:
    logits, labels = _overconfident()
    # As torch's cross-entropy would fit it: the NLL of the one right class.
    grid = torch.linspace(0.5, 5.0, 901, dtype=torch.float64)
    nll = [torch.nn.functional.cross_entropy(logits / t, labels) for t in grid]
    best = float(grid[int(torch.stack(nll).argmin())])
    assert fit_temperature(logits, one_hot(labels, 10)) == pytest.approx(best, abs=0.01)
    # A photo of shoes is right as any footwear: a second right class per row is credit,
    # so the model is less over-confident than by one label, and the fitted T is lower.
    both = one_hot(labels, 10) | one_hot((labels + 1) % 10, 10)
    assert fit_temperature(logits, both) < fit_temperature(logits, one_hot(labels, 10))


def test_garments_outside_the_catalogue_pull_towards_doubt() -> None:
    logits, labels = _overconfident()
    right = one_hot(labels, 10)
    right[:1000] = False  # a quarter of the rows: garments with no right class at all
    assert fit_temperature(logits, right) > fit_temperature(logits[1000:], right[1000:])


def test_a_fit_without_any_right_class_is_refused() -> None:
    # Only garments outside the catalogue (or nothing): the NLL falls all the way to the
    # upper bound of T, and every answer would become "not sure".
    logits, labels = _overconfident()
    with pytest.raises(ValueError, match="right class"):
        fit_temperature(logits, torch.zeros_like(one_hot(labels, 10)))
    with pytest.raises(ValueError, match="right class"):
        fit_temperature(logits[:0], one_hot(labels[:0], 10))


def test_right_classes_follow_each_photos_folder() -> None:
    names = ("T-shirt/top", "Trouser", "Sneaker", "Ankle boot")
    classes = [["T-shirt/top"], ["Sneaker", "Ankle boot"], []]  # t-shirt, shoes, hat
    right = right_classes(classes, np.array([1, 0, 2, 1]), names)
    assert right.tolist() == [
        [False, False, True, True],
        [True, False, False, False],
        [False, False, False, False],
        [False, False, True, True],
    ]
    empty = np.array([], dtype=np.int64)
    assert right_classes(classes, empty, names).shape == (0, 4)


def test_ece_of_a_perfectly_calibrated_predictor_is_small() -> None:
    rng = np.random.default_rng(0)
    confidence = rng.uniform(0.1, 1.0, 20000)
    correct = rng.random(20000) < confidence
    assert expected_calibration_error(confidence, correct) < 0.02
    assert expected_calibration_error(np.array([]), np.array([], bool)) == 0.0


def test_uncertain_below_the_threshold_only() -> None:
    assert is_uncertain(0.59, 0.6)
    assert not is_uncertain(0.6, 0.6)
    assert not is_uncertain(0.99, 0.0)


def test_coverage_falls_and_accuracy_rises_with_the_threshold() -> None:
    confidence = np.array([0.2, 0.4, 0.6, 0.8, 0.95])
    correct = np.array([False, False, True, True, True])
    curve = coverage_curve(confidence, correct, np.array([0.0, 0.5, 0.9, 0.99]))
    assert [r["coverage"] for r in curve] == pytest.approx([1.0, 0.6, 0.2, 0.0])
    assert [r["accuracy"] for r in curve] == pytest.approx([0.6, 1.0, 1.0, 1.0])
