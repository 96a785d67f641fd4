"""`python -m apparel_classifier predict`: a table or JSON; a bad file does not stop the rest."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from apparel_classifier.__main__ import main
from apparel_classifier.fashion_mnist import CLASS_NAMES
from tests.images import encode, fashion_item, product_photo


@pytest.fixture
def images(tmp_path: Path) -> list[Path]:
    good = tmp_path / "boot.png"
    good.write_bytes(encode(product_photo(fashion_item(9)), "PNG"))
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    jpeg = tmp_path / "bag.jpg"
    jpeg.write_bytes(encode(product_photo(fashion_item(8)), "JPEG"))
    return [good, text, tmp_path / "missing.png", jpeg]


def test_table_has_one_line_per_file_and_errors_inline(
    tiny_model_dir: Path, images: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["predict", *map(str, images), "--model-dir", str(tiny_model_dir)])
    lines = capsys.readouterr().out.splitlines()
    assert status == 1  # some files failed
    assert lines[0].split() == ["FILE", "CATEGORY", "CONFIDENCE", "SURE"]
    assert len(lines) == 1 + len(images)
    good, text, missing, jpeg = lines[1:]
    assert any(name in good for name in CLASS_NAMES)
    assert good.endswith("%  yes")  # the tiny model's threshold is 0: always sure
    assert "error:" in text
    assert "not an image" in text
    assert "error:" in missing
    assert "cannot read the file" in missing
    assert any(name in jpeg for name in CLASS_NAMES)


def test_json_output(
    tiny_model_dir: Path, images: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    main(["predict", str(images[0]), str(images[1]), "--json", "--model-dir", str(tiny_model_dir)])
    results = json.loads(capsys.readouterr().out)
    assert [r["file"] for r in results] == [str(images[0]), str(images[1])]
    assert results[0]["category"] == CLASS_NAMES[results[0]["class_id"]]
    assert results[0]["uncertain"] is False
    assert sum(results[0]["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
    assert "not an image" in results[1]["error"]


def test_an_answer_below_the_threshold_says_not_sure(
    unsure_model_dir: Path, images: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    main(["predict", str(images[0]), "--model-dir", str(unsure_model_dir)])
    line = capsys.readouterr().out.splitlines()[1]
    assert line.endswith("no, closest match")
    assert any(name in line for name in CLASS_NAMES)  # the closest category is still named
    main(["predict", str(images[0]), "--json", "--model-dir", str(unsure_model_dir)])
    assert json.loads(capsys.readouterr().out)[0]["uncertain"] is True


def test_all_good_files_exit_zero(tiny_model_dir: Path, images: list[Path]) -> None:
    assert main(["predict", str(images[0]), "--model-dir", str(tiny_model_dir)]) == 0


def test_missing_model_is_one_clear_line(tmp_path: Path, images: list[Path]) -> None:
    # Through a real `python -m`, as a person runs it: no traceback.
    result = subprocess.run(
        [sys.executable, "-m", "apparel_classifier", "predict", str(images[0]),
         "--model-dir", str(tmp_path / "none")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.startswith("error: ")
    assert "train a model first" in result.stderr
    assert "Traceback" not in result.stderr
