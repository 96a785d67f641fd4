"""The model registry in a throwaway git+DVC repository: register v1 and v2, serve prod and
candidate from it, promote v2, roll back to v1; each step visible in the server's answers."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx2
import pytest
import yaml

from apparel_classifier import registry
from apparel_classifier.errors import UserError
from apparel_classifier.model_card import load_card
from tests.fakes import REPO_ROOT
from tests.images import encode, fashion_item, product_photo
from tools.server import running_server

PNG = encode(product_photo(fashion_item(7)), "PNG")
TOKEN = "registry-test-token"


def _run(repo: Path, *cmd: str) -> str:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _commit_model(repo: Path, model_dir: Path, message: str) -> None:
    """Put `model_dir`'s files in models/, track them with DVC, commit."""
    shutil.rmtree(repo / "models", ignore_errors=True)
    shutil.copytree(model_dir, repo / "models")
    _run(repo, "dvc", "add", "-q", "models")
    _run(repo, "git", "add", "-A")
    _run(repo, "git", "commit", "-qm", message)


@pytest.fixture
def registry_repo(tmp_path: Path, tiny_model_dir: Path, second_model_dir: Path) -> Path:
    """Two committed model versions, v1.0.0 (the tiny model) and v1.1.0 (the second one)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    _run(repo, "git", "init", "-q")
    _run(repo, "git", "config", "user.email", "ci@example.com")
    _run(repo, "git", "config", "user.name", "CI")
    _run(repo, "dvc", "init", "-q")
    # The project's own artifact declaration, so the test exercises it.
    artifacts = yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text())["artifacts"]
    (repo / "dvc.yaml").write_text(yaml.safe_dump({"artifacts": artifacts}))
    _commit_model(repo, tiny_model_dir, "model v1")
    assert registry.register(repo, "v1.0.0") == "v1.0.0"
    _commit_model(repo, second_model_dir, "model v2")
    assert registry.register(repo, "v1.1.0") == "v1.1.0"
    return repo


def test_register_serve_promote_and_roll_back(
    registry_repo: Path, tiny_model_dir: Path, second_model_dir: Path
) -> None:
    repo = registry_repo
    v1_md5 = load_card(tiny_model_dir).model.weights_md5
    v2_md5 = load_card(second_model_dir).model.weights_md5
    registry.assign(repo, "v1.0.0", registry.PROD)
    registry.assign(repo, "v1.1.0", registry.CANDIDATE)
    shutil.rmtree(repo / "models")  # versions come from DVC's cache, not the workspace
    cli = [sys.executable, "-m", "apparel_classifier.registry", "--repo", str(repo)]
    rows = _run(repo, *cli, "show")
    assert "v1.0.0" in rows
    assert "prod" in rows

    cache = str(repo / ".registry")
    options = ["--candidate", "registry:candidate", "--canary-share", "1.0",
               "--registry-repo", str(repo), "--registry-cache", cache]  # fmt: skip
    env = {"APPAREL_ADMIN_TOKEN": TOKEN}
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with (
        running_server("registry:prod", *options, env=env) as url,
        httpx2.Client(base_url=url) as http,
    ):

        def answers() -> tuple[tuple[str, str], tuple[str, str]]:
            """(version, weights MD5) of prod (via /health) and of the candidate (canary 100 %)."""
            health = http.get("/health").json()
            model = http.post("/predict", files={"file": ("x.png", PNG, "image/png")}).json()
            canary = model["model"]
            return (health["version"], health["weights_md5"]), (
                canary["version"], canary["weights_md5"],
            )  # fmt: skip

        # 1-2. v1 in prod, v2 as candidate: both serve, each with its own weights.
        assert answers() == (("v1.0.0", v1_md5), ("v1.1.0", v2_md5))
        # 3. Promote v2: after the reload, prod answers with v2's weights.
        _run(repo, *cli, "promote", "v1.1.0")
        assert http.post("/admin/reload", headers=auth).status_code == 200
        assert answers()[0] == ("v1.1.0", v2_md5)
        # 4. Roll back: v1 is prod again.
        assert "v1.0.0 is in prod again" in _run(repo, *cli, "rollback")
        reloaded = http.post("/admin/reload", headers=auth).json()
        assert reloaded["prod"] == "v1.0.0"
        assert answers()[0] == ("v1.0.0", v1_md5)


def test_fetch_gets_a_versions_files_from_the_cache(
    registry_repo: Path, second_model_dir: Path, tmp_path: Path
) -> None:
    registry.assign(registry_repo, "v1.1.0", registry.CANDIDATE)
    shutil.rmtree(registry_repo / "models")
    out = tmp_path / "fetched"
    got = registry.fetch(registry_repo, "candidate", out)
    assert got.version == "v1.1.0"
    assert load_card(out).model.weights_md5 == load_card(second_model_dir).model.weights_md5
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".fetched")]  # no leftovers


def test_unknown_stages_and_versions_are_clear_errors(registry_repo: Path, tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"no version of apparel-classifier is in stage 'prod'"):
        registry.fetch(registry_repo, "prod", tmp_path / "out")
    with pytest.raises(UserError, match=r"no registered version 'v9\.9\.9'"):
        registry.resolve(registry_repo, "v9.9.9")
    with pytest.raises(UserError, match="nothing to roll back"):
        registry.rollback(registry_repo)
    registry.promote(registry_repo, "v1.0.0")
    with pytest.raises(UserError, match=r"v1\.0\.0 is the only version ever in prod"):
        registry.rollback(registry_repo)
    assert not (tmp_path / "out").exists()


def test_a_version_missing_from_cache_and_remote_is_a_clear_error(
    registry_repo: Path, tmp_path: Path
) -> None:
    shutil.rmtree(registry_repo / ".dvc" / "cache")
    with pytest.raises(UserError, match=r"cannot fetch apparel-classifier v1\.0\.0"):
        registry.fetch(registry_repo, "v1.0.0", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_fetch_refuses_a_folder_it_did_not_write(
    registry_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `--out` naming the user's own folder (or `.`) once emptied it before fetching.
    mine = tmp_path / "mine"
    (mine / "sub").mkdir(parents=True)
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(UserError, match="not a folder an earlier fetch wrote"):
        registry.fetch(registry_repo, "v1.0.0", mine)
    monkeypatch.chdir(mine)
    with pytest.raises(UserError, match="nothing was changed"):
        registry.fetch(registry_repo, "v1.0.0", Path())
    assert (mine / "notes.txt").read_text() == "keep me"
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt", "sub"]
    assert {p.name for p in tmp_path.iterdir()} == {"repo", "mine"}  # no staging folder left


def test_a_damaged_earlier_fetch_is_fetched_again(
    registry_repo: Path, tiny_model_dir: Path, second_model_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "fetched"
    registry.fetch(registry_repo, "v1.0.0", out)
    card = out / "model_card.json"
    card.write_text(card.read_text()[:40])  # truncated: the marker alone would trust it
    registry.fetch(registry_repo, "v1.0.0", out)
    assert load_card(out).model.weights_md5 == load_card(tiny_model_dir).model.weights_md5
    registry.fetch(registry_repo, "v1.1.0", out)  # another version replaces an earlier fetch
    assert load_card(out).model.weights_md5 == load_card(second_model_dir).model.weights_md5


def test_a_folder_without_a_registry_is_one_clear_error(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    cli = [sys.executable, "-m", "apparel_classifier.registry", "--repo"]
    for repo, command in [(plain, "show"), (tmp_path / "missing", "rollback")]:
        done = subprocess.run(
            [*cli, str(repo), command], capture_output=True, text=True, check=False
        )
        assert done.returncode == 1
        assert done.stderr.startswith("error: cannot read the registry in")
        assert "Traceback" not in done.stderr


def test_rollback_before_anything_is_registered_is_one_clear_error(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    _run(repo, "git", "init", "-q")
    with pytest.raises(UserError, match=r"cannot read the registry in .*apparel-classifier"):
        registry.rollback(repo)
