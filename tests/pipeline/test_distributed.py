"""Data-parallel training: with `processes: 2`, `dvc repro` trains through torchrun on gloo."""

import csv
import json
import subprocess
from pathlib import Path

import pytest

from apparel_classifier.model_card import CARD_FILE
from tests.pipeline.repo import Repo, make_repo
from tools.server import free_port

pytestmark = pytest.mark.timeout(300)

EPOCHS = 4
# Each process normalises its half of a batch with that half's own BatchNorm statistics,
# as in any DDP run on CPUs (SyncBatchNorm needs GPUs), so the curves are close, not equal.
# Measured on this tiny data: at most 0.039 apart per epoch, where one process with the
# shard's batch (16) ends up 0.56 away: the tolerance tells the two apart.
LOSS_TOLERANCE = 0.1


def train_losses(repo: Repo) -> list[float]:
    """The per-epoch training loss that DVCLive logged (rank 0 alone logs)."""
    tsv = repo.root / "metrics/train/plots/metrics/train/loss.tsv"
    with tsv.open(newline="") as f:
        return [float(row["loss"]) for row in csv.DictReader(f, delimiter="\t")]


def test_two_processes_train_like_one_with_the_same_global_batch(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, epochs=EPOCHS, batch_size=32)
    repo.dvc("repro", "train")
    alone = train_losses(repo)

    params = repo.params()
    params["processes"] = 2  # two shards of 16 per global batch of 32
    repo.write_params(params)
    repo.dvc("repro", "train")

    card = json.loads((repo.root / "models" / CARD_FILE).read_text())
    assert card["training"]["processes"] == 2, "the stage did not train in two processes"
    assert card["params"]["processes"] == 2
    together = train_losses(repo)
    assert len(together) == EPOCHS, "only rank 0 logs, once per epoch"
    assert together == pytest.approx(alone, abs=LOSS_TOLERANCE)
    assert together[-1] < together[0], "training did not learn"
    runs = (repo.root / "logs/train_runs.jsonl").read_text().splitlines()
    assert len(runs) == 2, "only rank 0 appends to the run log"


def test_a_batch_that_does_not_split_over_the_processes_is_refused(repo: Repo) -> None:
    params = repo.params()
    params.update(processes=3, batch_size=32)
    repo.write_params(params)
    result = repo.dvc("repro", "train", check=False)
    assert result.returncode != 0
    assert "batch_size 32 must be a multiple of processes 3" in result.stderr
    assert "Traceback" not in result.stderr


def outer_torchrun(repo: Repo, check: bool = True) -> subprocess.CompletedProcess[str]:
    """The README's several-nodes command, as one node of two processes on this machine."""
    return repo.run(
        "torchrun", "--nnodes", "1", "--nproc-per-node", "2", "--node-rank", "0",
        "--master-addr", "127.0.0.1", "--master-port", str(free_port()),
        "-m", "apparel_classifier.stages.train",
        check=check,
    )  # fmt: skip


def test_an_outer_torchrun_is_joined_and_dvc_commit_records_its_model(repo: Repo) -> None:
    repo.write_params({**repo.params(), "processes": 2})  # nnodes × nproc-per-node
    repo.dvc("repro", "preprocess")
    outer_torchrun(repo)
    card = json.loads((repo.root / "models" / CARD_FILE).read_text())
    assert card["training"]["processes"] == 2

    repo.dvc("commit", "--force", "train")
    assert repo.lock_md5s("train")["models"]
    status = repo.dvc("status", "train").stdout
    assert "up to date" in status, status


def test_an_outer_torchrun_of_another_size_than_processes_is_refused(repo: Repo) -> None:
    repo.dvc("repro", "preprocess")  # params.yaml says processes: 1
    result = outer_torchrun(repo, check=False)
    assert result.returncode != 0
    assert "2 training processes were started, but params.yaml says processes: 1" in result.stderr
    assert not (repo.root / "models").exists()


def test_a_failing_worker_ends_in_one_clear_error(repo: Repo) -> None:
    repo.write_params({**repo.params(), "processes": 2})
    repo.dvc("repro", "preprocess")
    (repo.root / "data" / "processed" / "train_images.npy").unlink()  # as if never made
    result = repo.run("python", "-m", "apparel_classifier.stages.train", check=False)
    assert result.returncode == 1
    assert "train_images.npy" in result.stderr
    assert "error: training failed in 2 of 2 processes" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (repo.root / "models").exists()
