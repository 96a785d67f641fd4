"""Garment-like test pictures in every form the predictor accepts."""

import io
from pathlib import Path

import numpy as np
from PIL import Image

from apparel_classifier.fashion_mnist import CLASS_NAMES
from tests.fakes import fake_split


def fashion_item(class_id: int = 3, seed: int = 0) -> np.ndarray:
    """One fake Fashion-MNIST item: (28, 28) uint8, light on black."""
    images, labels = fake_split(10, seed)
    return images[labels == class_id][0]


def clean_item(item: np.ndarray) -> np.ndarray:
    """The fake item without its background noise: on black, as Fashion-MNIST's items are."""
    return np.where(item < 60, 0, item).astype(np.uint8)


def product_photo(item: np.ndarray, size: int = 112, mode: str = "RGB") -> Image.Image:
    """The item as a product photo: dark on a clean white backdrop, enlarged to `size`, in `mode`.

    The fake items' background noise is dropped: a studio backdrop is flat (a noisy one
    would read as a scene whose garment must be cut out).
    """
    dark_on_white = Image.fromarray(255 - clean_item(item)).resize(
        (size, size), Image.Resampling.BICUBIC
    )
    if mode == "RGBA":
        # A cut-out: the white background becomes transparent.
        rgba = dark_on_white.convert("RGBA")
        alpha = Image.fromarray(np.where(np.asarray(dark_on_white) > 250, 0, 255).astype(np.uint8))
        rgba.putalpha(alpha)
        return rgba
    return dark_on_white.convert(mode)


def encode(image: Image.Image, fmt: str) -> bytes:
    """The image as PNG, JPEG or WEBP file bytes."""
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **({"quality": 92} if fmt in ("JPEG", "WEBP") else {}))
    return buffer.getvalue()


def write_fake_field(
    root: Path, categories: dict[str, list[str]], train: int = 3, validation: int = 2, seed: int = 0
) -> None:
    """A tiny field delivery: `root`/{train,validation}/<folder>/<n>.jpg, like the real one.

    A folder's photos are product photos of its first class's fake item (so a model
    trained on the fake data can get them right); folders without a class get noise.
    """
    rng = np.random.default_rng(seed)
    for split, count in (("train", train), ("validation", validation)):
        for folder, classes in categories.items():
            for n in range(count):
                if classes:
                    item = fashion_item(CLASS_NAMES.index(classes[0]), seed=seed + n)
                else:
                    item = rng.integers(0, 255, size=(28, 28), dtype=np.uint8)
                path = root / split / folder / f"{seed}-{n}.jpg"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(encode(product_photo(item, size=64), "JPEG"))
