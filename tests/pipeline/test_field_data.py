"""Field photos as a versioned input: a new delivery is a new dataset version, diffable."""

import json

import pytest

from tests.images import write_fake_field
from tests.pipeline.repo import Repo

pytestmark = pytest.mark.timeout(300)


def test_a_new_field_delivery_makes_a_new_dataset_version(repo: Repo) -> None:
    repo.dvc("repro")
    repo.commit("field photos v1")
    card = json.loads((repo.root / "models" / "model_card.json").read_text())
    v1 = card["dataset"]["field"]["data/field"]
    assert v1 in (repo.root / "data" / "field.dvc").read_text()

    # The labelling team drops more train photos into its folder; `dvc update` brings
    # them in as a new version of data/field (a changed data/field.dvc for git).
    write_fake_field(repo.field_source, repo.params()["field"]["categories"], 2, 0, seed=9)
    repo.dvc("update", "data/field.dvc")
    assert "data/field.dvc" in repo.git("status", "--porcelain").stdout

    run = repo.dvc("repro").stdout
    assert "Stage 'download' didn't change, skipping" in run
    for stage in ("preprocess", "train", "evaluate"):
        assert f"Running stage '{stage}'" in run, stage
    card = json.loads((repo.root / "models" / "model_card.json").read_text())
    v2 = card["dataset"]["field"]["data/field"]
    assert v2 != v1
    assert v2 in (repo.root / "data" / "field.dvc").read_text()
    info = json.loads((repo.root / "data" / "processed" / "dataset.json").read_text())
    assert info["field"]["version"] == v2

    repo.commit("field photos v2")
    diff = repo.dvc("metrics", "diff", "HEAD~1").stdout
    assert "metrics/field.json" in diff  # the field metrics, side by side with the test metrics
    assert "Data and pipelines are up to date." in repo.dvc("status").stdout
