"""Field photos in `preprocess`: train photos join training, validation photos never do."""

from pathlib import Path

import numpy as np

from apparel_classifier.fashion_mnist import CLASS_NAMES, OUTSIDE
from apparel_classifier.params import load_params, parse_params
from apparel_classifier.photos import LabelledPhotos
from apparel_classifier.preprocessing import field_training_split, hold_out_for_calibration
from apparel_classifier.stages import preprocess
from tests.fakes import tiny_params, write_fake_raw
from tests.images import write_fake_field


def _run(tmp_path: Path, out: str) -> dict:
    params = parse_params(tiny_params(write_fake_raw(tmp_path / "raw")))
    return preprocess.run(
        tmp_path / "raw",
        tmp_path / out,
        params.dataset,
        params.preprocess,
        params.field,
        field_dir=tmp_path / "field",
    )


def test_field_train_photos_join_training_as_their_folders_first_class(tmp_path: Path) -> None:
    params = parse_params(tiny_params(write_fake_raw(tmp_path / "raw")))
    categories = params.field.categories
    write_fake_field(tmp_path / "field", categories, train=3, validation=2)
    plain = preprocess.run(
        tmp_path / "raw", tmp_path / "a", params.dataset, params.preprocess, params.field
    )
    info = _run(tmp_path, "b")

    with_class = [f for f, classes in categories.items() if classes]
    outside = len(categories) - len(with_class)  # hats, shorts, skirts
    field = params.field
    assert info["field"]["outside_rows"] == 3 * outside * field.outside_repeats
    assert info["field"]["train_rows"] == 3 * (
        len(with_class) * field.train_repeats + outside * field.outside_repeats
    )
    added = sum(info["counts"]["train"].values()) - sum(plain["counts"]["train"].values())
    assert added == 3 * len(with_class) * field.train_repeats  # class counts leave OUTSIDE out
    labels = np.load(tmp_path / "b" / "train_labels.npy")[-info["field"]["train_rows"] :]
    expected = sorted(CLASS_NAMES.index(categories[f][0]) for f in with_class)
    assert sorted(set(labels.tolist()) - {OUTSIDE}) == expected
    assert CLASS_NAMES.index("Sneaker") in labels  # shoes train as their first class
    assert (labels == OUTSIDE).sum() == info["field"]["outside_rows"]
    assert info["field"]["counts"]["validation"] == dict.fromkeys(categories, 2)
    assert len(np.load(tmp_path / "b" / "field_val_labels.npy")) == 2 * len(categories)


def test_validation_photos_never_reach_the_training_split(tmp_path: Path) -> None:
    categories = parse_params(tiny_params(write_fake_raw(tmp_path / "raw"))).field.categories
    write_fake_field(tmp_path / "field", categories, train=2, validation=1)
    _run(tmp_path, "before")
    write_fake_field(tmp_path / "field", categories, train=0, validation=3, seed=4)
    info = _run(tmp_path, "after")

    for name in ("train_images.npy", "train_labels.npy"):
        before = (tmp_path / "before" / name).read_bytes()
        assert (tmp_path / "after" / name).read_bytes() == before, name
    assert info["field"]["counts"]["validation"] == dict.fromkeys(categories, 4)
    field_val = (tmp_path / d / "field_val_labels.npy" for d in ("before", "after"))
    assert [len(np.load(f)) for f in field_val] == [len(categories), 4 * len(categories)]


def test_a_share_of_the_field_train_photos_is_held_out_for_calibration(tmp_path: Path) -> None:
    params = parse_params(tiny_params(write_fake_raw(tmp_path / "raw")))
    categories = params.field.categories
    write_fake_field(tmp_path / "field", categories, train=10, validation=1)
    field = params.field.model_copy(update={"calibration_share": 0.2})
    run = preprocess.run  # the same call twice: the held-out photos are drawn with the seed
    args = (tmp_path / "raw", params.dataset, params.preprocess, field)
    infos = [run(args[0], tmp_path / d, *args[1:], field_dir=tmp_path / "field") for d in "ab"]
    info = infos[0]["field"]

    held, trained = info["counts"]["calibration"], info["counts"]["train"]
    assert all(held[f] + trained[f] == 10 for f in categories)  # each photo on one side
    assert 0 < sum(held.values()) < 10 * len(categories) / 2  # about a fifth of the 100
    # Each folder's right classes, in the order of `folders` (which the labels index).
    assert info["classes"] == [categories[f] for f in info["folders"]]
    outside = sum(trained[f] for f, classes in categories.items() if not classes)
    assert info["train_rows"] == (
        (sum(trained.values()) - outside) * field.train_repeats + outside * field.outside_repeats
    )
    images = np.load(tmp_path / "a" / "field_cal_images.npy")
    assert len(images) == len(info["calibration_files"]) == sum(held.values())
    assert infos[1]["field"]["calibration_files"] == info["calibration_files"]
    labels = np.load(tmp_path / "a" / "field_cal_labels.npy")  # folder indices, as field_val's
    assert np.bincount(labels, minlength=len(categories)).tolist() == [
        held[f] for f in info["folders"]
    ]


def _photos(count: int) -> LabelledPhotos:
    """`count` photos of the first folder: a light block on black, as converted photos are."""
    images = np.zeros((count, 28, 28), dtype=np.uint8)
    images[:, 4:24, 8:20] = np.arange(1, count + 1, dtype=np.uint8)[:, None, None] * 20
    return LabelledPhotos(images, np.zeros(count, dtype=np.int64), [], {})


def _delivered(folder: Path, names: range) -> LabelledPhotos:
    """Photo files `<folder>/<n>.jpg` of distinct bytes (the draw reads bytes, not pixels)."""
    folder.mkdir(parents=True, exist_ok=True)
    for n in names:
        (folder / f"{n}.jpg").write_bytes(f"photo {n}".encode())
    files = [str(folder / f"{n}.jpg") for n in names]
    images = np.asarray(names, dtype=np.uint8)[:, None, None] * np.ones((1, 28, 28), np.uint8)
    return LabelledPhotos(images, np.zeros(len(files), np.int64), files, {})


def test_the_held_out_photos_are_drawn_photo_by_photo_and_never_trained(tmp_path: Path) -> None:
    photos = _delivered(tmp_path / "dress", range(200))
    trained, held = hold_out_for_calibration(photos, 0.25, seed=0)

    assert 30 < len(held) < 70  # a quarter of 200, give or take the draw
    assert sorted(trained.files + held.files) == sorted(photos.files)
    assert not set(trained.images[:, 0, 0]) & set(held.images[:, 0, 0])
    assert trained.files == sorted(trained.files, key=photos.files.index)  # order kept
    assert hold_out_for_calibration(photos, 0.25, seed=0)[1].files == held.files
    assert hold_out_for_calibration(photos, 0.25, seed=1)[1].files != held.files

    # A new delivery: 50 more photos, one of them an old photo again under a new name.
    more = _delivered(tmp_path / "dress", range(200, 250))
    twin = Path(held.files[0]).read_bytes()
    Path(more.files[-1]).write_bytes(twin)
    both = LabelledPhotos(
        np.concatenate([photos.images, more.images]),
        np.concatenate([photos.labels, more.labels]),
        photos.files + more.files,
        {},
    )
    _, held_now = hold_out_for_calibration(both, 0.25, seed=0)
    assert [f for f in held_now.files if f in photos.files] == held.files  # old sides kept
    assert more.files[-1] in held_now.files  # the same bytes, the same side


def test_repeats_after_a_photos_first_are_other_views_of_it() -> None:
    field = load_params().field.model_copy(
        update={"train_repeats": 3, "repeat_rotation_deg": 15.0, "repeat_shrink": 0.1}
    )
    photos = _photos(4)
    rows = field_training_split(photos, field, seed=0)

    assert len(rows) == 3 * len(photos)
    for photo, image in enumerate(photos.images):
        first, *later = rows.images[3 * photo : 3 * photo + 3]
        assert (first == image).all()  # the photo as converted, once
        for view in later:
            assert not (view == image).all()  # rotated and shrunk...
            assert (view > 0).sum() > 0.7 * (image > 0).sum()  # ...but the item, not cut off
            assert view.max() <= image.max()  # no brighter than the photo
    again = field_training_split(photos, field, seed=0)
    assert (again.images == rows.images).all()  # drawn with the seed: a reproducible dataset


def test_no_rotation_and_no_shrink_repeat_plain_copies() -> None:
    field = load_params().field.model_copy(
        update={"train_repeats": 2, "repeat_rotation_deg": 0.0, "repeat_shrink": 0.0}
    )
    rows = field_training_split(_photos(3), field, seed=0)

    assert (rows.images == np.repeat(_photos(3).images, 2, axis=0)).all()
