"""The API's JSON shapes: every response the OpenAPI schema describes, errors included."""

from pydantic import BaseModel, Field

from apparel_classifier.model_card import ModelCard
from apparel_classifier.predictor import Prediction


class ErrorResponse(BaseModel):
    """Every 4xx answer: one sentence that says what was wrong and what to do."""

    detail: str = Field(examples=["upload.txt is not an image in a format we can read"])


class ModelIdentity(BaseModel):
    """Which model answered: its weights, its training data and the code that trained it."""

    architecture: str
    weights_md5: str
    dataset: dict[str, str] = Field(description="processed data file -> MD5, as dvc.lock records")
    code_digest: str = Field(description="SHA-256 of the training code (see the model card)")

    @classmethod
    def of(cls, card: ModelCard) -> "ModelIdentity":
        """The identity part of a model card."""
        return cls(
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
