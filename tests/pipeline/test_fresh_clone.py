"""Exact reproducibility: a fresh clone that runs `dvc repro` rebuilds the committed state.

A clone has git's files but an empty DVC cache, so `dvc repro` runs every stage
again. The model card holds only what the inputs decide, so the rebuilt models/
hashes the same, dvc.lock comes out byte for byte as committed, and `git status`
stays clean. Run-specific facts land in the git-ignored run log instead.
"""

import json
from pathlib import Path

import pytest
import torch

from tests.pipeline.repo import Repo

pytestmark = pytest.mark.timeout(300)


def _clone(repo: Repo, to: Path) -> Repo:
    """`git clone` of `repo`, sharing its dataset mirror; DVC's cache starts empty."""
    repo.run("git", "clone", "-q", str(repo.root), str(to))
    clone = Repo(to, repo.mirror, repo.md5, repo.field_source, env={**repo.env})
    clone.env["PYTHONPATH"] = str(to / "src")
    # The test copy's src/ is not installed; the copy's stage modules must be the clone's.
    return clone


def test_a_fresh_clone_reproduces_dvc_lock_byte_for_byte(repo: Repo, tmp_path: Path) -> None:
    # The committed lock was itself made by a `dvc repro`, so one clone that rebuilds it
    # byte for byte shows the run is a function of the committed inputs alone.
    repo.dvc("repro")
    committed = repo.commit("reproduced")
    lock = (repo.root / "dvc.lock").read_bytes()

    clone = _clone(repo, tmp_path / "clone")
    assert not (clone.root / ".dvc" / "cache").exists()
    # What `make run` does first: DVC never re-runs an import, so bring the field
    # photos back from their folder (the same delivery: data/field.dvc is unchanged).
    clone.dvc("update", "data/field.dvc")
    clone.dvc("repro")
    assert (clone.root / "dvc.lock").read_bytes() == lock
    assert clone.git("status", "--porcelain").stdout == ""

    # The run's own facts went to the run log, tied to the model by its weights' MD5.
    card = json.loads((clone.root / "models" / "model_card.json").read_text())
    runs = (clone.root / "logs" / "train_runs.jsonl").read_text().splitlines()
    assert len(runs) == 1
    run = json.loads(runs[0])
    assert run["weights_md5"] == card["model"]["weights_md5"]
    assert run["git_commit"] == committed
    assert run["git_dirty"] is False
    assert run["wall_seconds"] > 0
    # Which kernels trained it: another CPU's round floats otherwise (README, Results).
    assert run["cpu"].endswith(f", {torch.backends.cpu.get_cpu_capability()} kernels")
