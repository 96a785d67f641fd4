"""Does the labelling queue pay? Uncertainty sampling against random picks of field photos.

Usage: python -m tools.active_learning [--fmnist 20000] [--epochs 6] [--seed 0]

Needs `make run` first (the processed Fashion-MNIST split and data/field/). It
simulates the labelling team working down the queue:

1. A seed model trains on Fashion-MNIST alone (it has seen no field photo).
2. It ranks the field train photos by entropy, as `label-queue` does.
3. Models train on Fashion-MNIST plus 25 % or 50 % of those photos, taken from the
   top of the queue, or the same number taken at random; and plus all of them.
4. The queue as a team would use it in rounds: label the top eighth of the photos,
   retrain, re-rank the rest with the new model, and so on; scored at a quarter and
   at half, the same counts as above.
5. Each is scored on the field validation photos (footwear rule, in-catalogue).

To fit several trainings into minutes on 2 cores, every model trains on a fixed
random subset of Fashion-MNIST for fewer epochs than the pipeline does (the
options); the comparison is between selections under the same budget, not an
estimate of the pipeline's own accuracy. Prints a table; changes no file.
"""

import argparse
import json
import time
from collections.abc import Callable
from typing import TypeVar

import numpy as np
import torch

from apparel_classifier import labelling, paths, training, transforms
from apparel_classifier.evaluation import field_answers, predict_proba
from apparel_classifier.fashion_mnist import CLASS_NAMES
from apparel_classifier.networks import FashionCNN
from apparel_classifier.params import load_params
from apparel_classifier.photos import load_folders
from apparel_classifier.preprocessing import field_training_split
from apparel_classifier.splits import FIELD_VAL, load_processed, processed_files

FRACTIONS = (0.25, 0.5)
# Re-ranked rounds: each labels this share of the pool, so FRACTIONS fall on round ends.
ROUND = 0.125

Row = tuple[str, int, float, float]  # selection, photos added, field accuracy, seconds
Model = TypeVar("Model")


def print_table(rows: list[Row]) -> None:
    """The comparison as a Markdown table (for the README)."""
    print("\n| field train photos | count | field val accuracy | seconds |\n|---|---:|---:|---:|")
    for name, count, accuracy, seconds in rows:
        print(f"| {name} | {count} | {accuracy:.4f} | {seconds:.0f} |")


def rerank_rounds(
    pool_size: int,
    seed_model: Model,
    train_on: Callable[[np.ndarray], Model],
    probabilities: Callable[[Model, np.ndarray], np.ndarray],
    score: Callable[[Model], float],
) -> list[Row]:
    """The queue worked in rounds: the model trained on every photo labelled so far ranks
    the rest (`probabilities` of pool rows), and the next round labels its top.

    Rounds end at each multiple of ROUND of the pool and at each of FRACTIONS; the models
    at FRACTIONS are scored, with the seconds since the previous score.
    """
    scored = {round(f * pool_size): f for f in FRACTIONS}
    ends = {round(ROUND * k * pool_size) for k in range(1, round(max(FRACTIONS) / ROUND) + 1)}
    rows: list[Row] = []
    labelled = np.zeros(0, dtype=np.int64)
    model, started = seed_model, time.perf_counter()
    for end in sorted(ends | set(scored)):
        rest = np.setdiff1d(np.arange(pool_size), labelled)
        ranked = rest[labelling.rank(probabilities(model, rest), "entropy")]
        labelled = np.concatenate([labelled, ranked[: end - len(labelled)]])
        model = train_on(np.sort(labelled))
        if end in scored:
            name = f"{scored[end]:.0%} in re-ranked rounds of {ROUND:.1%}"
            rows.append((name, end, score(model), time.perf_counter() - started))
            started = time.perf_counter()
    return rows


def parse_args() -> argparse.Namespace:
    """The command line: the Fashion-MNIST subset, the epochs and the seed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fmnist", type=int, default=20_000, help="Fashion-MNIST images used")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def main() -> None:
    """Run the comparison and print one row per selection."""
    args = parse_args()

    params = load_params()
    repeats = max(1, params.field.train_repeats)
    # The seed's Fashion-MNIST rows only: no photo of any kind, in or out of the catalogue.
    train_params = params.training.model_copy(update={"epochs": args.epochs, "device": "cpu"})
    info = json.loads(processed_files(paths.PROCESSED_DIR)["dataset"].read_text(encoding="utf-8"))
    mean, std = float(info["mean"]), float(info["std"])
    background = (0.0 - mean) / std

    # Fashion-MNIST's own training images: the processed train split before its field rows.
    train = load_processed(paths.PROCESSED_DIR, "train")
    n_official = len(train) - info["field"]["train_rows"]
    rng = np.random.default_rng(args.seed)
    pick = np.sort(rng.choice(n_official, min(args.fmnist, n_official), replace=False))
    base_x, base_y = train.images[pick], train.labels[pick]
    val = load_processed(paths.PROCESSED_DIR, "val")
    val_t = (transforms.normalize(torch.from_numpy(val.images), mean, std),
             torch.from_numpy(val.labels.astype(np.int64)))  # fmt: skip

    folders = list(params.field.categories)
    pool = field_training_split(
        load_folders(paths.FIELD_DIR / paths.FIELD_SPLITS["train"], folders),
        params.field.model_copy(update={"train_repeats": 1, "outside_repeats": 0}),
        params.preprocess.seed,
    )
    field_val = load_processed(paths.PROCESSED_DIR, FIELD_VAL)
    print(f"Fashion-MNIST subset {len(base_y)}, field pool {len(pool)}, "
          f"field val {len(field_val)}, {args.epochs} epochs, photos ×{repeats}")  # fmt: skip

    def train_on(extra: np.ndarray) -> FashionCNN:
        x = np.concatenate([base_x, *[pool.images[extra]] * repeats])
        y = np.concatenate([base_y, *[pool.labels[extra]] * repeats]).astype(np.int64)
        training.make_deterministic(args.seed)
        model = training.build_network(params)
        data = (transforms.normalize(torch.from_numpy(x), mean, std), torch.from_numpy(y))
        result = training.fit(model, data, val_t, train_params, background)
        model.load_state_dict(result.best_state)
        return model.eval()

    def probabilities(model: FashionCNN, images: np.ndarray) -> np.ndarray:
        x = transforms.normalize(torch.from_numpy(images), mean, std)
        return predict_proba(model, x, params.evaluate.batch_size)

    def probabilities_of_pool(model: FashionCNN, rows: np.ndarray) -> np.ndarray:
        return probabilities(model, pool.images[rows])

    def field_accuracy(model: FashionCNN) -> float:
        probs = probabilities(model, field_val.images)
        correct, in_catalogue = field_answers(
            info["field"]["classes"], field_val.labels, probs, CLASS_NAMES
        )
        return float(correct[in_catalogue].mean())

    rows: list[Row] = []
    started = time.perf_counter()
    seed_model = train_on(np.zeros(0, dtype=np.int64))
    rows.append(("none (seed model)", 0, field_accuracy(seed_model), time.perf_counter() - started))
    queue = labelling.rank(probabilities(seed_model, pool.images), "entropy")
    for fraction in FRACTIONS:
        count = round(fraction * len(pool))
        chosen = {
            f"{fraction:.0%} most uncertain": queue[:count],
            f"{fraction:.0%} at random": rng.choice(len(pool), count, replace=False),
        }
        for name, extra in chosen.items():
            started = time.perf_counter()
            accuracy = field_accuracy(train_on(np.sort(extra)))
            rows.append((name, count, accuracy, time.perf_counter() - started))
    rows += rerank_rounds(len(pool), seed_model, train_on, probabilities_of_pool, field_accuracy)
    started = time.perf_counter()
    everything = np.arange(len(pool))
    rows.append(
        ("all", len(pool), field_accuracy(train_on(everything)), time.perf_counter() - started)
    )

    print_table(rows)


if __name__ == "__main__":
    main()
