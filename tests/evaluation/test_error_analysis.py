"""Error analysis: penultimate embeddings, clustering planted groups, the `errors` stage."""

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from apparel_classifier.error_analysis import (
    UNCLUSTERED,
    Clusters,
    cluster_embeddings,
    cluster_table,
    embed,
)
from apparel_classifier.evaluation import predict_proba
from apparel_classifier.fashion_mnist import CLASS_NAMES
from apparel_classifier.model_card import load_model
from apparel_classifier.networks import FashionCNN
from apparel_classifier.params import ErrorsParams
from apparel_classifier.splits import load_processed
from apparel_classifier.stages import errors, train
from apparel_classifier.transforms import normalize
from tests.tiny_pipeline import TinyProject, make_tiny_project

PARAMS = ErrorsParams(
    batch_size=64,
    pca_components=0,
    min_cluster_size=5,
    min_samples=3,
    cluster_selection="eom",
    members_shown=6,
)
SIZES = (40, 25, 15)  # planted groups, deliberately not in id order below


def _planted(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three tight groups around random non-negative directions in 64-D, plus 4 stray points.

    Each row is scaled by a random length: clustering must go by direction alone.
    """
    rng = np.random.default_rng(seed)
    centres = rng.random((len(SIZES), 64)) ** 4  # sparse-ish, non-negative, as after ReLU
    order = [1, 0, 2]  # group 1 (25 points) first in the rows, so ids must be renumbered
    rows, groups = [], []
    for g in order:
        rows.append(centres[g] + 0.01 * rng.standard_normal((SIZES[g], 64)))
        groups += [g] * SIZES[g]
    # Strays: one-hot directions, far from the centres and from each other, and fewer
    # than min_cluster_size, so that no cluster can be made of them.
    rows.append(np.eye(64)[[3, 17, 40, 61]])
    groups += [UNCLUSTERED] * 4
    x = np.concatenate(rows) * rng.uniform(0.2, 5.0, (sum(SIZES) + 4, 1))
    return x.astype(np.float32), np.array(groups)


@pytest.mark.parametrize("pca_components", [0, 8])
def test_clustering_finds_the_planted_groups_largest_first(pca_components: int) -> None:
    features, groups = _planted()
    params = PARAMS.model_copy(update={"pca_components": pca_components})
    clusters = cluster_embeddings(features, params)
    assert clusters.count == 3
    # Group g (sizes 40, 25, 15) is cluster g: renumbered by size, each group whole.
    for g, size in enumerate(SIZES):
        assert (clusters.labels[groups == g] == g).all(), g
        assert (clusters.labels == g).sum() == size
    assert (clusters.labels[groups == UNCLUSTERED] == UNCLUSTERED).all()
    assert (clusters.strength[clusters.labels == UNCLUSTERED] == 0.0).all()
    assert (clusters.strength[clusters.labels >= 0] > 0.0).all()


def test_too_few_mistakes_are_all_unclustered() -> None:
    features, _ = _planted()
    clusters = cluster_embeddings(features[:4], PARAMS)  # fewer than min_cluster_size
    assert clusters.labels.tolist() == [UNCLUSTERED] * 4
    assert clusters.count == 0
    assert cluster_embeddings(features[:0], PARAMS).count == 0


def test_cluster_table_counts_classes_and_puts_unclustered_last() -> None:
    shirt, tee, coat = (CLASS_NAMES.index(c) for c in ("Shirt", "T-shirt/top", "Coat"))
    clusters = Clusters(
        labels=np.array([0, 0, 0, UNCLUSTERED, 1, 1]),
        strength=np.array([0.5, 1.0, 1.0, 0.0, 1.0, 1.0]),
    )
    labels = np.array([shirt, shirt, tee, coat, coat, coat])
    answers = [tee, tee, shirt, shirt, shirt, shirt]
    probs = np.full((6, len(CLASS_NAMES)), 0.01)
    probs[np.arange(6), answers] = [0.9, 0.6, 0.7, 0.5, 0.8, 0.8]
    indices = np.array([10, 20, 30, 40, 50, 60])  # positions in the test split
    rows = cluster_table(clusters, indices, labels, probs, CLASS_NAMES)

    assert [r["name"] for r in rows] == ["cluster 0", "cluster 1", "unclustered"]
    assert [r["id"] for r in rows] == [0, 1, UNCLUSTERED]
    assert [r["size"] for r in rows] == [3, 2, 1]
    assert rows[0]["true"] == {"Shirt": 2, "T-shirt/top": 1}
    assert list(rows[0]["true"]) == ["Shirt", "T-shirt/top"]  # most frequent first
    assert rows[0]["predicted"] == {"T-shirt/top": 2, "Shirt": 1}
    assert rows[0]["confusions"] == {"Shirt -> T-shirt/top": 2, "T-shirt/top -> Shirt": 1}
    # Strongest members first (1.0 before 0.5), then the more confident (0.7 before 0.6).
    assert rows[0]["members"] == [30, 20, 10]
    assert rows[1]["members"] == [50, 60]  # a tie: test order
    assert rows[2] | {"members": None} == {
        "id": UNCLUSTERED, "name": "unclustered", "size": 1, "true": {"Coat": 1},
        "predicted": {"Shirt": 1}, "confusions": {"Coat -> Shirt": 1}, "members": None,
    }  # fmt: skip


def test_embeddings_are_the_input_of_the_last_linear_layer() -> None:
    torch.manual_seed(0)
    model = FashionCNN(width=4).eval()
    x = torch.randn(10, 1, 28, 28)
    features, probs = embed(model, x, batch_size=3, temperature=2.0)  # batches of 3, 3, 3, 1
    with torch.no_grad():
        expected = model.features(x).flatten(1)  # (10, 4w, 3, 3) -> (10, 36w)
    assert features.shape == (10, 36 * 4)
    np.testing.assert_allclose(features, expected.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(probs, predict_proba(model, x, 10, temperature=2.0), rtol=1e-6)
    # The hook is removed afterwards: a later forward pass captures nothing.
    assert not model.classifier[-1]._forward_pre_hooks


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> TinyProject:
    # One epoch: a model that still makes mistakes for the report to cluster.
    project = make_tiny_project(tmp_path_factory.mktemp("tiny"), epochs=1)
    train.run(project.processed, project.models(), None, project.params, project.params.dataset)
    return project


def _test_mistakes(project: TinyProject) -> set[int]:
    """The model's wrong answers on the test split, found without the stage's code."""
    model, card = load_model(project.models())
    test, norm = load_processed(project.processed, "test"), card.normalization
    x = normalize(torch.from_numpy(test.images), norm["mean"], norm["std"])
    predicted = predict_proba(model, x, 100).argmax(axis=1)
    return {int(i) for i in np.flatnonzero(predicted != test.labels)}


def test_errors_stage_reports_every_mistake_once(trained: TinyProject, tmp_path: Path) -> None:
    params = PARAMS.model_copy(update={"min_cluster_size": 3, "min_samples": 2})
    result = errors.run(
        trained.processed, trained.models(), tmp_path / "plots", tmp_path / "reports", params
    )
    mistakes = _test_mistakes(trained)
    assert len(mistakes) > 0, "the tiny model made no mistakes: nothing was tested"

    table = json.loads((tmp_path / "reports" / errors.TABLE_FILE).read_text())
    assert table == result
    assert table["test_images"] == 100
    assert table["mistakes"] == len(mistakes)
    rows = table["table"]
    assert sum(r["size"] for r in rows) == len(mistakes)
    assert [m for r in rows for m in r["members"]] != []
    assert sorted(m for r in rows for m in r["members"]) == sorted(mistakes)
    for row in rows:
        assert sum(row["true"].values()) == sum(row["predicted"].values()) == row["size"]
        assert set(row["true"]) | set(row["predicted"]) <= set(CLASS_NAMES)
    sizes = [r["size"] for r in rows if r["id"] != UNCLUSTERED]
    assert sizes == sorted(sizes, reverse=True)
    assert table["clusters"] == len(sizes)
    assert table["unclustered"] == len(mistakes) - sum(sizes)

    page = (tmp_path / "reports" / errors.REPORT_FILE).read_text()
    assert page.startswith("<!doctype html>")
    assert len(re.findall(r"src='data:image/png;base64,", page)) == len(rows)  # self-contained
    assert f"{len(mistakes)} mistakes on 100 test images" in page
    grid = Image.open(tmp_path / "plots" / errors.GRID_FILE)
    assert grid.format == "PNG"
    assert grid.height > 100 * len(rows)  # one section (heading and tiles) per cluster
