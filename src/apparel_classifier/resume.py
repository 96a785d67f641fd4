"""The resume store of `train`: one file in .resume/, valid only for the exact run that wrote it.

DVC deletes a stage's outputs before running it, so resume state kept inside
`models/` would never survive an interruption; and a persistent output would
switch DVC's run cache off. So the state lives in `.resume/` (git- and
dvc-ignored) and carries a key: the hash of everything that determines the
weights (training params, data MD5s, code, library versions). A state whose key
differs is stale and is discarded, never resumed.
"""

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import torch

from apparel_classifier.fileio import atomic_path

log = logging.getLogger(__name__)

STATE_FILE = "train_state.pt"


def run_key(fingerprint: dict[str, Any]) -> str:
    """A stable hash of a JSON-serialisable description of the run."""
    text = json.dumps(fingerprint, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


class ResumeStore:
    """Saves and restores the state after each completed epoch, for one run key."""

    def __init__(self, directory: Path, key: str) -> None:
        self.path = directory / STATE_FILE
        self.key = key

    def load(self) -> dict[str, Any] | None:
        """The saved state of this run, or None (nothing saved, or saved by a different run)."""
        if not self.path.is_file():
            return None
        try:
            # weights_only: the file holds tensors, numbers and strings; loading it runs no code.
            state: dict[str, Any] = torch.load(self.path, map_location="cpu", weights_only=True)
        except (RuntimeError, EOFError, OSError) as exc:
            log.warning("ignoring unreadable resume state %s (%s)", self.path, exc)
            self.clear()
            return None
        if state.get("key") != self.key:
            log.info("discarding resume state of a different run (params, data or code changed)")
            self.clear()
            return None
        return state

    def save(self, state: dict[str, Any]) -> None:
        """Write the state atomically, so a kill mid-write leaves the previous epoch's state."""
        with atomic_path(self.path) as tmp:
            torch.save({**state, "key": self.key}, tmp)

    def clear(self) -> None:
        """Forget the saved state (after a completed run, or when it is stale)."""
        self.path.unlink(missing_ok=True)
