"""A throwaway copy of the project in a temporary git repository, and runners for dvc and git.

The copy has the real dvc.yaml and src/, a tiny params.yaml aimed at a generated
dataset, a local directory mirror of that dataset named by FASHION_MNIST_MIRROR,
and a tiny field delivery `dvc import-url`-ed from a folder beside the project (as
the real one is from ../shared), so a whole `dvc repro` (training included) takes
seconds.
"""

import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from apparel_classifier.download import MIRROR_ENV
from apparel_classifier.fileio import md5sum
from tests.fakes import REPO_ROOT, tiny_params, write_fake_raw
from tests.images import write_fake_field

# What a clone of the project holds that the pipeline needs (data and models come from DVC).
_COPIED = ("dvc.yaml", "src", ".gitignore", ".dvcignore", "data/extra/README.md")
_GIT_ID = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@apparel.local",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@apparel.local",
}


class CommandFailedError(AssertionError):
    """A command in the test repository exited non-zero; the message holds its output."""


@dataclass
class Repo:
    """A temporary project: its root, its dataset mirror, and the environment commands run in."""

    root: Path
    mirror: Path
    md5: dict[str, str]
    field_source: Path  # the labelling team's folder that data/field is imported from
    env: dict[str, str] = field(default_factory=dict)

    def run(
        self, *cmd: str, check: bool = True, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        """Run a command in the repository; on failure (when `check`) raise with its output."""
        proc = subprocess.run(
            cmd,
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and proc.returncode != 0:
            raise CommandFailedError(
                f"`{' '.join(cmd)}` exited {proc.returncode}\n"
                f"--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
            )
        return proc

    def dvc(
        self, *args: str, check: bool = True, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        """`dvc <args>` with the venv's dvc, as a user would type it."""
        return self.run("dvc", *args, check=check, timeout=timeout)

    def git(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """`git <args>` in the repository."""
        return self.run("git", *args, check=check)

    def commit(self, message: str) -> str:
        """Stage everything git should see and commit it; return the commit hash."""
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD").stdout.strip()

    def params(self) -> dict[str, Any]:
        """params.yaml as it is now."""
        data: dict[str, Any] = yaml.safe_load((self.root / "params.yaml").read_text())
        return data

    def write_params(self, params: dict[str, Any]) -> None:
        """Replace params.yaml."""
        (self.root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))

    def lock(self) -> dict[str, Any]:
        """dvc.lock as it is now."""
        data: dict[str, Any] = yaml.safe_load((self.root / "dvc.lock").read_text())
        return data

    def lock_md5s(self, stage: str) -> dict[str, str]:
        """path -> md5 of each output of `stage`, as dvc.lock records it."""
        return {out["path"]: out["md5"] for out in self.lock()["stages"][stage]["outs"]}

    def train_data_md5s(self) -> dict[str, str]:
        """path -> md5 of each processed file `train` depends on, as dvc.lock records it.

        Exactly what a model card names: the field validation photos are not among them.
        """
        deps = self.lock()["stages"]["train"]["deps"]
        return {d["path"]: d["md5"] for d in deps if d["path"].startswith("data/processed/")}

    def all_lock_md5s(self) -> dict[str, str]:
        """path -> md5 of every file output of every stage, as dvc.lock records it."""
        outs = (out for stage in self.lock()["stages"].values() for out in stage.get("outs", []))
        return {out["path"]: out["md5"] for out in outs if not out["md5"].endswith(".dir")}

    def cached_outs(self) -> list[str]:
        """Every output DVC keeps in its cache (files and folders), i.e. not `cache: false`."""
        stages: dict[str, Any] = yaml.safe_load((self.root / "dvc.yaml").read_text())["stages"]
        paths: list[str] = []
        for stage in stages.values():
            for kind in ("outs", "metrics", "plots"):
                for entry in stage.get(kind, []):
                    path, flags = (
                        next(iter(entry.items())) if isinstance(entry, dict) else (entry, {})
                    )
                    if flags.get("cache", True):
                        paths.append(path)
        return paths

    def delete_cached_outs(self) -> None:
        """Delete the workspace copy of every cached output, as if it was never checked out."""
        for path in map(self.root.joinpath, self.cached_outs()):
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)

    def workspace_md5s(self, paths: Iterable[str]) -> dict[str, str | None]:
        """path -> md5 of the file in the workspace now (None when it is missing)."""
        return {p: md5sum(self.root / p) if (self.root / p).is_file() else None for p in paths}

    def snapshot(self, *dirs: str) -> dict[str, str]:
        """relative path -> md5 of every file under `dirs` (e.g. data, .dvc/cache)."""
        return {
            str(p.relative_to(self.root)): md5sum(p)
            for d in dirs
            for p in sorted((self.root / d).rglob("*"))
            if p.is_file()
        }


def _environment(root: Path, mirror: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DVC_", "GIT_"))}
    env.update(_GIT_ID)
    # The venv's bin first: DVC runs each stage's `python -m ...` through the shell.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    # The copy's own src/ is what the stages import, so editing it in a test takes effect.
    env["PYTHONPATH"] = str(root / "src")
    env[MIRROR_ENV] = str(mirror)
    env["DVC_NO_ANALYTICS"] = "1"
    # A wide "terminal", so that tables such as `dvc exp show` print every column.
    env["COLUMNS"] = "400"
    return env


def make_repo(tmp_path: Path, n_train: int = 200, n_test: int = 100, **overrides: Any) -> Repo:
    """Create and commit a tiny copy of the project in `tmp_path/project`; nothing is run yet."""
    root, mirror = tmp_path / "project", tmp_path / "mirror"
    md5 = write_fake_raw(mirror, n_train, n_test)
    root.mkdir()
    for name in _COPIED:
        src = REPO_ROOT / name
        if src.is_dir():
            shutil.copytree(
                src, root / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
            )
        elif src.is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, root / name)
    field_source = tmp_path / "field-photos"
    repo = Repo(root, mirror, md5, field_source, env=_environment(root, mirror))
    params = tiny_params(md5, n_train, n_test, **overrides)
    repo.write_params(params)
    write_fake_field(field_source, params["field"]["categories"])
    repo.git("init", "-q", "-b", "main")
    repo.dvc("init", "-q")
    # The project's committed DVC config (its S3 remote) comes along, as in a clone.
    if (REPO_ROOT / ".dvc" / "config").is_file():
        shutil.copy2(REPO_ROOT / ".dvc" / "config", root / ".dvc" / "config")
    # As the project imports ../shared/datasets/clothing-photos: a path relative to data/.
    repo.dvc("import-url", "../../field-photos", "data/field")
    repo.commit("tiny copy of the project")
    return repo
