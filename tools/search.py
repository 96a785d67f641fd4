"""Coarse-to-fine hyperparameter search through DVC's experiment queue.

Usage: python -m tools.search [--space search.yaml] [--name search] [--no-apply]

Round 1 samples the space in search.yaml at random; each later round samples a
narrower space around the best runs so far. Every trial is a DVC experiment
(`dvc exp run --queue -n <name>-r<round>-<i> -S key=value ...`), run by
`dvc queue start -j <jobs>`; the results are read back from `dvc exp show --json`,
and the best run is applied to the workspace with `dvc exp apply` (commit it to
promote it). Prints one Markdown table of every trial, best first.
"""

import argparse
import json
import math
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from apparel_classifier.errors import UserError, run_stage
from apparel_classifier.params import YamlLoader, parse_params
from apparel_classifier.paths import PARAMS_FILE

SPACE_FILE = Path("search.yaml")
_POLL_SECONDS = 3.0
# Polls (30 s) with trials queued and none running before the workers are started again.
_IDLE_POLLS = 10
# DVC's read-only commands take seconds here; past a minute one is stuck (see _read).
_READ_TIMEOUT_S = 60.0
_READ_TRIES = 3
_FINAL_STATES = {"Success", "Failed"}
_STATES = {"Queued", "Running", *_FINAL_STATES}

Value = int | float


class Range(BaseModel):
    """One key's range: sampled uniformly in its scale (the exponent for `log`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    low: float
    high: float
    scale: Literal["linear", "log"]
    integer: bool = False  # rounded to whole numbers (widths, counts)

    @model_validator(mode="after")
    def _ordered(self) -> "Range":
        if not self.low < self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        if self.scale == "log" and self.low <= 0:
            raise ValueError(f"a log scale needs low > 0, got {self.low}")
        return self

    def warp(self, value: float) -> float:
        """`value` in the space where samples are uniform."""
        return math.log10(value) if self.scale == "log" else value

    def unwarp(self, value: float) -> float:
        """The inverse of `warp`."""
        return 10.0**value if self.scale == "log" else value

    def tidy(self, value: float) -> Value:
        """A readable value for `-S key=value`: a whole number, or 3 significant digits."""
        return round(value) if self.integer else float(f"{value:.3g}")


class Search(BaseModel):
    """search.yaml, validated."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    objective: Annotated[str, Field(pattern=r"^[^:]+:[^:]+$")]  # file:key, maximised
    rounds: Annotated[int, Field(ge=1, le=10)]
    trials: Annotated[int, Field(ge=1, le=200)]
    jobs: Annotated[int, Field(ge=1, le=64)]
    keep: Annotated[int, Field(ge=1)]
    margin: Annotated[float, Field(gt=0.0, le=1.0)]
    seed: Annotated[int, Field(ge=0)]
    fixed: dict[str, Value | str | bool]
    space: Annotated[dict[str, Range], Field(min_length=1)]


def load_search(path: Path) -> Search:
    """Read and validate the search space; one UserError names every bad key."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return Search.model_validate(data)
    except FileNotFoundError:
        raise UserError(f"{path} not found: run from the project root") from None
    except yaml.YAMLError as exc:
        raise UserError(f"{path} is not valid YAML: {exc}") from None
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or '<top level>'}: {e['msg'].lower()}"
            for e in exc.errors()
        )
        raise UserError(f"{path} is invalid: {problems}") from None


def sample(space: dict[str, Range], count: int, rng: np.random.Generator) -> list[dict[str, Value]]:
    """`count` random points of `space`, each key uniform in its own scale."""
    return [
        {k: r.tidy(r.unwarp(rng.uniform(r.warp(r.low), r.warp(r.high)))) for k, r in space.items()}
        for _ in range(count)
    ]


def narrow(
    space: dict[str, Range], best: list[dict[str, Value]], margin: float
) -> dict[str, Range]:
    """The span of the best runs' values per key, widened by `margin` of the old range.

    Clipped to the old range, in each key's own scale: the next round looks closer
    where the good runs were, and never outside what the user allowed.
    """
    narrowed = {}
    for key, r in space.items():
        values = [r.warp(b[key]) for b in best]
        low, high = r.warp(r.low), r.warp(r.high)
        pad = margin * (high - low)
        narrowed[key] = r.model_copy(
            update={
                "low": r.unwarp(max(low, min(values) - pad)),
                "high": r.unwarp(min(high, max(values) + pad)),
            }
        )
    return narrowed


@dataclass
class Trial:
    """One sampled point, queued as the experiment `name`."""

    name: str
    round: int
    values: dict[str, Value]
    objective: float | None = None  # None until it succeeded

    @property
    def score(self) -> float:
        """The objective for ranking: a failed run ranks below every other."""
        return -math.inf if self.objective is None else self.objective


def _run(*cmd: str, timeout: float | None = None) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=timeout)
    if proc.returncode != 0:
        raise UserError(f"`{' '.join(cmd)}` failed: {(proc.stderr or proc.stdout).strip()}")
    return proc.stdout


def check_trials(trials: list[Trial], fixed: dict[str, Any]) -> None:
    """Refuse, before queueing anything, a trial whose params params.py would reject."""
    base = yaml.load(PARAMS_FILE.read_text(encoding="utf-8"), Loader=YamlLoader)
    for trial in trials:
        data = json.loads(json.dumps(base))  # a deep copy
        for key, value in {**fixed, **trial.values}.items():
            *parents, leaf = key.split(".")
            node = data
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = value
        parse_params(data, source=f"{PARAMS_FILE} with {trial.name}'s values")


def _queue_states() -> dict[str, str]:
    """Experiment name -> its state in `dvc queue status` (Queued, Running, Success, Failed)."""
    states = {}
    for line in _read("dvc", "queue", "status").splitlines()[1:]:
        tokens = line.split()
        state = next((t for t in tokens if t in _STATES), None)
        if len(tokens) > 1 and state:
            states[tokens[1]] = state
    return states


def run_round(trials: list[Trial], search: Search) -> None:
    """Queue the trials as experiments, run the queue, wait until each has finished."""
    for trial in trials:
        sets = [("-S", f"{k}={v}") for k, v in {**search.fixed, **trial.values}.items()]
        _run("dvc", "exp", "run", "--queue", "-n", trial.name, *(a for pair in sets for a in pair))
    _run("dvc", "queue", "start", "-j", str(search.jobs))
    names = {t.name for t in trials}
    idle = 0  # polls in a row with trials waiting and none running
    try:
        while True:
            states = _queue_states()
            if all(states.get(name) in _FINAL_STATES for name in names):
                return
            waiting = any(states.get(name) == "Queued" for name in names)
            running = any(state == "Running" for state in states.values())
            idle = idle + 1 if waiting and not running else 0
            if idle == _IDLE_POLLS:
                # DVC's queue workers can exit while a task is still queued
                # (treeverse/dvc#10562); starting them again is harmless when they are alive.
                _run("dvc", "queue", "start", "-j", str(search.jobs))
                idle = 0
            time.sleep(_POLL_SECONDS)
    except BaseException:  # interrupted: stop the workers rather than leave them training
        subprocess.run(["dvc", "queue", "stop", "--kill"], capture_output=True, check=False)
        raise


def _read(*cmd: str) -> str:
    """A read-only DVC command (`queue status`, `exp show`), killed and asked again if it hangs.

    Just after the queue's last run, DVC can wait forever on the lock the finishing
    workers hold (treeverse/dvc#8762); the CI dry run's tiny search hung so once.
    """
    for _ in range(_READ_TRIES):
        try:
            return _run(*cmd, timeout=_READ_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            time.sleep(_POLL_SECONDS)
    raise UserError(
        f"`{' '.join(cmd)}` hung {_READ_TRIES} times; the runs are kept: "
        "`dvc queue status`, then `dvc exp show`"
    )


def _dotted(data: dict[str, Any], key: str) -> Any:
    for part in key.split("."):
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data


def read_objectives(trials: list[Trial], objective: str) -> None:
    """Fill in each trial's objective from `dvc exp show --json` (None for a failed run)."""
    file, key = objective.split(":")
    found: dict[str, float] = {}
    for commit in json.loads(_read("dvc", "exp", "show", "--json")):
        for experiment in commit.get("experiments") or []:
            for rev in experiment["revs"]:
                metrics = ((rev.get("data") or {}).get("metrics") or {}).get(file, {})
                value = _dotted(metrics.get("data") or {}, key)
                if isinstance(value, int | float):
                    found[rev["name"]] = float(value)
    for trial in trials:
        trial.objective = found.get(trial.name)


def table(trials: list[Trial], search: Search) -> str:
    """Every trial as a Markdown table, best first (failed runs last)."""
    keys = list(search.space)
    lines = [
        f"| experiment | round | {' | '.join(keys)} | {search.objective} |",
        "|---|---:|" + "---:|" * (len(keys) + 1),
    ]
    for t in sorted(trials, key=lambda t: t.score, reverse=True):
        score = "failed" if t.objective is None else f"{t.objective:.4f}"
        cells = " | ".join(str(t.values[k]) for k in keys)
        lines.append(f"| {t.name} | {t.round} | {cells} | {score} |")
    return "\n".join(lines)


def search(space_file: Path, prefix: str, apply: bool) -> list[Trial]:
    """Run every round of the search; apply the best trial unless told not to."""
    config = load_search(space_file)
    if any(s in {"Queued", "Running"} for s in _queue_states().values()):
        raise UserError("the DVC queue already has experiments waiting: `dvc queue status`")
    space, trials = dict(config.space), list[Trial]()
    for round_ in range(1, config.rounds + 1):
        if round_ > 1:
            done = sorted((t for t in trials if t.objective is not None), key=lambda t: -t.score)
            space = narrow(space, [t.values for t in done[: config.keep]], config.margin)
            bounds = ", ".join(f"{k} in [{r.low:.3g}, {r.high:.3g}]" for k, r in space.items())
            print(f"round {round_} narrows to {bounds}", flush=True)
        rng = np.random.default_rng([config.seed, round_])
        batch = [
            Trial(f"{prefix}-r{round_}-{i}", round_, values)
            for i, values in enumerate(sample(space, config.trials, rng), start=1)
        ]
        check_trials(batch, config.fixed)
        run_round(batch, config)
        read_objectives(batch, config.objective)
        trials += batch
        if all(t.objective is None for t in batch):
            raise UserError(
                f"every trial of round {round_} failed: `dvc queue logs {batch[0].name}` says why"
            )
    print(table(trials, config))
    best = max(trials, key=lambda t: t.score)
    if apply:
        _run("dvc", "exp", "apply", best.name)
        print(f"applied {best.name} ({config.objective} {best.objective:.4f}) to the workspace")
    return trials


def main() -> None:
    """Parse the options and run the search."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--space", type=Path, default=SPACE_FILE)
    parser.add_argument("--name", default="search", help="experiment names: <name>-r<round>-<i>")
    parser.add_argument("--no-apply", dest="apply", action="store_false")
    args = parser.parse_args()
    search(args.space, args.name, args.apply)


if __name__ == "__main__":
    run_stage(main)
