"""The facts of one run that its inputs do not decide: when, where, how long, from which commit.

They are kept out of every DVC output on purpose. `models/` is hashed into
dvc.lock; a wall time or a commit hash inside it would give every reproduction
a new hash, and dvc.lock could never show that a clone rebuilt the committed
model. So they are appended to logs/train_runs.jsonl, which git ignores (a
tracked file that changes on every run would dirty every clone), one JSON line
per run, tied to its model by the weights' MD5.
"""

import json
import platform
import socket
import subprocess
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import torch


@dataclass(frozen=True)
class GitState:
    """The commit the run started from, and whether code or params had uncommitted changes."""

    commit: str | None
    dirty: bool


def cpu() -> str:
    """The CPU's model name and torch's kernel instruction set, e.g. `AMD EPYC, AVX2 kernels`."""
    try:
        info = Path("/proc/cpuinfo").read_text(encoding="utf-8")
    except OSError:  # not Linux
        info = ""
    names = [line.split(":", 1)[1].strip() for line in info.splitlines()
             if line.startswith("model name")]  # fmt: skip
    name = names[0] if names else platform.machine()
    return f"{name}, {torch.backends.cpu.get_cpu_capability()} kernels"


@dataclass(frozen=True)
class RunRecord:
    """One training run as it happened."""

    started_at: str
    finished_at: str
    wall_seconds: float
    train_seconds: float
    resumed_from_epoch: int
    host: str
    platform: str
    device: str
    threads: int
    git_commit: str | None
    git_dirty: bool
    weights_md5: str
    # The CPU and the vector instructions torch's kernels chose on it: other kernels round
    # floats otherwise, so the same inputs train other weights (README, Results).
    cpu: str = field(default_factory=cpu)


def utc_now() -> str:
    """The current time, ISO 8601 in UTC, to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def host() -> str:
    """This machine's name."""
    return socket.gethostname()


def machine() -> str:
    """The OS, its version and the processor, e.g. `Linux-6.18.44-x86_64-with-glibc2.36`."""
    return platform.platform()


def git_state(cwd: Path = Path()) -> GitState:
    """The current commit and whether the tree is dirty; commit None outside a git repository."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True
        ).stdout.strip()
        status = subprocess.run(
            # dvc.lock and the git-tracked metrics are rewritten by the pipeline itself
            # while it runs; only changes to code, params and the rest make a tree dirty.
            ["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
             ":!dvc.lock", ":!metrics"],
            cwd=cwd, capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return GitState(commit=None, dirty=False)
    return GitState(commit=commit, dirty=bool(status.strip()))


def append(log_file: Path, record: RunRecord) -> None:
    """Append one run to the JSON-lines log (one short write, so runs never interleave)."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(asdict(record), sort_keys=True) + "\n")
