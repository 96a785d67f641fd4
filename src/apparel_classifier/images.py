"""Decoding the image inputs the predictor accepts: a path, bytes, a PIL image or a numpy array."""

import io
import warnings
from pathlib import Path
from typing import TypeAlias

import numpy as np
from PIL import Image, UnidentifiedImageError

from apparel_classifier.errors import UserError

ImageSource: TypeAlias = str | Path | bytes | Image.Image | np.ndarray

# Pillow warns above ~89 M pixels and refuses twice that; a garment photo is far smaller,
# so anything past this many pixels is treated as a decompression bomb and refused.
MAX_PIXELS = 40_000_000
# A huge JPEG is decoded at a reduced scale (JPEG's DCT can do that for free): the item
# ends up 28 pixels wide anyway, and this keeps a 12-megapixel photo fast.
_JPEG_DRAFT_SIZE = (512, 512)


class ImageError(UserError):
    """An input that is not a usable image; subclasses say why (the API maps them to 4xx)."""


class EmptyImageError(ImageError):
    """Zero bytes, or an image with no pixels."""


class NotAnImageError(ImageError):
    """Bytes in no image format we can read (PNG, JPEG, WebP, GIF, BMP, TIFF…)."""


class CorruptImageError(ImageError):
    """A recognised image format whose pixels cannot be decoded (truncated, damaged, too large)."""


def load_image(source: ImageSource, name: str = "image") -> Image.Image:
    """Decode any accepted input into a fully loaded PIL image; `name` appears in error messages."""
    if isinstance(source, Image.Image):
        if source.width == 0 or source.height == 0:
            raise EmptyImageError(f"{name} has no pixels")
        return source
    if isinstance(source, np.ndarray):
        return from_array(source, name)
    if isinstance(source, str | Path):
        try:
            data = Path(source).read_bytes()
        except OSError as exc:
            raise ImageError(f"{name}: cannot read the file ({exc.strerror or exc})") from None
        return decode(data, name)
    if isinstance(source, bytes | bytearray | memoryview):
        return decode(bytes(source), name)
    raise TypeError(
        f"cannot predict on a {type(source).__name__}; give a path, bytes, PIL image or array"
    )


def decode(data: bytes, name: str = "image") -> Image.Image:
    """Decode encoded image bytes (PNG, JPEG, WebP…), fully, so that errors surface here."""
    if not data:
        raise EmptyImageError(f"{name} is empty (0 bytes); send the image file's contents")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.width * image.height > MAX_PIXELS:
                raise CorruptImageError(
                    f"{name} is {image.width}×{image.height} pixels, more than the {MAX_PIXELS:,} "
                    "accepted; send a smaller photo"
                )
            if image.format == "JPEG":
                image.draft("RGB", _JPEG_DRAFT_SIZE)
            image.load()  # Image.open is lazy: decode now, so a truncated file fails here
    except UnidentifiedImageError:
        raise NotAnImageError(
            f"{name} is not an image in a format we can read; send a PNG, JPEG or WebP file"
        ) from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError,
            Image.DecompressionBombWarning) as exc:  # fmt: skip
        raise CorruptImageError(
            f"{name} looks like an image but cannot be decoded ({exc})"
        ) from None
    if image.width == 0 or image.height == 0:
        raise EmptyImageError(f"{name} has no pixels")
    return image


def from_array(array: np.ndarray, name: str = "image") -> Image.Image:
    """A uint8 array (H, W), (H, W, 1), (H, W, 3) RGB or (H, W, 4) RGBA as a PIL image."""
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]  # (H, W, 1) -> (H, W)
    valid = array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (3, 4))
    if not valid:
        raise ImageError(
            f"{name}: expected an array of shape (H, W), (H, W, 3) or (H, W, 4), got {array.shape}"
        )
    if array.dtype != np.uint8:
        raise ImageError(f"{name}: expected a uint8 array (0–255), got dtype {array.dtype}")
    if array.size == 0:
        raise EmptyImageError(f"{name} has no pixels")
    return Image.fromarray(np.ascontiguousarray(array))
