"""Workflows 1 and 2: experiments, the run cache, the queue, promotion and comparison."""

import csv
import io
import time
from pathlib import Path

import pytest

from apparel_classifier.fileio import md5sum
from tests.pipeline.repo import Repo, make_repo

pytestmark = pytest.mark.timeout(480)

WEIGHTS = "models/model.safetensors"


@pytest.fixture
def trained(tmp_path: Path) -> Repo:
    # More epochs than the other pipeline tests, so that training clearly
    # dominates DVC's own overhead when the run cache is put to the test.
    repo = make_repo(tmp_path, epochs=8, lr=0.05)
    repo.dvc("repro")
    repo.commit("baseline: lr=0.05")
    repo.git("tag", "baseline")
    return repo


def _experiments(repo: Repo) -> dict[str, dict[str, str]]:
    """`dvc exp show --csv` as experiment name -> column -> value (named experiments only)."""
    rows = csv.DictReader(io.StringIO(repo.dvc("exp", "show", "--csv").stdout))
    return {row["Experiment"]: row for row in rows if row["Experiment"]}


def _timed_exp_run(repo: Repo, *args: str) -> tuple[str, float]:
    start = time.perf_counter()
    result = repo.dvc("exp", "run", *args)
    return result.stdout, time.perf_counter() - start


def test_experiment_promotion_run_cache_and_comparison(trained: Repo) -> None:
    repo = trained
    baseline_weights = md5sum(repo.root / WEIGHTS)

    # 1. An experiment re-runs train and evaluate only.
    out, first = _timed_exp_run(repo, "-n", "lr-0.01", "-S", "lr=0.01")
    assert "Stage 'download' didn't change, skipping" in out
    assert "Stage 'preprocess' didn't change, skipping" in out
    assert "Running stage 'train'" in out
    assert "Running stage 'evaluate'" in out
    experiment_weights = md5sum(repo.root / WEIGHTS)
    assert experiment_weights != baseline_weights

    # "params.yaml:lr": DVCLive also logs a metric named lr, so DVC qualifies the column.
    assert _experiments(repo)["lr-0.01"]["params.yaml:lr"] == "0.01"

    # 2. Promote it: apply it to the workspace and commit it.
    repo.dvc("exp", "apply", "lr-0.01")
    repo.commit("Promote experiment lr-0.01")
    repo.git("tag", "promoted")
    assert repo.params()["lr"] == 0.01
    assert md5sum(repo.root / WEIGHTS) == experiment_weights
    assert "Data and pipelines are up to date." in repo.dvc("status").stdout

    # 3. Going back to params that already ran (the baseline's): restored from
    # the run cache instead of retrained, with the very same weights.
    out, again = _timed_exp_run(repo, "-n", "back-to-0.05", "-S", "lr=0.05")
    assert "Stage 'train' is cached - skipping run, checking out outputs" in out
    assert md5sum(repo.root / WEIGHTS) == baseline_weights
    assert again < 0.6 * first, f"run cache took {again:.1f}s, training took {first:.1f}s"

    # 4. Compare: between commits...
    metrics = repo.dvc("metrics", "diff", "baseline", "promoted").stdout
    assert "metrics/metrics.json" in metrics
    params = repo.dvc("params", "diff", "baseline", "promoted").stdout
    assert "lr" in params
    assert "0.05" in params
    assert "0.01" in params
    # ...and between the workspace (now holding back-to-0.05) and an experiment.
    params = repo.dvc("params", "diff", "lr-0.01").stdout
    assert "0.05" in params
    assert "0.01" in params
    metrics = repo.dvc("metrics", "diff", "lr-0.01").stdout
    assert "metrics/metrics.json" in metrics

    # 5. One HTML report with both revisions' curves and confusion matrices.
    repo.dvc("plots", "diff", "baseline", "promoted")
    html = (repo.root / "dvc_plots" / "index.html").read_text()
    assert "baseline" in html
    assert "promoted" in html


def test_a_grid_through_the_queue(trained: Repo) -> None:
    repo = trained
    queued = repo.dvc("exp", "run", "--queue", "-S", "lr=0.001,0.003,0.01").stdout
    assert queued.count("Queued experiment") == 3
    try:
        repo.dvc("queue", "start", "-j", "2")
        deadline = time.monotonic() + 400
        while time.monotonic() < deadline:
            status = repo.dvc("queue", "status").stdout
            if "Queued" not in status and "Running" not in status:
                break
            time.sleep(2)
        assert status.count("Success") == 3, status
    finally:
        repo.dvc("queue", "stop", "--kill", check=False)
    experiments = _experiments(repo).values()
    assert sorted(row["params.yaml:lr"] for row in experiments) == ["0.001", "0.003", "0.01"]
    assert all(row["metrics/metrics.json:accuracy"] for row in experiments)
