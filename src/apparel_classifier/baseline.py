"""The scikit-learn baseline: logistic regression on raw pixels, the bar the CNN has to clear."""

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from apparel_classifier.fashion_mnist import OUTSIDE
from apparel_classifier.params import BaselineParams
from apparel_classifier.splits import Split


def pixel_features(images: np.ndarray) -> np.ndarray:
    """Pixels scaled to [0, 1], one row per image."""
    return images.reshape(len(images), -1).astype(np.float32) / 255.0  # (N, 28, 28) -> (N, 784)


def fit_baseline(train: Split, params: BaselineParams) -> LogisticRegression:
    """Fit the logistic regression on the in-catalogue rows of `train`."""
    classifier = LogisticRegression(C=params.c, max_iter=params.max_iter, solver="lbfgs")
    with warnings.catch_warnings():
        # A capped max_iter is the point of a quick baseline, not a problem worth a warning.
        warnings.simplefilter("ignore", ConvergenceWarning)
        # Rows of garments outside the catalogue have no class to learn here.
        known = train.labels != OUTSIDE
        classifier.fit(pixel_features(train.images[known]), train.labels[known])
    return classifier


def baseline_proba(classifier: LogisticRegression, images: np.ndarray) -> np.ndarray:
    """Class probabilities (N, 10) of `images` (N, 28, 28)."""
    probs: np.ndarray = classifier.predict_proba(pixel_features(images))
    return probs
