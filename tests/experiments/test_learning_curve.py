"""The learning curve (learning_curve/dvc.yaml): shares of the data, points, plots, caching."""

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest

from apparel_classifier.learning_curve import stratified_share
from apparel_classifier.stages.learning_curve import MODELS
from tests.fakes import REPO_ROOT
from tests.pipeline.repo import Repo, make_repo

PIPELINE = "learning_curve/dvc.yaml"


def test_a_share_keeps_every_label_in_proportion_and_is_seeded() -> None:
    labels = np.repeat([-1, 0, 1, 2], [40, 100, 200, 60])
    rows = stratified_share(labels, 0.25, seed=3)
    assert np.all(np.diff(rows) > 0)  # sorted, no repeats
    assert {k: int((labels[rows] == k).sum()) for k in (-1, 0, 1, 2)} == {
        -1: 10, 0: 25, 1: 50, 2: 15,
    }  # fmt: skip
    assert np.array_equal(rows, stratified_share(labels, 0.25, seed=3))
    assert not np.array_equal(rows, stratified_share(labels, 0.25, seed=4))
    assert len(stratified_share(labels, 0.001, seed=0)) == 4  # one of each label at least
    assert np.array_equal(stratified_share(labels, 1.0, seed=0), np.arange(len(labels)))


def _curve(repo: Repo, model: str) -> list[dict[str, str]]:
    with (repo.root / "learning_curve" / f"{model}.csv").open(newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.timeout(400)
def test_make_learning_curve_trains_each_share_and_draws_the_curve(tmp_path: Path) -> None:
    # batch 16: even the smallest share of the tiny data trains on a few batches.
    repo = make_repo(tmp_path, batch_size=16)
    (repo.root / "learning_curve").mkdir()
    shutil.copy2(REPO_ROOT / PIPELINE, repo.root / PIPELINE)
    repo.commit("the learning-curve pipeline")

    out = repo.dvc("repro", PIPELINE, timeout=400).stdout  # what `make learning-curve` runs
    assert "Running stage 'preprocess'" in out  # its upstream comes first
    assert "Running stage 'train'" not in out  # the default pipeline's model is not needed
    fractions = repo.params()["learning_curve"]["fractions"]
    sizes = {}
    for model in MODELS:
        rows = _curve(repo, model)
        assert [float(r["fraction"]) for r in rows] == fractions
        sizes[model] = [int(r["train_size"]) for r in rows]
        assert all(0.0 <= float(r["test_accuracy"]) <= 1.0 for r in rows)
        assert all(0.0 <= float(r["field_accuracy"]) <= 1.0 for r in rows)
    assert sizes["cnn"] == sizes["baseline"]  # the same subsets
    assert sizes["cnn"] == sorted(set(sizes["cnn"]))
    full = sizes["cnn"][-1]
    for fraction, size in zip(fractions, sizes["cnn"], strict=True):
        assert abs(size - fraction * full) <= 11  # rounding per label (11 labels at most)
    # More data helps the tiny baseline too: the full set beats a tenth of it.
    baseline = _curve(repo, "baseline")
    assert float(baseline[-1]["test_accuracy"]) > float(baseline[0]["test_accuracy"])

    plots = repo.dvc("plots", "show", "--json", "learning_curve/cnn.csv").stdout
    assert '"train_size": "' in plots
    assert "Data and pipelines are up to date." in repo.dvc("status", PIPELINE).stdout

    # A new share trains only its own two points, then redraws the curve.
    params = repo.params()
    params["learning_curve"]["fractions"] = [*fractions, 0.75]
    repo.write_params(params)
    out = repo.dvc("repro", PIPELINE, timeout=400).stdout
    ran = {line.split("'")[1] for line in out.splitlines() if line.startswith("Running stage")}
    assert ran == {
        f"{PIPELINE}:point@cnn-0.75", f"{PIPELINE}:point@baseline-0.75", f"{PIPELINE}:plot",
    }  # fmt: skip
    assert [float(r["fraction"]) for r in _curve(repo, "cnn")] == sorted([*fractions, 0.75])
