"""The CI quality gate passes a good model and fails a worse one."""

import json
from pathlib import Path

import pytest
from tools import quality_gate


@pytest.mark.parametrize(("accuracy", "status"), [(0.93, 0), (0.925, 0), (0.9249, 1)])
def test_gate_compares_accuracy_with_the_target(
    tmp_path: Path, accuracy: float, status: int
) -> None:
    metrics = tmp_path / "metrics.json"
    metrics.write_text(json.dumps({"accuracy": accuracy}))
    assert quality_gate.main(["--metrics", str(metrics)]) == status


def test_gate_fails_without_metrics(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert quality_gate.main(["--metrics", str(tmp_path / "missing.json")]) == 1
    assert "make run" in capsys.readouterr().err
