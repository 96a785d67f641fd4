"""Fetch files from an ordered list of mirrors, keeping only those whose MD5 matches.

A mirror is a local directory or a URL base (http, https or file). Each file is
streamed to a hidden temporary name beside its destination; all files are
renamed into place only once every one of them has been fetched and verified,
so a failure leaves the destination directory exactly as it was.
"""

import http.client
import logging
import os
import socket
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from tqdm import tqdm

from apparel_classifier.errors import UserError
from apparel_classifier.fileio import md5sum

log = logging.getLogger(__name__)

MIRROR_ENV = "FASHION_MNIST_MIRROR"
_CHUNK = 1 << 16
_URL_SCHEMES = ("http://", "https://", "file://")


class DownloadError(UserError):
    """No mirror could supply a file with the expected MD5."""


class _FileUnavailableError(Exception):
    """This mirror cannot supply this file (missing, wrong MD5): try the next mirror."""


class _MirrorDownError(Exception):
    """This mirror cannot be reached at all: skip it for the remaining files too."""


def mirrors_from_env(public: Sequence[str], environ: Mapping[str, str] = os.environ) -> list[str]:
    """The mirrors to try, in order: $FASHION_MNIST_MIRROR when set, then the public ones."""
    own = environ.get(MIRROR_ENV, "").strip()
    return [own, *public] if own else list(public)


def _copy(src: BinaryIO, dst: Path, total: int | None, label: str) -> int:
    """Stream `src` into `dst` with a progress bar; return the number of bytes written."""
    written = 0
    with (
        dst.open("wb") as out,
        tqdm(total=total, unit="B", unit_scale=True, desc=label, disable=None, leave=False) as bar,
    ):
        for chunk in iter(lambda: src.read(_CHUNK), b""):
            out.write(chunk)
            written += len(chunk)
            bar.update(len(chunk))
    return written


def _fetch_url(url: str, dst: Path, timeout_s: float, label: str) -> None:
    try:
        urllib.parse.urlsplit(url).port  # noqa: B018 (reading it checks the port)
    except ValueError as exc:  # a mistyped mirror (`http://host:abc/`, `http://[::1/`)
        raise _MirrorDownError(f"not a valid URL ({exc})") from None
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:
            length = resp.headers.get("Content-Length")
            total = int(length) if length else None
            written = _copy(resp, dst, total, label)
    except urllib.error.HTTPError as exc:
        if exc.code >= 500:
            raise ConnectionError(f"HTTP {exc.code} {exc.reason}") from None
        raise _FileUnavailableError(f"HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, FileNotFoundError):
            raise _FileUnavailableError("file not found") from None
        if isinstance(reason, socket.gaierror | ConnectionRefusedError):
            raise _MirrorDownError(f"unreachable ({reason})") from None
        raise ConnectionError(str(reason)) from None
    except http.client.InvalidURL as exc:  # what urlsplit lets through (`http://my host/`)
        raise _MirrorDownError(f"not a valid URL ({exc})") from None
    except http.client.IncompleteRead as exc:
        raise ConnectionError(f"transfer broke off after {len(exc.partial)} bytes") from None
    if total is not None and written != total:
        raise ConnectionError(f"transfer broke off after {written} of {total} bytes")


def _fetch_dir(directory: Path, name: str, dst: Path, label: str) -> None:
    if not directory.is_dir():
        raise _MirrorDownError(f"directory {directory} does not exist")
    src = directory / name
    if not src.is_file():
        raise _FileUnavailableError(f"{src} does not exist")
    with src.open("rb") as fh:
        _copy(fh, dst, src.stat().st_size, label)


def _fetch_once(mirror: str, name: str, dst: Path, timeout_s: float) -> None:
    label = f"{name} <- {mirror}"
    if mirror.startswith(_URL_SCHEMES):
        _fetch_url(mirror.rstrip("/") + "/" + name, dst, timeout_s, label)
    else:
        _fetch_dir(Path(mirror), name, dst, label)


@dataclass
class _Attempts:
    """Why each mirror failed, per file, for the final error message."""

    down: dict[str, str] = field(default_factory=dict)  # mirror -> reason
    failures: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    def fail(self, name: str, mirror: str, reason: str) -> None:
        self.failures.setdefault(name, []).append((mirror, reason))


def _fetch_verified(
    name: str,
    md5: str,
    staging: Path,
    mirrors: Sequence[str],
    timeout_s: float,
    retries: int,
    attempts: _Attempts,
) -> tuple[Path, str] | None:
    """Try each mirror in turn; return the staged file whose MD5 matched and its mirror.

    Partial files stay inside `staging`, which the caller deletes whatever happens.
    """
    tmp = staging / f"{name}.part"
    for mirror in mirrors:
        if mirror in attempts.down:
            attempts.fail(name, mirror, attempts.down[mirror])
            continue
        for attempt in range(retries + 1):
            try:
                _fetch_once(mirror, name, tmp, timeout_s)
            except _FileUnavailableError as exc:
                attempts.fail(name, mirror, str(exc))
                break
            except _MirrorDownError as exc:
                attempts.down[mirror] = str(exc)
                attempts.fail(name, mirror, str(exc))
                break
            except OSError as exc:  # ConnectionError, TimeoutError: worth another try
                if attempt == retries:
                    reason = str(exc) or type(exc).__name__
                    attempts.fail(name, mirror, f"{reason} (after {retries + 1} attempts)")
                else:
                    time.sleep(0.5 * 2**attempt)  # short exponential backoff
                continue
            got = md5sum(tmp)
            if got == md5:
                log.info("fetched %s from %s (md5 %s)", name, mirror, md5)
                return tmp, mirror
            # A wrong file on a mirror will not fix itself: no retry, next mirror.
            attempts.fail(name, mirror, f"MD5 mismatch: got {got}, expected {md5}; file rejected")
            break
    return None


def _failure_message(
    missing: Sequence[str], attempts: _Attempts, dest: Path, environ: Mapping[str, str]
) -> str:
    # Only the files still missing: a file that failed on one mirror but came from
    # the next is not a problem, and naming it would send the reader the wrong way.
    lines = [f"could not download {', '.join(missing)} with the expected MD5:"]
    for name in missing:
        for mirror, reason in attempts.failures.get(name, []):
            lines.append(f"  - {name} from {mirror}: {reason}")
    hint = (
        f"{MIRROR_ENV} is set to {environ[MIRROR_ENV]!r}"
        if environ.get(MIRROR_ENV)
        else f"{MIRROR_ENV} is not set"
    )
    lines.append(
        f"{hint}. Point the stage at a mirror that holds the official files, e.g. "
        f"`export {MIRROR_ENV}=/path/to/fashion-mnist` (a directory or a URL base), "
        f"then run `dvc repro` again. {dest}/ was left unchanged."
    )
    return "\n".join(lines)


def fetch_files(
    files: Mapping[str, str],
    dest: Path,
    mirrors: Sequence[str],
    timeout_s: float,
    retries: int,
    environ: Mapping[str, str] = os.environ,
) -> dict[str, str]:
    """Make `dest` hold every file in `files` (name -> MD5), fetching only what is missing.

    Returns name -> mirror for each file fetched. Raises DownloadError, with every
    mirror tried and why it failed, when any file cannot be had; `dest` is then
    left exactly as it was.
    """
    dest.mkdir(parents=True, exist_ok=True)
    present = {n for n, m in files.items() if (dest / n).is_file() and md5sum(dest / n) == m}
    wanted = {n: m for n, m in files.items() if n not in present}
    for name in sorted(present):
        log.info("%s already present with the right MD5; not fetched again", name)
    attempts = _Attempts()
    fetched: dict[str, str] = {}
    # The staging directory sits inside `dest` so that the final renames are atomic;
    # it is removed, with any partial file in it, however this block ends.
    with tempfile.TemporaryDirectory(prefix=".staging-", dir=dest) as tmp:
        staged: dict[str, Path] = {}
        for name, md5 in wanted.items():
            got = _fetch_verified(name, md5, Path(tmp), mirrors, timeout_s, retries, attempts)
            if got is not None:
                staged[name] = got[0].replace(got[0].with_name(name))
                fetched[name] = got[1]
        if missing := [name for name in wanted if name not in staged]:
            raise DownloadError(_failure_message(missing, attempts, dest, environ))
        for name, path in staged.items():
            path.replace(dest / name)
    return fetched
