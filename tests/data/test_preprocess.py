"""Invariants of `preprocess` outputs on a tiny generated dataset."""

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from apparel_classifier.fashion_mnist import NUM_CLASSES, RAW_FILES
from apparel_classifier.params import DatasetParams, PreprocessParams
from apparel_classifier.preprocessing import split_train_val
from apparel_classifier.schema import SchemaError, validate
from apparel_classifier.splits import Split, processed_files
from apparel_classifier.stages import preprocess
from tests.fakes import fake_split, idx_bytes, one_folder_field, write_fake_raw

N_TRAIN, N_TEST, VAL_FRACTION = 200, 100, 0.1
SPLIT = PreprocessParams(val_fraction=VAL_FRACTION, seed=42, staged_photos=0)
FIELD = one_folder_field(
    train_repeats=2, outside_repeats=2, repeat_rotation_deg=15.0, repeat_shrink=0.1
)


def _dataset(train_size: int = N_TRAIN, test_size: int = N_TEST) -> DatasetParams:
    # The stage reads only the sizes; the MD5s belong to `download`.
    md5 = {name: "0" * 32 for name in (*RAW_FILES["train"], *RAW_FILES["test"])}
    return DatasetParams(md5=md5, train_size=train_size, test_size=test_size)


def _run(raw: Path, out: Path) -> dict:
    return preprocess.run(raw, out, _dataset(), SPLIT, FIELD)


@pytest.fixture
def raw_dir(tmp_path: Path) -> Path:
    raw = tmp_path / "raw"
    write_fake_raw(raw, N_TRAIN, N_TEST)
    return raw


def _load(out: Path) -> dict[str, np.ndarray]:
    files = processed_files(out)
    return {k: np.load(p) for k, p in files.items() if p.suffix == ".npy"}


def test_dtypes_shapes_and_sizes(raw_dir: Path, tmp_path: Path) -> None:
    info = _run(raw_dir, tmp_path / "out")
    arrays = _load(tmp_path / "out")
    n_val = int(N_TRAIN * VAL_FRACTION)
    sizes = {"train": N_TRAIN - n_val, "val": n_val, "test": N_TEST}
    for split, n in sizes.items():
        assert arrays[f"{split}_images"].dtype == np.uint8
        assert arrays[f"{split}_images"].shape == (n, 28, 28)
        assert arrays[f"{split}_labels"].dtype == np.int64
        assert arrays[f"{split}_labels"].shape == (n,)
        assert 0 <= arrays[f"{split}_labels"].min() <= arrays[f"{split}_labels"].max() < 10
        assert sum(info["counts"][split].values()) == n
    on_disk = json.loads(processed_files(tmp_path / "out")["dataset"].read_text())
    assert on_disk == info
    assert 0.0 < info["mean"] < 1.0
    assert 0.0 < info["std"] < 1.0


def test_train_and_val_do_not_overlap_and_cover_the_official_train(
    raw_dir: Path, tmp_path: Path
) -> None:
    _run(raw_dir, tmp_path / "out")
    arrays = _load(tmp_path / "out")
    train = {img.tobytes() for img in arrays["train_images"]}
    val = {img.tobytes() for img in arrays["val_images"]}
    assert not train & val
    official, _ = fake_split(N_TRAIN, seed=0)
    assert train | val == {img.tobytes() for img in official}


def test_split_is_stratified(raw_dir: Path, tmp_path: Path) -> None:
    _run(raw_dir, tmp_path / "out")
    arrays = _load(tmp_path / "out")
    per_class_val = N_TRAIN * VAL_FRACTION / NUM_CLASSES
    assert np.bincount(arrays["val_labels"], minlength=10).tolist() == [per_class_val] * 10
    assert np.bincount(arrays["train_labels"], minlength=10).tolist() == [18] * 10


def test_outputs_are_byte_identical_when_run_twice(raw_dir: Path, tmp_path: Path) -> None:
    _run(raw_dir, tmp_path / "a")
    _run(raw_dir, tmp_path / "b")
    for name, path in processed_files(tmp_path / "a").items():
        assert path.read_bytes() == (tmp_path / "b" / path.name).read_bytes(), name


def test_a_different_seed_gives_a_different_split() -> None:
    images, labels = fake_split(N_TRAIN, seed=0)
    split = Split(images, labels.astype(np.int64))
    _, val_a = split_train_val(split, VAL_FRACTION, seed=1)
    _, val_b = split_train_val(split, VAL_FRACTION, seed=2)
    assert not np.array_equal(val_a.images, val_b.images)


def _write_labels(raw: Path, labels: np.ndarray) -> None:
    (raw / RAW_FILES["train"][1]).write_bytes(gzip.compress(idx_bytes(labels)))


def test_label_out_of_range_is_reported(raw_dir: Path, tmp_path: Path) -> None:
    _, labels = fake_split(N_TRAIN, seed=0)
    labels[0] = 10
    _write_labels(raw_dir, labels)
    with pytest.raises(
        SchemaError, match=r"training set: expected labels in 0–9, found labels in 0–10"
    ):
        _run(raw_dir, tmp_path / "out")
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_unbalanced_classes_are_reported(raw_dir: Path, tmp_path: Path) -> None:
    _, labels = fake_split(N_TRAIN, seed=0)
    labels[0] = 1  # one more Trouser, one T-shirt fewer
    _write_labels(raw_dir, labels)
    with pytest.raises(SchemaError, match=r"training set: expected balanced classes .*\[19, 21,"):
        _run(raw_dir, tmp_path / "out")


def test_wrong_size_is_reported(raw_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(SchemaError, match="test set: expected 90 samples, found 100"):
        preprocess.run(raw_dir, tmp_path / "out", _dataset(test_size=90), SPLIT, FIELD)


def test_wrong_image_shape_is_reported() -> None:
    split = Split(np.zeros((10, 28, 27), np.uint8), np.arange(10, dtype=np.int64))
    with pytest.raises(SchemaError, match=r"expected 28×28 images, found shape \(28, 27\)"):
        validate(split, "extra", 10)
