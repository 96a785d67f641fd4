"""Error analysis: embed mistakes with the network's penultimate layer, cluster, and report.

Mistakes that look alike to the network (its last hidden representation, the
input of the final Linear) tend to share a cause: shirts with long sleeves read
as pullovers, sandals with straps read as sneakers. Density clustering (HDBSCAN)
finds such groups without being told how many there are, and leaves the
mistakes that resemble no others "unclustered" instead of forcing them into a group.
"""

import base64
import html
import io
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont
from sklearn.cluster import HDBSCAN
from sklearn.decomposition import PCA
from torch import Tensor, nn

from apparel_classifier.evaluation import predict_proba
from apparel_classifier.params import ErrorsParams

UNCLUSTERED = -1  # HDBSCAN's label for noise: a mistake that belongs to no dense group


def penultimate_layer(model: nn.Module) -> nn.Linear:
    """The network's last Linear layer, whose input is the embedding (the classifier head)."""
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError(f"{type(model).__name__} has no Linear layer to take embeddings from")
    return linears[-1]  # modules() yields in registration order: the head comes last


def embed(
    model: nn.Module, x: Tensor, batch_size: int, temperature: float
) -> tuple[np.ndarray, np.ndarray]:
    """Penultimate activations (N, D) float32 and calibrated probabilities (N, C) of `x`.

    A forward pre-hook reads the head's input during the project's one inference
    loop (`predict_proba`), so the network's code stays untouched (it is part of
    the model's code digest) and each image passes through the network once.
    """
    captured: list[Tensor] = []
    handle = penultimate_layer(model).register_forward_pre_hook(
        lambda _module, inputs: captured.append(inputs[0].detach().flatten(1).cpu())
    )
    try:
        probs = predict_proba(model, x, batch_size, temperature=temperature)
    finally:
        handle.remove()
    return torch.cat(captured).numpy().astype(np.float32), probs


@dataclass(frozen=True)
class Clusters:
    """Per mistake: its cluster (0 is the largest; UNCLUSTERED for noise) and membership strength.

    `strength` is HDBSCAN's membership probability in [0, 1] (0 for unclustered points).
    """

    labels: np.ndarray
    strength: np.ndarray

    @property
    def count(self) -> int:
        """Number of clusters, the unclustered group not counted."""
        return int(self.labels.max()) + 1 if self.labels.size else 0


def cluster_embeddings(features: np.ndarray, params: ErrorsParams) -> Clusters:
    """Cluster embeddings (N, D) with HDBSCAN on their directions; clusters ordered by size.

    Rows are L2-normalised first: after ReLU the embedding's length mostly tracks
    contrast and size, its direction what the network recognised, and Euclidean
    distance between unit vectors is a monotone function of cosine distance.
    """
    n = len(features)
    if n < max(params.min_cluster_size, params.min_samples):
        # Too few mistakes to make even one cluster (and HDBSCAN refuses to try).
        return Clusters(np.full(n, UNCLUSTERED, np.int64), np.zeros(n))
    x = features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)
    if 0 < params.pca_components < min(x.shape):
        # Density estimates degrade in high dimensions (HDBSCAN's docs advise reducing
        # them first); the full SVD is deterministic, so the report is too.
        x = PCA(params.pca_components, svd_solver="full").fit_transform(x)
    model = HDBSCAN(
        min_cluster_size=params.min_cluster_size,
        min_samples=params.min_samples,
        cluster_selection_method=params.cluster_selection,
        copy=True,
    ).fit(x)
    raw = model.labels_
    # Renumber by size (largest first), ties by first member: stable, readable ids.
    found = [k for k in np.unique(raw) if k != UNCLUSTERED]
    order = sorted(found, key=lambda k: (-int((raw == k).sum()), int(np.argmax(raw == k))))
    labels = np.full(n, UNCLUSTERED, np.int64)
    for new, old in enumerate(order):
        labels[raw == old] = new
    return Clusters(labels, np.asarray(model.probabilities_, dtype=np.float64))


def _counts(names: Sequence[str]) -> dict[str, int]:
    return dict(sorted(Counter(names).items(), key=lambda item: (-item[1], item[0])))


def cluster_table(
    clusters: Clusters,
    indices: np.ndarray,
    labels: np.ndarray,
    probs: np.ndarray,
    class_names: Sequence[str],
) -> list[dict[str, Any]]:
    """One row per cluster (largest first, then "unclustered"): size, counts, members.

    `indices` are the mistakes' positions in the test split, `labels` (N,) and
    `probs` (N, C) their true classes and calibrated answers. `members` lists the
    test indices, the most typical first (membership strength, then confidence),
    which is the order the grids show them in.
    """
    predicted, confidence = probs.argmax(axis=1), probs.max(axis=1)
    ids = [*range(clusters.count)]
    if (clusters.labels == UNCLUSTERED).any():
        ids.append(UNCLUSTERED)
    rows = []
    for k in ids:
        rows_k = np.flatnonzero(clusters.labels == k)
        rows_k = rows_k[np.lexsort((rows_k, -confidence[rows_k], -clusters.strength[rows_k]))]
        truth = [class_names[labels[i]] for i in rows_k]
        answer = [class_names[predicted[i]] for i in rows_k]
        rows.append({
            "id": k,
            "name": "unclustered" if k == UNCLUSTERED else f"cluster {k}",
            "size": len(rows_k),
            "true": _counts(truth),
            "predicted": _counts(answer),
            "confusions": _counts([f"{t} -> {p}" for t, p in zip(truth, answer, strict=True)]),
            "members": [int(indices[i]) for i in rows_k],
        })  # fmt: skip
    return rows


def describe(row: dict[str, Any], top: int = 3) -> str:
    """`cluster 2: 31 mistakes; Ankle boot -> Sneaker 23, Sneaker -> Ankle boot 8`."""
    pairs = ", ".join(f"{pair} {n}" for pair, n in list(row["confusions"].items())[:top])
    return f"{row['name']}: {row['size']} mistakes; {pairs}"


def stacked(sections: Sequence[tuple[str, Image.Image]]) -> Image.Image:
    """Grids one under another, each below a one-line heading: the whole report as one PNG."""
    heading_h = 18
    width = max((grid.width for _, grid in sections), default=200)
    height = sum(heading_h + grid.height for _, grid in sections) or heading_h
    sheet = Image.new("RGB", (width, height), "white")
    draw, font = ImageDraw.Draw(sheet), ImageFont.load_default()
    top = 0
    for heading, grid in sections:
        draw.rectangle((0, top, width, top + heading_h - 1), fill=(225, 230, 240))
        draw.text((4, top + 3), heading, fill="black", font=font)
        sheet.paste(grid, (0, top + heading_h))
        top += heading_h + grid.height
    return sheet


def _png_data_uri(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _count_cells(counts: dict[str, int]) -> str:
    return ", ".join(f"{html.escape(name)}&nbsp;{n}" for name, n in counts.items())


def html_report(
    summary: dict[str, Any], rows: Sequence[dict[str, Any]], grids: Sequence[Image.Image]
) -> str:
    """A self-contained HTML page (PNGs inlined as data URIs): a table, then each cluster's grid."""
    table = "\n".join(
        f"<tr><td><a href='#c{r['id']}'>{html.escape(r['name'])}</a></td><td>{r['size']}</td>"
        f"<td>{_count_cells(r['true'])}</td><td>{_count_cells(r['predicted'])}</td></tr>"
        for r in rows
    )
    sections = "\n".join(
        f"<h2 id='c{r['id']}'>{html.escape(describe(r))}</h2>\n"
        f"<p>True: {_count_cells(r['true'])}<br>Predicted: {_count_cells(r['predicted'])}</p>\n"
        f"<img alt='{html.escape(r['name'])}' src='{_png_data_uri(grid)}'>"
        for r, grid in zip(rows, grids, strict=True)
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Test mistakes, clustered</title>
<style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:2px 8px;text-align:left}}
tr:nth-child(even){{background:#f2f4f8}}h2{{font-size:1.05em;margin-top:2em}}</style></head>
<body><h1>Test mistakes, clustered by the network's penultimate layer</h1>
<p>{summary["mistakes"]} mistakes on {summary["test_images"]} test images:
{summary["clusters"]} clusters, {summary["unclustered"]} unclustered
(HDBSCAN: {html.escape(summary["method"])}). Tiles: true class (T) and the answer
with its calibrated probability (P), the most typical members first.</p>
<table><tr><th>cluster</th><th>size</th><th>true classes</th><th>predicted</th></tr>
{table}</table>
{sections}
</body></html>
"""
