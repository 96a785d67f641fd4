"""Workflow 3: tag a version, make a new one, go back and forth with git checkout + dvc checkout."""

import json
from dataclasses import replace

import pytest

from tests.data.test_extra import write_photo
from tests.pipeline.repo import Repo

pytestmark = pytest.mark.timeout(300)


def _new_dataset_version(repo: Repo) -> None:
    """Add two extra sneakers (workflow 5) and reproduce: new processed data, new model."""
    for name in ("a.png", "b.png"):
        write_photo(repo.root / "data" / "extra" / "sneaker" / name)
    repo.dvc("add", "data/extra/sneaker")
    repo.dvc("repro")


def _assert_workspace_matches_lock(repo: Repo) -> None:
    expected = repo.all_lock_md5s()
    assert repo.workspace_md5s(expected) == expected
    assert "Data and pipelines are up to date." in repo.dvc("status").stdout
    card = json.loads((repo.root / "models" / "model_card.json").read_text())
    assert card["dataset"]["processed"] == repo.train_data_md5s()


def test_checkout_of_a_tag_restores_data_and_model_exactly(repo: Repo) -> None:
    repo.dvc("repro")
    repo.commit("v1")
    repo.git("tag", "v1")
    v1 = repo.all_lock_md5s()

    _new_dataset_version(repo)
    repo.commit("v2: two extra sneakers")
    v2 = repo.all_lock_md5s()
    assert v2 != v1

    repo.git("checkout", "-q", "v1")
    repo.dvc("checkout")
    assert repo.all_lock_md5s() == v1
    _assert_workspace_matches_lock(repo)
    assert not (repo.root / "data" / "extra" / "sneaker").exists()

    repo.git("checkout", "-q", "main")
    repo.dvc("checkout")
    assert repo.all_lock_md5s() == v2
    _assert_workspace_matches_lock(repo)


def test_rollback_without_the_objects_in_the_cache_says_to_pull(repo: Repo) -> None:
    repo.dvc("repro")
    repo.commit("v1")
    repo.git("tag", "v1")
    store = str(repo.root.parent / "dvc-store")
    repo.dvc("remote", "add", "--local", "-d", "scratch", store)
    repo.dvc("push")
    # A teammate's fresh clone: the git history is there, DVC's cache is empty.
    clone = replace(repo, root=repo.root.parent / "clone")
    repo.run("git", "clone", "-q", str(repo.root), str(clone.root))

    clone.git("checkout", "-q", "v1")
    result = clone.dvc("checkout", check=False)
    assert result.returncode != 0
    assert "data/processed/train_images.npy" in result.stderr
    assert "Is your cache up to date?" in result.stderr
    assert "https://error.dvc.org/missing-files" in result.stderr
    assert not list((clone.root / "data" / "processed").glob("*.npy"))

    # What that page says to do: fetch the objects from the remote.
    clone.dvc("remote", "add", "--local", "-d", "scratch", store)
    clone.dvc("pull")
    _assert_workspace_matches_lock(clone)


def test_dvc_install_hooks_checkout_data_with_git_checkout(repo: Repo) -> None:
    repo.dvc("install")
    repo.dvc("repro")
    repo.commit("v1")
    repo.git("tag", "v1")
    _new_dataset_version(repo)
    repo.commit("v2")

    repo.git("checkout", "-q", "v1")  # the post-checkout hook runs `dvc checkout`
    _assert_workspace_matches_lock(repo)
