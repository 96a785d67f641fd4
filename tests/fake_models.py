"""Model artifacts for tests and development, written with the real `save_model` contract.

`save_tiny_model` gives a small FashionCNN trained for a few steps on `fakes` data (a
second, no real data needed), for the predictor and serving tests.
"""

from pathlib import Path

import numpy as np
import torch
from torch import nn

from apparel_classifier import __version__
from apparel_classifier.datasets import CLASS_NAMES
from apparel_classifier.model_card import (
    DatasetInfo,
    GitInfo,
    ModelCard,
    ModelInfo,
    TrainingInfo,
    git_info,
    save_model,
)
from apparel_classifier.networks import FashionCNN
from apparel_classifier.preprocessing import normalize
from tests.fakes import fake_split


def _fit(
    model: FashionCNN,
    images: np.ndarray,
    labels: np.ndarray,
    *,
    epochs: int,
    mean: float,
    std: float,
    batch_size: int = 256,
    lr: float = 0.05,
) -> None:
    """A short SGD run over uint8 (N, 28, 28) images; enough for a believable test model."""
    x = normalize(torch.from_numpy(images), mean, std)
    y = torch.from_numpy(labels.astype(np.int64))
    steps = epochs * ((len(y) + batch_size - 1) // batch_size)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, nesterov=True)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    gen = torch.Generator().manual_seed(0)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(y), generator=gen)
        for start in range(0, len(y), batch_size):
            idx = order[start : start + batch_size]
            xb = x[idx]
            flip = torch.rand(len(idx), generator=gen) < 0.5  # the dataset is left-right symmetric
            xb[flip] = xb[flip].flip(-1)
            loss = nn.functional.cross_entropy(model(xb), y[idx], label_smoothing=0.1)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    model.eval()


def _card(
    model: FashionCNN,
    *,
    width: int,
    processed: dict[str, str],
    mean: float,
    std: float,
    epochs: int,
    seconds: float = 0.0,
    val_accuracy: float = 0.0,
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
        dataset=DatasetInfo(processed=processed, raw={}),
        params={"epochs": epochs, "width": width},
        git=git_info() if processed else GitInfo(commit=None, dirty=False),
        versions={"apparel_classifier": __version__, "torch": torch.__version__},
        classes=list(CLASS_NAMES),
        normalization={"mean": mean, "std": std},
        training=TrainingInfo(
            best_epoch=epochs,
            epochs_run=epochs,
            val_loss=0.0,
            val_accuracy=val_accuracy,
            train_seconds=seconds,
            device="cpu",
        ),
    )


def save_tiny_model(model_dir: Path, width: int = 8, epochs: int = 3) -> ModelCard:
    """Train a width-8 FashionCNN for a moment on fake bars data and save it into `model_dir`."""
    torch.manual_seed(0)
    images, labels = fake_split(200, seed=0)
    mean, std = float(images.mean() / 255), float(images.std() / 255)
    model = FashionCNN(num_classes=len(CLASS_NAMES), width=width)
    _fit(model, images, labels, epochs=epochs, mean=mean, std=std, batch_size=32)
    fake_data = {"fake/train_images.npy": "0" * 32}
    card = _card(model, width=width, processed=fake_data, mean=mean, std=std, epochs=epochs)
    return save_model(model_dir, model, card)
