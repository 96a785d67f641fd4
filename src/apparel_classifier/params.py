"""Typed, frozen view of params.yaml: loaded once, validated before any work.

Training hyperparameters sit at the top level of params.yaml so that the
documented experiment command `dvc exp run -S lr=0.01` works exactly as written
(DVC's `-S` addresses keys by their dotted path). They are still one typed
section, `TrainingParams`, which `Params` extends; its field names are the one
list of training keys (dvc.yaml's `train` stage is checked against it by a test).
"""

import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from apparel_classifier.errors import UserError
from apparel_classifier.fashion_mnist import CLASS_NAMES
from apparel_classifier.paths import PARAMS_FILE


class YamlLoader(yaml.SafeLoader):
    """PyYAML's safe loader, reading exponents without a dot (1e-05) as floats, as YAML 1.2 does.

    PyYAML implements YAML 1.1, where `1e-05` is a string; `dvc exp run -S
    weight_decay=0.00001` writes exactly that into params.yaml (ruamel, YAML 1.2).
    A key written twice in one mapping is refused, as ruamel (and so DVC) refuses it:
    PyYAML alone would keep the last one silently.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<:` merges may repeat keys
                continue
            key = self.construct_object(key_node, deep=deep)
            try:
                duplicate = key in seen
            except TypeError:  # an unhashable key: PyYAML's own error follows
                continue
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"found the key {key!r} twice",
                    key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)

Md5 = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]
PositiveInt = Annotated[int, Field(ge=1)]


class _Section(BaseModel):
    # strict: YAML `lr: "0.01"` or `epochs: 3.5` is a mistake, not something to coerce.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class DatasetParams(_Section):
    """What the dataset is: its files' published MD5s and its split sizes."""

    md5: dict[str, Md5] = Field(min_length=4, max_length=4)
    train_size: PositiveInt
    test_size: PositiveInt


class DownloadParams(_Section):
    """Where and how to fetch the raw files (after $FASHION_MNIST_MIRROR, if set)."""

    mirrors: list[str] = Field(min_length=1)
    timeout_s: Annotated[float, Field(gt=0, le=600)]
    retries: Annotated[int, Field(ge=0, le=10)]


class PreprocessParams(_Section):
    """How the validation split is carved out of the official training set, and what joins it."""

    val_fraction: Annotated[float, Field(gt=0.0, le=0.5)]
    seed: Annotated[int, Field(ge=0)]
    # Training images also staged as phone photos (`synthetic`): extra rows, not replacements.
    staged_photos: Annotated[int, Field(ge=0)]


class FieldParams(_Section):
    """The field photos (data/field/): what each of the labelling team's folders means.

    `categories` maps a folder to the Fashion-MNIST classes that count as right for
    its photos: one class, several (`shoes` is any footwear), or none (garments
    outside the catalogue, on which an honest model should be unsure).
    """

    categories: dict[str, list[str]] = Field(min_length=1)
    # Each field train photo of a folder with classes joins the training split this many
    # times, labelled with the folder's first class (0: train on Fashion-MNIST alone);
    # validation photos never do.
    train_repeats: Annotated[int, Field(ge=0, le=20)]
    # Each train photo of a folder without a class joins this many times, to be
    # answered with a uniform distribution: "not sure" (0: left out).
    outside_repeats: Annotated[int, Field(ge=0, le=20)]
    # Every repeat after a photo's first is another view of it, not a copy: rotated by
    # up to this many degrees either way and shrunk by up to `repeat_shrink` (0 and 0:
    # plain copies). Photos lie at any angle and size on a bed; Fashion-MNIST never does.
    repeat_rotation_deg: Annotated[float, Field(ge=0.0, le=45.0)]
    repeat_shrink: Annotated[float, Field(ge=0.0, lt=0.5)]
    # Share of the train photos held out of training (about as much of each folder: the
    # draw is per photo), to fit the temperature on (0: fitted on Fashion-MNIST's
    # validation split alone). The validation photos stay for measuring only.
    calibration_share: Annotated[float, Field(ge=0.0, le=0.5)]

    @field_validator("categories")
    @classmethod
    def _known_classes(cls, categories: dict[str, list[str]]) -> dict[str, list[str]]:
        unknown = sorted({c for cs in categories.values() for c in cs} - set(CLASS_NAMES))
        if unknown:
            raise ValueError(f"unknown classes {unknown}; use names from {list(CLASS_NAMES)}")
        return categories


class AugmentParams(_Section):
    """Per-batch, vectorised augmentation of the training images."""

    hflip: bool
    translate_px: Annotated[int, Field(ge=0, le=8)]
    # Lighting: each image's contrast against the background is scaled by a random
    # factor in [1 - contrast, 1 + contrast] (0: off), as photos vary in light.
    contrast: Annotated[float, Field(ge=0.0, lt=1.0)]


class TrainingParams(_Section):
    """Everything that shapes the trained weights (the top-level keys of params.yaml)."""

    seed: Annotated[int, Field(ge=0)]
    device: Literal["auto", "cpu", "cuda"]
    # The number format of the training step's forward pass: bf16 autocast where the
    # hardware computes bf16 natively (`auto`), else fp32. Weights stay fp32 either way.
    precision: Literal["auto", "fp32", "bf16"]
    # Training processes (DistributedDataParallel, launched through torchrun when above
    # one): each trains on its 1/processes shard of every batch.
    processes: Annotated[int, Field(ge=1, le=256)]
    epochs: Annotated[int, Field(ge=1, le=1000)]
    batch_size: Annotated[int, Field(ge=1, le=65536)]
    lr: Annotated[float, Field(gt=0.0, le=10.0)]
    warmup_fraction: Annotated[float, Field(gt=0.0, lt=1.0)]
    momentum: Annotated[float, Field(ge=0.0, lt=1.0)]
    weight_decay: Annotated[float, Field(ge=0.0, lt=1.0)]
    label_smoothing: Annotated[float, Field(ge=0.0, lt=1.0)]
    width: Annotated[int, Field(ge=1, le=512)]
    final_convs: Annotated[int, Field(ge=0, le=8)]  # conv blocks after the last pooling
    channels_last: bool
    augment: AugmentParams
    val_batch_size: Annotated[int, Field(ge=1, le=65536)]
    # Answer with the mean logits of an image and its mirror image (test-time augmentation).
    # Part of the model, like the threshold: calibration is fitted on those answers.
    test_time_flip: bool
    # ... and of the image moved by this many pixels up, down, left and right (each view
    # mirrored too with the flip): the shifts of training's augmentation. 0: no shifts.
    test_time_shift_px: Annotated[int, Field(ge=0, le=4)]
    # Calibrated confidence below which an answer is marked uncertain ("not sure,
    # closest: X"). Part of the model: a registered model carries its own threshold.
    confidence_threshold: Annotated[float, Field(ge=0.0, le=1.0)]

    @property
    def views(self) -> tuple[bool, int]:
        """(flip, shift_px): the test-time views answers average (`networks.predict_logits`)."""
        return self.test_time_flip, self.test_time_shift_px

    @model_validator(mode="after")
    def _batch_splits_over_processes(self) -> "TrainingParams":
        if self.batch_size % self.processes:
            raise ValueError(
                f"batch_size {self.batch_size} must be a multiple of processes "
                f"{self.processes} (each process trains on an equal shard of a batch)"
            )
        return self


# The training keys, in params.yaml's order: the model card and the resume key record these.
TRAINING_KEYS: tuple[str, ...] = tuple(TrainingParams.model_fields)


class EvaluateParams(_Section):
    """Knobs of the `evaluate` stage."""

    batch_size: PositiveInt
    mistakes_shown: Annotated[int, Field(ge=1, le=100)]


class ErrorsParams(_Section):
    """Knobs of the `errors` stage: the test mistakes, embedded and clustered (HDBSCAN)."""

    batch_size: PositiveInt
    # Principal components of the L2-normalised embeddings kept for clustering
    # (0: cluster the full penultimate layer).
    pca_components: Annotated[int, Field(ge=0, le=4096)]
    # HDBSCAN's own knobs (scikit-learn names): the fewest mistakes that make a cluster,
    # and the neighbours a point needs to be dense (higher: more of them unclustered).
    min_cluster_size: Annotated[int, Field(ge=2, le=10000)]
    min_samples: Annotated[int, Field(ge=1, le=10000)]
    # eom: the most persistent clusters (often a few broad ones); leaf: the finest ones.
    cluster_selection: Literal["eom", "leaf"]
    members_shown: Annotated[int, Field(ge=1, le=100)]  # tiles per cluster in the report


class BaselineParams(_Section):
    """The scikit-learn logistic-regression baseline."""

    max_iter: PositiveInt
    c: Annotated[float, Field(gt=0)]


class LearningCurveParams(_Section):
    """The learning curve (learning_curve/dvc.yaml): on which shares of the training data."""

    # Shares of the training split, each a stratified subset drawn with the training seed.
    fractions: Annotated[list[Annotated[float, Field(gt=0.0, le=1.0)]], Field(min_length=2)]

    @model_validator(mode="after")
    def _distinct(self) -> "LearningCurveParams":
        if len(set(self.fractions)) != len(self.fractions):
            raise ValueError(f"fractions lists a share twice: {self.fractions}")
        return self


class Params(TrainingParams):
    """The whole of params.yaml: the training keys (inherited) and one section per stage."""

    dataset: DatasetParams
    download: DownloadParams
    preprocess: PreprocessParams
    field: FieldParams
    evaluate: EvaluateParams
    errors: ErrorsParams
    baseline: BaselineParams
    learning_curve: LearningCurveParams

    @property
    def training(self) -> TrainingParams:
        """The training keys alone, as their own typed section."""
        return TrainingParams(**{key: getattr(self, key) for key in TRAINING_KEYS})


def _describe(err: dict[str, Any]) -> str:
    key = ".".join(str(part) for part in err["loc"]) or "<top level>"
    if err["type"] == "extra_forbidden":
        return f"{key}: unknown key (allowed keys are listed in params.yaml and params.py)"
    if err["type"] == "missing":
        return f"{key}: missing key"
    message = err["msg"]  # pydantic's "Input should be …"; the rest may quote names as written
    return f"{key}: {message[:1].lower()}{message[1:]} (got {err.get('input')!r})"


def parse_params(data: object, source: str = str(PARAMS_FILE)) -> Params:
    """Validate an already-parsed mapping; raise one UserError naming every bad key."""
    if not isinstance(data, dict):
        raise UserError(f"{source} must be a mapping of keys to values, got {type(data).__name__}")
    try:
        return Params.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(_describe(dict(e)) for e in exc.errors())
        raise UserError(f"{source} is invalid: {problems}. Fix these keys and run again.") from None


def load_params(path: Path = PARAMS_FILE) -> Params:
    """Read and validate params.yaml (call once, at the start of a stage)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{path} not found: run from the project root") from None
    try:
        data = yaml.load(text, Loader=YamlLoader)
    except yaml.YAMLError as exc:
        raise UserError(f"{path} is not valid YAML: {exc}") from None
    return parse_params(data, source=str(path))
