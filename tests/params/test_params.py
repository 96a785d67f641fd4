"""params.yaml validation: every mistake is one UserError that names the key."""

from pathlib import Path
from typing import Any

import pytest
import yaml

from apparel_classifier.errors import UserError
from apparel_classifier.params import load_params, parse_params
from tests.fakes import REPO_ROOT


def _project_params() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    return data


def test_project_params_are_valid() -> None:
    params = load_params(REPO_ROOT / "params.yaml")
    assert params.preprocess.val_fraction == 0.1
    assert len(params.dataset.md5) == 4


def test_unknown_key() -> None:
    data = _project_params()
    data["preprocess"]["val_fration"] = 0.2  # a typo must not be silently ignored
    with pytest.raises(UserError, match=r"preprocess\.val_fration: unknown key"):
        parse_params(data)


def test_missing_key() -> None:
    data = _project_params()
    del data["lr"]
    with pytest.raises(UserError, match=r"\blr: missing key"):
        parse_params(data)


def test_wrong_type_is_not_coerced() -> None:
    data = _project_params()
    data["epochs"] = "3"
    with pytest.raises(UserError, match=r"epochs: .*got '3'"):
        parse_params(data)


def test_out_of_range() -> None:
    data = _project_params()
    data["preprocess"]["val_fraction"] = 0.9
    with pytest.raises(UserError, match=r"preprocess\.val_fraction: .*0\.5.*got 0\.9"):
        parse_params(data)


def test_every_bad_key_in_one_message() -> None:
    data = _project_params()
    data["lr"] = -1.0
    data["download"]["retries"] = 99
    with pytest.raises(UserError) as err:
        parse_params(data)
    message = str(err.value)
    assert "lr:" in message
    assert "download.retries:" in message
    assert message.count("\n") == 0  # one sentence, not a traceback


def test_not_a_mapping_and_bad_yaml(tmp_path: Path) -> None:
    path = tmp_path / "params.yaml"
    path.write_text("- just\n- a list\n")
    with pytest.raises(UserError, match="must be a mapping"):
        load_params(path)
    path.write_text("lr: [unclosed\n")
    with pytest.raises(UserError, match="not valid YAML"):
        load_params(path)
    with pytest.raises(UserError, match="not found"):
        load_params(tmp_path / "absent.yaml")


def test_an_exponent_without_a_dot_is_a_float(tmp_path: Path) -> None:
    # What `dvc exp run -S weight_decay=0.00001` writes (ruamel, YAML 1.2); PyYAML's
    # YAML 1.1 would read it as the string '1e-05' and reject the key.
    text = (REPO_ROOT / "params.yaml").read_text()
    path = tmp_path / "params.yaml"
    path.write_text(text.replace("weight_decay: 0.0005", "weight_decay: 1e-05"))
    assert load_params(path).weight_decay == 1e-05


def test_a_key_written_twice_is_refused(tmp_path: Path) -> None:
    # PyYAML alone keeps the last one: `epochs: 12` then `epochs: 1` trained one epoch.
    text = (REPO_ROOT / "params.yaml").read_text()
    path = tmp_path / "params.yaml"
    path.write_text(text.replace("epochs: 12", "epochs: 12\nepochs: 1"))
    with pytest.raises(UserError, match=r"(?s)not valid YAML.*found the key 'epochs' twice"):
        load_params(path)


def test_a_misspelt_class_is_named_as_it_must_be_written() -> None:
    data = _project_params()
    data["field"]["categories"]["pants"] = ["trousers"]
    with pytest.raises(UserError, match=r"'Trouser'") as err:
        parse_params(data)
    assert "'trouser'" not in str(err.value)  # the suggestion must work when copied
