"""The server's settings, validated once, and handed to worker processes through the environment.

uvicorn starts each worker process by importing the app factory by name, so the settings
the command line parsed travel to them as JSON in APPAREL_SERVING_CONFIG. The admin token
never goes in there: it stays in APPAREL_ADMIN_TOKEN, where the operator put it.
"""

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from apparel_classifier.paths import MODELS_DIR

CONFIG_ENV = "APPAREL_SERVING_CONFIG"
ADMIN_TOKEN_ENV = "APPAREL_ADMIN_TOKEN"

DEFAULT_MAX_UPLOAD_BYTES = 10 * 1024 * 1024  # 10 MB
DEFAULT_MAX_BATCH = 32


class ServingConfig(BaseModel):
    """Everything `python -m apparel_classifier.serving` can be told."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    prod: str = MODELS_DIR.as_posix()  # a model folder, or registry:<stage or version>
    candidate: str | None = None
    canary_share: float = Field(default=0.0, ge=0.0, le=1.0)  # of clients the candidate answers
    shadow: bool = False  # the other model answers too; its answer is logged, not returned
    registry_repo: Path = Path()
    registry_cache: Path = Path(".registry")  # where registry versions are fetched to
    # Shared by the worker processes: the serving state file (see serving.models).
    runtime_dir: Path | None = None
    log_dir: Path | None = None  # the prediction log; None: no log
    log_max_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    log_backups: int = Field(default=5, ge=0)
    log_images: bool = False  # keep each request's image bytes beside the log
    drift_window: int = Field(default=200, ge=10)
    max_upload_bytes: int = Field(default=DEFAULT_MAX_UPLOAD_BYTES, gt=0)
    max_batch: int = Field(default=DEFAULT_MAX_BATCH, gt=0)
    num_threads: int | None = Field(default=1, gt=0)  # torch threads per worker

    @model_validator(mode="after")
    def _candidate_for_its_modes(self) -> "ServingConfig":
        # Without a candidate, a canary share or shadow mode would do nothing, silently:
        # the operator meant to try a model and named none.
        if self.candidate is None and self.canary_share > 0:
            raise ValueError(
                "--canary-share needs a --candidate to answer that share of clients: add "
                "--candidate <folder or registry:stage>, or leave --canary-share out"
            )
        if self.candidate is None and self.shadow:
            raise ValueError(
                "--shadow needs a --candidate to answer in the shadow: add "
                "--candidate <folder or registry:stage>, or leave --shadow out"
            )
        return self

    def to_environment(self) -> None:
        """Put the settings where worker processes find them."""
        os.environ[CONFIG_ENV] = self.model_dump_json()

    @classmethod
    def from_environment(cls) -> "ServingConfig":
        """The settings the parent process put in the environment (defaults when none)."""
        raw = os.environ.get(CONFIG_ENV)
        return cls.model_validate_json(raw) if raw else cls()


def admin_token() -> str | None:
    """The token `POST /admin/reload` requires; None (unset or empty) disables the route."""
    return os.environ.get(ADMIN_TOKEN_ENV) or None
