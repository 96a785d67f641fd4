"""`dvc repro` end to end on a tiny dataset served by a local directory mirror."""

import gzip

import pytest

from apparel_classifier.fileio import md5sum
from tests.fakes import write_fake_raw
from tests.pipeline.repo import Repo

pytestmark = pytest.mark.timeout(300)


def test_repro_records_the_dataset_md5s_and_then_has_nothing_to_do(repo: Repo) -> None:
    repo.dvc("repro")
    raw = repo.lock_md5s("download")
    assert raw == {f"data/raw/{name}": md5 for name, md5 in repo.md5.items()}
    for path, md5 in repo.lock_md5s("preprocess").items():
        assert md5sum(repo.root / path) == md5, path

    again = repo.dvc("repro")
    assert "Data and pipelines are up to date." in again.stdout
    status = repo.dvc("status")
    assert "Data and pipelines are up to date." in status.stdout


def test_a_corrupt_mirror_file_fails_download_and_leaves_raw_data_alone(repo: Repo) -> None:
    repo.dvc("repro", "download")
    raw_dir = repo.root / "data" / "raw"
    before = {p.name: p.read_bytes() for p in raw_dir.iterdir() if p.is_file()}

    # A new dataset version is published (new MD5s in params.yaml), but the
    # mirror's copy of one file is damaged in transit.
    new_md5 = write_fake_raw(repo.mirror, seed=7)
    params = repo.params()
    params["dataset"]["md5"] = new_md5
    repo.write_params(params)
    damaged = repo.mirror / "train-images-idx3-ubyte.gz"
    damaged.write_bytes(gzip.compress(b"damaged", mtime=0))

    result = repo.dvc("repro", "download", check=False)
    assert result.returncode != 0
    assert "train-images-idx3-ubyte.gz from" in result.stderr
    assert "MD5 mismatch" in result.stderr
    assert "FASHION_MNIST_MIRROR is set to" in result.stderr
    assert "Traceback" not in result.stderr
    after = {p.name: p.read_bytes() for p in raw_dir.iterdir() if p.is_file()}
    assert after == before
