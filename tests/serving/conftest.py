"""A tiny model and a real uvicorn server in a child process, shared by the serving tests."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tools.server import running_server

# Small limits, so the rejection paths are cheap to reach; the defaults are tested directly.
MAX_UPLOAD_BYTES = 50_000
MAX_BATCH = 4


@pytest.fixture(scope="session")
def server(tiny_model_dir: Path) -> Iterator[str]:
    """The base URL of `python -m apparel_classifier.serving` on a free port."""
    options = ["--max-upload-bytes", str(MAX_UPLOAD_BYTES), "--max-batch", str(MAX_BATCH)]
    with running_server(tiny_model_dir, *options) as url:
        yield url


@pytest.fixture(scope="session")
def unsure_server(unsure_model_dir: Path) -> Iterator[str]:
    """A server whose model marks every answer uncertain (its threshold is 1)."""
    with running_server(unsure_model_dir) as url:
        yield url
