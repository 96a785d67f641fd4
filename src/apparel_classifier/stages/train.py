"""Stage `train`: fit FashionCNN on the processed training split; write models/ (weights + card)."""

import logging
import time
from collections.abc import Callable
from pathlib import Path

import torch

from apparel_classifier import (
    calibration,
    distributed,
    monitoring,
    networks,
    paths,
    provenance,
    runlog,
    training,
)
from apparel_classifier.errors import UserError, run_stage
from apparel_classifier.model_card import (
    CalibrationInfo,
    CodeInfo,
    DatasetInfo,
    ModelCard,
    ModelInfo,
    TrainingInfo,
    processed_md5s,
    save_model,
)
from apparel_classifier.params import (
    TRAINING_KEYS,
    DatasetParams,
    Params,
    TrainingParams,
    load_params,
)
from apparel_classifier.resume import ResumeStore, run_key
from apparel_classifier.splits import FIELD_CAL, training_files
from apparel_classifier.training import EpochRecord, FitResult

log = logging.getLogger(__name__)


def check_device(params: TrainingParams) -> None:
    """Refuse a CUDA request this machine cannot serve, before any process starts."""
    device = training.resolve_device(params.device)
    if params.precision == "bf16" and not training.native_bf16(device):
        if device.type == "cuda":
            raise UserError(
                "params.yaml asks for precision: bf16, but this GPU has no bf16 arithmetic "
                "(it came with Ampere); use auto or fp32"
            )
        log.warning(
            "precision: bf16 on a CPU without AVX512_BF16 or AMX: bf16 is emulated there, "
            "several times slower than fp32 (auto picks fp32 on this machine)"
        )
    if device.type != "cuda":
        return
    if not torch.cuda.is_available():
        raise UserError(
            "params.yaml asks for device: cuda, but no CUDA GPU is visible; use auto or cpu"
        )
    if params.processes > torch.cuda.device_count():
        raise UserError(
            f"params.yaml asks for {params.processes} processes on CUDA, one GPU each, but "
            f"{torch.cuda.device_count()} GPU(s) are visible: lower processes"
        )


def _prepare(
    processed_dir: Path,
    params: TrainingParams,
    world: distributed.World,
    splits: tuple[str, ...] = ("train", "val"),
) -> training.TrainingData:
    """What every rank does before training: check the setup, seed, load the data."""
    if world.size != params.processes:
        # An outer torchrun decided the world size; the card and dvc.lock must say it.
        raise UserError(
            f"{world.size} training processes were started, but params.yaml says "
            f"processes: {params.processes}; set processes to nnodes × nproc-per-node"
        )
    check_device(params)
    device = training.resolve_device(params.device)
    if device.type == "cuda" and world.is_distributed:
        device = torch.device("cuda", world.local_rank)  # one GPU per process
    training.make_deterministic(params.seed, world.local_size)
    return training.load_data(processed_dir, device, splits)


def train_shard(processed_dir: Path, params: TrainingParams, world: distributed.World) -> None:
    """A rank other than 0: train on its shard of every batch, and write nothing."""
    data = _prepare(processed_dir, params, world)
    model = training.build_network(params).to(data.device)
    train, val = data.tensors["train"], data.tensors["val"]
    training.fit(model, train, val, params, data.background, world=world)


def _fit_temperature(
    model: torch.nn.Module,
    data: training.TrainingData,
    val_logits: torch.Tensor,
    params: TrainingParams,
) -> tuple[float, str]:
    """The temperature, fitted on the held-out field photos when there are any; what it saw.

    Real photos are what the product answers, and garments outside the catalogue are
    among them: only such photos can teach the temperature how unsure to be of those
    (README, Calibration). Without an in-catalogue photo among them (none delivered,
    `calibration_share: 0`, or folders too small to give one) the validation split's
    answers are all there is.
    """
    photos_x, photos_folder = data.tensors[FIELD_CAL]
    field = data.info["field"]
    right = calibration.right_classes(
        field["classes"], photos_folder.cpu().numpy(), data.info["class_names"]
    )
    if not right.any():
        val_y = data.tensors["val"][1]
        labels = calibration.one_hot(val_y, val_logits.shape[1])
        fitted_on = f"validation split ({len(val_y)} images)"
        return calibration.fit_temperature(val_logits, labels), fitted_on
    logits = networks.predict_logits(model, photos_x, params.val_batch_size, *params.views)
    outside = int((~right.any(axis=1)).sum())
    fitted_on = f"held-out field photos ({len(right) - outside} in the catalogue, {outside} out)"
    return calibration.fit_temperature(logits, torch.from_numpy(right)), fitted_on


def run(
    processed_dir: Path,
    model_dir: Path,
    resume_dir: Path | None,
    params: TrainingParams,
    dataset: DatasetParams,
    on_epoch_end: Callable[[EpochRecord], None] | None = None,
    world: distributed.World = distributed.SINGLE,
) -> tuple[ModelCard, FitResult]:
    """Train, then write the best epoch's weights and their card to `model_dir`.

    With `resume_dir`, the state after each epoch is kept there and a run interrupted
    with the same params, data and code continues from its last completed epoch.
    Returns the card and the fit's history (with its timings, which the card leaves out).

    In a `world` of several processes this is rank 0's part (the others run
    `train_shard`): it alone writes and calls `on_epoch_end`.
    """
    # Rank 0 alone fits the temperature, on the held-out field photos.
    data = _prepare(processed_dir, params, world, ("train", "val", FIELD_CAL))
    device = data.device
    files = training_files(processed_dir)
    info, mean, std, tensors = data.info, data.mean, data.std, data.tensors

    # Only the training keys, even when given the whole Params (a TrainingParams too).
    training_params = params.model_dump(mode="json", include=set(TRAINING_KEYS))
    data_md5 = processed_md5s(processed_dir, [p.name for p in files.values()])
    code_files = provenance.stage_code_files("train")
    code = CodeInfo(digest=provenance.code_digest(code_files), files=code_files)
    versions = provenance.library_versions()
    precision = training.resolve_precision(params.precision, device)
    store = None
    if resume_dir is not None:
        fingerprint = {
            "params": training_params,
            "data": data_md5,
            "code": code.digest,
            "versions": versions,
            "device": str(device),
            "precision": precision,  # what `auto` chose depends on the machine
            "threads": torch.get_num_threads(),  # the thread count changes float sums
            "processes": world.size,
        }
        store = ResumeStore(resume_dir, run_key(fingerprint))

    model = training.build_network(params).to(device)
    result = training.fit(
        model,
        tensors["train"],
        tensors["val"],
        params,
        data.background,
        store,
        on_epoch_end,
        world,
    )
    model.load_state_dict(result.best_state)
    splits = data.splits
    # Held-out data the weights were not chosen by gradient on: the validation split (for
    # the drift profile, and for the temperature when no field photos are held out).
    val_x, val_y = tensors["val"]
    # The kept epoch was chosen on the plain network; calibration and the drift profile
    # see the answers as served (the mean over the test-time views the params ask for).
    val_logits = networks.predict_logits(model, val_x, params.val_batch_size, *params.views)
    temperature, fitted_on = _fit_temperature(model, data, val_logits, params)
    # What live inputs and answers should look like: the server tests its traffic against it.
    profile = monitoring.build_profile(
        splits["val"].images,
        calibration.calibrated_probabilities(val_logits, temperature).cpu().numpy(),
        source=f"validation split ({len(val_y)} images)",
        seed=params.seed,
    )

    card = ModelCard(
        model=ModelInfo(
            architecture=type(model).__name__,
            kwargs=training.network_kwargs(params),
            weights_file="",  # filled in by save_model
            weights_md5="",
            num_parameters=sum(p.numel() for p in model.parameters()),
            test_time_flip=params.test_time_flip,
            test_time_shift_px=params.test_time_shift_px,
        ),
        dataset=DatasetInfo(
            processed=data_md5,
            # download verified every raw file against these MD5s (the ones dvc.lock records).
            raw={(paths.RAW_DIR / n).as_posix(): md5 for n, md5 in dataset.md5.items()},
            # The field photos' delivery (the hash data/field.dvc records), when imported.
            field={paths.FIELD_DIR.as_posix(): v} if (v := info["field"]["version"]) else {},
        ),
        params=training_params,
        code=code,
        versions=versions,
        classes=list(info["class_names"]),
        normalization={"mean": mean, "std": std},
        calibration=CalibrationInfo(
            temperature=temperature, threshold=params.confidence_threshold, fitted_on=fitted_on
        ),
        training=TrainingInfo(
            best_epoch=result.best_epoch,
            epochs_run=len(result.history),
            val_loss=result.best_val_loss,
            val_accuracy=result.best_val_accuracy,
            device=str(device),
            precision=precision,
            processes=world.size,
        ),
    )
    card = save_model(model_dir, model, card, profile)
    if store:
        store.clear()  # the run is complete: its outputs now live in DVC's cache
    return card, result


def main() -> None:
    """Entry point for `dvc repro train` (and for each process torchrun starts)."""
    started_at, started = runlog.utc_now(), time.perf_counter()
    git = runlog.git_state()  # before training: the commit the run started from
    params = load_params()
    # Here before torchrun starts any process (one clear error, not one per rank);
    # _prepare checks again for callers of run() that skip main.
    check_device(params.training)
    if params.processes > 1 and not distributed.under_torchrun():
        # `dvc repro` runs this module once; it becomes `processes` training processes.
        threads = training.num_threads(params.processes)
        distributed.launch(__spec__.name, params.processes, threads)
        return
    world = distributed.join(cuda=training.resolve_device(params.device).type == "cuda")
    try:
        if world.is_main:
            _train_and_log(params, started_at, started, git, world)
        else:
            train_shard(paths.PROCESSED_DIR, params.training, world)
    finally:
        distributed.leave()


def _train_and_log(
    params: Params, started_at: str, started: float, git: runlog.GitState, world: distributed.World
) -> None:
    """Rank 0's share of `main`: train with DVCLive logging, then append to the run log."""
    from dvclive import Live  # heavy import, only the stage needs it

    # dvcyaml=False: the plots are declared by hand at the top level of dvc.yaml.
    with Live(str(paths.TRAIN_LOG_DIR), dvcyaml=False, save_dvc_exp=False, report=None) as live:

        def log_epoch(record: EpochRecord) -> None:
            live.step = record.epoch
            for split in ("train", "val"):
                live.log_metric(f"{split}/loss", getattr(record, f"{split}_loss"))
                live.log_metric(f"{split}/accuracy", getattr(record, f"{split}_accuracy"))
            live.log_metric("lr", record.lr)
            live.make_summary()

        card, result = run(
            paths.PROCESSED_DIR,
            paths.MODELS_DIR,
            paths.RESUME_DIR,
            params.training,
            params.dataset,
            log_epoch,
            world,
        )
    record = runlog.RunRecord(
        started_at=started_at,
        finished_at=runlog.utc_now(),
        wall_seconds=round(time.perf_counter() - started, 2),
        train_seconds=round(result.train_seconds, 2),
        resumed_from_epoch=result.resumed_from_epoch,
        host=runlog.host(),
        platform=runlog.machine(),
        device=card.training.device,
        threads=torch.get_num_threads(),
        git_commit=git.commit,
        git_dirty=git.dirty,
        weights_md5=card.model.weights_md5,
    )
    runlog.append(paths.TRAIN_RUN_LOG, record)
    t = card.training
    log.info(
        "train: best epoch %d of %d, val loss %.4f, val accuracy %.4f, %.0f s on %s in %s "
        "(run log: %s)",
        t.best_epoch, t.epochs_run, t.val_loss, t.val_accuracy, result.train_seconds, t.device,
        t.precision, paths.TRAIN_RUN_LOG,
    )  # fmt: skip


if __name__ == "__main__":
    run_stage(main)
