"""Stage `train`: fit FashionCNN on the processed training split; write models/ (weights + card)."""

import json
import logging
import platform
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import torch

from apparel_classifier import checkpoints, datasets, networks, paths, preprocessing, training
from apparel_classifier.checkpoints import ResumeStore
from apparel_classifier.datasets import NUM_CLASSES, load_processed, processed_files
from apparel_classifier.errors import UserError, run_stage
from apparel_classifier.model_card import (
    DatasetInfo,
    ModelCard,
    ModelInfo,
    TrainingInfo,
    git_info,
    processed_md5s,
    save_model,
)
from apparel_classifier.params import Params, load_params
from apparel_classifier.training import EpochRecord

log = logging.getLogger(__name__)

# The source files whose every byte can change the trained weights: a change to any
# of them invalidates the resume state (see checkpoints.py).
_CODE_FILES = [
    Path(m.__file__ or "")
    for m in (training, networks, checkpoints, preprocessing, datasets)
] + [Path(__file__)]  # fmt: skip


def _versions() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "dvc": metadata.version("dvc"),
        "numpy": metadata.version("numpy"),
    }


def run(
    processed_dir: Path,
    model_dir: Path,
    resume_dir: Path | None,
    params: Params,
    on_epoch_end: Callable[[EpochRecord], None] | None = None,
) -> ModelCard:
    """Train, then write the best epoch's weights and their card to `model_dir`; return the card.

    With `resume_dir`, the state after each epoch is kept there and a run interrupted
    with the same params, data and code continues from its last completed epoch.
    """
    device = training.resolve_device(params.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError(
            "params.yaml asks for device: cuda, but no CUDA GPU is visible; use auto or cpu"
        )
    training.make_deterministic(params.seed)

    files = processed_files(processed_dir)
    info = json.loads(files["dataset"].read_text(encoding="utf-8"))
    mean, std = float(info["mean"]), float(info["std"])
    splits = {name: load_processed(processed_dir, name) for name in ("train", "val")}
    # Normalise each split once, as one tensor on the device (the fast data path).
    tensors = {
        name: (
            preprocessing.normalize(torch.from_numpy(s.images), mean, std).to(device),
            torch.from_numpy(s.labels).to(device),
        )
        for name, s in splits.items()
    }
    background = (0.0 - mean) / std  # a black pixel after normalisation: fills translated edges

    data_md5 = processed_md5s(processed_dir, [p.name for p in files.values()])
    store = None
    if resume_dir is not None:
        key = checkpoints.run_key(
            {
                "params": training.training_params(params),
                "data": data_md5,
                "code": checkpoints.code_digest(_CODE_FILES),
                "torch": torch.__version__,
                "device": str(device),
                "threads": torch.get_num_threads(),
            }
        )
        store = ResumeStore(resume_dir, key)

    model_kwargs = {"num_classes": NUM_CLASSES, "width": params.width}
    model = networks.FashionCNN(**model_kwargs).to(device)
    result = training.fit(
        model, tensors["train"], tensors["val"], params, background, store, on_epoch_end
    )
    model.load_state_dict(result.best_state)

    card = ModelCard(
        model=ModelInfo(
            architecture=type(model).__name__,
            kwargs=model_kwargs,
            weights_file="",  # filled in by save_model
            weights_md5="",
            num_parameters=sum(p.numel() for p in model.parameters()),
        ),
        dataset=DatasetInfo(
            processed=data_md5,
            # download verified every raw file against these MD5s (the ones dvc.lock records).
            raw={(paths.RAW_DIR / n).as_posix(): md5 for n, md5 in params.dataset.md5.items()},
        ),
        params=training.training_params(params),
        git=git_info(),
        versions=_versions(),
        classes=list(info["class_names"]),
        normalization={"mean": mean, "std": std},
        training=TrainingInfo(
            best_epoch=result.best_epoch,
            epochs_run=len(result.history),
            val_loss=result.best_val_loss,
            val_accuracy=result.best_val_accuracy,
            train_seconds=round(result.train_seconds, 2),
            device=str(device),
        ),
    )
    card = save_model(model_dir, model, card)
    if store:
        store.clear()  # the run is complete: its outputs now live in DVC's cache
    return card


def main() -> None:
    """Entry point for `dvc repro train`."""
    from dvclive import Live  # heavy import, only the stage needs it

    params = load_params()
    # dvcyaml=False: the plots are declared by hand at the top level of dvc.yaml.
    with Live(str(paths.TRAIN_LOG_DIR), dvcyaml=False, save_dvc_exp=False, report=None) as live:

        def log_epoch(record: EpochRecord) -> None:
            live.step = record.epoch
            for split in ("train", "val"):
                live.log_metric(f"{split}/loss", getattr(record, f"{split}_loss"))
                live.log_metric(f"{split}/accuracy", getattr(record, f"{split}_accuracy"))
            live.log_metric("lr", record.lr)
            live.make_summary()

        card = run(paths.PROCESSED_DIR, paths.MODELS_DIR, paths.RESUME_DIR, params, log_epoch)
    t = card.training
    log.info(
        "train: best epoch %d of %d, val loss %.4f, val accuracy %.4f, %.0f s on %s",
        t.best_epoch, t.epochs_run, t.val_loss, t.val_accuracy, t.train_seconds, t.device,
    )  # fmt: skip


if __name__ == "__main__":
    run_stage(main)
