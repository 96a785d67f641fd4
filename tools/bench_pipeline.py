"""Benchmark: time to accuracy, training throughput, and each stage's wall time and peak memory.

Usage: python -m tools.bench_pipeline [--skip-pipeline | --pipeline-only] [--repeats 5]
[--precision P] (`make bench`)

1. Throughput: the median of several short timed runs of the real training step, and
   the arithmetic rate it means (torch's FLOP counter on one step).
2. Time to accuracy: the `train` stage's own data, params and `training.fit`, in this
   process, with the test accuracy measured after each epoch off the clock (fit's
   epoch timer has stopped when it calls back), against cumulative training seconds.
3. The pipeline, stage by stage (`dvc repro -f -s <stage>`), with each stage's peak
   memory. Steps 2 and 3 each train once: several minutes on a 2-core CPU.

Steps 1 and 2 train in the `precision` of params.yaml, as `train` does (`auto`: bf16
where the hardware has it); `--precision fp32` or `bf16` measures the other one on the
same machine.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from apparel_classifier import networks, paths, training
from apparel_classifier.fashion_mnist import NUM_CLASSES
from apparel_classifier.params import TrainingParams, load_params
from apparel_classifier.training import EpochRecord

# The accuracy the time-to-accuracy table is read at: what the canonical PyTorch MNIST
# example (two convs, Adadelta) reaches on Fashion-MNIST (issue 11 measured about
# 480 s for it on a 2-core CPU; the target is 3x faster).
TARGET_ACCURACY = 0.925

STAGES = ("download", "preprocess", "train", "evaluate", "baseline")


# Runs one command and prints the peak RSS of its process tree. A small wrapper process,
# because a child forked from this (torch-laden) process would report our RSS as its own.
_PEAK_RSS = (
    "import resource, subprocess, sys; "
    "code = subprocess.call(sys.argv[1:]); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(code)"
)


def _accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    return float((logits.argmax(1) == labels).float().mean())


def time_stage(stage: str) -> tuple[float, float]:
    """Force-run one stage; return (wall seconds, peak resident MiB of the stage's processes)."""
    command = ["dvc", "repro", "--force", "--single-item", stage]
    started = time.perf_counter()
    # dvc and the stages' `python` must be this environment's, as under `make`.
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run(
        [sys.executable, "-c", _PEAK_RSS, *command],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        check=False,
    )
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"benchmark: `{' '.join(command)}` failed with status {proc.returncode}")
    lines = proc.stdout.strip().splitlines()
    print("\n".join(lines[:-1]))  # dvc's own output
    return seconds, int(lines[-1]) / 1024  # Linux reports KiB


def throughput(params: TrainingParams, batches: int, repeats: int) -> tuple[list[float], float]:
    """Training images per second (augmentation included), one per repeat; FLOPs per image."""
    training.make_deterministic(params.seed)
    device = training.resolve_device(params.device)
    model = training.build_network(params).to(device)
    training.to_training_layout(model, params.channels_last)  # as fit does
    optimizer, _ = training.build_optimizer(model, params, total_steps=10**6)
    generator = training.epoch_generator(params.seed, 0, device)
    x = torch.randn(params.batch_size, 1, 28, 28, device=device, generator=generator)
    y = torch.randint(0, NUM_CLASSES, (params.batch_size,), device=device, generator=generator)
    bf16 = training.resolve_precision(params.precision, device) == "bf16"
    # The warm-up step, counted by torch's own counter: convolutions and matrix products,
    # forward and backward (the arithmetic that matters; BatchNorm, ReLU, pooling and the
    # SGD update are memory traffic). Images/s times this, against the CPU's peak, says how
    # much a faster kernel could still give.
    with FlopCounterMode(display=False) as counter:
        training.train_step(model, optimizer, x, y, params.label_smoothing, bf16)
    rates = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        for _ in range(batches):
            batch = training.augment(x, params.augment, 0.0, generator)
            loss, _ = training.train_step(model, optimizer, batch, y, params.label_smoothing, bf16)
        loss.item()  # waits for the device
        rates.append(batches * params.batch_size / (time.perf_counter() - started))
    return rates, counter.get_total_flops() / params.batch_size


def time_to_accuracy(params: TrainingParams) -> None:
    """Train as the stage does; print test accuracy per epoch against training seconds."""
    training.make_deterministic(params.seed)
    device = training.resolve_device(params.device)
    data = training.load_data(paths.PROCESSED_DIR, device, ("train", "val", "test"))
    test_x, test_y = data.tensors["test"]
    model = training.build_network(params).to(device)
    rows: list[tuple[EpochRecord, float, float]] = []

    def score(record: EpochRecord) -> None:  # called after the epoch's timer has stopped
        plain = networks.predict_logits(model, test_x, params.val_batch_size)
        served = networks.predict_logits(model, test_x, params.val_batch_size, *params.views)
        rows.append((record, _accuracy(plain, test_y), _accuracy(served, test_y)))

    train_x, _ = data.tensors["train"]
    result = training.fit(
        model, data.tensors["train"], data.tensors["val"], params, data.background, None, score
    )
    count = networks.view_count(*params.views)
    served = f"{count}-view average" if count > 1 else "plain"
    precision = training.resolve_precision(params.precision, device)
    print(f"\ntime to accuracy ({len(train_x):,} training rows per epoch, {device}, "
          f"{precision} training step; "
          f"the model answers with the {served} column):")  # fmt: skip
    print(f"{'epoch':>5}{'train s':>10}{'val acc':>10}{'test: plain':>13}{served:>18}")
    for record, plain_acc, served_acc in rows:
        print(f"{record.epoch:>5}{record.train_seconds:>10.1f}{record.val_accuracy:>10.4f}"
              f"{plain_acc:>13.4f}{served_acc:>18.4f}")  # fmt: skip
    reached = next((r.train_seconds for r, _, acc in rows if acc >= TARGET_ACCURACY), None)
    print(
        f"test accuracy {TARGET_ACCURACY:.3f} ({served}) first reached after "
        + (f"{reached:.1f} s" if reached is not None else "never (not within the epochs run)")
    )
    seconds = result.train_seconds
    print(f"training: {seconds:.1f} s, {len(train_x) * len(rows) / seconds:,.0f} img/s "
          f"(validation included); best epoch {result.best_epoch} by validation loss")  # fmt: skip
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB
    print(f"peak memory of this process: {peak:.0f} MiB")


def main(argv: list[str] | None = None) -> None:
    """Print the benchmark table."""
    parser = argparse.ArgumentParser(description=__doc__)
    only = parser.add_mutually_exclusive_group()
    only.add_argument(
        "--skip-pipeline", action="store_true", help="throughput and time to accuracy only"
    )
    only.add_argument(
        "--pipeline-only", action="store_true",
        help="each stage's wall time and peak memory only (step 3): a few minutes, no training "
        "outside the pipeline, so several runs for a median fit in a session",
    )  # fmt: skip
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--stages", nargs="+", choices=STAGES, default=list(STAGES))
    parser.add_argument(
        "--precision", choices=("auto", "fp32", "bf16"),
        help="the training step's number format instead of params.yaml's (bf16 is fast only "
        "where the CPU has AVX512_BF16 or AMX, or on CUDA)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    params = load_params()
    if args.precision:
        params = params.model_copy(update={"precision": args.precision})

    precision = training.resolve_precision(params.precision, training.resolve_device(params.device))
    print(f"load average before the run: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; "
          f"torch kernels: {torch.backends.cpu.get_cpu_capability()}; "
          f"precision {params.precision}: {precision}")  # fmt: skip
    if args.pipeline_only:
        time_pipeline(args.stages)
        return
    rates, flops = throughput(params.training, args.batches, args.repeats)
    median = statistics.median(rates)
    print(
        f"training throughput: median {median:,.0f} img/s "
        f"over {args.repeats} runs of {args.batches} batches of {params.batch_size} "
        f"(min {min(rates):,.0f}, max {max(rates):,.0f}; {torch.get_num_threads()} threads)"
    )
    print(
        f"arithmetic: {flops / 1e6:.1f} MFLOP per training image (convolutions and matrix "
        f"products, forward and backward), {median * flops / 1e9:.0f} GFLOP/s at the median"
    )
    time_to_accuracy(params.training)
    if args.skip_pipeline:
        return

    time_pipeline(args.stages)


def time_pipeline(stages: list[str]) -> None:
    """Force-run each stage in turn; print its wall time and peak memory, and the scores."""
    timings = {stage: time_stage(stage) for stage in stages}  # dvc's own output interleaves
    print(f"\n{'stage':<12}{'wall s':>10}{'peak MiB':>10}")
    for stage, (seconds, peak) in timings.items():
        print(f"{stage:<12}{seconds:>10.1f}{peak:>10.0f}")
    print(f"{'total':<12}{sum(s for s, _ in timings.values()):>10.1f}")
    print(f"peak memory: {max(p for _, p in timings.values()):.0f} MiB")
    metrics = json.loads(paths.METRICS_FILE.read_text(encoding="utf-8"))
    baseline = json.loads(paths.BASELINE_METRICS_FILE.read_text(encoding="utf-8"))
    print(f"test accuracy: CNN {metrics['accuracy']:.4f}, baseline {baseline['accuracy']:.4f}")


if __name__ == "__main__":
    main()
