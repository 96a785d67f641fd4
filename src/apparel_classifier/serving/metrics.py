"""`GET /metrics`: the server's Prometheus metrics (prometheus-client), summed across workers.

With several worker processes, each process writes its samples to files in
PROMETHEUS_MULTIPROC_DIR (prometheus-client's multiprocess mode, which the server's
entry point sets up before this module is imported) and a scrape, answered by any one
worker, adds them up. Gauges say how they combine (`multiprocess_mode`): model age and
drift take the most recent value any live process wrote.
"""

import os
import time

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from apparel_classifier.monitoring import DriftReport

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

REQUESTS = Counter(
    "apparel_requests", "HTTP requests by route, status and the model version that answered",
    ["route", "status", "model_version"],
)  # fmt: skip
LATENCY = Histogram(
    "apparel_request_latency_seconds", "Time to answer a request, by route", ["route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)  # fmt: skip
PREDICTIONS = Counter(
    "apparel_predictions", "Answers by model version, role and predicted class; shadow "
    "answers (logged, not returned) have served=shadow",
    ["model_version", "role", "category", "served"],
)  # fmt: skip
UNCERTAIN = Counter(
    "apparel_uncertain_predictions", "Answers returned as 'not sure, closest match'",
    ["model_version", "role"],
)  # fmt: skip
CONFIDENCE = Histogram(
    "apparel_prediction_confidence", "Calibrated confidence of returned answers",
    ["model_version", "role"], buckets=(0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0),
)  # fmt: skip
MODEL_AGE = Gauge(
    "apparel_model_age_seconds", "Seconds since the serving model was trained (or registered)",
    ["role"], multiprocess_mode="livemostrecent",
)  # fmt: skip
MODEL_INFO = Gauge(
    "apparel_model_info", "1 for the model version serving in each role, 0 once replaced",
    ["role", "model_version"], multiprocess_mode="livemostrecent",
)  # fmt: skip
DRIFT = Gauge(
    "apparel_drift", "1 when the live window drifts from the prod model's reference profile, "
    "0 when not, -1 while too few requests", multiprocess_mode="livemax",
)  # fmt: skip
DRIFT_MIN_P = Gauge(
    "apparel_drift_min_p_value", "Smallest p-value of the drift tests on the live window",
    multiprocess_mode="livemin",
)  # fmt: skip
UNCERTAIN_SHARE = Gauge(
    "apparel_uncertain_share", "Share of uncertain answers in the live window",
    multiprocess_mode="livemostrecent",
)  # fmt: skip


class CountRequests:
    """ASGI middleware: every request counted by route, status and answering model, and timed.

    Errors included: a 413 from the body limit, a 422, and a 500 when the app raises
    before it answers. A plain ASGI class rather than `@app.middleware("http")`, whose
    BaseHTTPMiddleware runs the app in a task of its own and passes every response
    through a memory stream.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500  # what the client gets if the app raises before answering

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            # The router puts the matched route into the scope, and `request.state` is
            # scope["state"]: the answering route stores the model version there.
            path = getattr(scope.get("route"), "path", "unmatched")
            version = scope.get("state", {}).get("model_version", "none")
            REQUESTS.labels(path, str(status), version).inc()
            LATENCY.labels(path).observe(time.perf_counter() - start)


def record_drift(report: DriftReport) -> None:
    """Export the verdict on the live window."""
    DRIFT.set(-1 if report.drift is None else int(report.drift))
    if (p := report.min_p_value) is not None:
        DRIFT_MIN_P.set(p)
    if report.uncertain_share is not None:
        UNCERTAIN_SHARE.set(report.uncertain_share)


def record_model_age(ages: dict[str, float]) -> None:
    """Export each role's model age (seconds); called just before a scrape is answered."""
    for role, age in ages.items():
        MODEL_AGE.labels(role=role).set(age)


def record_model_swap(role: str, old_version: str | None, new_version: str | None) -> None:
    """Mark which version serves in `role` now (multiprocess gauges cannot drop a label)."""
    if old_version is not None and old_version != new_version:
        MODEL_INFO.labels(role=role, model_version=old_version).set(0)
    if new_version is not None:
        MODEL_INFO.labels(role=role, model_version=new_version).set(1)


def exposition() -> tuple[bytes, str]:
    """The text a scrape gets, and its content type: this process alone, or every worker's sum."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
