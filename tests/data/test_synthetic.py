"""Training images staged as photos: real-looking scenes, converted back to their item."""

import json
from pathlib import Path

import numpy as np

from apparel_classifier.params import PreprocessParams
from apparel_classifier.segmentation import is_scene
from apparel_classifier.splits import Split, processed_files
from apparel_classifier.stages import preprocess
from apparel_classifier.synthetic import staged_image, staged_rows, staged_scene
from tests.data.test_preprocess import FIELD, N_TRAIN, SPLIT, _dataset, _load
from tests.fakes import fake_split, write_fake_raw


def _item(kind: int) -> np.ndarray:
    """A Fashion-MNIST-like item, as tall as the frame: a T-shirt, trousers or a dress, shaded."""
    shape = np.zeros((28, 28), bool)
    if kind % 3 == 0:
        shape[0:28, 8:20] = True  # body
        shape[0:9, 2:26] = True  # sleeves
    elif kind % 3 == 1:
        shape[0:6, 7:21] = True  # waist
        shape[6:28, 7:13] = shape[6:28, 15:21] = True  # legs
    else:
        for row in range(28):  # widening towards the hem
            half = 4 + row // 3
            shape[row, 14 - half : 14 + half] = True
    shading = np.linspace(230, 120, 28)[:, None] + (kind * 7) % 20
    return np.where(shape, shading, 0).astype(np.uint8)


def test_a_staged_scene_is_a_scene_to_cut_out() -> None:
    # Not a product shot on a flat backdrop: the predictor must take the GrabCut path.
    for index in range(8):
        scene = staged_scene(_item(index), np.random.default_rng([0, index]))
        assert scene.dtype == np.uint8
        assert scene.shape[2:] == (3,)
        assert sorted(scene.shape[:2]) == [96, 128]
        assert is_scene(scene)


def test_the_conversion_finds_the_staged_item() -> None:
    # The converted scene covers about the pixels of the item it was staged from.
    overlaps = []
    for index in range(12):
        item = _item(index)
        converted = staged_image(item, seed=0, index=index)
        assert converted.shape == (28, 28)
        assert converted.dtype == np.uint8
        ours, theirs = converted > 40, item > 40
        overlaps.append((ours & theirs).sum() / (ours | theirs).sum())
    assert np.median(overlaps) > 0.8
    assert min(overlaps) > 0.5


def test_a_staged_image_depends_on_its_seed_and_index_only() -> None:
    item = _item(0)
    assert np.array_equal(staged_image(item, 0, 5), staged_image(item, 0, 5))
    assert not np.array_equal(staged_image(item, 0, 5), staged_image(item, 0, 6))
    assert not np.array_equal(staged_image(item, 0, 5), staged_image(item, 1, 5))


def test_staged_rows_keep_their_labels_and_stop_at_the_split() -> None:
    images, labels = fake_split(20, seed=3)
    train = Split(images, labels)
    rows = staged_rows(train, 5, seed=0)
    assert rows.images.shape == (5, 28, 28)
    assert rows.images.dtype == np.uint8
    assert set(rows.labels) <= set(labels)
    assert len(staged_rows(train, 50, seed=0)) == 20  # never more than the split has
    assert len(staged_rows(train, 0, seed=0)) == 0


def test_preprocess_adds_the_staged_rows_to_training_only(tmp_path: Path) -> None:
    raw, out = tmp_path / "raw", tmp_path / "out"
    write_fake_raw(raw, N_TRAIN, 100)
    plain = preprocess.run(raw, tmp_path / "plain", _dataset(), _split(0), FIELD)
    info = preprocess.run(raw, out, _dataset(), _split(12), FIELD)
    assert info["staged_photos"] == 12
    assert "staged_photos" not in plain  # a dataset without them is the one made before
    assert sum(info["counts"]["train"].values()) == sum(plain["counts"]["train"].values()) + 12
    for split in ("val", "test"):
        assert info["counts"][split] == plain["counts"][split]
    # The official rows first, as they were; then the staged copies of 12 of them.
    arrays, before = _load(out), _load(tmp_path / "plain")
    n = len(before["train_labels"])
    assert np.array_equal(arrays["train_images"][:n], before["train_images"])
    expected = staged_rows(Split(before["train_images"], before["train_labels"]), 12, SPLIT.seed)
    assert np.array_equal(arrays["train_images"][n:], expected.images)
    assert np.array_equal(arrays["train_labels"][n:], expected.labels)
    assert json.loads(processed_files(out)["dataset"].read_text())["staged_photos"] == 12


def _split(staged: int) -> PreprocessParams:
    return SPLIT.model_copy(update={"staged_photos": staged})
