"""One worker process's models (prod and an optional candidate), its drift window, and reloads.

The models are loaded at startup from the configured references. A reload (the admin
route) resolves references again, loads every model, and publishes the result in the
state file; the other worker processes load it on their next request (`sync`). Requests
read `prod` and `candidate` once, so a swap in the middle of a request never mixes models.
"""

import logging
import tempfile
import threading
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from apparel_classifier.monitoring import DriftMonitor, DriftReport
from apparel_classifier.predictor import Prediction
from apparel_classifier.serving import metrics
from apparel_classifier.serving.config import ServingConfig
from apparel_classifier.serving.models import (
    CANDIDATE,
    PROD,
    ServedModel,
    ServingState,
    Source,
    StateFile,
    load,
    resolve,
)

log = logging.getLogger(__name__)

STATE_FILE = "serving_state.json"
DRIFT_EXPORT_EVERY = 20  # requests between drift verdicts exported as gauges (6-12 ms each)


class Fleet:
    """The models this process answers with, kept in step with the shared state file."""

    def __init__(self, config: ServingConfig) -> None:
        self.config = config
        runtime = config.runtime_dir
        self._own_runtime: tempfile.TemporaryDirectory[str] | None = None
        if runtime is None:
            # An app built in this process alone (tests, benchmarks): its state file need not
            # outlive this fleet, and the folder goes with it (or at exit), not left in /tmp.
            self._own_runtime = tempfile.TemporaryDirectory(prefix="apparel-serving-")
            runtime = Path(self._own_runtime.name)
        self._state_file = StateFile(runtime / STATE_FILE)
        self._lock = threading.Lock()
        self._observed = 0
        self.state: ServingState | None = None
        self.monitor: DriftMonitor | None = None
        state = self._state_file.changed()
        if state is None:  # the first process up resolves the configured references
            state = self._resolve(config.prod, config.candidate, generation=1)
            self._state_file.write(state)
            self._state_file.changed()  # mark it seen
        self._apply(state)

    # -- what answers ---------------------------------------------------------------------

    @property
    def current_state(self) -> ServingState:
        """What this process serves now."""
        assert self.state is not None  # set by __init__
        return self.state

    @property
    def models(self) -> list[ServedModel]:
        """Prod, then the candidate when there is one."""
        return [m for m in (self.prod, self.candidate) if m is not None]

    def sync(self) -> None:
        """Load what another process published since this one last looked (one stat if nothing)."""
        if (state := self._state_file.changed()) is not None and state != self.state:
            with self._lock:
                self._apply(state)

    def reload(self, **overrides: str | None) -> ServingState:
        """Resolve the references again (`prod`/`candidate` may be overridden) and swap to them.

        Raises UserError, changing nothing, when any model fails to load.
        """
        current = self.current_state
        prod = overrides.get(PROD) or current.prod.ref  # a server always has a prod model
        candidate = overrides.get(CANDIDATE, current.candidate.ref if current.candidate else None)
        with self._lock:
            state = self._resolve(prod, candidate, generation=current.generation + 1)
            new = self._load(state)  # raises before anything is published
            self._state_file.write(state)
            self._state_file.changed()
            self._swap(state, *new)
        log.info("reloaded: prod %s, candidate %s", self.prod.version,
                 self.candidate.version if self.candidate else "none")  # fmt: skip
        return state

    # -- monitoring -----------------------------------------------------------------------

    def observe(self, image: np.ndarray, p: Prediction, answered_by_prod: bool) -> None:
        """Add a live request to the drift window (the prod model's answers only)."""
        if self.monitor is None or not answered_by_prod:
            return
        with self._lock:
            self.monitor.observe(image, p.class_id, p.confidence, p.uncertain)
            self._observed += 1
            report = self.monitor.report() if self._observed % DRIFT_EXPORT_EVERY == 0 else None
        if report is not None:
            metrics.record_drift(report)

    def drift(self) -> DriftReport | None:
        """The verdict on this process's window; None when the prod model has no profile."""
        if self.monitor is None:
            return None
        with self._lock:
            return self.monitor.report()

    def ages(self) -> dict[str, float]:
        """Seconds since each role's model was trained or registered."""
        now = datetime.now(UTC)
        return {m.role: (now - m.source.trained_at).total_seconds() for m in self.models}

    def export_gauges(self) -> None:
        """Refresh the gauges a scrape reads: model ages and the drift verdict."""
        metrics.record_model_age(self.ages())
        if (report := self.drift()) is not None:
            metrics.record_drift(report)

    # -- internals ------------------------------------------------------------------------

    def _resolve(self, prod: str, candidate: str | None, generation: int) -> ServingState:
        c = self.config
        return ServingState(
            generation=generation,
            prod=resolve(prod, c.registry_repo, c.registry_cache),
            candidate=resolve(candidate, c.registry_repo, c.registry_cache) if candidate else None,
        )

    def _load(self, state: ServingState) -> tuple[ServedModel, ServedModel | None]:
        threads = self.config.num_threads
        prod = load(PROD, state.prod, threads)
        candidate = load(CANDIDATE, state.candidate, threads) if state.candidate else None
        return prod, candidate

    def _apply(self, state: ServingState) -> None:
        self._swap(state, *self._load(state))

    def _swap(self, state: ServingState, prod: ServedModel, candidate: ServedModel | None) -> None:
        old: dict[str, Source | None] = {PROD: None, CANDIDATE: None}
        if self.state is not None:
            old = {PROD: self.state.prod, CANDIDATE: self.state.candidate}
        if old[PROD] != state.prod:
            # A new prod model has a new reference profile: start the window afresh.
            self.monitor = (
                DriftMonitor(prod.profile, window=self.config.drift_window)
                if prod.profile else None
            )  # fmt: skip
        self.prod, self.candidate, self.state = prod, candidate, state
        for role, new in ((PROD, state.prod), (CANDIDATE, state.candidate)):
            before = old[role]
            metrics.record_model_swap(
                role, before.version if before else None, new.version if new else None
            )
