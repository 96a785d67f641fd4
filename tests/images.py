"""Garment-like test pictures in every form the predictor accepts."""

import io

import numpy as np
from PIL import Image

from tests.fakes import fake_split


def fashion_item(class_id: int = 3, seed: int = 0) -> np.ndarray:
    """One fake Fashion-MNIST item: (28, 28) uint8, light on black."""
    images, labels = fake_split(10, seed)
    return images[labels == class_id][0]


def product_photo(item: np.ndarray, size: int = 112, mode: str = "RGB") -> Image.Image:
    """The item as a product photo: dark on white, enlarged to `size`, in `mode`."""
    dark_on_white = Image.fromarray(255 - item).resize((size, size), Image.Resampling.BICUBIC)
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
