"""The whole pipeline through real `dvc` commands, on tiny generated data in a temporary repo."""

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.fakes import REPO_ROOT, tiny_params, write_fake_raw
from tests.tiny_pipeline import N_TEST, N_TRAIN

pytestmark = pytest.mark.pipeline


def sh(repo: Path, *args: str) -> str:
    result = subprocess.run(
        args, cwd=repo, capture_output=True, text=True, env=os.environ, check=False
    )
    assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A git + DVC repository holding the project's dvc.yaml and src/, aimed at fake raw files."""
    mirror, repo = tmp_path / "mirror", tmp_path / "repo"
    md5s = write_fake_raw(mirror, N_TRAIN, N_TEST)
    repo.mkdir()
    # data/extra/README.md: git-tracked, so in every clone; preprocess depends on data/extra.
    for name in ("dvc.yaml", ".gitignore", ".dvcignore", "data/extra/README.md"):
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO_ROOT / name, repo / name)
    # dvc.yaml's deps name files under src/; the stages' code itself is the installed package.
    shutil.copytree(
        REPO_ROOT / "src", repo / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    (repo / "params.yaml").write_text(yaml.safe_dump(tiny_params(md5s, N_TRAIN, N_TEST, epochs=3)))
    monkeypatch.setenv("FASHION_MNIST_MIRROR", str(mirror))
    # `python` in the stages' commands must be this interpreter (the project's venv).
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    sh(repo, "git", "init", "--quiet")
    sh(repo, "git", "config", "user.email", "test@apparel.local")
    sh(repo, "git", "config", "user.name", "Pipeline test")
    sh(repo, "dvc", "init", "--quiet")
    # A first commit, as in any clone (DVCLive needs a HEAD to refer to).
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "commit", "--quiet", "-m", "tiny project")
    return repo


def test_repro_trains_evaluates_and_ties_the_card_to_dvc_lock(repo: Path) -> None:
    sh(repo, "dvc", "repro")

    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    locked = {o["path"]: o["md5"] for o in lock["stages"]["preprocess"]["outs"]}
    card = json.loads((repo / "models" / "model_card.json").read_text())
    assert card["dataset"]["processed"] == locked
    raw_locked = {o["path"]: o["md5"] for o in lock["stages"]["download"]["outs"]}
    assert card["dataset"]["raw"] == raw_locked

    shown = json.loads(sh(repo, "dvc", "metrics", "show", "--json"))
    files = next(iter(shown.values()))["data"]
    assert files["metrics/metrics.json"]["data"]["accuracy"] > 0.5
    assert "accuracy" in files["metrics/baseline.json"]["data"]
    for plot in (
        "metrics/train/plots/metrics/val/loss.tsv",
        "plots/confusion.csv",
        "plots/mistakes.png",
    ):
        assert (repo / plot).is_file(), plot
    sh(repo, "dvc", "plots", "show", "--json")

    # `dvc exp run -S lr=0.01` re-runs train and evaluate only.
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "commit", "--quiet", "-m", "tiny pipeline")
    out = sh(repo, "dvc", "exp", "run", "-S", "lr=0.01")
    ran = {
        stage
        for stage in ("download", "preprocess", "train", "evaluate", "baseline")
        if f"Running stage '{stage}'" in out
    }
    assert ran == {"train", "evaluate"}, out


def test_train_killed_mid_run_resumes_to_identical_weights(repo: Path) -> None:
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["epochs"] = 40  # long enough to be interrupted part-way
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    sh(repo, "dvc", "repro", "preprocess")

    state = repo / ".resume" / "train_state.pt"
    proc = subprocess.Popen(
        ["dvc", "repro", "train"], cwd=repo, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not state.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # let it get a little way into a later epoch
    assert proc.poll() is None, "train finished before it could be interrupted"
    os.killpg(proc.pid, signal.SIGKILL)  # like a lost machine: no chance to clean up
    proc.wait()
    assert state.exists()
    assert not (repo / "models" / "model.safetensors").exists()

    out = sh(repo, "dvc", "repro", "train")
    assert "resuming after epoch" in out
    resumed = md5(repo / "models" / "model.safetensors")
    assert not state.exists()

    sh(repo, "dvc", "repro", "--force", "train")  # uninterrupted, from scratch
    assert md5(repo / "models" / "model.safetensors") == resumed
