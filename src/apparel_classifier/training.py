"""The training procedure: determinism, a tensor-only data path, the epoch loop, exact resume.

Reproducibility is by construction, so that a resumed run equals an
uninterrupted one bit for bit: every random draw of epoch `e` (shuffling,
augmentation) comes from a generator seeded with (seed, e), and everything else
that evolves (weights, optimiser, schedule, best-so-far) is saved after each
epoch by `resume.ResumeStore`.
"""

import logging
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F  # noqa: N812 (the conventional name)
from torch import Tensor, nn
from tqdm import tqdm

from apparel_classifier.distributed import SINGLE, World
from apparel_classifier.fashion_mnist import NUM_CLASSES, OUTSIDE
from apparel_classifier.networks import FashionCNN, predict_logits
from apparel_classifier.params import AugmentParams, TrainingParams
from apparel_classifier.resume import ResumeStore
from apparel_classifier.splits import Split, load_dataset_info, load_processed
from apparel_classifier.transforms import normalize

log = logging.getLogger(__name__)


def resolve_device(name: str) -> torch.device:
    """`auto` picks CUDA when present, else the CPU; `cuda` without a GPU is refused upstream."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def native_bf16(device: torch.device) -> bool:
    """Whether `device` computes bf16 in hardware, where bf16 autocast pays.

    Elsewhere bf16 is emulated: 9x slower than fp32 on a 2-core AVX2 CPU (README, Speed).
    """
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)
    # torch's own CPU probes (private, but public API has none): AVX512_BF16, or AMX tiles.
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, probe, lambda: False)() for probe in probes)


def resolve_precision(name: str, device: torch.device) -> Literal["fp32", "bf16"]:
    """`auto` is bf16 where `device` has it natively, else fp32; `fp32` and `bf16` as given."""
    if name == "auto":
        return "bf16" if native_bf16(device) else "fp32"
    if name not in ("fp32", "bf16"):
        raise ValueError(f"unknown precision {name!r}")
    return "bf16" if name == "bf16" else "fp32"


def num_threads(processes: int = 1) -> int:
    """The CPU threads torch uses: fixed per machine, because the count changes float sums.

    Several training processes on one machine share its cores (more threads than
    cores would thrash).
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, (cores or 1) // processes)


def make_deterministic(seed: int, processes: int = 1) -> None:
    """Seed torch and force deterministic kernels; call once, at the start of the stage.

    `processes`: how many training processes share this machine's cores.
    """
    # cuBLAS needs a fixed workspace to be deterministic (PyTorch "Reproducibility" notes);
    # it must be set before the first CUDA call.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.set_num_threads(num_threads(processes))
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.benchmark = False
    torch.manual_seed(seed)


@dataclass(frozen=True)
class TrainingData:
    """The processed splits `train` reads, and the tensors it trains on."""

    info: dict[str, Any]  # dataset.json
    mean: float
    std: float
    splits: dict[str, Split]  # "train", "val" as stored
    tensors: dict[str, tuple[torch.Tensor, torch.Tensor]]  # normalised, on the device
    background: float  # a black pixel after normalisation: fills translated edges
    device: torch.device


def load_data(
    processed_dir: Path, device: torch.device, names: tuple[str, ...] = ("train", "val")
) -> TrainingData:
    """Read the processed splits and normalise each once, as one tensor on the device.

    One tensor per split is the fast data path: batches are index gathers, no loader.
    """
    info = load_dataset_info(processed_dir)
    mean, std = float(info["mean"]), float(info["std"])
    splits = {name: load_processed(processed_dir, name) for name in names}
    tensors = {
        name: (
            normalize(torch.from_numpy(s.images), mean, std).to(device),
            torch.from_numpy(s.labels).to(device),
        )
        for name, s in splits.items()
    }
    return TrainingData(info, mean, std, splits, tensors, (0.0 - mean) / std, device)


def epoch_seed(seed: int, epoch: int) -> int:
    """The seed of one epoch's random draws: distinct streams for nearby (seed, epoch) pairs."""
    return seed * 1_000_003 + epoch


def epoch_generator(seed: int, epoch: int, device: torch.device) -> torch.Generator:
    """The one source of randomness of an epoch: depends on (seed, epoch) only."""
    generator = torch.Generator(device=device)
    generator.manual_seed(epoch_seed(seed, epoch))
    return generator


def augment(x: Tensor, aug: AugmentParams, background: float, generator: torch.Generator) -> Tensor:
    """Random flips, translations and contrast of a whole batch (B, 1, H, W), vectorised."""
    batch, _, height, width = x.shape
    if aug.hflip:
        flip = torch.rand(batch, device=x.device, generator=generator) < 0.5
        x = torch.where(flip[:, None, None, None], x.flip(3), x)
    if aug.translate_px:
        t = aug.translate_px
        padded = F.pad(x, (t, t, t, t), value=background)  # (B, 1, H+2t, W+2t)
        dy, dx = torch.randint(0, 2 * t + 1, (2, batch), device=x.device, generator=generator)
        rows = dy[:, None] + torch.arange(height, device=x.device)  # (B, H)
        cols = dx[:, None] + torch.arange(width, device=x.device)  # (B, W)
        batch_idx = torch.arange(batch, device=x.device)[:, None, None]
        # Gather each sample's shifted window: (B, H, W) -> (B, 1, H, W)
        x = padded[batch_idx, 0, rows[:, :, None], cols[:, None, :]].unsqueeze(1)
    if aug.contrast:  # drawn last: turning it on leaves the flips and shifts as they were
        scale = 1.0 + aug.contrast * (
            2.0 * torch.rand(batch, device=x.device, generator=generator) - 1.0
        )
        x = background + (x - background) * scale[:, None, None, None]
    return x


@dataclass(frozen=True)
class EpochRecord:
    """What one epoch achieved (epochs count from 1)."""

    epoch: int
    train_loss: float
    train_accuracy: float
    val_loss: float
    val_accuracy: float
    lr: float
    train_seconds: float  # since the start of training, validation included (a resume adds on)


@dataclass
class FitResult:
    """The outcome of `fit`: the best epoch's weights and the history that led there."""

    best_state: dict[str, Tensor]
    best_epoch: int
    best_val_loss: float
    best_val_accuracy: float
    history: list[EpochRecord] = field(default_factory=list)
    train_seconds: float = 0.0
    resumed_from_epoch: int = 0


def evaluate(model: nn.Module, x: Tensor, y: Tensor, batch_size: int) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of `model` on normalised images `x` (N, 1, 28, 28)."""
    logits = predict_logits(model, x, batch_size)
    loss = F.cross_entropy(logits, y).item()
    return loss, float((logits.argmax(1) == y).float().mean())


def network_kwargs(params: TrainingParams) -> dict[str, int]:
    """FashionCNN's arguments for these params: what the model card records to rebuild it."""
    return {"num_classes": NUM_CLASSES, "width": params.width, "final_convs": params.final_convs}


def build_network(params: TrainingParams) -> FashionCNN:
    """The network these params train, freshly initialised from torch's global generator."""
    return FashionCNN(**network_kwargs(params))


def to_training_layout(model: nn.Module, channels_last: bool) -> nn.Module:
    """With `channels_last`, NHWC weights (in place): oneDNN's fastest CPU convolutions.

    Measured on a 2-core AVX2 CPU: about 1.4x the training throughput of NCHW, but
    other float rounding, hence other weights (see params.yaml). The saved weights
    are made contiguous again (`model_card.save_model`).
    """
    return model.to(memory_format=torch.channels_last) if channels_last else model


def steps_per_epoch(n: int, batch_size: int) -> int:
    """Full batches only (a last batch of one sample would break BatchNorm), at least one."""
    return max(1, n // batch_size)


def build_optimizer(
    model: nn.Module, params: TrainingParams, total_steps: int
) -> tuple[torch.optim.SGD, torch.optim.lr_scheduler.OneCycleLR]:
    """SGD with Nesterov momentum under a one-cycle schedule peaking at `lr`.

    One-cycle (Smith & Topin 2017, "Super-Convergence") reaches a given accuracy in
    few epochs; momentum cycling is off so that the `momentum` param means what it says.
    """
    optimizer = torch.optim.SGD(
        model.parameters(),
        lr=params.lr,
        momentum=params.momentum,
        nesterov=params.momentum > 0,
        weight_decay=params.weight_decay,
    )
    # OneCycleLR divides by (pct_start × total_steps − 1), so a warm-up of exactly one
    # step (4 steps at 0.25, on tiny data) raises ZeroDivisionError; one step is no warm-up.
    warmup = params.warmup_fraction if params.warmup_fraction * total_steps != 1 else 0.0
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer,
        max_lr=params.lr,
        total_steps=total_steps,
        pct_start=warmup,
        cycle_momentum=False,
    )
    return optimizer, scheduler


def training_loss(logits: Tensor, y: Tensor, label_smoothing: float) -> Tensor:
    """Label-smoothed cross-entropy; a row labelled OUTSIDE is pulled towards a uniform answer.

    The target of a labelled row is (1 - ε)·one_hot + ε/C, exactly what
    `F.cross_entropy(label_smoothing=ε)` uses; an OUTSIDE row's target is 1/C everywhere
    (outlier exposure). No boolean indexing, so a GPU never waits on the CPU here.
    """
    classes = logits.shape[1]
    known = (y != OUTSIDE).unsqueeze(1)  # (B, 1)
    one_hot = F.one_hot(y.clamp(min=0), classes).to(logits.dtype)
    target = torch.where(
        known, one_hot * (1.0 - label_smoothing) + label_smoothing / classes, 1.0 / classes
    )
    return -(target * F.log_softmax(logits, dim=1)).sum(dim=1).mean()


def train_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    x: Tensor,
    y: Tensor,
    label_smoothing: float,
    bf16: bool = False,
) -> tuple[Tensor, Tensor]:
    """One optimisation step on a batch; returns the loss and the logits (for accuracy).

    With `bf16`, the forward pass runs under bf16 autocast, as PyTorch's AMP recipe has
    it: the backward pass follows the forward's number formats by itself, and the
    weights, their gradients and the update stay fp32. The loss is taken in fp32 (a
    log-softmax in bf16 keeps 8 bits of the probabilities).
    """
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16):
        logits = model(x)
    loss = training_loss(logits.float(), y, label_smoothing)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss, logits


def _clone_state(model: nn.Module) -> dict[str, Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


def _snapshot(
    result: FitResult, model: nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any
) -> dict[str, Any]:
    """Everything that evolves across epochs; with the per-epoch seeds, enough to resume exactly."""
    return {
        "model": _clone_state(model),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "best_state": result.best_state,
        "best_epoch": result.best_epoch,
        "best_val_loss": result.best_val_loss,
        "best_val_accuracy": result.best_val_accuracy,
        "history": [asdict(r) for r in result.history],
        "train_seconds": result.train_seconds,
    }


def _restore(
    saved: dict[str, Any], model: nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any
) -> FitResult:
    """Load a `_snapshot` back into the training objects; return the progress it recorded."""
    model.load_state_dict(saved["model"])
    optimizer.load_state_dict(saved["optimizer"])
    scheduler.load_state_dict(saved["scheduler"])
    return FitResult(
        best_state=saved["best_state"],
        best_epoch=saved["best_epoch"],
        best_val_loss=saved["best_val_loss"],
        best_val_accuracy=saved["best_val_accuracy"],
        history=[EpochRecord(**r) for r in saved["history"]],
        train_seconds=saved["train_seconds"],
        resumed_from_epoch=len(saved["history"]),
    )


def fit(
    model: nn.Module,
    train: tuple[Tensor, Tensor],
    val: tuple[Tensor, Tensor],
    params: TrainingParams,
    background: float,
    store: ResumeStore | None = None,
    on_epoch_end: Callable[[EpochRecord], None] | None = None,
    world: World = SINGLE,
) -> FitResult:
    """Train for `params.epochs`, keeping the weights of the epoch with the lowest validation loss.

    `train` and `val` are (images (N, 1, 28, 28), labels (N,)) already normalised and on
    the model's device. With a `store`, the state after each epoch is saved and a
    matching saved state is resumed; `on_epoch_end` then sees the restored epochs first,
    so that loggers always receive the whole history.

    In a `world` of several processes, each one runs this with the same arguments and
    trains on its shard of every batch; the store and `on_epoch_end` are rank 0's
    alone (pass None elsewhere), and the state rank 0 saved is resumed by every rank.
    """
    x_train, y_train = train
    device = x_train.device
    # Only the step: autocast around the whole of fit, validation included, broke training
    # (validation accuracy 0.74, test accuracy 0.10 after 10 epochs, in the bench).
    bf16 = resolve_precision(params.precision, device) == "bf16"
    steps = steps_per_epoch(len(y_train), params.batch_size)
    to_training_layout(model, params.channels_last)
    # DDP averages the shards' gradients in its backward pass, so the optimiser steps
    # on the gradient of the global batch. BatchNorm statistics stay per shard, as in
    # any DDP run (SyncBatchNorm needs GPUs); buffers are broadcast from rank 0.
    net: nn.Module = model
    if world.is_distributed:
        on_gpu = device.type == "cuda"
        net = nn.parallel.DistributedDataParallel(model, [device.index] if on_gpu else None)
    shard = world.shard(params.batch_size)
    optimizer, scheduler = build_optimizer(model, params, steps * params.epochs)
    result = FitResult(
        best_state=_clone_state(model),
        best_epoch=0,
        best_val_loss=float("inf"),
        best_val_accuracy=0.0,
    )

    saved = world.from_main(store.load() if store else None)
    if saved is not None:
        result = _restore(saved, model, optimizer, scheduler)
        if world.is_main:
            log.info("resuming after epoch %d of %d", result.resumed_from_epoch, params.epochs)
        for record in result.history:
            if on_epoch_end:
                on_epoch_end(record)

    model.train()
    quiet = not world.is_main
    epochs = tqdm(
        range(result.resumed_from_epoch + 1, params.epochs + 1),
        desc="epochs",
        unit="epoch",
        disable=quiet,
    )
    for epoch in epochs:
        started = time.perf_counter()
        generator = epoch_generator(params.seed, epoch, device)
        torch.manual_seed(epoch_seed(params.seed, epoch))  # any global draw is per-epoch too
        order = torch.randperm(len(y_train), device=device, generator=generator)
        loss_sum, correct, seen = torch.zeros((), device=device), torch.zeros((), device=device), 0
        for step in tqdm(
            range(steps),
            desc=f"epoch {epoch}",
            unit="batch",
            leave=False,
            mininterval=1,
            disable=quiet,
        ):
            idx = order[step * params.batch_size : (step + 1) * params.batch_size]
            # The whole batch is augmented on every rank, so that the random draws are
            # the same as with one process; each rank then keeps its shard.
            x = augment(x_train[idx], params.augment, background, generator)[shard]
            y = y_train[idx][shard]
            loss, logits = train_step(net, optimizer, x, y, params.label_smoothing, bf16)
            scheduler.step()
            # Accumulate on the device: .item() per batch would synchronise a GPU every step.
            loss_sum += loss.detach() * len(y)
            correct += (logits.argmax(1) == y).sum()  # an OUTSIDE row is never "correct"
            seen += len(y)

        # Rank 0 validates, and every rank takes its verdict: their BatchNorm buffers differ
        # by their last shard, and a choice that differed between ranks could diverge them.
        val_loss, val_acc = world.from_main(
            evaluate(model, *val, batch_size=params.val_batch_size) if world.is_main else None
        )
        totals = world.sum(torch.stack([loss_sum, correct.to(loss_sum.dtype)]))
        seen *= world.size
        if val_loss < result.best_val_loss:
            result.best_state, result.best_epoch = _clone_state(model), epoch
            result.best_val_loss, result.best_val_accuracy = val_loss, val_acc
        result.train_seconds += time.perf_counter() - started
        record = EpochRecord(
            epoch=epoch,
            train_loss=float(totals[0]) / seen,
            train_accuracy=float(totals[1]) / seen,
            val_loss=val_loss,
            val_accuracy=val_acc,
            lr=optimizer.param_groups[0]["lr"],
            train_seconds=result.train_seconds,
        )
        result.history.append(record)
        epochs.set_postfix(val_loss=f"{val_loss:.4f}", val_acc=f"{val_acc:.4f}")

        if store:
            store.save(_snapshot(result, model, optimizer, scheduler))
        if on_epoch_end:
            on_epoch_end(record)
    return result
