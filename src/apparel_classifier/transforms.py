"""The one preprocessing path shared by training, evaluation, extra data and the predictor.

Two steps, so that serving can never drift from training:

* `to_fashion_mnist` maps any picture of a garment onto the training
  distribution: 28×28 uint8, a light item centred on a black background;
* `normalize` turns such uint8 images into the float tensor the network takes,
  with the training set's mean and standard deviation.
"""

import numpy as np
import torch
from PIL import Image

from apparel_classifier.fashion_mnist import IMAGE_SIZE

# Fashion-MNIST's own conversion (Xiao et al. 2017, section 2) trims edges whose
# colour is within 5% of the corner colour, fits the longest edge to 28 pixels,
# centres the item and negates the intensities. We follow the same recipe.
_TRIM_TOLERANCE = 0.05 * 255


def to_grayscale(image: Image.Image) -> np.ndarray:
    """Any PIL image (RGB, RGBA, palette, grayscale) as a float32 (H, W) array in 0–255.

    Transparent pixels count as white background: a cut-out product photo has no
    item there.
    """
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(canvas, rgba)
    return np.asarray(image.convert("L"), dtype=np.float32)


def to_fashion_mnist(image: Image.Image) -> np.ndarray:
    """Fit a garment photo of any size and colour into Fashion-MNIST's format: (28, 28) uint8."""
    gray = to_grayscale(image)
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    background = float(np.median(border))
    if background > 127.5:  # light background, as in product photos: make the item light
        gray = 255.0 - gray
        background = 255.0 - background
    gray = np.clip(gray - background, 0.0, 255.0)

    rows = np.flatnonzero((gray > _TRIM_TOLERANCE).any(axis=1))
    cols = np.flatnonzero((gray > _TRIM_TOLERANCE).any(axis=0))
    if rows.size and cols.size:  # an all-background picture stays whole
        gray = gray[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]

    height, width = gray.shape
    scale = IMAGE_SIZE / max(height, width)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    item = Image.fromarray(gray.astype(np.uint8)).resize((new_w, new_h), Image.Resampling.LANCZOS)

    canvas = np.zeros((IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
    top, left = (IMAGE_SIZE - new_h) // 2, (IMAGE_SIZE - new_w) // 2
    canvas[top : top + new_h, left : left + new_w] = np.asarray(item)
    return canvas


def normalize(images: torch.Tensor, mean: float, std: float) -> torch.Tensor:
    """uint8 images (N, 28, 28) -> float32 network input (N, 1, 28, 28), standardised."""
    x = images.to(torch.float32).div_(255.0)
    return x.sub_(mean).div_(std).unsqueeze(1)  # (N, 28, 28) -> (N, 1, 28, 28)
