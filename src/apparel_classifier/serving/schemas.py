"""The API's JSON shapes: every response the OpenAPI schema describes, errors included."""

import os
from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from apparel_classifier.predictor import Prediction
from apparel_classifier.serving.config import ServingConfig

if TYPE_CHECKING:
    from apparel_classifier.serving.fleet import Fleet
    from apparel_classifier.serving.models import ServedModel, ServingState, Source


class ErrorResponse(BaseModel):
    """Every 4xx answer: one sentence that says what was wrong and what to do."""

    detail: str = Field(examples=["upload.txt is not an image in a format we can read"])


class ModelIdentity(BaseModel):
    """Which model answered: its version and role, weights, training data and training code."""

    version: str = Field(
        examples=["v1.2.0"],
        description="the registry version, or md5-<weights MD5 prefix> for a plain model folder",
    )
    role: str = Field(examples=["prod"], description="prod, or candidate (a canary answer)")
    architecture: str
    weights_md5: str
    dataset: dict[str, str] = Field(description="processed data file -> MD5, as dvc.lock records")
    code_digest: str = Field(description="SHA-256 of the training code (see the model card)")

    @classmethod
    def of(cls, served: "ServedModel") -> "ModelIdentity":
        """The identity of a served model: its version and role, and its card's provenance."""
        card = served.predictor.card
        return cls(
            version=served.version,
            role=served.role,
            architecture=card.model.architecture,
            weights_md5=card.model.weights_md5,
            dataset=card.dataset.processed,
            code_digest=card.code.digest,
        )


class PredictionOut(BaseModel):
    """One image's prediction."""

    filename: str | None = None
    category: str = Field(examples=["Sneaker"])
    class_id: int = Field(examples=[7])
    confidence: float = Field(ge=0, le=1, examples=[0.97])
    uncertain: bool = Field(
        examples=[False],
        description="the confidence is below the model's threshold: not sure, "
        "`category` is only the closest match",
    )
    probabilities: dict[str, float] = Field(description="class name -> probability, by class id")

    @classmethod
    def of(cls, p: Prediction, classes: tuple[str, ...], filename: str | None) -> "PredictionOut":
        """The JSON form of a `Prediction`."""
        return cls(
            filename=filename,
            category=p.category,
            class_id=p.class_id,
            confidence=p.confidence,
            uncertain=p.uncertain,
            probabilities=dict(zip(classes, p.probabilities, strict=True)),
        )


class PredictResponse(PredictionOut):
    """`POST /predict`: the prediction and the model that made it."""

    model: ModelIdentity


class BatchResponse(BaseModel):
    """`POST /predict/batch`: one prediction per uploaded image, in upload order."""

    predictions: list[PredictionOut]
    model: ModelIdentity


class HealthResponse(BaseModel):
    """`GET /health`: the server is up and its model is loaded."""

    status: str = Field(examples=["ok"])
    weights_md5: str
    version: str = Field(description="the production model's version")


class ServedModelOut(BaseModel):
    """A model the server answers with."""

    role: str
    version: str
    ref: str = Field(description="how it was named: a folder, or registry:<stage or version>")
    age_seconds: float = Field(description="since it was trained (or registered)")

    @classmethod
    def of(cls, source: "Source", role: str, age_seconds: float) -> "ServedModelOut":
        """The public facts of a served model."""
        return cls(role=role, version=source.version, ref=source.ref, age_seconds=age_seconds)


class DriftTestOut(BaseModel):
    """One test of the live window against the reference profile."""

    name: str = Field(examples=["mean_intensity"])
    test: str = Field(examples=["ks"], description="ks (Kolmogorov-Smirnov) or chi2")
    statistic: float
    p_value: float


class MonitoringResponse(BaseModel):
    """`GET /monitoring`: which models serve, and whether live inputs drift from training."""

    worker: int = Field(description="the process id of the worker that answered")
    models: list[ServedModelOut]
    canary_share: float
    shadow: bool
    window: int = Field(description="live requests compared with the profile (per worker)")
    requests: int = Field(description="requests in the window now")
    drift: bool | None = Field(description="null while the window is too small to test")
    threshold: float = Field(description="p-value under which a test signals drift")
    tests: list[DriftTestOut]
    uncertain_share: float | None
    profile: str | None = Field(description="what the reference profile was built from")

    @classmethod
    def of(cls, fleet: "Fleet", config: ServingConfig) -> "MonitoringResponse":
        """The fleet's models and its drift verdict."""
        ages = fleet.ages()
        models = [ServedModelOut.of(m.source, m.role, ages[m.role]) for m in fleet.models]
        report = fleet.drift()
        profile = fleet.prod.profile
        return cls(
            worker=os.getpid(),
            models=models,
            canary_share=config.canary_share if fleet.candidate else 0.0,
            shadow=config.shadow and fleet.candidate is not None,
            window=report.window if report else 0,
            requests=report.requests if report else 0,
            drift=report.drift if report else None,
            threshold=report.threshold if report else 0.0,
            tests=[
                DriftTestOut(name=t.name, test=t.test, statistic=t.statistic, p_value=t.p_value)
                for t in (report.tests if report else ())
            ],
            uncertain_share=report.uncertain_share if report else None,
            profile=profile.source if profile else None,
        )


class ReloadRequest(BaseModel):
    """`POST /admin/reload`: references to load instead of the current ones (all optional)."""

    # A misspelt key ("prd") must be refused, not ignored: ignoring it reloads the current
    # models and answers 200, as if the asked-for one were serving.
    model_config = ConfigDict(extra="forbid")

    prod: str | None = None
    candidate: str | None = None


class ReloadResponse(BaseModel):
    """What serves after a successful reload."""

    generation: int
    prod: str
    candidate: str | None
    loaded_at: datetime

    @classmethod
    def of(cls, state: "ServingState") -> "ReloadResponse":
        """The versions of a published state."""
        return cls(
            generation=state.generation,
            prod=state.prod.version,
            candidate=state.candidate.version if state.candidate else None,
            loaded_at=datetime.now().astimezone(),
        )
