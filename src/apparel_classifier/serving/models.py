"""The models a server answers with: production, and optionally a candidate, and how they swap.

A model is named by a reference: a model folder (`models`, `/srv/models-v2`) or, with a
`registry:` prefix, a stage or version of the GTO registry (`registry:prod`,
`registry:candidate`, `registry:v1.2.0`), fetched with `dvc artifacts get` into a
local folder.

Promotion and rollback reload without a restart: `POST /admin/reload` resolves the
references again (so `registry:prod` follows the registry), loads the new models, and
only when every one loads records them in a small state file that all worker processes
watch. A failed reload (a missing or corrupt version) changes nothing: the old models
keep answering and the error says why.
"""

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from apparel_classifier.errors import UserError
from apparel_classifier.fileio import write_json
from apparel_classifier.model_card import ModelCard, load_card
from apparel_classifier.monitoring import ReferenceProfile
from apparel_classifier.predictor import Predictor

log = logging.getLogger(__name__)

REGISTRY_PREFIX = "registry:"
PROD, CANDIDATE = "prod", "candidate"


class Source(BaseModel):
    """Where one role's model came from, once resolved: enough for any worker to load it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ref: str  # as asked: a folder, or registry:<stage or version>
    version: str  # the registry version, or the weights' MD5 prefix for a plain folder
    directory: Path
    trained_at: datetime  # the registry's registration time, or the weights file's time


class ServingState(BaseModel):
    """What every worker serves; rewritten (atomically) by each successful reload."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    generation: int
    prod: Source
    candidate: Source | None


@dataclass(frozen=True)
class ServedModel:
    """A loaded model in its role."""

    role: str
    source: Source
    predictor: Predictor
    profile: ReferenceProfile | None  # None for a model trained before profiles existed

    @property
    def version(self) -> str:
        """The version responses and metrics name."""
        return self.source.version


def resolve(ref: str, registry_repo: Path, registry_cache: Path) -> Source:
    """Turn a reference into a loadable folder (fetching a registry version when needed).

    A reference that names no readable model raises UserError naming it.
    """
    try:
        if ref.startswith(REGISTRY_PREFIX):
            return _from_registry(ref, registry_repo, registry_cache)
        return _from_folder(ref)
    except (OSError, ValueError) as err:  # unreadable (UnicodeDecodeError is a ValueError)
        raise UserError(f"cannot read the model {ref!r}: {err}") from None


def _from_registry(ref: str, registry_repo: Path, registry_cache: Path) -> Source:
    # Only here: GTO and DVC are slow to import, and a server without a registry never does.
    from apparel_classifier import registry

    wanted = ref.removeprefix(REGISTRY_PREFIX)
    resolved = registry.resolve(registry_repo, wanted)
    directory = registry_cache / resolved.version
    registry.fetch(registry_repo, resolved.version, directory)
    return Source(
        ref=ref, version=resolved.version, directory=directory, trained_at=resolved.created_at,
    )  # fmt: skip


def _from_folder(ref: str) -> Source:
    directory = Path(ref)
    if directory.exists() and not directory.is_dir():
        raise UserError(
            f"{directory} is a file, not a model folder: name the folder that holds "
            "model_card.json and model.safetensors"
        )
    card = load_card(directory)  # `load` checks the weights against it
    weights = directory / card.model.weights_file
    if not weights.is_file():
        raise UserError(f"{weights} not found: run `dvc checkout` or `dvc repro`")
    return Source(
        ref=ref,
        version=folder_version(card),
        directory=directory,
        trained_at=datetime.fromtimestamp(weights.stat().st_mtime, UTC),
    )


def folder_version(card: ModelCard) -> str:
    """The version a model served from a folder reports: its weights' MD5, shortened."""
    return f"md5-{card.model.weights_md5[:8]}"


def load(role: str, source: Source, num_threads: int | None) -> ServedModel:
    """Load a resolved model; a bad folder raises UserError naming the role and reference."""
    try:
        predictor = Predictor(source.directory, num_threads=num_threads)
        profile = ReferenceProfile.load(source.directory)
    except (UserError, ValueError, OSError) as err:  # OSError: a file that cannot be read
        raise UserError(f"cannot load the {role} model {source.ref!r}: {err}") from None
    return ServedModel(role, source, predictor, profile)


class StateFile:
    """The serving state shared by all worker processes, and each process's view of it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: int | None = None  # the st_mtime_ns this process last loaded

    def write(self, state: ServingState) -> None:
        """Publish a new state (the other workers pick it up on their next request)."""
        write_json(self.path, state.model_dump(mode="json"))

    def changed(self) -> ServingState | None:
        """The state, if it changed since this process last looked (one stat otherwise)."""
        try:
            stamp = self.path.stat().st_mtime_ns
        except FileNotFoundError:
            return None
        if stamp == self._seen:
            return None
        self._seen = stamp
        return ServingState.model_validate(json.loads(self.path.read_text(encoding="utf-8")))
