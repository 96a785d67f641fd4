"""Data-parallel training: torchrun starts the processes, DistributedDataParallel syncs them.

The `train` stage stays one command (`python -m apparel_classifier.stages.train`).
With `processes` above one it re-launches itself through torchrun on this machine
(`--standalone`); started by an outer torchrun (several nodes, `--rdzv-endpoint`), it
simply joins the group that torchrun set up. Every process draws the same batch
order and augmentation (the same (seed, epoch) generator) and trains on its own
shard of each batch; DDP averages the gradients, so each step is one step on the
global batch. Only rank 0 writes the model, the metrics and the resume state.
"""

import ctypes
import os
import signal
import sys
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from apparel_classifier.errors import UserError

# Set by torchrun in every process it starts (the "env://" rendezvous).
_TORCHRUN_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE")


@dataclass(frozen=True)
class World:
    """This process's place among the training processes (one process: rank 0 of 1)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    local_size: int = 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that logs and writes files."""
        return self.rank == 0

    @property
    def is_distributed(self) -> bool:
        return self.size > 1

    def shard(self, batch_size: int) -> slice:
        """This rank's share of a global batch (the stage checks that it divides evenly)."""
        local = batch_size // self.size
        return slice(self.rank * local, (self.rank + 1) * local)

    def sum(self, value: torch.Tensor) -> torch.Tensor:
        """The sum of `value` over all processes (the value itself with one process)."""
        if self.is_distributed:
            value = value.clone()
            dist.all_reduce(value, op=dist.ReduceOp.SUM)
        return value

    def from_main(self, obj: Any) -> Any:
        """Rank 0's `obj`, on every rank (e.g. the resume state only rank 0 read)."""
        if not self.is_distributed:
            return obj
        box = [obj if self.is_main else None]
        dist.broadcast_object_list(box, src=0)
        return box[0]


SINGLE = World()


def under_torchrun() -> bool:
    """True in a process that torchrun started."""
    return all(name in os.environ for name in _TORCHRUN_ENV)


def launch(module: str, processes: int, threads: int) -> None:
    """Run `python -m module` as `processes` workers on this machine, under torchrun's agent.

    The agent runs in this process rather than as a child `torchrun`: killed, this
    process takes its workers with it (`_die_with_launcher`), and a failed worker ends
    in one UserError instead of torchrun's traceback (each worker printed its own
    message). `--standalone` picks a free local port, so two runs never collide.
    `threads`: each worker's share of the cores.
    """
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args, run

    os.environ["OMP_NUM_THREADS"] = str(threads)  # else torchrun warns that it chose 1
    args = parse_args(["--standalone", "--nnodes=1", f"--nproc-per-node={processes}", "-m", module])
    try:
        run(args)
    except ChildFailedError as exc:
        codes = ", ".join(f"rank {rank}: {f.exitcode}" for rank, f in sorted(exc.failures.items()))
        raise UserError(
            f"training failed in {len(exc.failures)} of {processes} processes "
            f"(exit status {codes}); each one's message is above"
        ) from None


def _die_with_launcher() -> None:
    """Have the kernel kill this worker when its torchrun dies (Linux).

    torchrun starts each worker in a session of its own, so a SIGKILL of the launcher
    (a `dvc repro` lost with its machine, or killed by hand) would otherwise leave the
    workers training on and writing models/ behind DVC's back.
    """
    if not sys.platform.startswith("linux"):
        return
    launcher = os.getppid()
    pr_set_pdeathsig = 1  # from <sys/prctl.h>
    if ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL) != 0:
        return  # not granted (a sandbox): the worker lives on, as torchrun made it
    if os.getppid() != launcher:  # the launcher died before the request was made
        os._exit(1)


def join(cuda: bool) -> World:
    """Join the process group torchrun set up (gloo on CPU, NCCL on GPUs); alone: SINGLE."""
    if not under_torchrun():
        return SINGLE
    _die_with_launcher()
    local_rank = int(os.environ["LOCAL_RANK"])
    if cuda:
        torch.cuda.set_device(local_rank)
    dist.init_process_group("nccl" if cuda else "gloo")
    return World(
        rank=dist.get_rank(),
        size=dist.get_world_size(),
        local_rank=local_rank,
        local_size=int(os.environ["LOCAL_WORLD_SIZE"]),
    )


def leave() -> None:
    """Leave the process group (a no-op when training alone)."""
    if dist.is_initialized():
        dist.destroy_process_group()
