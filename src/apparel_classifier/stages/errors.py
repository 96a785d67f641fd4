"""Stage `errors`: cluster the test mistakes by what the network saw; write the cluster report."""

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from apparel_classifier import paths
from apparel_classifier.error_analysis import (
    cluster_embeddings,
    cluster_table,
    describe,
    embed,
    html_report,
    stacked,
)
from apparel_classifier.errors import run_stage
from apparel_classifier.evaluation import mistakes_grid, network_view, predicted_caption
from apparel_classifier.fileio import atomic_path, write_json
from apparel_classifier.model_card import check_dataset, load_model
from apparel_classifier.params import ErrorsParams, load_params
from apparel_classifier.splits import load_processed
from apparel_classifier.transforms import normalize

log = logging.getLogger(__name__)

GRID_FILE = "error_clusters.png"  # in plots/: every cluster's grid, for `dvc plots show`
REPORT_FILE = "error_clusters.html"  # in reports/: the same, with the counts, one file
TABLE_FILE = "error_clusters.json"  # in reports/: sizes, class counts, member indices
_COLUMNS = 10  # tiles per grid row


def run(
    processed_dir: Path,
    model_dir: Path,
    plots_dir: Path,
    reports_dir: Path,
    params: ErrorsParams,
) -> dict[str, Any]:
    """Embed and cluster the mistakes of `model_dir` on the test split; write the report.

    Writes the grids to `plots_dir`, the HTML report and the JSON table to
    `reports_dir`, and returns the table's contents.
    """
    check_dataset(model_dir, processed_dir)
    model, card = load_model(model_dir)
    norm, classes = card.normalization, card.classes
    test = load_processed(processed_dir, "test")
    x = normalize(torch.from_numpy(test.images), norm["mean"], norm["std"])
    # The plain network's mistakes, each with one embedding: with the card's test-time views
    # the served answers average several views, and differ from these on some images.
    features, probs = embed(model, x, params.batch_size, card.calibration.temperature)
    wrong = np.flatnonzero(probs.argmax(axis=1) != test.labels)
    clusters = cluster_embeddings(features[wrong], params)
    rows = cluster_table(clusters, wrong, test.labels[wrong], probs[wrong], classes)

    grids = []
    for row in rows:
        shown = row["members"][: params.members_shown]  # the most typical members
        grids.append(mistakes_grid(
            [network_view(test.images[i]) for i in shown],
            [(classes[test.labels[i]], predicted_caption(probs[i], classes)) for i in shown],
            columns=_COLUMNS,
        ))  # fmt: skip
    summary = {
        "test_images": len(test),
        "mistakes": len(wrong),
        "clusters": clusters.count,
        "unclustered": int((clusters.labels < 0).sum()),
        "method": (
            f"{params.cluster_selection} selection, min_cluster_size {params.min_cluster_size}, "
            f"min_samples {params.min_samples}, {params.pca_components or 'all'} components"
        ),
    }
    result = {**summary, "table": rows}

    # Written together at the end: a failure above leaves the previous outputs whole.
    sheet = stacked([(describe(row), grid) for row, grid in zip(rows, grids, strict=True)])
    _write_png(plots_dir / GRID_FILE, sheet)
    with atomic_path(reports_dir / REPORT_FILE) as tmp:
        tmp.write_text(html_report(summary, rows, grids), encoding="utf-8")
    write_json(reports_dir / TABLE_FILE, result)
    return result


def _write_png(path: Path, image: Image.Image) -> None:
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG")


def main() -> None:
    """Entry point for `dvc repro errors`."""
    params = load_params()
    result = run(
        paths.PROCESSED_DIR, paths.MODELS_DIR, paths.PLOTS_DIR, paths.REPORTS_DIR, params.errors
    )
    log.info(
        "errors: %d test mistakes in %d clusters, %d unclustered; largest %s",
        result["mistakes"], result["clusters"], result["unclustered"],
        describe(result["table"][0]) if result["clusters"] else "none",
    )  # fmt: skip


if __name__ == "__main__":
    run_stage(main)
