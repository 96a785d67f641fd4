"""Workflow 4: the project's S3 remote (dvc-s3), against moto's S3 server on 127.0.0.1."""

import shutil
from collections.abc import Iterator

import pytest

from tests.pipeline.repo import Repo
from tests.pipeline.s3 import S3Server, s3_server

pytestmark = pytest.mark.timeout(300)

# What `dvc push` and `dvc pull` move, and what a failure must not touch.
LOCAL_STATE = ("data", "models", "metrics", "plots", ".dvc/cache")
OUTPUT_DIRS = ("data", "models", "metrics", "plots")


@pytest.fixture
def s3() -> Iterator[S3Server]:
    with s3_server() as server:
        yield server


@pytest.fixture
def pushed(repo: Repo, s3: S3Server) -> Repo:
    """A reproduced, committed project whose credentials and endpoint point at `s3`."""
    repo.dvc("repro")
    repo.commit("reproduced")
    repo.env.update(s3.env())  # credentials only from the environment...
    # ...and the endpoint in .dvc/config.local, which git ignores.
    repo.dvc("remote", "modify", "--local", "storage", "endpointurl", s3.endpoint_url)
    return repo


def test_the_committed_config_names_the_s3_remote(repo: Repo) -> None:
    config = (repo.root / ".dvc" / "config").read_text()
    assert "remote = storage" in config
    assert "url = s3://apparel-classifier-dvc/store" in config
    settings = [line for line in config.splitlines() if not line.lstrip().startswith("#")]
    assert not [line for line in settings if "access_key" in line or "secret" in line]
    listed = repo.dvc("remote", "list").stdout.split()
    assert listed == ["storage", "s3://apparel-classifier-dvc/store", "(default)"]


def test_push_then_pull_into_an_empty_cache_restores_everything(pushed: Repo) -> None:
    repo = pushed
    result = repo.dvc("push")
    assert "files pushed" in result.stdout
    expected = repo.all_lock_md5s()
    before = repo.snapshot(*OUTPUT_DIRS)

    shutil.rmtree(repo.root / ".dvc" / "cache")
    repo.delete_cached_outs()
    assert "deleted" in repo.dvc("status").stdout

    repo.dvc("pull")
    assert repo.workspace_md5s(expected) == expected
    assert repo.snapshot(*OUTPUT_DIRS) == before
    assert "Data and pipelines are up to date." in repo.dvc("status").stdout
    assert "Cache and remote 'storage' are in sync." in repo.dvc("status", "--cloud").stdout


def test_a_remote_that_is_down_fails_clearly_and_deletes_nothing(pushed: Repo) -> None:
    repo = pushed
    repo.dvc("remote", "modify", "--local", "storage", "endpointurl", "http://127.0.0.1:9")
    before = repo.snapshot(*LOCAL_STATE)

    push = repo.dvc("push", check=False)
    assert push.returncode != 0
    assert "Could not connect to the endpoint URL" in push.stderr
    pull = repo.dvc("pull", check=False)
    assert pull.returncode != 0
    assert "Could not connect to the endpoint URL" in pull.stderr
    assert repo.snapshot(*LOCAL_STATE) == before


def test_wrong_credentials_fail_clearly_and_delete_nothing(pushed: Repo) -> None:
    repo = pushed
    repo.env["AWS_SECRET_ACCESS_KEY"] = "not-the-secret"
    before = repo.snapshot(*LOCAL_STATE)

    # S3 answers 403 Forbidden (HEAD requests) or SignatureDoesNotMatch (listings),
    # depending on which request DVC happens to send first.
    for command in ("push", "pull"):
        result = repo.dvc(command, check=False)
        assert result.returncode != 0
        assert "Forbidden" in result.stderr or "SignatureDoesNotMatch" in result.stderr
        assert "Traceback" not in result.stderr
    assert repo.snapshot(*LOCAL_STATE) == before


def test_a_local_directory_remote_needs_no_cloud_account(repo: Repo) -> None:
    repo.dvc("repro")
    repo.commit("reproduced")
    store = repo.root.parent / "dvc-store"
    # --local: a personal default that overrides the team's S3 remote, kept out of git.
    repo.dvc("remote", "add", "--local", "-d", "scratch", str(store))
    expected = repo.all_lock_md5s()
    before = repo.snapshot(*OUTPUT_DIRS)
    repo.dvc("push")
    shutil.rmtree(repo.root / ".dvc" / "cache")
    repo.delete_cached_outs()
    repo.dvc("pull")
    assert repo.workspace_md5s(expected) == expected
    assert repo.snapshot(*OUTPUT_DIRS) == before
    assert repo.git("status", "--porcelain").stdout == ""  # nothing to commit: config is local


def test_credentials_in_the_local_config_instead_of_the_environment(pushed: Repo) -> None:
    repo = pushed
    s3_env = {k: repo.env.pop(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    repo.dvc("remote", "modify", "--local", "storage", "access_key_id", s3_env["AWS_ACCESS_KEY_ID"])
    repo.dvc(
        "remote",
        "modify",
        "--local",
        "storage",
        "secret_access_key",
        s3_env["AWS_SECRET_ACCESS_KEY"],
    )
    assert "files pushed" in repo.dvc("push").stdout
    # The secret went to .dvc/config.local, which git never sees.
    assert repo.git("status", "--porcelain").stdout == ""
    assert s3_env["AWS_SECRET_ACCESS_KEY"] not in (repo.root / ".dvc" / "config").read_text()
