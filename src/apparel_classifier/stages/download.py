"""Stage `download`: fetch the four official files into data/raw/, verified by MD5."""

import logging
from collections.abc import Sequence
from pathlib import Path

from apparel_classifier import paths
from apparel_classifier.download import fetch_files, mirrors_from_env
from apparel_classifier.errors import run_stage
from apparel_classifier.params import DatasetParams, DownloadParams, load_params

log = logging.getLogger(__name__)


def run(
    raw_dir: Path, dataset: DatasetParams, params: DownloadParams, mirrors: Sequence[str]
) -> dict[str, str]:
    """Fetch what is missing from `raw_dir` from `mirrors`; return file -> mirror for each fetch.

    `mirrors` is `params.mirrors` with $FASHION_MNIST_MIRROR in front when it is set.
    """
    return fetch_files(
        dataset.md5, raw_dir, mirrors, timeout_s=params.timeout_s, retries=params.retries
    )


def main() -> None:
    """Entry point for `dvc repro download`."""
    params = load_params()
    mirrors = mirrors_from_env(params.download.mirrors)
    fetched = run(paths.RAW_DIR, params.dataset, params.download, mirrors)
    log.info(
        "download: %d files verified in %s (%d fetched)",
        len(params.dataset.md5),
        paths.RAW_DIR,
        len(fetched),
    )


if __name__ == "__main__":
    run_stage(main)
