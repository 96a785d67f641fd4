"""The labelling queue ranks the photos the model is least sure of first, and writes a CSV."""

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from apparel_classifier.__main__ import main
from apparel_classifier.labelling import build_queue, entropy, find_photos, margin, rank
from apparel_classifier.predictor import Predictor
from tests.images import fashion_item, product_photo
from tools.active_learning import rerank_rounds


def test_entropy_and_margin_order_rows_by_doubt() -> None:
    probs = np.array([[0.98, 0.01, 0.01], [0.34, 0.33, 0.33], [0.6, 0.39, 0.01]])
    assert entropy(probs).argmax() == 1
    assert margin(probs).argmin() == 1
    assert rank(probs, "entropy").tolist() == [1, 2, 0]
    assert rank(probs, "margin").tolist() == [1, 2, 0]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Clear items the tiny model knows, and pictures of nothing it has seen."""
    root = tmp_path / "unlabelled"
    (root / "batch-1").mkdir(parents=True)
    for k in (1, 4, 8):
        product_photo(fashion_item(k, seed=k)).save(root / f"item-{k}.png")
    rng = np.random.default_rng(0)
    for i in range(3):
        noise = rng.integers(0, 255, (96, 96), dtype=np.uint8)
        Image.fromarray(noise).save(root / "batch-1" / f"noise-{i}.png")
    (root / "notes.txt").write_text("not a photo")  # not an image suffix: ignored
    (root / "broken.jpg").write_bytes(b"\xff\xd8 truncated")
    return root


def test_the_most_uncertain_photos_come_first(predictor: Predictor, folder: Path) -> None:
    queue, skipped = build_queue(predictor, find_photos(folder))
    assert list(skipped) == [str(folder / "broken.jpg")]
    assert [e.rank for e in queue] == [1, 2, 3, 4, 5, 6]
    spreads = [e.entropy for e in queue]
    assert spreads == sorted(spreads, reverse=True)
    # The noise the model has never seen is what it doubts most.
    assert {Path(e.file).name for e in queue[:3]} == {f"noise-{i}.png" for i in range(3)}


def test_command_writes_the_csv(predictor: Predictor, folder: Path, tiny_model_dir: Path) -> None:
    out = folder.parent / "queue.csv"
    status = main(
        ["label-queue", str(folder), "--out", str(out), "--model-dir", str(tiny_model_dir)]
    )
    assert status == 0
    with out.open() as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == [
        "rank", "file", "entropy", "margin", "closest", "confidence", "uncertain",
    ]  # fmt: skip
    assert len(rows) == 6
    assert float(rows[0]["entropy"]) >= float(rows[-1]["entropy"])


def test_a_missing_folder_is_one_clear_error(
    tmp_path: Path, tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["label-queue", str(tmp_path / "none"), "--model-dir", str(tiny_model_dir)])
    assert status == 1
    assert "is not a folder of photos" in capsys.readouterr().err
    assert not (tmp_path / "labelling_queue.csv").exists()


def test_rounds_label_the_top_of_the_latest_models_queue() -> None:
    # tools.active_learning's rounds, with a stand-in model: the rows it was trained on.
    # It is least sure of row r when (r - 3 × its row count) mod 16 is largest, so every
    # round's queue differs from the seed model's (rows 15, 14, ..., 8 in one shot); and
    # least sure of all of the rows it was trained on, which a round must not label again.
    def probabilities(model: tuple[int, ...], rows: np.ndarray) -> np.ndarray:
        doubt = np.where(np.isin(rows, model), 0.49, ((rows - 3 * len(model)) % 16) / 40)
        return np.stack([1 - doubt, doubt], axis=1)  # doubt < 0.5: entropy grows with it

    trained: list[list[int]] = []

    def train_on(rows: np.ndarray) -> tuple[int, ...]:
        trained.append(rows.tolist())
        return tuple(rows.tolist())

    seed: tuple[int, ...] = ()
    scored = rerank_rounds(16, seed, train_on, probabilities, lambda model: len(model) / 100)
    assert trained == [[14, 15], [4, 5, 14, 15], [4, 5, 10, 11, 14, 15],
                       [0, 1, 4, 5, 10, 11, 14, 15]]  # fmt: skip
    assert [(name, count, score) for name, count, score, _ in scored] == [
        ("25% in re-ranked rounds of 12.5%", 4, 0.04),
        ("50% in re-ranked rounds of 12.5%", 8, 0.08),
    ]


def test_an_unwritable_out_is_one_clear_error(
    folder: Path, tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = folder.parent / "a-file"
    blocker.write_text("not a folder")
    for out, why in [(folder, "is a folder"), (blocker / "queue.csv", "cannot write")]:
        status = main(
            ["label-queue", str(folder), "--out", str(out), "--model-dir", str(tiny_model_dir)]
        )
        assert status == 1
        assert why in capsys.readouterr().err
    assert blocker.read_text() == "not a folder"
