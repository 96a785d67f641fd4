"""fetch_files: mirrors in order, MD5 checks, broken transfers, a dest left intact on failure."""

import hashlib
from pathlib import Path

import pytest

from apparel_classifier.download import MIRROR_ENV, DownloadError, fetch_files, mirrors_from_env
from tests.download.server import free_dead_url, serve

FILES = {"a.gz": b"first file " * 500, "b.gz": b"second file " * 700}
MD5 = {name: hashlib.md5(body, usedforsecurity=False).hexdigest() for name, body in FILES.items()}


def _fetch(dest: Path, mirrors: list[str], environ: dict[str, str] | None = None) -> dict[str, str]:
    # retries=0: a broken transfer is reported at once instead of after back-off sleeps.
    return fetch_files(MD5, dest, mirrors, timeout_s=5, retries=0, environ=environ or {})


def _snapshot(directory: Path) -> dict[str, bytes]:
    """Every file under `directory` (hidden ones too) and its bytes."""
    return {
        str(p.relative_to(directory)): p.read_bytes() for p in directory.rglob("*") if p.is_file()
    }


def test_fetches_every_file_from_a_mirror(tmp_path: Path) -> None:
    with serve(FILES) as mirror:
        fetched = _fetch(tmp_path, [mirror.url])
    assert fetched == dict.fromkeys(FILES, mirror.url)
    assert _snapshot(tmp_path) == FILES  # and no staging directory left behind


def test_falls_back_to_the_next_mirror_when_the_first_is_down(tmp_path: Path) -> None:
    with serve(FILES) as mirror:
        fetched = _fetch(tmp_path, [free_dead_url(), mirror.url])
    assert set(fetched.values()) == {mirror.url}
    assert _snapshot(tmp_path) == FILES


def test_wrong_md5_is_rejected_and_the_next_mirror_used(tmp_path: Path) -> None:
    corrupt = {**FILES, "a.gz": b"tampered" + FILES["a.gz"][8:]}
    with serve(corrupt) as bad, serve(FILES) as good:
        fetched = _fetch(tmp_path, [bad.url, good.url])
    assert fetched["a.gz"] == good.url
    assert fetched["b.gz"] == bad.url
    assert _snapshot(tmp_path) == FILES


def test_wrong_md5_everywhere_writes_nothing(tmp_path: Path) -> None:
    corrupt = {**FILES, "a.gz": b"tampered"}
    with (
        serve(corrupt) as bad,
        pytest.raises(DownloadError, match=r"a\.gz from .*MD5 mismatch.*rejected"),
    ):
        _fetch(tmp_path, [bad.url])
    assert _snapshot(tmp_path) == {}  # b.gz was fine, but nothing is renamed into place alone


def test_transfer_broken_half_way_leaves_no_partial_file(tmp_path: Path) -> None:
    with serve(FILES, broken=frozenset({"b.gz"})) as mirror:
        with pytest.raises(DownloadError, match=r"b\.gz from .*broke off after \d+ of \d+ bytes"):
            _fetch(tmp_path, [mirror.url])
        assert mirror.requests.count("b.gz") == 1
    assert list(tmp_path.iterdir()) == []


def test_every_mirror_failing_lists_each_mirror_and_how_to_fix_it(tmp_path: Path) -> None:
    dead = free_dead_url()
    missing_dir = tmp_path / "no-such-mirror"
    with serve({"a.gz": FILES["a.gz"]}) as partial, pytest.raises(DownloadError) as err:
        _fetch(tmp_path / "dest", [str(missing_dir), dead, partial.url], {MIRROR_ENV: "x"})
    message = str(err.value)
    assert f"b.gz from {missing_dir}: directory {missing_dir} does not exist" in message
    assert f"b.gz from {dead}: unreachable" in message
    assert f"b.gz from {partial.url}: HTTP 404" in message
    assert "a.gz from" not in message  # a.gz was had; only the missing file is reported
    assert f"{MIRROR_ENV} is set to 'x'" in message
    assert f"export {MIRROR_ENV}=" in message


def test_local_directory_mirror(tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for name, body in FILES.items():
        (mirror / name).write_bytes(body)
    fetched = _fetch(tmp_path / "dest", [str(mirror)])
    assert fetched == dict.fromkeys(FILES, str(mirror))
    assert _snapshot(tmp_path / "dest") == FILES


def test_file_already_present_is_not_fetched_again(tmp_path: Path) -> None:
    (tmp_path / "a.gz").write_bytes(FILES["a.gz"])
    with serve(FILES) as mirror:
        fetched = _fetch(tmp_path, [mirror.url])
        assert mirror.requests == ["b.gz"]
    assert fetched == {"b.gz": mirror.url}


def test_failure_leaves_dest_byte_for_byte_as_it_was(tmp_path: Path) -> None:
    (tmp_path / "a.gz").write_bytes(b"an old, different version")
    (tmp_path / "notes.txt").write_text("not ours")
    before = _snapshot(tmp_path)
    with serve(FILES, broken=frozenset({"b.gz"})) as mirror, pytest.raises(DownloadError):
        _fetch(tmp_path, [mirror.url])
    assert _snapshot(tmp_path) == before


def test_mirror_from_env_comes_first() -> None:
    assert mirrors_from_env(["p1", "p2"], {MIRROR_ENV: " /m "}) == ["/m", "p1", "p2"]
    assert mirrors_from_env(["p1"], {}) == ["p1"]


@pytest.mark.parametrize("typo", ["http://localhost:abc/", "http://[::1/", "http://local host/"])
def test_a_malformed_mirror_url_is_skipped_like_a_dead_one(tmp_path: Path, typo: str) -> None:
    with serve(FILES) as mirror:
        fetched = _fetch(tmp_path, [typo, mirror.url])
    assert set(fetched.values()) == {mirror.url}
    with pytest.raises(DownloadError, match="not a valid URL"):
        _fetch(tmp_path / "other", [typo])
    assert not (tmp_path / "other").exists() or _snapshot(tmp_path / "other") == {}
