"""The one preprocessing path shared by training, evaluation, extra data and the predictor.

Two steps, so that serving can never drift from training:

* `to_fashion_mnist` maps any picture of a garment onto the training
  distribution: 28×28 uint8, a light item centred on a black background (cut out
  of its scene first when it lies on a bed or a floor);
* `normalize` turns such uint8 images into the float tensor the network takes,
  with the training set's mean and standard deviation.
"""

from typing import TYPE_CHECKING

import cv2
import numpy as np
from PIL import Image

from apparel_classifier.fashion_mnist import IMAGE_SIZE
from apparel_classifier.segmentation import (
    MIN_ITEM_SHARE,
    garment_mask,
    is_scene,
    shrink,
)

# torch only for the annotations: `preprocess` cuts photos out without loading it (1.2 s).
if TYPE_CHECKING:
    from torch import Tensor

# Fashion-MNIST's own conversion (Xiao et al. 2017, section 2) trims edges whose
# colour is within 5% of the corner colour, fits the longest edge to 28 pixels,
# centres the item and negates the intensities. We follow the same recipe on plain
# backgrounds, and cut the item out of real scenes first (segmentation.py).
_TRIM_TOLERANCE = 0.05 * 255
_TRIM_SMOOTHING = 3  # box filter side (pixels) for finding the item's box in a large picture
_BRIGHTEST_PERCENTILE = 99.5  # mapped to 255: a few hot pixels do not set the scale
# A cut-out item's intensities are stretched to this range (negated, as in
# Fashion-MNIST): a white shirt on a white sheet must not vanish, and a black one
# on a dark floor must not fade to the background's zero.
_CUT_OUT_FLOOR = 60.0
_STRETCH_PERCENTILES = (2.0, 98.0)
# A 28×28 gray picture whose border's median is at most this is taken as Fashion-MNIST's
# own format and passed through (its borders are 0 nearly everywhere).
_BLACK_BORDER = 8


def to_rgb(image: Image.Image) -> np.ndarray:
    """Any PIL image (RGB, RGBA, palette, grayscale) as a uint8 (H, W, 3) array.

    Transparent pixels count as white background: a cut-out product photo has no
    item there.
    """
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(canvas, rgba)
    return np.asarray(image.convert("RGB"))


def to_fashion_mnist(image: Image.Image) -> np.ndarray:
    """Fit a garment picture of any size and colour into Fashion-MNIST's format: (28, 28) uint8.

    A plain background (a product shot, a Fashion-MNIST image) gets the dataset's own
    recipe; a real scene (a T-shirt on a bed) has the garment cut out first.
    """
    rgb = to_rgb(image)
    if _is_fashion_mnist(rgb):
        # Already the network's input: the recipe would re-trim and brighten it, and the
        # model would see a Fashion-MNIST image differently from how it was trained on it
        # (training/serving skew; the drift monitor flagged it as a brighter mean).
        return rgb[:, :, 0].copy()
    small = shrink(rgb)
    if is_scene(small):
        mask = garment_mask(small)
        if mask.mean() >= MIN_ITEM_SHARE:  # else GrabCut found nothing: trim as best we can
            return _cut_out(_gray(small), mask)
    return _trimmed(_gray(rgb))


def _is_fashion_mnist(rgb: np.ndarray) -> bool:
    """28×28, gray, with a black border: an image in Fashion-MNIST's own format."""
    if rgb.shape[:2] != (28, 28) or not (rgb == rgb[:, :, :1]).all():
        return False
    gray = rgb[:, :, 0]
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    return bool(np.median(border) <= _BLACK_BORDER)


def _gray(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)  # ITU-R 601 luma, as PIL


def _trimmed(gray: np.ndarray) -> np.ndarray:
    """Fashion-MNIST's recipe: subtract the border colour, negate if light, trim, fit, centre.

    Like every Fashion-MNIST image, the result reaches full brightness (its brightest
    pixel is 255), so a dark item on a dark backdrop does not fade to nothing.
    """
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    background = float(np.median(border))
    if background > 127.5:  # light background, as in product photos: make the item light
        gray = 255.0 - gray
        background = 255.0 - background
    gray = np.clip(gray - background, 0.0, 255.0)
    # Trim where the *smoothed* difference exceeds the tolerance: noise on the backdrop
    # (a photo's grain, JPEG ringing) must not stretch the item's box to the frame.
    smooth = cv2.blur(gray, (_TRIM_SMOOTHING, _TRIM_SMOOTHING)) if min(gray.shape) > 28 else gray
    rows = np.flatnonzero((smooth > _TRIM_TOLERANCE).any(axis=1))
    cols = np.flatnonzero((smooth > _TRIM_TOLERANCE).any(axis=0))
    if rows.size and cols.size:  # an all-background picture stays whole
        gray = gray[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    brightest = float(np.percentile(gray, _BRIGHTEST_PERCENTILE))
    if brightest > _TRIM_TOLERANCE:  # else there is no item to brighten, only noise
        gray = np.clip(gray * (255.0 / brightest), 0.0, 255.0)
    return _fit(gray)


def _cut_out(gray: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The masked item, negated and contrast-stretched, on black; fitted and centred."""
    negated = 255.0 - gray
    low, high = np.percentile(negated[mask > 0], _STRETCH_PERCENTILES)
    scale = (255.0 - _CUT_OUT_FLOOR) / max(float(high - low), 1.0)
    item = np.clip(_CUT_OUT_FLOOR + (negated - low) * scale, 0.0, 255.0) * mask
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return _fit(item[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1])


def _fit(item: np.ndarray) -> np.ndarray:
    """Scale an item (float, 0–255) so its longest side is 28 and centre it on black."""
    height, width = item.shape
    scale = IMAGE_SIZE / max(height, width)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    resized = Image.fromarray(item.astype(np.uint8)).resize(
        (new_w, new_h), Image.Resampling.LANCZOS
    )
    canvas = np.zeros((IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
    top, left = (IMAGE_SIZE - new_h) // 2, (IMAGE_SIZE - new_w) // 2
    canvas[top : top + new_h, left : left + new_w] = np.asarray(resized)
    return canvas


def normalize(images: "Tensor", mean: float, std: float) -> "Tensor":
    """uint8 images (N, 28, 28) -> float32 network input (N, 1, 28, 28), standardised."""
    x = images.float().div_(255.0)
    return x.sub_(mean).div_(std).unsqueeze(1)  # (N, 28, 28) -> (N, 1, 28, 28)
