"""`make error-analysis` (error_analysis/dvc.yaml): the model first, then its report."""

import json
import shutil
from pathlib import Path

import pytest

from tests.fakes import REPO_ROOT
from tests.pipeline.repo import make_repo

PIPELINE = "error_analysis/dvc.yaml"


@pytest.mark.timeout(300)
def test_make_error_analysis_trains_when_needed_and_reports_every_mistake(tmp_path: Path) -> None:
    # A barely trained model: the network learns the fake bars perfectly in two epochs,
    # and a report of no mistakes would show nothing.
    repo = make_repo(tmp_path, epochs=1, lr=0.001)
    (repo.root / "error_analysis").mkdir()
    shutil.copy2(REPO_ROOT / PIPELINE, repo.root / PIPELINE)
    repo.commit("the error-analysis pipeline")

    out = repo.dvc("repro", PIPELINE).stdout  # what `make error-analysis` runs
    assert "Running stage 'train'" in out  # the model it analyses comes first
    assert f"Running stage '{PIPELINE}:errors'" in out
    report = json.loads((repo.root / "reports" / "error_clusters.json").read_text())
    assert sum(row["size"] for row in report["table"]) == report["mistakes"] > 0
    assert (repo.root / "reports" / "error_clusters.html").is_file()
    plots = repo.dvc("plots", "show", "--json").stdout
    assert "plots/error_clusters.png" in plots

    # A new model (another lr) makes the report out of date; the default pipeline alone
    # (`dvc repro`, `dvc exp run`) never runs it.
    params = repo.params()
    repo.write_params({**params, "lr": params["lr"] / 2})
    out = repo.dvc("repro").stdout
    assert "errors" not in out
    assert f"{PIPELINE}:errors" in repo.dvc("status", PIPELINE).stdout
