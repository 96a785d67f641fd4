"""Extra labelled images: converted like uploads, merged into train only, bad files reported."""

import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from apparel_classifier.fashion_mnist import EXTRA_FOLDERS, NUM_CLASSES
from apparel_classifier.params import parse_params
from apparel_classifier.photos import load_folders
from apparel_classifier.stages import preprocess
from tests.fakes import tiny_params, write_fake_raw


def write_photo(path: Path, size: tuple[int, int] = (60, 90)) -> None:
    """A colour product photo: a dark-red garment on a white background."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.new("RGB", size, (255, 255, 255))
    image.paste((120, 20, 20), (10, 10, size[0] - 10, size[1] - 10))
    image.save(path)


@pytest.fixture
def extra_dir(tmp_path: Path) -> Path:
    extra = tmp_path / "extra"
    write_photo(extra / "sneaker" / "a.png")
    write_photo(extra / "sneaker" / "b.jpg", size=(120, 40))
    write_photo(extra / "bag" / "c.png")
    (extra / "bag" / "broken.png").write_bytes(b"\x89PNG not really")
    write_photo(extra / "socks" / "d.png")  # no such class
    (extra / "README.md").write_text("layout")  # top-level files are not images
    return extra


def test_extra_images_are_converted_and_labelled(extra_dir: Path) -> None:
    extra = load_folders(extra_dir, EXTRA_FOLDERS)
    images, labels = extra.images, extra.labels
    assert images.dtype == np.uint8
    assert images.shape == (3, 28, 28)
    # Sorted folders then files: bag/c.png, sneaker/a.png, sneaker/b.jpg.
    assert labels.tolist() == [EXTRA_FOLDERS.index("bag")] + [EXTRA_FOLDERS.index("sneaker")] * 2
    # Light background inverted: the item is light, the corners black, as in Fashion-MNIST.
    assert images[:, 0, 0].tolist() == [0, 0, 0]
    assert all(img[14, 14] > 100 for img in images)
    # Fitted: the longest edge fills the 28 pixels.
    wide = images[2]
    assert np.flatnonzero(wide.any(axis=0)).size == 28


def test_bad_files_are_named_and_the_rest_used(
    extra_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        extra = load_folders(extra_dir, EXTRA_FOLDERS)
    assert set(extra.rejected) == {
        str(extra_dir / "bag" / "broken.png"),
        str(extra_dir / "socks" / "d.png"),
    }
    assert "not a readable image" in extra.rejected[str(extra_dir / "bag" / "broken.png")]
    assert "unknown class folder 'socks'" in extra.rejected[str(extra_dir / "socks" / "d.png")]
    assert "broken.png" in caplog.text
    assert "socks" in caplog.text


def test_missing_extra_dir_means_no_extra_images(tmp_path: Path) -> None:
    extra = load_folders(tmp_path / "absent", EXTRA_FOLDERS)
    assert len(extra) == 0
    assert extra.rejected == {}


def test_extra_images_join_the_training_split_only(extra_dir: Path, tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    params = parse_params(tiny_params(write_fake_raw(raw)))
    plain = preprocess.run(raw, tmp_path / "a", params.dataset, params.preprocess, params.field)
    info = preprocess.run(
        raw, tmp_path / "b", params.dataset, params.preprocess, params.field, extra_dir
    )

    assert sum(info["counts"]["train"].values()) == sum(plain["counts"]["train"].values()) + 3
    assert info["counts"]["val"] == plain["counts"]["val"]
    assert info["counts"]["test"] == plain["counts"]["test"]
    assert info["extra"]["counts"]["Sneaker"] == 2
    assert info["extra"]["counts"]["Bag"] == 1
    assert len(info["extra"]["rejected"]) == 2
    for split in ("val", "test"):
        for kind in ("images", "labels"):
            name = f"{split}_{kind}.npy"
            assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    train_labels = np.load(tmp_path / "b" / "train_labels.npy")
    assert np.bincount(train_labels, minlength=NUM_CLASSES)[EXTRA_FOLDERS.index("sneaker")] == 20
