"""The FastAPI application: prediction endpoints, health, the model card and the web page."""

import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from fastapi import BackgroundTasks, FastAPI, File, HTTPException, Request, Response, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import WithJsonSchema

from apparel_classifier.images import (
    CorruptImageError,
    EmptyImageError,
    ImageError,
    NotAnImageError,
)
from apparel_classifier.model_card import ModelCard
from apparel_classifier.paths import MODELS_DIR
from apparel_classifier.predictor import Prediction
from apparel_classifier.serving import metrics, operations, routing
from apparel_classifier.serving.config import (
    DEFAULT_MAX_BATCH,
    DEFAULT_MAX_UPLOAD_BYTES,
    ServingConfig,
)
from apparel_classifier.serving.fleet import Fleet
from apparel_classifier.serving.limits import BodySizeLimit
from apparel_classifier.serving.models import ServedModel
from apparel_classifier.serving.operations import current_fleet
from apparel_classifier.serving.prediction_log import Answer, PredictionLog
from apparel_classifier.serving.schemas import (
    BatchResponse,
    ErrorResponse,
    HealthResponse,
    ModelIdentity,
    PredictionOut,
    PredictResponse,
)

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_MAX_BATCH", "DEFAULT_MAX_UPLOAD_BYTES", "app_from_environment", "create_app"]

STATIC_DIR = Path(str(resources.files("apparel_classifier.serving") / "static"))

# Which 4xx each kind of bad image gets: the client can tell "not an image" from "broken image".
_IMAGE_STATUS: dict[type[ImageError], int] = {
    EmptyImageError: 400,
    NotAnImageError: 415,
    CorruptImageError: 422,
}


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorResponse, "description": description}


_UPLOAD_ERRORS: dict[int | str, dict[str, Any]] = {
    400: _error("An empty file, or (batch) too many images"),
    413: _error("The request body is over the upload size limit"),
    415: _error("A file that is not an image in a readable format"),
    422: _error("An image that cannot be decoded, or no form field named as documented"),
}


# An uploaded image as the OpenAPI schema states it: binary, at least one byte. Schema only:
# the routes answer an empty file with 400 themselves (`File(min_length=1)` would have pydantic
# take the len() of an UploadFile, which fails as a 500). `contentMediaType` is how OpenAPI 3.1
# marks a file part; `format: binary`, the 3.0 spelling, is for tools that read only that, such
# as schemathesis, which then sends real image files among its random bytes.
ImageUpload = Annotated[
    UploadFile,
    WithJsonSchema(
        {
            "type": "string",
            "format": "binary",
            "contentMediaType": "application/octet-stream",
            "minLength": 1,
        }
    ),
]


def _image_http_error(err: ImageError) -> HTTPException:
    status = next((s for kind, s in _IMAGE_STATUS.items() if isinstance(err, kind)), 422)
    return HTTPException(status_code=status, detail=str(err))


class _Answered:
    """One request's routing and answers, for the response, the log and the metrics."""

    def __init__(self, request: Request, fleet: Fleet, config: ServingConfig) -> None:
        self.request_id = uuid.uuid4().hex
        self.client, self.new_client = routing.client_id(
            request.headers.get(routing.CLIENT_HEADER),
            request.cookies.get(routing.CLIENT_COOKIE),
        )
        prod, candidate = fleet.prod, fleet.candidate
        canary = candidate is not None and routing.in_canary(self.client, config.canary_share)
        self.model: ServedModel = candidate if canary and candidate else prod
        self.other: ServedModel | None = None
        if config.shadow and candidate is not None:
            self.other = prod if canary else candidate
        request.state.model_version = self.model.version

    def answer(self, images: np.ndarray) -> tuple[list[Prediction], float]:
        """The answering model's predictions and the milliseconds they took (per image)."""
        return _timed(self.model, images)

    def headers(self, response: Response) -> None:
        """Which model answered, the request id, and the client's id for stickiness."""
        response.headers["X-Model-Version"] = self.model.version
        response.headers["X-Model-Role"] = self.model.role
        response.headers["X-Request-Id"] = self.request_id
        if self.new_client:
            response.set_cookie(
                routing.CLIENT_COOKIE, self.client, max_age=30 * 24 * 3600, httponly=True,
                samesite="lax",
            )  # fmt: skip


def _timed(model: ServedModel, images: np.ndarray) -> tuple[list[Prediction], float]:
    start = time.perf_counter()
    predictions = model.predictor.predict_arrays(images)
    return predictions, (time.perf_counter() - start) * 1000 / max(1, len(images))


def _as_answer(model: ServedModel, p: Prediction, latency_ms: float) -> Answer:
    return Answer(
        version=model.version, role=model.role, category=p.category,
        confidence=round(p.confidence, 6), uncertain=p.uncertain, latency_ms=round(latency_ms, 3),
    )  # fmt: skip


async def _clear_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    # FastAPI's default answer is a list of pydantic errors; the mistakes people make are a
    # missing upload and (in the admin reload's JSON) a misspelt key, so say exactly that.
    field = "files" if request.url.path.endswith("/batch") else "file"
    errors = exc.errors()
    missing = [e for e in errors if e.get("type") == "missing"]
    unknown = [e for e in errors if e.get("type") == "extra_forbidden"]
    if missing:
        detail = (
            f"no form field named '{field}': send the image as multipart/form-data in a field "
            f"called '{field}'"
        )
    elif unknown:  # a misspelt key in a JSON body (the admin reload's)
        detail = f"invalid request: unknown key {unknown[0]['loc'][-1]!r}; check its spelling"
    else:
        detail = f"invalid request: {errors[0].get('msg', 'unreadable body')}"
    return JSONResponse({"detail": detail}, status_code=422)


def _finish(
    request: Request,
    answered: _Answered,
    images: np.ndarray,
    predictions: list[Prediction],
    latency_ms: float,
    uploads: list[bytes],
    tasks: BackgroundTasks,
) -> None:
    """Metrics and drift now; the shadow answer and the log line after the response."""
    fleet: Fleet = request.app.state.fleet
    model = answered.model
    for image, p in zip(images, predictions, strict=True):
        metrics.PREDICTIONS.labels(model.version, model.role, p.category, "answer").inc()
        metrics.CONFIDENCE.labels(model.version, model.role).observe(p.confidence)
        if p.uncertain:
            metrics.UNCERTAIN.labels(model.version, model.role).inc()
        fleet.observe(image, p, answered_by_prod=model is fleet.prod)
    log: PredictionLog | None = request.app.state.log
    if answered.other is None and log is None:
        return

    def shadow_and_log() -> None:
        # After the response is sent: the client never waits for the shadow model.
        shadows: list[Answer | None] = [None] * len(predictions)
        if (other := answered.other) is not None:
            others, other_ms = _timed(other, images)
            for q in others:
                metrics.PREDICTIONS.labels(other.version, other.role, q.category, "shadow").inc()
            shadows = [_as_answer(other, q, other_ms) for q in others]
        if log is not None:
            route = request.url.path
            for i, (p, shadow) in enumerate(zip(predictions, shadows, strict=True)):
                rid = answered.request_id if len(predictions) == 1 else f"{answered.request_id}-{i}"
                log.write(rid, route, _as_answer(model, p, latency_ms), shadow, uploads[i])

    tasks.add_task(shadow_and_log)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    config: ServingConfig = app.state.config
    # At startup, not at import or per request: a bad model stops the server at once.
    app.state.fleet = Fleet(config)
    app.state.log = (
        PredictionLog(config.log_dir, config.log_max_bytes, config.log_backups,
                      config.log_images)
        if config.log_dir else None
    )  # fmt: skip
    yield
    if app.state.log:
        app.state.log.close()


def create_app(
    model_dir: Path = MODELS_DIR,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    max_batch: int = DEFAULT_MAX_BATCH,
    num_threads: int | None = 1,
    config: ServingConfig | None = None,
) -> FastAPI:
    """Build the app; its models are loaded once, when the server starts.

    `config` holds every setting; without it the app serves `model_dir` alone, with the
    limits given.
    """
    if config is None:
        config = ServingConfig(
            prod=model_dir.as_posix(), max_upload_bytes=max_upload_bytes, max_batch=max_batch,
            num_threads=num_threads,
        )  # fmt: skip
    max_batch = config.max_batch

    app = FastAPI(
        title="Apparel classifier",
        summary="A garment photo in, its Fashion-MNIST category and confidence out.",
        version="1",
        lifespan=_lifespan,
    )
    app.add_middleware(BodySizeLimit, max_bytes=config.max_upload_bytes)
    app.add_middleware(metrics.CountRequests)  # added last, so outermost: it sees the 413s too
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.state.config = config
    app.include_router(operations.router)

    app.add_exception_handler(RequestValidationError, _clear_validation_error)  # type: ignore[arg-type]

    @app.post("/predict", response_model=PredictResponse, responses=_UPLOAD_ERRORS)
    def predict(
        request: Request,
        response: Response,
        tasks: BackgroundTasks,
        file: Annotated[ImageUpload, File(description="A garment photo: PNG, JPEG or WebP")],
    ) -> PredictResponse:
        """Classify one uploaded garment image.

        With a canary, the client's `X-Client-Id` header (or `client_id` cookie, set on the
        first answer) decides, always the same way, which model answers; the response says
        which in `model.version` and `model.role`.
        """
        fleet = current_fleet(request)
        answered = _Answered(request, fleet, config)
        data = file.file.read()
        try:
            image = answered.model.predictor.preprocess(data, file.filename or "the upload")
        except ImageError as err:
            raise _image_http_error(err) from None
        images = image[None]  # (28, 28) -> (1, 28, 28)
        predictions, latency_ms = answered.answer(images)
        _finish(request, answered, images, predictions, latency_ms, [data], tasks)
        answered.headers(response)
        model = answered.model
        out = PredictionOut.of(predictions[0], model.predictor.classes, file.filename)
        return PredictResponse(**out.model_dump(), model=ModelIdentity.of(model))

    @app.post("/predict/batch", response_model=BatchResponse, responses=_UPLOAD_ERRORS)
    def predict_batch(
        request: Request,
        response: Response,
        tasks: BackgroundTasks,
        files: Annotated[
            list[ImageUpload],
            # Schema only, like ImageUpload's minLength: the route answers both bounds itself
            # (no file: 422, over `max_batch`: 400), which pydantic's list bounds would change.
            File(
                description=f"Several garment photos, 1 to {max_batch}",
                json_schema_extra={"minItems": 1, "maxItems": max_batch},
            ),
        ],
    ) -> BatchResponse:
        """Classify several images in one forward pass; one bad image fails the whole batch."""
        if len(files) > max_batch:
            raise HTTPException(
                status_code=400,
                detail=f"{len(files)} images in one batch; send at most {max_batch} per request",
            )
        fleet = current_fleet(request)
        answered = _Answered(request, fleet, config)
        uploads = [f.file.read() for f in files]
        predictor = answered.model.predictor
        try:
            images = np.stack([
                predictor.preprocess(data, f.filename or f"image {i + 1}")
                for i, (data, f) in enumerate(zip(uploads, files, strict=True))
            ])  # fmt: skip
        except ImageError as err:
            raise _image_http_error(err) from None
        predictions, latency_ms = answered.answer(images)
        _finish(request, answered, images, predictions, latency_ms, uploads, tasks)
        answered.headers(response)
        return BatchResponse(
            predictions=[
                PredictionOut.of(p, predictor.classes, f.filename)
                for p, f in zip(predictions, files, strict=True)
            ],
            model=ModelIdentity.of(answered.model),
        )

    @app.get("/health", response_model=HealthResponse)
    def health(request: Request) -> HealthResponse:
        """Liveness and readiness: answers once the model is loaded."""
        prod = current_fleet(request).prod
        return HealthResponse(
            status="ok", weights_md5=prod.predictor.card.model.weights_md5, version=prod.version
        )

    @app.get("/model", response_model=ModelCard)
    def model_card(request: Request) -> ModelCard:
        """The card of the production model (the one that answers unless a canary does)."""
        return current_fleet(request).prod.predictor.card

    @app.get("/", response_class=HTMLResponse, responses={200: {"description": "The web page"}})
    def index() -> HTMLResponse:
        """The web page: pick or drop a photo, see its category."""
        return HTMLResponse((STATIC_DIR / "index.html").read_text(encoding="utf-8"))

    return app


def app_from_environment() -> FastAPI:
    """The app factory each uvicorn worker process calls (settings from the environment)."""
    return create_app(config=ServingConfig.from_environment())
