"""Training/serving skew and drift: a reference profile saved with each model, live windows tested
against it.

`train` profiles the validation split (images the model never took a gradient on): simple
statistics of the 28×28 input the network sees, the predicted-class shares and the calibrated
confidences. The server keeps the same numbers for a sliding window of live requests and tests
the window against the profile with standard two-sample tests (scipy):

- each input statistic and the confidence: Kolmogorov-Smirnov, two-sample, against a stored
  sample of the reference values (a sample keeps ties exact: item sizes are whole pixels);
- the predicted classes: a chi-square goodness-of-fit test against the reference shares.

A window drifts when any test's p-value falls below `alpha` divided by the number of tests
(Bonferroni), so the false-alarm rate of one check stays at `alpha` however many tests run.
"""

import json
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict
from scipy import stats

from apparel_classifier.fileio import write_json

PROFILE_FILE = "reference_profile.json"
# The statistics of one 28×28 input, in this order (see `input_statistics`).
INPUT_STATISTICS = ("mean_intensity", "item_fill", "item_aspect")
# A pixel brighter than this (of 255) belongs to the item: Fashion-MNIST's backgrounds are 0.
_ITEM_LEVEL = 32
REFERENCE_SAMPLE = 2000  # values kept per statistic: enough for KS, small in the model folder

DEFAULT_WINDOW = 200  # live requests compared with the profile
DEFAULT_MIN_REQUESTS = 50  # fewer than this: too few to test, no verdict
DEFAULT_ALPHA = 0.001


class ReferenceProfile(BaseModel):
    """What the model's inputs and answers looked like on held-out data at training time."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str  # which data was profiled, e.g. "validation split (6000 images)"
    statistics: dict[str, list[float]]  # input statistic -> a sample of its reference values
    confidence: list[float]  # a sample of the calibrated top-class confidences
    class_shares: list[float]  # predicted-class shares, indexed by class id

    def save(self, model_dir: Path) -> None:
        """Write it into the model folder, beside the weights and card (atomically)."""
        write_json(model_dir / PROFILE_FILE, self.model_dump(mode="json"))

    @classmethod
    def load(cls, model_dir: Path) -> "ReferenceProfile | None":
        """The profile saved with a model, or None for a model trained before profiles existed."""
        path = model_dir / PROFILE_FILE
        if not path.is_file():
            return None
        return cls.model_validate(json.loads(path.read_text(encoding="utf-8")))


def input_statistics(images: np.ndarray) -> np.ndarray:
    """Per image: mean intensity, share of the frame the item fills, item aspect (width / height).

    `images` is uint8 (N, 28, 28), light item on black, as the network sees it; returns (N, 3).
    """
    images = np.asarray(images)
    mean = images.mean(axis=(1, 2)) / 255.0
    item = images > _ITEM_LEVEL
    fill = item.mean(axis=(1, 2))
    rows, cols = np.any(item, axis=2), np.any(item, axis=1)  # (N, 28) each
    height = np.where(rows.any(axis=1), 28 - rows.argmax(1) - rows[:, ::-1].argmax(1), 0)
    width = np.where(cols.any(axis=1), 28 - cols.argmax(1) - cols[:, ::-1].argmax(1), 0)
    aspect = width / np.maximum(height, 1)
    return np.stack([mean, fill, aspect], axis=1).astype(np.float64)


def build_profile(
    images: np.ndarray, probabilities: np.ndarray, source: str, seed: int = 0
) -> ReferenceProfile:
    """Profile held-out `images`, uint8 (N, 28, 28), and the model's `probabilities` (N, C)."""
    n = len(images)
    rng = np.random.default_rng(seed)  # a fixed sample: the profile is part of models/'s hash
    keep = np.sort(rng.choice(n, size=min(n, REFERENCE_SAMPLE), replace=False))
    values = input_statistics(images[keep])
    predicted = probabilities.argmax(axis=1)
    shares = np.bincount(predicted, minlength=probabilities.shape[1]) / n
    return ReferenceProfile(
        source=source,
        statistics={name: _rounded(values[:, i]) for i, name in enumerate(INPUT_STATISTICS)},
        confidence=_rounded(probabilities.max(axis=1)[keep]),
        class_shares=_rounded(shares),
    )


def _rounded(values: np.ndarray) -> list[float]:
    """Six decimals: the JSON stays small and identical across runs."""
    return [round(float(v), 6) for v in values]


@dataclass(frozen=True)
class DriftTest:
    """One test of the live window against the profile."""

    name: str  # an input statistic, "confidence" or "predicted_class"
    test: str  # "ks" or "chi2"
    statistic: float
    p_value: float


@dataclass(frozen=True)
class DriftReport:
    """The verdict on the current window; `drift` is None while there are too few requests."""

    requests: int
    window: int
    threshold: float  # the per-test p-value below which the window drifts
    drift: bool | None
    tests: tuple[DriftTest, ...]
    uncertain_share: float | None

    @property
    def min_p_value(self) -> float | None:
        """The smallest p-value of the window's tests (None before the first verdict)."""
        return min((t.p_value for t in self.tests), default=None)


class DriftMonitor:
    """A sliding window of live requests, tested against a model's reference profile."""

    def __init__(
        self,
        profile: ReferenceProfile,
        window: int = DEFAULT_WINDOW,
        min_requests: int = DEFAULT_MIN_REQUESTS,
        alpha: float = DEFAULT_ALPHA,
    ) -> None:
        self.profile = profile
        self.window = window
        self.min_requests = min_requests
        self.alpha = alpha
        self._statistics: deque[np.ndarray] = deque(maxlen=window)
        self._classes: deque[int] = deque(maxlen=window)
        self._confidences: deque[float] = deque(maxlen=window)
        self._uncertain: deque[bool] = deque(maxlen=window)

    def observe(self, image: np.ndarray, class_id: int, confidence: float, uncertain: bool) -> None:
        """Add one live request: its 28×28 input and the model's answer."""
        self._statistics.append(input_statistics(image[None])[0])
        self._classes.append(class_id)
        self._confidences.append(confidence)
        self._uncertain.append(uncertain)

    def report(self) -> DriftReport:
        """Test the window (a few milliseconds: at most `window` values per test)."""
        n = len(self._classes)
        tests_run = len(INPUT_STATISTICS) + 2
        threshold = self.alpha / tests_run
        uncertain = float(np.mean(self._uncertain)) if n else None
        if n < self.min_requests:
            return DriftReport(n, self.window, threshold, None, (), uncertain)
        live = np.stack(self._statistics)
        tests = [
            _ks(name, live[:, i], self.profile.statistics[name])
            for i, name in enumerate(INPUT_STATISTICS)
        ]
        tests.append(_ks("confidence", np.asarray(self._confidences), self.profile.confidence))
        tests.append(_chi2(np.asarray(self._classes), self.profile.class_shares))
        drift = any(t.p_value < threshold for t in tests)
        return DriftReport(n, self.window, threshold, drift, tuple(tests), uncertain)


def _ks(name: str, live: np.ndarray, reference: list[float]) -> DriftTest:
    result = stats.ks_2samp(live, np.asarray(reference))
    return DriftTest(name, "ks", float(result.statistic), float(result.pvalue))


def _chi2(classes: np.ndarray, shares: list[float]) -> DriftTest:
    observed = np.bincount(classes, minlength=len(shares)).astype(np.float64)
    # A class the reference never predicted still gets a sliver of expectation: the test
    # needs expected counts above 0, and one such answer should not alone be "infinite" drift.
    expected = np.maximum(np.asarray(shares), 0.5 / len(shares) / 100)
    expected = expected / expected.sum() * observed.sum()
    result = stats.chisquare(observed, expected)
    return DriftTest("predicted_class", "chi2", float(result.statistic), float(result.pvalue))
