"""Fashion-MNIST images staged as phone photos: a garment on a floor, a bed or a rug.

The field photos teach the network what the photo-to-28×28 conversion makes of a
real scene, but they are few (hundreds a category, and fewest where it errs most:
coats, dresses). Fashion-MNIST has 6,000 images a category. Staging some of them as
photos (the item enlarged, coloured and lit, on a textured background, blurred,
noised and saved as JPEG) and sending those through the very conversion the
predictor uses (`transforms.to_fashion_mnist`: GrabCut, the stretch, the fit) gives
training rows that carry the conversion's artefacts on every category. Nothing is
learnt or downloaded: each scene is drawn from a generator seeded with (seed, index).
Off by default (`preprocess.staged_photos: 0`): on field photos no choice had seen it
did not pay (docs/results.md).
"""

import cv2
import numpy as np
from PIL import Image

from apparel_classifier.fashion_mnist import IMAGE_SIZE
from apparel_classifier.photos import map_on_cores
from apparel_classifier.splits import Split
from apparel_classifier.transforms import to_fashion_mnist

# The scene at about the size GrabCut works on (segmentation._WORK_SIDE): a bigger one
# would only be shrunk to it. Portrait mostly, as people photograph a garment.
_LONG_SIDE, _SHORT_SIDE = 128, 96
_PORTRAIT_SHARE = 0.8
# The item's longest side as a share of the frame's matching side: field photos are
# framed tight around the garment.
_ITEM_FILL = (0.7, 0.95)
_OFFSET = 0.05  # the item's centre moves up to this share of the frame from its centre
_JPEG_QUALITY = (40, 95)
_MAX_BLUR_SIGMA = 1.0  # pixels, at the scene's size
_MAX_NOISE = 4.0  # sensor noise, standard deviation out of 255
_PATTERNED_SHARE = 0.5  # garments with stripes, a print or creases


def staged_scene(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One Fashion-MNIST image (28, 28) uint8 as an (H, W, 3) uint8 RGB photo of a scene."""
    height, width = (_LONG_SIDE, _SHORT_SIDE)
    if rng.random() >= _PORTRAIT_SHARE:
        height, width = width, height
    background = _background(height, width, rng)
    item, alpha = _item(image, height, width, rng)
    scene = background * (1.0 - alpha[..., None]) + item * alpha[..., None]
    scene *= _lighting(height, width, rng)[..., None]
    sigma = rng.uniform(0.0, _MAX_BLUR_SIGMA)
    if sigma > 0.3:
        scene = cv2.GaussianBlur(scene, (0, 0), sigma)
    scene += rng.normal(0.0, rng.uniform(0.0, _MAX_NOISE), scene.shape)
    pixels = np.clip(scene, 0, 255).astype(np.uint8)
    quality = int(rng.integers(*_JPEG_QUALITY, endpoint=True))
    # OpenCV's JPEG codec takes BGR: its luma and chroma must see the colours as they are.
    bgr = cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR)
    _, encoded = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    decoded = np.asarray(cv2.imdecode(encoded, cv2.IMREAD_COLOR))  # our own bytes: never None
    return np.asarray(cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB))


def _item(
    image: np.ndarray, height: int, width: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """The garment's colours (H, W, 3) float and where it is (H, W) in [0, 1], placed in the frame.

    Fashion-MNIST's images are negated photos (a bright pixel is a dark part of the
    item), so the photo's brightness falls as the image's intensity rises, around a
    base colour of any hue: a white shirt, a navy coat, a black T-shirt on a dark floor.
    Real garments add what a 28×28 studio image smooths away: stripes, prints, creases.
    """
    rows, cols = np.flatnonzero(image.max(axis=1) > 0), np.flatnonzero(image.max(axis=0) > 0)
    crop = image[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1] if rows.size else image
    scale = rng.uniform(*_ITEM_FILL) * min(height / crop.shape[0], width / crop.shape[1])
    size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
    resized = cv2.resize(crop.astype(np.float32), size, interpolation=cv2.INTER_CUBIC)
    big = np.clip(resized, 0.0, 255.0) / 255.0
    placed = np.zeros((height, width), np.float32)
    top = (height - size[1]) // 2 + round(rng.uniform(-_OFFSET, _OFFSET) * height)
    left = (width - size[0]) // 2 + round(rng.uniform(-_OFFSET, _OFFSET) * width)
    top, left = int(np.clip(top, 0, height - size[1])), int(np.clip(left, 0, width - size[0]))
    placed[top : top + size[1], left : left + size[0]] = big
    # Where the image is not black is item; its edge softened, as a lens draws it.
    alpha = cv2.GaussianBlur(np.clip(placed * 8.0, 0.0, 1.0), (0, 0), 0.7)
    base = _colour(rng, saturation=1.0, low=15.0, high=245.0)
    depth = rng.uniform(0.3, 0.8)  # how much darker the image's brightest parts are
    shade = 1.0 - depth * placed
    if rng.random() < _PATTERNED_SHARE:
        shade *= 1.0 + _texture(height, width, rng, fine=False) * rng.uniform(0.05, 0.3)
    return base * shade[..., None], alpha


def _colour(rng: np.random.Generator, saturation: float, low: float, high: float) -> np.ndarray:
    """An RGB colour: a gray level in [low, high], pulled part of the way to a random hue.

    Floors and sheets are muted (`saturation` 0.5); garments come in any colour (1).
    """
    gray = rng.uniform(low, high)
    hue = rng.uniform(low, high, 3)
    return gray + (hue - gray) * rng.uniform(0.0, saturation)


def _texture(height: int, width: int, rng: np.random.Generator, fine: bool = True) -> np.ndarray:
    """A zero-mean (H, W) pattern of unit scale: planks or stripes, soft folds, or mottling."""
    kind = rng.integers(3 if fine else 2)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    if kind == 0:  # planks or stripes: bands of another shade, a grain along them
        angle = rng.uniform(0.0, np.pi)
        along = xs * np.cos(angle) + ys * np.sin(angle)
        across = -xs * np.sin(angle) + ys * np.cos(angle)
        period = rng.uniform(6.0, 40.0)
        band = np.floor(across / period)
        # sin of a large multiple of the band's number: a shade per band that looks random
        shades = np.sin(band * 12.9898 + rng.uniform(0.0, 100.0))
        pattern = shades + 0.3 * np.sin(along * 0.4)
    elif kind == 1:  # a sheet or a crease: broad soft folds
        coarse = rng.normal(0.0, 1.0, (5, 5)).astype(np.float32)
        pattern = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    else:  # a rug or carpet: fine mottled noise
        noise = rng.normal(0.0, 1.0, (height, width)).astype(np.float32)
        pattern = cv2.GaussianBlur(noise, (0, 0), rng.uniform(0.6, 2.0))
    pattern = pattern - pattern.mean()
    return (pattern / max(float(pattern.std()), 1e-6)).astype(np.float32)


def _background(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """A floor, a bed or a rug: (H, W, 3) float colours with texture, never a flat backdrop."""
    base = _colour(rng, saturation=0.5, low=40.0, high=235.0)
    texture = _texture(height, width, rng) * rng.uniform(6.0, 25.0)
    return base + texture[..., None] * rng.uniform(0.6, 1.0, 3)


def _lighting(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """A smooth brightness gradient across the frame: a window on one side."""
    angle = rng.uniform(0.0, 2 * np.pi)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    ramp = (xs / width - 0.5) * np.cos(angle) + (ys / height - 0.5) * np.sin(angle)
    return (rng.uniform(0.8, 1.1) + ramp * rng.uniform(0.0, 0.4)).astype(np.float32)


def staged_image(image: np.ndarray, seed: int, index: int) -> np.ndarray:
    """`staged_scene` of one image, converted as a photo is: (28, 28) uint8. Deterministic."""
    scene = staged_scene(image, np.random.default_rng([seed, index]))
    return to_fashion_mnist(Image.fromarray(scene))


def _staged(args: tuple[np.ndarray, int, int]) -> np.ndarray:
    return staged_image(*args)  # one picklable argument, for the process pool


def staged_rows(train: Split, count: int, seed: int) -> Split:
    """`count` images of `train` (drawn with `seed`, at most all of them) staged as photos.

    Each keeps its label. Extra training rows: the originals stay in `train` as they are.
    A scene is seeded by its image's row in `train`, so it is the same whichever others
    are drawn with it.
    """
    pick = np.random.default_rng(seed).choice(len(train), min(count, len(train)), replace=False)
    pick = np.sort(pick)
    images = map_on_cores(_staged, [(train.images[i], seed, int(i)) for i in pick])
    stacked = np.stack(images) if images else np.zeros((0, IMAGE_SIZE, IMAGE_SIZE), np.uint8)
    return Split(stacked, train.labels[pick])
