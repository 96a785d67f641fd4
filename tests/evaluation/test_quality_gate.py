"""The CI quality gate passes a good model and fails a worse one, on test and field accuracy."""

import json
from pathlib import Path

import pytest

from tools import quality_gate


def _gate(tmp_path: Path, test: float, field: float) -> int:
    for name, accuracy in (("metrics.json", test), ("field.json", field)):
        (tmp_path / name).write_text(json.dumps({"accuracy": accuracy}))
    args = ["--metrics", str(tmp_path / "metrics.json")]
    return quality_gate.main([*args, "--field-metrics", str(tmp_path / "field.json")])


@pytest.mark.parametrize(("accuracy", "status"), [(0.93, 0), (0.925, 0), (0.9249, 1)])
def test_gate_compares_accuracy_with_the_target(
    tmp_path: Path, accuracy: float, status: int
) -> None:
    assert _gate(tmp_path, accuracy, 0.9) == status


@pytest.mark.parametrize(("field", "status"), [(0.85, 0), (0.78, 0), (0.7799, 1)])
def test_gate_compares_field_accuracy_with_its_target(
    tmp_path: Path, field: float, status: int, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _gate(tmp_path, 0.93, field) == status
    assert ("field accuracy" in capsys.readouterr().err) == bool(status)


def test_gate_fails_without_metrics(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert quality_gate.main(["--metrics", str(tmp_path / "missing.json")]) == 1
    assert "make run" in capsys.readouterr().err


def test_gate_says_so_when_no_field_photo_was_scored(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # evaluate writes `"accuracy": null` when data/field/validation/ held no in-catalogue photo.
    (tmp_path / "metrics.json").write_text(json.dumps({"accuracy": 0.93}))
    (tmp_path / "field.json").write_text(json.dumps({"accuracy": None, "photos": 0}))
    args = ["--metrics", str(tmp_path / "metrics.json")]
    assert quality_gate.main([*args, "--field-metrics", str(tmp_path / "field.json")]) == 1
    assert "scores no field images" in capsys.readouterr().err
