"""The coarse-to-fine search (tools/search.py): sampling, narrowing, a whole search on tiny data."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from apparel_classifier.errors import UserError
from tests.fakes import REPO_ROOT
from tests.pipeline.repo import Repo, make_repo
from tools.search import Range, load_search, narrow, sample

LOG = Range(low=1e-4, high=1e-1, scale="log")
WIDTH = Range(low=8, high=16, scale="linear", integer=True)


def test_samples_stay_in_range_uniform_in_their_scale_and_seeded() -> None:
    points = sample({"wd": LOG, "width": WIDTH}, 400, np.random.default_rng(0))
    wd = np.array([p["wd"] for p in points])
    assert wd.min() >= 1e-4
    assert wd.max() <= 1e-1
    # Uniform in the exponent: about a third of the samples in each decade.
    decades = np.histogram(np.log10(wd), bins=[-4, -3, -2, -1])[0]
    assert decades.min() > 100
    assert all(isinstance(p["width"], int) and 8 <= p["width"] <= 16 for p in points)
    assert sample({"wd": LOG}, 3, np.random.default_rng(1)) == sample(
        {"wd": LOG}, 3, np.random.default_rng(1)
    )


def test_narrowing_spans_the_best_runs_plus_a_margin_within_the_old_range() -> None:
    best = [{"wd": 1e-3, "width": 12}, {"wd": 1e-2, "width": 13}]
    space = narrow({"wd": LOG, "width": WIDTH}, best, margin=0.1)
    # log10 span [-3, -2], widened by 0.1 of the 3 decades on each side.
    assert math.isclose(math.log10(space["wd"].low), -3.3)
    assert math.isclose(math.log10(space["wd"].high), -1.7)
    assert (space["width"].low, space["width"].high) == pytest.approx((11.2, 13.8))
    # At the edge of the old range: clipped to it.
    edge = narrow({"wd": LOG}, [{"wd": 1e-1}], margin=0.5)["wd"]
    assert edge.high == pytest.approx(1e-1)
    assert math.isclose(math.log10(edge.low), -2.5)


def test_a_bad_space_file_names_the_key(tmp_path: Path) -> None:
    data: dict[str, Any] = yaml.safe_load((REPO_ROOT / "search.yaml").read_text())
    data["space"]["lr"] = {"low": 0.0, "high": 0.5, "scale": "log"}
    data["rounds"] = 0
    path = tmp_path / "search.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(UserError, match=r"rounds: .*space\.lr: .*log scale needs low > 0"):
        load_search(path)


def _search(repo: Repo, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m tools.search` in the test repository (tools/ from this checkout)."""
    env = {**repo.env, "PYTHONPATH": os.pathsep.join([repo.env["PYTHONPATH"], str(REPO_ROOT)])}
    return subprocess.run(
        [sys.executable, "-m", "tools.search", *args],
        cwd=repo.root, env=env, capture_output=True, text=True, timeout=500, check=False,
    )  # fmt: skip


def _experiments(repo: Repo) -> dict[str, dict[str, Any]]:
    """Experiment name -> (params, val accuracy), from `dvc exp show --json`."""
    found = {}
    for commit in json.loads(repo.dvc("exp", "show", "--json").stdout):
        for experiment in commit.get("experiments") or []:
            rev = experiment["revs"][0]
            metrics = rev["data"]["metrics"]["metrics/train/metrics.json"]["data"]
            found[rev["name"]] = {
                "params": rev["data"]["params"]["params.yaml"]["data"],
                "objective": metrics["val"]["accuracy"],
            }
    return found


@pytest.mark.timeout(600)
def test_a_two_round_search_through_the_queue_promotes_its_best_run(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    space: dict[str, Any] = {
        "objective": "metrics/train/metrics.json:val.accuracy",
        "rounds": 2, "trials": 2, "jobs": 2, "keep": 1, "margin": 0.1, "seed": 0,
        "fixed": {"epochs": 1},
        "space": {
            "lr": {"low": 0.01, "high": 0.3, "scale": "log"},
            "weight_decay": {"low": 1e-5, "high": 1e-3, "scale": "log"},
            "width": {"low": 4, "high": 12, "scale": "linear", "integer": True},
        },
    }  # fmt: skip
    (repo.root / "search.yaml").write_text(yaml.safe_dump(space, sort_keys=False))
    repo.dvc("repro")
    repo.commit("reproduced")

    # A trial params.py would refuse is refused before anything is queued.
    bad = {
        **space,
        "space": {**space["space"], "width": {"low": -8, "high": -4, "scale": "linear"}},
    }
    (repo.root / "bad.yaml").write_text(yaml.safe_dump(bad))
    refused = _search(repo, "--space", "bad.yaml")
    assert refused.returncode == 1
    assert refused.stderr.startswith("error: params.yaml with search-r1-1's values is invalid")
    assert "width" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert _experiments(repo) == {}

    try:
        result = _search(repo)
    finally:
        repo.dvc("queue", "stop", "--kill", check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    experiments = _experiments(repo)
    assert sorted(experiments) == ["search-r1-1", "search-r1-2", "search-r2-1", "search-r2-2"]
    assert all(e["params"]["epochs"] == 1 for e in experiments.values())  # the fixed key

    # Round 2 sampled around round 1's best run (keep: 1), within 0.1 of each range
    # (tiny data may tie two runs: then around either).
    first = [e for n, e in experiments.items() if "-r1-" in n]
    top = max(e["objective"] for e in first)
    centres = [e["params"] for e in first if e["objective"] == top]

    def near(values: dict[str, Any], centre: dict[str, Any]) -> bool:
        for key, r in space["space"].items():
            warp = math.log10 if r["scale"] == "log" else float
            pad = 0.1 * (warp(r["high"]) - warp(r["low"])) + 0.5 * r.get("integer", False)
            if abs(warp(values[key]) - warp(centre[key])) > pad + 1e-9:
                return False
        return True

    for name in ("search-r2-1", "search-r2-2"):
        assert any(near(experiments[name]["params"], c) for c in centres), name

    # The table lists every trial, best first; the best is applied to the workspace.
    rows = [line for line in result.stdout.splitlines() if line.startswith("| search-")]
    assert len(rows) == 4
    scores = [float(row.split("|")[-2]) for row in rows]
    assert scores == sorted(scores, reverse=True)
    best_name = rows[0].split("|")[1].strip()
    assert scores[0] == pytest.approx(max(e["objective"] for e in experiments.values()), abs=1e-4)
    applied = repo.params()
    for key in space["space"]:
        assert applied[key] == experiments[best_name]["params"][key]
    assert f"applied {best_name}" in result.stdout
