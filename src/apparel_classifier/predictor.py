"""The predictor: a garment image in, its Fashion-MNIST category and confidence out."""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from apparel_classifier.calibration import calibrated_probabilities, is_uncertain
from apparel_classifier.images import ImageSource, load_image
from apparel_classifier.model_card import load_model
from apparel_classifier.networks import predict_logits
from apparel_classifier.paths import MODELS_DIR
from apparel_classifier.transforms import normalize, to_fashion_mnist

log = logging.getLogger(__name__)

# Rows per forward pass (an image with test-time views is several rows): one pass for a
# request's images, up to where a larger batch stops paying on a 2-core CPU.
BATCH_ROWS = 256


@dataclass(frozen=True)
class Prediction:
    """One image's answer: the most likely class and the whole (calibrated) probability vector.

    `uncertain` is True when the confidence is below the model's threshold: the honest
    answer is then "not sure; the closest category is `category`".
    """

    category: str
    class_id: int
    confidence: float
    probabilities: tuple[float, ...]  # indexed by class id, sums to 1
    uncertain: bool


class Predictor:
    """Loads models/ (weights + card, checked against each other) once, then predicts.

    Every input goes through `transforms.to_fashion_mnist` and `normalize`, the very
    functions training uses, so serving cannot drift from training.
    """

    def __init__(
        self, model_dir: Path = MODELS_DIR, device: str = "cpu", num_threads: int | None = None
    ) -> None:
        if num_threads is not None:
            # Process-wide: for one 28×28 image, thread hand-offs cost more than they save.
            torch.set_num_threads(num_threads)
        self.device = torch.device(device)
        self.model, self.card = load_model(model_dir, self.device)
        self.classes: tuple[str, ...] = tuple(self.card.classes)
        self._mean = self.card.normalization["mean"]
        self._std = self.card.normalization["std"]
        self.temperature = self.card.calibration.temperature
        self.threshold = self.card.calibration.threshold
        log.info(
            "loaded %s (weights %s, code %s) from %s",
            self.card.model.architecture, self.card.model.weights_md5[:8],
            self.card.code.digest[:8], model_dir,
        )  # fmt: skip

    def preprocess(self, source: ImageSource, name: str = "image") -> np.ndarray:
        """Decode one input and map it onto the training distribution: (28, 28) uint8."""
        return to_fashion_mnist(load_image(source, name))

    def predict(self, source: ImageSource, name: str | None = None) -> Prediction:
        """Classify one image (path, bytes, PIL image or uint8 array of any size).

        A bad input raises `ImageError`; `name` (default: the path) is how it is called there.
        """
        image = self.preprocess(source, name or _name(source, "the image"))
        return self.predict_arrays(image[None])[0]  # (28, 28) -> (1, 28, 28)

    def predict_batch(
        self, sources: Sequence[ImageSource], names: Sequence[str] | None = None
    ) -> list[Prediction]:
        """Classify several images in one forward pass; a bad input raises ImageError naming it."""
        if not sources:
            return []
        names = names or [_name(s, f"image {i + 1}") for i, s in enumerate(sources)]
        arrays = [self.preprocess(s, n) for s, n in zip(sources, names, strict=True)]
        return self.predict_arrays(np.stack(arrays))  # N × (28, 28) -> (N, 28, 28)

    def predict_arrays(self, images: np.ndarray) -> list[Prediction]:
        """Classify already preprocessed Fashion-MNIST images: uint8 (N, 28, 28), light on black."""
        if len(images) == 0:
            return []
        x = normalize(torch.from_numpy(images), self._mean, self._std).to(self.device)
        logits = predict_logits(self.model, x, BATCH_ROWS, *self.card.model.views)
        probs = calibrated_probabilities(logits, self.temperature).cpu().numpy()
        ids = probs.argmax(axis=1)  # (N, classes) -> (N,)
        return [
            Prediction(
                category=self.classes[k],
                class_id=int(k),
                confidence=float(p[k]),
                probabilities=tuple(p.tolist()),
                uncertain=is_uncertain(float(p[k]), self.threshold),
            )
            for k, p in zip(ids, probs, strict=True)
        ]


def _name(source: ImageSource, fallback: str) -> str:
    """How an input is called in error messages: its path, else `fallback`."""
    return str(source) if isinstance(source, str | Path) else fallback
