"""Reader for the IDX format of MNIST-style datasets (optionally gzipped).

Format (http://yann.lecun.com/exdb/mnist/): a 4-byte big-endian magic number
whose third byte is the element type (0x08 = unsigned byte) and fourth byte the
number of dimensions, then one big-endian uint32 per dimension, then the data.
"""

import gzip
import zlib
from pathlib import Path

import numpy as np

from apparel_classifier.errors import UserError

_UBYTE = 0x08


class IdxFormatError(UserError):
    """An IDX file is empty, truncated or not the kind of file expected."""


def parse_idx(raw: bytes, name: str, ndim: int) -> np.ndarray:
    """Parse the bytes of an uncompressed IDX file holding `ndim`-dimensional uint8 data."""
    header_len = 4 + 4 * ndim
    if len(raw) < header_len:
        raise IdxFormatError(
            f"{name}: file is {'empty' if not raw else 'truncated'} "
            f"({len(raw)} bytes, the header alone needs {header_len})"
        )
    expected_magic = (_UBYTE << 8) | ndim  # 2049 for labels, 2051 for images
    magic = int.from_bytes(raw[:4], "big")
    if magic != expected_magic:
        raise IdxFormatError(
            f"{name}: wrong magic number {magic:#010x}, expected {expected_magic:#010x} "
            f"(unsigned-byte data with {ndim} dimension{'s' if ndim > 1 else ''})"
        )
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected_len = header_len + int(np.prod(shape))
    if len(raw) != expected_len:
        problem = "truncated" if len(raw) < expected_len else "too long"
        raise IdxFormatError(
            f"{name}: {problem}: header says shape {shape} ({expected_len} bytes in all), "
            f"file has {len(raw)} bytes"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header_len).reshape(shape)


def read_idx(path: Path, ndim: int) -> np.ndarray:
    """Read a (gzipped) IDX file; every format problem raises IdxFormatError naming the file."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise IdxFormatError(f"{path}: file not found; run `dvc repro download`") from None
    if path.suffix == ".gz":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise IdxFormatError(f"{path}: not a valid gzip file ({exc})") from None
    return parse_idx(data, str(path), ndim)
