"""The `errors:` section of params.yaml: typed, frozen, and every bad key named."""

from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from apparel_classifier.errors import UserError
from apparel_classifier.params import ErrorsParams, load_params, parse_params
from tests.fakes import REPO_ROOT


def _project_params() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    return data


def test_project_errors_section_is_loaded_typed_and_frozen() -> None:
    errors = load_params(REPO_ROOT / "params.yaml").errors
    assert isinstance(errors, ErrorsParams)
    assert errors.cluster_selection in {"eom", "leaf"}
    assert errors.min_cluster_size >= 2
    with pytest.raises(ValidationError, match="frozen"):
        errors.min_cluster_size = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("min_cluster_sise", 5, r"errors\.min_cluster_sise: unknown key"),
        ("min_cluster_size", 1, r"errors\.min_cluster_size: .*greater than or equal to 2.*got 1"),
        ("min_samples", 0, r"errors\.min_samples: .*greater than or equal to 1.*got 0"),
        ("pca_components", -1, r"errors\.pca_components: .*got -1"),
        ("cluster_selection", "kmeans", r"errors\.cluster_selection: .*'eom' or 'leaf'"),
        ("members_shown", 101, r"errors\.members_shown: .*100.*got 101"),
        ("batch_size", "1000", r"errors\.batch_size: .*got '1000'"),  # not coerced
    ],
)
def test_bad_errors_keys_are_named(key: str, value: object, message: str) -> None:
    data = _project_params()
    data["errors"][key] = value
    with pytest.raises(UserError, match=message):
        parse_params(data)


def test_missing_errors_key_and_section() -> None:
    data = _project_params()
    del data["errors"]["min_samples"]
    with pytest.raises(UserError, match=r"errors\.min_samples: missing key"):
        parse_params(data)
    del data["errors"]
    with pytest.raises(UserError, match=r"\berrors: missing key"):
        parse_params(data)
