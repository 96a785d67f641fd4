"""Robustness target: product-photo-like test images score within 3 points of the originals.

Needs the real trained model (`make run`). Uses a fixed, stratified 2,000-image subset
of the test split (200 per class, seed 0) to stay fast; each image is turned into a
product photo (dark item on white, RGB, enlarged to 112×112) and saved as PNG and as
JPEG, then read back from disk by the predictor like any upload.
"""

from pathlib import Path

import numpy as np
from PIL import Image

from apparel_classifier.fashion_mnist import NUM_CLASSES
from apparel_classifier.model_card import CARD_FILE
from apparel_classifier.paths import MODELS_DIR, PROCESSED_DIR
from apparel_classifier.predictor import Prediction, Predictor
from apparel_classifier.splits import load_processed
from tests.fakes import REPO_ROOT
from tests.needs import need

PER_CLASS = 200  # 2,000 images: the 3-point margin is ~4 standard errors of the difference
PHOTO_SIZE = 112  # 4× Fashion-MNIST's 28, the minimum
MAX_DROP = 0.03


def stratified_subset(labels: np.ndarray, per_class: int, seed: int = 0) -> np.ndarray:
    """Indices of `per_class` samples of every class, fixed by `seed`, in ascending order."""
    rng = np.random.default_rng(seed)
    picks = [
        rng.choice(np.flatnonzero(labels == k), per_class, replace=False)
        for k in range(NUM_CLASSES)
    ]
    return np.sort(np.concatenate(picks))


def as_product_photo(item: np.ndarray) -> Image.Image:
    """A Fashion-MNIST item (light on black, 28×28) as a product photo: dark on white, RGB, 4×."""
    dark_on_white = Image.fromarray(255 - item)
    return dark_on_white.resize((PHOTO_SIZE, PHOTO_SIZE), Image.Resampling.BICUBIC).convert("RGB")


def _accuracy(predictions: list[Prediction], labels: np.ndarray) -> float:
    return float(np.mean([p.class_id for p in predictions] == labels))


def test_product_photos_score_within_three_points(tmp_path: Path) -> None:
    # Checked here, not in a fixture, so that in CI a missing model is a FAILED test.
    model_dir = REPO_ROOT / MODELS_DIR
    need((model_dir / CARD_FILE).is_file(), f"no trained model in {model_dir}: run `make run`")
    real_predictor = Predictor(model_dir)
    test = load_processed(REPO_ROOT / PROCESSED_DIR, "test")
    idx = stratified_subset(test.labels, PER_CLASS)
    images, labels = test.images[idx], test.labels[idx]

    original = _accuracy(real_predictor.predict_batch(list(images)), labels)
    accuracy = {}
    for fmt, suffix, options in (("PNG", "png", {}), ("JPEG", "jpg", {"quality": 90})):
        paths = []
        for i, item in enumerate(images):
            path = tmp_path / f"{i}.{suffix}"
            as_product_photo(item).save(path, format=fmt, **options)
            paths.append(path)
        accuracy[fmt] = _accuracy(real_predictor.predict_batch(paths), labels)

    print(f"\naccuracy on {len(labels)} test images: original {original:.4f}, "
          f"PNG photos {accuracy['PNG']:.4f}, JPEG photos {accuracy['JPEG']:.4f}")  # fmt: skip
    assert original > 0.8, "the model itself is too weak for this test to mean anything"
    for fmt, acc in accuracy.items():
        assert acc >= original - MAX_DROP, f"{fmt}: {acc:.4f} vs {original:.4f} on the originals"
