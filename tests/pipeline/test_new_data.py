"""Workflow 5: new labelled images under data/extra/, tracked with `dvc add`, make a new dataset."""

import json

import pytest

from tests.data.test_extra import write_photo
from tests.pipeline.repo import Repo

pytestmark = pytest.mark.timeout(300)


def test_dvc_added_class_folders_make_a_new_dataset_version(repo: Repo) -> None:
    repo.dvc("repro")
    repo.commit("dataset v1")
    processed_v1 = repo.lock_md5s("preprocess")

    # As a user would: put photos in a class folder, dvc add it, commit the .dvc file.
    for name in ("a.png", "b.png"):
        write_photo(repo.root / "data" / "extra" / "sneaker" / name)
    (repo.root / "data" / "extra" / "sneaker" / "notes.png").write_text("not an image")
    repo.dvc("add", "data/extra/sneaker")
    repo.git("add", "data/extra/sneaker.dvc", "data/extra/.gitignore")
    status = repo.dvc("status").stdout
    assert "preprocess" in status
    assert "download" not in status  # raw data untouched

    result = repo.dvc("repro")
    assert "Stage 'download' didn't change, skipping" in result.stdout
    assert "data/extra/sneaker/notes.png: not a readable image" in result.stderr
    repo.commit("dataset v2: two extra sneakers")

    processed_v2 = repo.lock_md5s("preprocess")
    changed = {path for path in processed_v1 if processed_v1[path] != processed_v2[path]}
    assert changed == {
        "data/processed/train_images.npy",
        "data/processed/train_labels.npy",
        "data/processed/dataset.json",
    }
    info = json.loads((repo.root / "data" / "processed" / "dataset.json").read_text())
    assert info["extra"]["counts"]["Sneaker"] == 2
    assert list(info["extra"]["rejected"]) == ["data/extra/sneaker/notes.png"]
    deps = {d["path"] for d in repo.lock()["stages"]["preprocess"]["deps"]}
    assert "data/extra" in deps
    assert "Data and pipelines are up to date." in repo.dvc("status").stdout

    # The new model names the new dataset, and the metrics show the effect.
    card = json.loads((repo.root / "models" / "model_card.json").read_text())
    assert card["dataset"]["processed"] == repo.train_data_md5s()
    metrics = repo.dvc("metrics", "diff", "HEAD~1").stdout
    assert "metrics/metrics.json" in metrics
    assert "HEAD~1" in metrics
