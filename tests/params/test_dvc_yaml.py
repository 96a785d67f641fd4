"""dvc.yaml and the code agree: each list (training keys, stage deps) is written once or checked."""

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from apparel_classifier.params import TRAINING_KEYS, Params
from tests.fakes import REPO_ROOT

# The default pipeline, and the toolkit's own (`make learning-curve`, `make error-analysis`).
PIPELINES = ("dvc.yaml", "learning_curve/dvc.yaml", "error_analysis/dvc.yaml")


def _stages(pipeline: str = "dvc.yaml") -> dict[str, Any]:
    stages: dict[str, Any] = yaml.safe_load((REPO_ROOT / pipeline).read_text())["stages"]
    return stages


def _all_stages() -> dict[str, Any]:
    """Every stage of every pipeline, as `<pipeline>:<stage>` (matrix stages unexpanded)."""
    return {f"{p}:{name}": stage for p in PIPELINES for name, stage in _stages(p).items()}


STAGES = list(_all_stages())  # each is checked, new ones included


def _module(stage: dict[str, Any]) -> str:
    """The stage module its cmd runs (`python -m apparel_classifier.stages.<name>`)."""
    match = re.search(r"python -m apparel_classifier\.stages\.(\w+)", stage["cmd"])
    assert match, stage["cmd"]
    return match.group(1)


def test_train_stage_lists_exactly_the_training_keys() -> None:
    # dataset.md5 too: the card records the raw files' MD5s.
    assert _stages()["train"]["params"] == ["dataset.md5", *TRAINING_KEYS]


def test_every_params_yaml_key_is_read_by_some_stage() -> None:
    listed = {
        entry.split(".")[0] for stage in _all_stages().values() for entry in stage.get("params", [])
    }
    assert listed == set(Params.model_fields)


def test_the_learning_curve_trains_with_the_training_keys() -> None:
    # Its CNN points train as `train` does; the baseline points read `baseline`.
    point = _stages("learning_curve/dvc.yaml")["point"]
    assert point["params"] == [*TRAINING_KEYS, "baseline"]


@pytest.mark.parametrize("stage", STAGES)
def test_every_dependency_of_a_stage_exists(stage: str) -> None:
    # A renamed module left behind in dvc.yaml would make `dvc repro` fail, and the
    # train stage's code digest would miss it.
    code = [dep for dep in _all_stages()[stage]["deps"] if dep.startswith("src/")]
    assert code, f"{stage} lists no code"
    missing = [dep for dep in code if not (REPO_ROOT / dep).is_file()]
    assert missing == []


# Modules a stage imports that need not re-run it when they change: messages, file
# plumbing, path constants, the run log, and the params loader (strict, without
# defaults: what reaches the outputs are params.yaml's values, which DVC tracks
# itself, key by key). The probe sees the imports made when a stage module loads.
_NO_EFFECT_ON_OUTPUTS = {"errors", "fileio", "params", "paths", "runlog"}


def _after_loading(module: str, statement: str) -> str:
    """What `statement` prints in a fresh interpreter that has imported one stage module."""
    probe = f"import sys, apparel_classifier.stages.{module}; {statement}"
    return subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout


@pytest.mark.parametrize("stage", STAGES)
def test_a_stage_lists_every_project_module_it_imports(stage: str) -> None:
    # Otherwise a change to that module would not re-run the stage, and the train
    # stage's code digest would not cover it. A fresh interpreter, to see the stage's
    # own imports only.
    definition = _all_stages()[stage]
    module = _module(definition)
    out = _after_loading(
        module,
        "print(*(m.__file__ for n, m in sys.modules.items() if n.startswith('apparel_classifier.') "
        "and not n.startswith('apparel_classifier.stages')))",
    )
    imported = {Path(f).resolve().relative_to(REPO_ROOT).as_posix() for f in out.split()}
    needed = {f for f in imported if Path(f).stem not in {"__init__", *_NO_EFFECT_ON_OUTPUTS}}
    needed.add(f"src/apparel_classifier/stages/{module}.py")
    assert needed - set(definition["deps"]) == set()


# torch takes about 1.2 s to load, in every stage process that imports it; the stages
# that never run a network skip it (a shared helper that imports torch would add it back).
@pytest.mark.parametrize("module", ["download", "preprocess", "baseline"])
def test_a_stage_without_a_network_does_not_load_torch(module: str) -> None:
    assert _after_loading(module, "print('torch' in sys.modules)").strip() == "False"
