"""The FastAPI application: prediction endpoints, health, the model card and the web page."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, File, HTTPException, Request, UploadFile
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
from apparel_classifier.predictor import Predictor
from apparel_classifier.serving.limits import BodySizeLimit
from apparel_classifier.serving.schemas import (
    BatchResponse,
    ErrorResponse,
    HealthResponse,
    ModelIdentity,
    PredictionOut,
    PredictResponse,
)

log = logging.getLogger(__name__)

DEFAULT_MAX_UPLOAD_BYTES = 10 * 1024 * 1024  # 10 MB, as the issue asks
DEFAULT_MAX_BATCH = 32
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


def _predictor(request: Request) -> Predictor:
    predictor: Predictor = request.app.state.predictor
    return predictor


def create_app(
    model_dir: Path = MODELS_DIR,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    max_batch: int = DEFAULT_MAX_BATCH,
    num_threads: int | None = 1,
) -> FastAPI:
    """Build the app; the model in `model_dir` is loaded once, when the server starts."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # At startup, not at import or per request: a bad models/ stops the server at once.
        app.state.predictor = Predictor(model_dir, num_threads=num_threads)
        yield

    app = FastAPI(
        title="Apparel classifier",
        summary="A garment photo in, its Fashion-MNIST category and confidence out.",
        version="1",
        lifespan=lifespan,
    )
    app.add_middleware(BodySizeLimit, max_bytes=max_upload_bytes)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.exception_handler(RequestValidationError)
    async def clear_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's default answer is a list of pydantic errors; a missing upload is the
        # only validation error these routes can have, so say exactly that.
        field = "files" if request.url.path.endswith("/batch") else "file"
        missing = [e for e in exc.errors() if e.get("type") == "missing"]
        detail = (
            f"no form field named '{field}': send the image as multipart/form-data in a field "
            f"called '{field}'"
            if missing
            else f"invalid request: {exc.errors()[0].get('msg', 'unreadable body')}"
        )
        return JSONResponse({"detail": detail}, status_code=422)

    @app.post("/predict", response_model=PredictResponse, responses=_UPLOAD_ERRORS)
    def predict(
        request: Request,
        file: Annotated[ImageUpload, File(description="A garment photo: PNG, JPEG or WebP")],
    ) -> PredictResponse:
        """Classify one uploaded garment image."""
        predictor = _predictor(request)
        name = file.filename or "the upload"
        try:
            prediction = predictor.predict(file.file.read(), name=name)
        except ImageError as err:
            raise _image_http_error(err) from None
        out = PredictionOut.of(prediction, predictor.classes, file.filename)
        return PredictResponse(**out.model_dump(), model=ModelIdentity.of(predictor.card))

    @app.post("/predict/batch", response_model=BatchResponse, responses=_UPLOAD_ERRORS)
    def predict_batch(
        request: Request,
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
        predictor = _predictor(request)
        names = [f.filename or f"image {i + 1}" for i, f in enumerate(files)]
        try:
            predictions = predictor.predict_batch([f.file.read() for f in files], names=names)
        except ImageError as err:
            raise _image_http_error(err) from None
        return BatchResponse(
            predictions=[
                PredictionOut.of(p, predictor.classes, f.filename)
                for p, f in zip(predictions, files, strict=True)
            ],
            model=ModelIdentity.of(predictor.card),
        )

    @app.get("/health", response_model=HealthResponse)
    def health(request: Request) -> HealthResponse:
        """Liveness and readiness: answers once the model is loaded."""
        return HealthResponse(status="ok", weights_md5=_predictor(request).card.model.weights_md5)

    @app.get("/model", response_model=ModelCard)
    def model_card(request: Request) -> ModelCard:
        """The card of the model that answers: data, code version, params, metrics."""
        return _predictor(request).card

    @app.get("/", response_class=HTMLResponse, responses={200: {"description": "The web page"}})
    def index() -> HTMLResponse:
        """The web page: pick or drop a photo, see its category."""
        return HTMLResponse((STATIC_DIR / "index.html").read_text(encoding="utf-8"))

    return app
