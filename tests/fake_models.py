"""Model artifacts for tests and development, written with the real `save_model` contract.

`save_tiny_model` gives a small FashionCNN trained for a few steps on `fakes` data (a
second, no real data needed), for the predictor and serving tests.
"""

from pathlib import Path

import numpy as np
import torch

from apparel_classifier import __version__
from apparel_classifier.fashion_mnist import CLASS_NAMES, RAW_FILES
from apparel_classifier.model_card import (
    CalibrationInfo,
    CodeInfo,
    DatasetInfo,
    ModelCard,
    ModelInfo,
    TrainingInfo,
    save_model,
)
from apparel_classifier.monitoring import build_profile
from apparel_classifier.networks import FashionCNN
from apparel_classifier.params import parse_params
from apparel_classifier.training import fit, make_deterministic
from apparel_classifier.transforms import normalize
from tests.fakes import fake_split, tiny_params


def _card(
    model: FashionCNN,
    *,
    width: int,
    processed: dict[str, str],
    mean: float,
    std: float,
    epochs: int,
    threshold: float,
) -> ModelCard:
    """A complete card; `save_model` fills in the weights file and its MD5."""
    return ModelCard(
        model=ModelInfo(
            architecture="FashionCNN",
            kwargs={"num_classes": len(CLASS_NAMES), "width": width},
            weights_file="",
            weights_md5="",
            num_parameters=sum(p.numel() for p in model.parameters()),
        ),
        dataset=DatasetInfo(processed=processed, raw={}, field={}),
        params={"epochs": epochs, "width": width},
        code=CodeInfo(digest="f" * 64, files=[]),
        versions={"apparel_classifier": __version__, "torch": torch.__version__},
        classes=list(CLASS_NAMES),
        normalization={"mean": mean, "std": std},
        calibration=CalibrationInfo(temperature=1.0, threshold=threshold),
        training=TrainingInfo(
            best_epoch=epochs,
            epochs_run=epochs,
            val_loss=0.0,
            val_accuracy=0.0,
            device="cpu",
        ),
    )


def save_tiny_model(
    model_dir: Path, width: int = 8, epochs: int = 3, threshold: float = 0.0
) -> ModelCard:
    """Train a width-8 FashionCNN for a moment on fake bars data and save it into `model_dir`.

    `threshold` is the card's confidence threshold: 0 never marks an answer uncertain,
    1 always does (tests of the "not sure" answer use that).

    It goes through the library's own `training.fit`, so test models are trained the
    way real ones are.
    """
    images, labels = fake_split(200, seed=0)
    mean, std = float(images.mean() / 255), float(images.std() / 255)
    md5 = dict.fromkeys((*RAW_FILES["train"], *RAW_FILES["test"]), "0" * 32)
    params = parse_params(tiny_params(md5, epochs=epochs, width=width, batch_size=32))
    make_deterministic(params.seed)
    x = normalize(torch.from_numpy(images), mean, std)
    y = torch.from_numpy(labels.astype(np.int64))
    model = FashionCNN(num_classes=len(CLASS_NAMES), width=width)
    result = fit(model, (x, y), (x, y), params, background=(0.0 - mean) / std)
    model.load_state_dict(result.best_state)
    fake_data = {"fake/train_images.npy": "0" * 32}
    card = _card(
        model.eval(), width=width, processed=fake_data, mean=mean, std=std, epochs=epochs,
        threshold=threshold,
    )  # fmt: skip
    with torch.no_grad():
        probs = torch.softmax(model.eval()(x), dim=1).numpy()
    profile = build_profile(images, probs, source="fake bars (200 images)")
    return save_model(model_dir, model, card, profile)
