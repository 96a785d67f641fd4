"""dvc.yaml and the code agree: each list (training keys, stage deps) is written once or checked."""

from typing import Any

import pytest
import yaml

from apparel_classifier.params import TRAINING_KEYS, Params
from tests.fakes import REPO_ROOT


def _stages() -> dict[str, Any]:
    stages: dict[str, Any] = yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text())["stages"]
    return stages


def test_train_stage_lists_exactly_the_training_keys() -> None:
    # dataset.md5 too: the card records the raw files' MD5s.
    assert _stages()["train"]["params"] == ["dataset.md5", *TRAINING_KEYS]


def test_every_params_yaml_key_is_read_by_some_stage() -> None:
    listed = {
        entry.split(".")[0] for stage in _stages().values() for entry in stage.get("params", [])
    }
    assert listed == set(Params.model_fields)


@pytest.mark.parametrize("stage", ["download", "preprocess", "train", "evaluate", "baseline"])
def test_every_dependency_of_a_stage_exists(stage: str) -> None:
    # A renamed module left behind in dvc.yaml would make `dvc repro` fail, and the
    # train stage's code digest would miss it.
    code = [dep for dep in _stages()[stage]["deps"] if dep.startswith("src/")]
    assert code, f"{stage} lists no code"
    missing = [dep for dep in code if not (REPO_ROOT / dep).is_file()]
    assert missing == []
