"""The photo conversion finds the garment on synthetic scenes: textured, light and dark floors."""

import numpy as np
import pytest
from PIL import Image

from apparel_classifier.segmentation import garment_mask, is_scene, shrink
from apparel_classifier.transforms import to_fashion_mnist
from tests.images import fashion_item, product_photo

SIZE = (480, 360)  # (H, W): a phone photo, shrunk


def _floor(kind: str, rng: np.random.Generator) -> np.ndarray:
    """An (H, W, 3) background, lit unevenly as indoors, with sensor noise.

    `textured`: wood-like stripes; `light`: a pale sheet; `dark`: a dark floor.
    """
    h, w = SIZE
    lamp = np.linspace(-1.0, 1.0, h)[:, None] * np.ones((1, w))  # brighter at the bottom
    if kind == "textured":
        stripes = 120 + 60 * np.sin(np.arange(w) / 6.0)[None, :] + rng.normal(0, 12, (h, w))
        base = np.stack([stripes, stripes * 0.8, stripes * 0.55], axis=2)
    elif kind == "light":
        base = np.full((h, w, 3), (215.0, 212.0, 205.0)) + 30 * lamp[:, :, None]
    else:
        base = np.full((h, w, 3), (45.0, 40.0, 38.0)) + 25 * lamp[:, :, None]
    return base + rng.normal(0, 6, (h, w, 3))


def _scene(kind: str, colour: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """A T-shirt-shaped item of `colour` on a floor of `kind`, off-centre; and its true mask."""
    rng = np.random.default_rng(0)
    h, w = SIZE
    mask = np.zeros((h, w), bool)
    top, left = 110, 90
    mask[top : top + 230, left + 40 : left + 170] = True  # body
    mask[top : top + 70, left : left + 210] = True  # sleeves
    image = _floor(kind, rng)
    image[mask] = np.array(colour, float) + rng.normal(0, 5, (mask.sum(), 3))
    return np.clip(image, 0, 255).astype(np.uint8), mask


@pytest.mark.parametrize(
    ("kind", "colour"),
    [("textured", (30, 60, 160)), ("light", (150, 30, 40)), ("dark", (200, 190, 170))],
)
def test_grabcut_finds_the_item(kind: str, colour: tuple[int, int, int]) -> None:
    photo, truth = _scene(kind, colour)
    small = shrink(photo)
    assert is_scene(small)
    mask = garment_mask(small).astype(bool)
    truth_small = np.asarray(Image.fromarray(truth).resize(mask.shape[::-1])).astype(bool)
    iou = (mask & truth_small).sum() / (mask | truth_small).sum()
    assert iou > 0.85, f"{kind}: IoU {iou:.2f}"


@pytest.mark.parametrize("kind", ["textured", "light", "dark"])
def test_the_converted_item_is_centred_light_on_black(kind: str) -> None:
    photo, _ = _scene(kind, (30, 60, 160) if kind != "dark" else (200, 190, 170))
    image = to_fashion_mnist(Image.fromarray(photo))
    assert image.shape == (28, 28)
    assert image.dtype == np.uint8
    # The background is gone: the bottom corners (beside the body, below the sleeves)
    # are black, and the item fills the frame's height.
    assert image[-3:, :3].max() == 0
    assert image[-3:, -3:].max() == 0
    rows = np.flatnonzero(image.max(axis=1) > 0)
    assert rows[0] <= 1
    assert rows[-1] >= 26
    assert np.percentile(image[image > 0], 75) >= 60  # visible: a light item too


def test_a_dark_item_on_a_dark_floor_does_not_fade() -> None:
    photo, _ = _scene("dark", (70, 62, 58))  # a charcoal shirt on a dark floor
    image = to_fashion_mnist(Image.fromarray(photo))
    item = image[image > 0]
    assert item.size > 200
    # Stretched to at least the cut-out floor (60), not left near the floor's black.
    assert np.percentile(item, 75) >= 60


def test_plain_backgrounds_keep_fashion_mnists_own_recipe() -> None:
    item = fashion_item(3)
    item[item < 40] = 0  # a clean black background, as in Fashion-MNIST itself
    item[item > 0] = 255
    assert not is_scene(np.asarray(product_photo(item, size=224)))
    assert not is_scene(np.stack([item] * 3, axis=2))
    # Trimmed to the item and brought to full brightness, as Fashion-MNIST's images are.
    larger = Image.fromarray(item // 2).resize((56, 56), Image.Resampling.NEAREST)
    image = to_fashion_mnist(larger)
    assert image.max() == 255
    assert (image.max(axis=0) > 0).all()  # the bar now spans the width


def test_an_image_in_fashion_mnists_own_format_passes_through_unchanged() -> None:
    # What the network was trained on must reach it as it is: no re-trim, no brightening
    # (that skew made Fashion-MNIST's own test images look drifted to the monitor).
    item = fashion_item(3)
    item[item < 40] = 0
    dim = item // 2
    assert np.array_equal(to_fashion_mnist(Image.fromarray(dim)), dim)
    assert np.array_equal(to_fashion_mnist(Image.fromarray(dim).convert("RGB")), dim)
    # A 28×28 picture on white is not in that format: it is negated and trimmed as usual.
    assert not np.array_equal(to_fashion_mnist(Image.fromarray(255 - dim)), dim)


def test_the_same_photo_always_gives_the_same_image() -> None:
    photo, _ = _scene("textured", (30, 60, 160))
    first = to_fashion_mnist(Image.fromarray(photo))
    assert np.array_equal(first, to_fashion_mnist(Image.fromarray(photo)))
