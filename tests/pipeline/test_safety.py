"""Workflow 6: what git and DVC must never pick up, and the opt-in git hooks."""

import subprocess

import pytest

from tests.fakes import REPO_ROOT

IGNORED_BY_GIT = [
    ".venv/bin/python",
    ".dvc/cache/files/md5/00/0123",
    ".dvc/config.local",
    ".dvc/tmp/exps/run",
    ".mypy_cache/x.json",
    ".pytest_cache/v/x",
    "src/apparel_classifier/__pycache__/x.pyc",
    "dvc_plots/index.html",
    "data/raw/train-images-idx3-ubyte.gz",
    "data/processed/train_images.npy",
    "models/model.safetensors",
    "logs/train_runs.jsonl",
]
KEPT_IN_GIT = ["data/extra/README.md", "data/extra/sneaker.dvc", "dvc.lock", "params.yaml"]


def _git_ignored(path: str) -> bool:
    # --no-index: judge by the ignore rules alone, whether or not the path is tracked.
    proc = subprocess.run(
        ["git", "check-ignore", "-q", "--no-index", path], cwd=REPO_ROOT, check=False
    )
    return proc.returncode == 0


@pytest.mark.parametrize("path", IGNORED_BY_GIT)
def test_git_ignores_venv_caches_outputs_and_renders(path: str) -> None:
    assert _git_ignored(path)


@pytest.mark.parametrize("path", KEPT_IN_GIT)
def test_git_keeps_what_describes_a_version(path: str) -> None:
    assert not _git_ignored(path)


def test_data_extra_is_not_ignored_as_a_whole() -> None:
    # DVC collects data/extra/*.dvc only if its own matcher does not see data/extra/
    # as ignored; a pattern such as /data/extra/*/ made it do so.
    from dvc.repo import Repo as DvcRepo

    scm = DvcRepo(str(REPO_ROOT)).scm
    assert not scm.is_ignored(f"{REPO_ROOT}/data/extra/")
    assert not scm.is_ignored(f"{REPO_ROOT}/data/extra/sneaker.dvc")


def test_dvc_skips_the_venv_caches_and_renders() -> None:
    ignore = (REPO_ROOT / ".dvcignore").read_text().split()
    for entry in (".venv/", ".mypy_cache/", ".pytest_cache/", "dvc_plots/"):
        assert entry in ignore


def test_make_hooks_runs_dvc_install() -> None:
    dry_run = subprocess.run(
        ["make", "-n", "hooks"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert ".venv/bin/dvc install" in dry_run.stdout
