"""The predictor: every input kind gives the same answer, and every bad input a clear error."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from apparel_classifier.errors import UserError
from apparel_classifier.fashion_mnist import CLASS_NAMES
from apparel_classifier.images import (
    CorruptImageError,
    EmptyImageError,
    ImageError,
    NotAnImageError,
)
from apparel_classifier.model_card import CARD_FILE, WEIGHTS_FILE, load_model
from apparel_classifier.networks import inference_views, predict_logits
from apparel_classifier.predictor import Prediction, Predictor
from apparel_classifier.transforms import normalize
from tests.fake_models import save_tiny_model
from tests.images import clean_item, encode, fashion_item, product_photo


def test_prediction_has_category_id_confidence_and_probabilities(predictor: Predictor) -> None:
    p = predictor.predict(fashion_item(3))
    assert isinstance(p, Prediction)
    assert p.category == CLASS_NAMES[p.class_id]
    assert len(p.probabilities) == len(CLASS_NAMES)
    assert sum(p.probabilities) == pytest.approx(1.0, abs=1e-5)
    assert p.confidence == max(p.probabilities) == p.probabilities[p.class_id]
    with pytest.raises(AttributeError):
        p.category = "Bag"  # type: ignore[misc]  # frozen


def test_tiny_model_has_learned_the_fake_classes(predictor: Predictor) -> None:
    # Guards the fixture itself: the input-kind tests below compare against a meaningful answer.
    hits = [predictor.predict(fashion_item(k, seed=7)).class_id == k for k in range(10)]
    assert sum(hits) >= 8


@pytest.mark.parametrize(
    ("fmt", "mode"),
    [
        (f, m)
        for f in ("PNG", "JPEG", "WEBP")
        for m in ("RGB", "L", "RGBA")
        if (f, m) != ("JPEG", "RGBA")
    ],
)
def test_every_encoding_and_mode_gives_the_same_class(
    predictor: Predictor, tmp_path: Path, fmt: str, mode: str
) -> None:
    item = clean_item(fashion_item(5))
    # The same photo as a plain RGB array: only the encoding and the colour mode differ.
    expected = predictor.predict(np.asarray(product_photo(item, size=140))).class_id
    photo = product_photo(item, size=140, mode=mode)
    data = encode(photo, fmt)
    path = tmp_path / f"photo.{fmt.lower()}"
    path.write_bytes(data)
    for source in (path, str(path), data, photo, np.asarray(photo)):
        assert predictor.predict(source).class_id == expected, type(source)


def test_any_size_and_aspect_ratio(predictor: Predictor) -> None:
    item = clean_item(fashion_item(1))
    expected = predictor.predict(product_photo(item)).class_id
    for size in (28, 57, 300, 1000):  # smaller would blur the fake classes, bars 2 px apart
        assert predictor.predict(product_photo(item, size=size)).class_id == expected, size
    wide = Image.new("RGB", (600, 200), "white")
    wide.paste(product_photo(item, size=200), (200, 0))  # the item in the middle of a banner
    assert predictor.predict(wide).class_id == expected


def test_batch_matches_single_predictions(predictor: Predictor) -> None:
    photos = [encode(product_photo(fashion_item(k)), "PNG") for k in range(10)]
    batch = predictor.predict_batch(photos)
    singles = [predictor.predict(p) for p in photos]
    assert [b.class_id for b in batch] == [s.class_id for s in singles]
    np.testing.assert_allclose(
        [b.probabilities for b in batch], [s.probabilities for s in singles], atol=1e-5
    )
    assert predictor.predict_batch([]) == []


def test_blank_image_still_gets_an_answer(predictor: Predictor) -> None:
    p = predictor.predict(Image.new("RGB", (64, 64), "white"))
    assert 0.0 <= p.confidence <= 1.0


@pytest.mark.parametrize(
    ("source", "error", "words"),
    [
        (b"", EmptyImageError, "empty"),
        (b"hello, this is text", NotAnImageError, "not an image"),
        (
            encode(product_photo(fashion_item()), "PNG")[:200],
            CorruptImageError,
            "cannot be decoded",
        ),
        (np.zeros((28, 28), dtype=np.float32), ImageError, "uint8"),
        (np.zeros((28, 28, 2), dtype=np.uint8), ImageError, "shape"),
        (np.zeros((0, 28), dtype=np.uint8), EmptyImageError, "no pixels"),
    ],
)
def test_bad_inputs_raise_clear_errors(
    predictor: Predictor, source: object, error: type[Exception], words: str
) -> None:
    with pytest.raises(error, match=words):
        predictor.predict(source)  # type: ignore[arg-type]


def test_missing_file_names_the_path(predictor: Predictor, tmp_path: Path) -> None:
    missing = tmp_path / "nope.png"
    with pytest.raises(ImageError, match=r"nope\.png"):
        predictor.predict(missing)


def test_bad_image_in_a_batch_is_named(predictor: Predictor) -> None:
    good = encode(product_photo(fashion_item()), "PNG")
    with pytest.raises(NotAnImageError, match="image 2"):
        predictor.predict_batch([good, b"not an image"])


def test_unsupported_type_is_a_type_error(predictor: Predictor) -> None:
    with pytest.raises(TypeError, match="list"):
        predictor.predict([1, 2, 3])  # type: ignore[arg-type]


def _copy(model_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "models"
    shutil.copytree(model_dir, target)
    return target


def test_missing_model_dir_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="not found: train a model first"):
        Predictor(tmp_path / "models")


def test_missing_weights_is_a_clear_error(tiny_model_dir: Path, tmp_path: Path) -> None:
    model_dir = _copy(tiny_model_dir, tmp_path)
    (model_dir / WEIGHTS_FILE).unlink()
    with pytest.raises(UserError, match=r"model\.safetensors not found"):
        Predictor(model_dir)


def test_corrupt_weights_are_a_clear_error(tiny_model_dir: Path, tmp_path: Path) -> None:
    model_dir = _copy(tiny_model_dir, tmp_path)
    weights = model_dir / WEIGHTS_FILE
    weights.write_bytes(weights.read_bytes()[:-100])
    with pytest.raises(UserError, match="does not match its card"):
        Predictor(model_dir)


def test_corrupt_card_is_a_clear_error(tiny_model_dir: Path, tmp_path: Path) -> None:
    model_dir = _copy(tiny_model_dir, tmp_path)
    (model_dir / CARD_FILE).write_text("{not json")
    with pytest.raises(UserError, match="not a valid model card"):
        Predictor(model_dir)


def test_a_card_that_cannot_be_read_is_a_clear_error(tiny_model_dir: Path, tmp_path: Path) -> None:
    model_dir = _copy(tiny_model_dir, tmp_path)
    with pytest.raises(UserError, match="is a file: name the folder"):
        Predictor(model_dir / WEIGHTS_FILE)  # the weights file, not their folder
    (model_dir / CARD_FILE).write_bytes(b"\xff\xfe not UTF-8")
    with pytest.raises(UserError, match="not a valid model card"):
        Predictor(model_dir)


def test_a_card_whose_arguments_build_no_network_is_a_clear_error(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    model_dir = _copy(tiny_model_dir, tmp_path)
    card = json.loads((model_dir / CARD_FILE).read_text())
    card["model"]["kwargs"]["depth"] = 3  # an argument FashionCNN does not take
    (model_dir / CARD_FILE).write_text(json.dumps(card))
    with pytest.raises(UserError, match="do not build FashionCNN"):
        Predictor(model_dir)


def test_card_of_other_weights_is_a_clear_error(tiny_model_dir: Path, tmp_path: Path) -> None:
    other = save_tiny_model(tmp_path / "other", width=4)
    model_dir = _copy(tiny_model_dir, tmp_path)
    shutil.copy(tmp_path / "other" / CARD_FILE, model_dir / CARD_FILE)
    assert other.model.weights_md5 != ""
    with pytest.raises(UserError, match="does not match its card"):
        Predictor(model_dir)


def test_no_images_give_no_predictions(predictor: Predictor) -> None:
    assert predictor.predict_arrays(np.zeros((0, 28, 28), np.uint8)) == []
    assert predictor.predict_batch([]) == []


@pytest.mark.parametrize(("flip", "shift_px"), [(True, 0), (False, 1), (True, 1)])
def test_a_card_with_test_time_views_answers_with_the_mean_over_them(
    tiny_model_dir: Path, tmp_path: Path, flip: bool, shift_px: int
) -> None:
    model_dir = _copy(tiny_model_dir, tmp_path)
    card = json.loads((model_dir / CARD_FILE).read_text())
    # save_tiny_model's defaults
    assert (card["model"]["test_time_flip"], card["model"]["test_time_shift_px"]) == (False, 0)
    card["model"].update(test_time_flip=flip, test_time_shift_px=shift_px)
    (model_dir / CARD_FILE).write_text(json.dumps(card))
    images = np.stack([fashion_item(k) for k in range(len(CLASS_NAMES))])  # not mirror-symmetric

    model, loaded = load_model(model_dir)
    x = normalize(torch.from_numpy(images), **loaded.normalization)
    views = inference_views(x, flip, shift_px)
    mean = torch.stack([predict_logits(model, v, 10) for v in views]).mean(dim=0)
    expected = torch.softmax(mean / loaded.calibration.temperature, dim=1).numpy()
    answered = [p.probabilities for p in Predictor(model_dir).predict_arrays(images)]
    plain = [p.probabilities for p in Predictor(tiny_model_dir).predict_arrays(images)]
    np.testing.assert_allclose(answered, expected, atol=1e-6)
    assert not np.allclose(answered, plain, atol=1e-4)
