"""The IDX parser: good files parse, every kind of bad file fails naming the file."""

import gzip
from pathlib import Path

import numpy as np
import pytest

from apparel_classifier.idx import IdxFormatError, parse_idx, read_idx
from tests.fakes import idx_bytes


def test_parses_images_and_labels(tmp_path: Path) -> None:
    images = np.arange(2 * 28 * 28, dtype=np.uint64).reshape(2, 28, 28).astype(np.uint8)
    labels = np.array([3, 7], dtype=np.uint8)
    (tmp_path / "img.gz").write_bytes(gzip.compress(idx_bytes(images)))
    (tmp_path / "lab").write_bytes(idx_bytes(labels))

    np.testing.assert_array_equal(read_idx(tmp_path / "img.gz", ndim=3), images)
    got = read_idx(tmp_path / "lab", ndim=1)  # uncompressed works too
    np.testing.assert_array_equal(got, labels)
    assert got.dtype == np.uint8


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b"", "empty"),
        (idx_bytes(np.zeros((2, 28, 28), np.uint8))[:6], "truncated"),  # inside the header
        (idx_bytes(np.zeros((2, 28, 28), np.uint8))[:-1], "truncated"),  # inside the data
        (idx_bytes(np.zeros((2, 28, 28), np.uint8)) + b"\0", "too long"),
        (idx_bytes(np.zeros(50, np.uint8)), "wrong magic number"),  # labels read as images
    ],
    ids=["empty", "short-header", "short-data", "too-long", "wrong-magic"],
)
def test_bad_files_name_the_file_and_the_problem(tmp_path: Path, raw: bytes, problem: str) -> None:
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(raw))
    with pytest.raises(IdxFormatError, match=problem) as err:
        read_idx(path, ndim=3)
    assert str(path) in str(err.value)


def test_wrong_size_reports_header_shape() -> None:
    raw = idx_bytes(np.zeros((3, 28, 28), np.uint8))[:-28]
    with pytest.raises(IdxFormatError, match=r"shape \(3, 28, 28\)") as err:
        parse_idx(raw, "some-file", ndim=3)
    assert "some-file" in str(err.value)


@pytest.mark.parametrize("raw", [b"not gzip at all", gzip.compress(b"x" * 100)[:-10]])
def test_bad_gzip_names_the_file(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(raw)
    with pytest.raises(IdxFormatError, match="not a valid gzip file") as err:
        read_idx(path, ndim=1)
    assert str(path) in str(err.value)


def test_missing_file_says_to_download(tmp_path: Path) -> None:
    with pytest.raises(IdxFormatError, match="dvc repro download"):
        read_idx(tmp_path / "absent.gz", ndim=1)
