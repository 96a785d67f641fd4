"""Train, evaluate and baseline through real `dvc` commands, on tiny data in a temporary repo."""

import json
import os
import signal
import subprocess
import time

import pytest

from apparel_classifier.fileio import md5sum
from tests.pipeline.repo import Repo

pytestmark = pytest.mark.timeout(300)

STAGES = ("download", "preprocess", "train", "evaluate", "baseline")


def test_repro_trains_evaluates_and_ties_the_card_to_dvc_lock(repo: Repo) -> None:
    repo.write_params({**repo.params(), "epochs": 3})
    repo.dvc("repro")

    card = json.loads((repo.root / "models" / "model_card.json").read_text())
    assert card["dataset"]["processed"] == repo.train_data_md5s()
    assert card["dataset"]["raw"] == repo.lock_md5s("download")

    shown = json.loads(repo.dvc("metrics", "show", "--json").stdout)
    files = next(iter(shown.values()))["data"]
    assert files["metrics/metrics.json"]["data"]["accuracy"] > 0.5
    assert "accuracy" in files["metrics/baseline.json"]["data"]
    for plot in ("metrics/train/plots/metrics/val/loss.tsv", "plots/confusion.csv"):
        assert (repo.root / plot).is_file(), plot
    assert (repo.root / "plots" / "mistakes.png").is_file()
    repo.dvc("plots", "show", "--json")

    # `dvc exp run -S lr=0.01` re-runs train and evaluate only.
    repo.commit("tiny pipeline")
    out = repo.dvc("exp", "run", "-S", "lr=0.01").stdout
    ran = {stage for stage in STAGES if f"Running stage '{stage}'" in out}
    assert ran == {"train", "evaluate"}, out


@pytest.mark.timeout(600)  # three trainings through dvc: slow on a shared 2-core machine
@pytest.mark.parametrize("processes", [1, 2], ids=["one process", "two DDP processes"])
def test_train_killed_mid_run_resumes_to_identical_weights(repo: Repo, processes: int) -> None:
    # long enough to be interrupted; with two processes, rank 0 alone saves the state
    # and every rank resumes from it
    repo.write_params({**repo.params(), "epochs": 20, "processes": processes})
    repo.dvc("repro", "preprocess")

    state = repo.root / ".resume" / "train_state.pt"
    proc = subprocess.Popen(
        ["dvc", "repro", "train"],
        cwd=repo.root,
        env=repo.env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while not state.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "train finished before it could be interrupted"
    os.killpg(proc.pid, signal.SIGKILL)  # like a lost machine: no chance to clean up
    proc.wait()
    assert state.exists()
    assert not (repo.root / "models" / "model.safetensors").exists()

    out = repo.dvc("repro", "train")
    assert "resuming after epoch" in out.stdout + out.stderr
    resumed = md5sum(repo.root / "models" / "model.safetensors")
    assert not state.exists()

    repo.dvc("repro", "--force", "train")  # uninterrupted, from scratch
    assert md5sum(repo.root / "models" / "model.safetensors") == resumed
