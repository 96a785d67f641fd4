"""Stage `download`: fetch the four official files into data/raw/, verified by MD5."""

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

from apparel_classifier import paths
from apparel_classifier.download import fetch_files, mirrors_from_env
from apparel_classifier.errors import run_stage
from apparel_classifier.params import load_params

log = logging.getLogger(__name__)


def run(
    raw_dir: Path, md5: Mapping[str, str], mirrors: Sequence[str], timeout_s: float, retries: int
) -> dict[str, str]:
    """Fetch what is missing from `raw_dir`; return file -> mirror for what was fetched."""
    return fetch_files(md5, raw_dir, mirrors, timeout_s=timeout_s, retries=retries)


def main() -> None:
    """Entry point for `dvc repro download`."""
    params = load_params()
    mirrors = mirrors_from_env(params.download.mirrors)
    fetched = run(
        paths.RAW_DIR,
        params.dataset.md5,
        mirrors,
        params.download.timeout_s,
        params.download.retries,
    )
    log.info(
        "download: %d files verified in %s (%d fetched)",
        len(params.dataset.md5),
        paths.RAW_DIR,
        len(fetched),
    )


if __name__ == "__main__":
    run_stage(main)
