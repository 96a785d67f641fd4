"""The model registry: DVC's conventions, git tags written by GTO, files from DVC's cache or remote.

dvc.yaml declares the model under `artifacts:` (`apparel-classifier`, the `models`
output). A version is a git tag on the commit whose dvc.lock holds its weights
(`apparel-classifier@v1.2.0`); a stage is another tag pointing at a version
(`apparel-classifier#prod#5`), so the registry's whole history is in git, and
`dvc artifacts get` fetches a version's files from the local DVC cache or the remote.

    python -m apparel_classifier.registry register [--version v1.2.0]   the model at HEAD
    python -m apparel_classifier.registry assign v1.2.0 candidate
    python -m apparel_classifier.registry promote v1.2.0                 = assign … prod
    python -m apparel_classifier.registry rollback                       prod back one version
    python -m apparel_classifier.registry show
    python -m apparel_classifier.registry fetch prod --out DIR           a stage or a version
"""

import argparse
import math
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from apparel_classifier.errors import UserError
from apparel_classifier.fileio import md5sum

ARTIFACT = "apparel-classifier"  # as declared in dvc.yaml's `artifacts:`
FETCH_MARKER = ".registry-version"  # in a fetched folder: the version it holds
CANDIDATE, PROD = "candidate", "prod"


@dataclass(frozen=True)
class Resolved:
    """A registered version: its name, the commit it tags, and when it was registered."""

    version: str
    commit: str
    created_at: datetime
    stage: str | None = None  # the stage it was asked for by, if any


def _gto() -> Any:
    # Imported on use: GTO (and DVC) are slow to import, and the server imports this
    # module only when a model is named by registry stage or version.
    import gto.api

    return gto.api


@contextmanager
def _registry_errors(failed: str) -> Iterator[None]:
    """GTO's errors, and git's (no repository there, no git at all), as one UserError.

    `failed` says what could not be done, e.g. "cannot read the registry in DIR".
    """
    from gto.exceptions import GTOException
    from scmrepo.exceptions import SCMError

    try:
        yield
    except (GTOException, SCMError) as exc:
        raise UserError(f"{failed}: {exc}") from None


def register(repo: Path, version: str | None = None, rev: str = "HEAD") -> str:
    """Register the model at `rev` as `version` (default: the next patch version)."""
    with _registry_errors(f"cannot register {ARTIFACT} at {rev}"):
        tag = _gto().register(str(repo), ARTIFACT, rev, version=version)
    return str(tag.version)


def assign(repo: Path, version: str, stage: str) -> None:
    """Make `version` the one version in `stage`.

    GTO lets a stage hold several versions; here a stage holds one, so the others in it
    are unassigned (GTO's `unassign`, one more tag: the history stays in git). A version
    that was in the stage before may be assigned again: that is how a rollback reads.
    """
    api = _gto()
    with _registry_errors(f"cannot assign {ARTIFACT} {version} to {stage}"):
        others = [v for v in _versions_in(repo, stage) if v != version]
        _next_second_after_last_event(repo, version, stage)
        api.assign(str(repo), ARTIFACT, stage, version=version, force=True)
        for other in others:
            _next_second_after_last_event(repo, other, stage)
            api.unassign(str(repo), ARTIFACT, stage=stage, version=other)


def _next_second_after_last_event(repo: Path, version: str, stage: str) -> None:
    """Wait, if needed, until the clock is past the second of `version`'s last `stage` event.

    GTO orders a version's assignments and unassignments by their tags' times, which
    git keeps in whole seconds: a rollback right after a promotion would otherwise write
    two events of one version in the same second, and GTO could read them in either order.
    """
    api = _gto()
    times = [
        e["timestamp"].timestamp() for e in api.history(str(repo), ARTIFACT)
        if e["version"] == version and e.get("stage") == stage
    ]  # fmt: skip
    if times and (wait := math.floor(max(times)) + 1 - time.time()) > 0:
        time.sleep(wait)


def _versions_in(repo: Path, stage: str) -> list[str]:
    """The versions `stage` holds now."""
    found = _gto().find_versions_in_stage(str(repo), ARTIFACT, stage, versions_per_stage=-1)
    return [str(v.version) for v in _as_list(found)]


def promote(repo: Path, version: str) -> None:
    """Make `version` the production model."""
    assign(repo, version, PROD)


def rollback(repo: Path) -> str:
    """Put back in prod the version that was there before the current one; return it."""
    with _registry_errors(f"cannot read the registry in {repo}"):
        history = _stage_history(repo, PROD)
        current = next(iter(_versions_in(repo, PROD)), None)
    if current is None:
        raise UserError(f"nothing to roll back: no version of {ARTIFACT} is in {PROD}")
    previous = next((v for v in history if v != current), None)
    if previous is None:
        raise UserError(f"nothing to roll back to: {current} is the only version ever in {PROD}")
    assign(repo, previous, PROD)
    return previous


def _stage_history(repo: Path, stage: str) -> list[str]:
    """The versions assigned to `stage`, newest assignment first."""
    events = [
        e for e in _gto().history(str(repo), ARTIFACT)
        if e["event"] == "assignment" and e["stage"] == stage
    ]  # fmt: skip
    # The tag's counter (name#stage#N) orders assignments made within the same second.
    events.sort(key=lambda e: int(str(e["ref"]).rsplit("#", 1)[-1]), reverse=True)
    return [str(e["version"]) for e in events]


def resolve(repo: Path, ref: str) -> Resolved:
    """A stage (`prod`, `candidate`) or a version (`v1.2.0`) -> the registered version."""
    with _registry_errors(f"cannot read the registry in {repo}"):
        if ref in (PROD, CANDIDATE) or not ref.startswith("v"):
            found = _versions_in(repo, ref)
            if not found:
                raise UserError(f"no version of {ARTIFACT} is in stage {ref!r} in {repo}")
            version, stage = found[0], ref
        else:
            version, stage = ref, None
        for registered in _gto().show(str(repo), ARTIFACT, registered_only=True):
            if registered["version"] == version:
                return Resolved(
                    version=version,
                    commit=str(registered["commit_hexsha"]),
                    created_at=registered["created_at"],
                    stage=stage,
                )
    raise UserError(f"{ARTIFACT} has no registered version {version!r} in {repo}")


def _fetched_version(out_dir: Path) -> str | None:
    """The version an earlier `fetch` left in `out_dir`, or None if it holds none."""
    marker = out_dir / FETCH_MARKER
    return marker.read_text(encoding="utf-8", errors="replace") if marker.is_file() else None


def _intact(model_dir: Path) -> bool:
    """Whether a fetched folder's card reads and its weights still match it."""
    from apparel_classifier.model_card import load_card  # imports torch: only when needed

    try:
        card = load_card(model_dir)
    except UserError:
        return False
    weights = model_dir / card.model.weights_file
    return weights.is_file() and md5sum(weights) == card.model.weights_md5


def fetch(repo: Path, ref: str, out_dir: Path) -> Resolved:
    """Download a stage's or version's model files into `out_dir` (whole, or not at all).

    `dvc artifacts get` reads them from the local DVC cache, else the remote. An intact
    `out_dir` left by an earlier fetch of the same version is kept as it is; one of
    another version, or damaged, is replaced. Any other existing folder is refused: it
    may hold the user's files (`--out .` would otherwise have emptied the repository).
    """
    resolved = resolve(repo, ref)
    fetched = _fetched_version(out_dir)
    if fetched == resolved.version and _intact(out_dir):
        return resolved
    if out_dir.exists() and (
        fetched is None or Path.cwd().resolve().is_relative_to(out_dir.resolve())
    ):
        raise UserError(
            f"{out_dir} already exists and is not a folder an earlier fetch wrote; "
            "name a new folder for --out (nothing was changed)"
        )
    from dvc.exceptions import DvcException
    from dvc.repo.artifacts import Artifacts

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        Artifacts.get(str(repo), ARTIFACT, version=resolved.version, out=str(staging / "m"))
        (staging / "m" / FETCH_MARKER).write_text(resolved.version, encoding="utf-8")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        (staging / "m").rename(out_dir)
    except DvcException as exc:
        raise UserError(
            f"cannot fetch {ARTIFACT} {resolved.version} (commit {resolved.commit[:8]}): {exc}; "
            "is it in the DVC cache, or is the remote reachable (`dvc pull`)?"
        ) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return resolved


def show(repo: Path) -> list[dict[str, str]]:
    """One row per registered version: version, commit, registration time and its stages."""
    with _registry_errors(f"cannot read the registry in {repo}"):
        versions = _gto().show(str(repo), ARTIFACT, registered_only=True)
        stages = {s: set(_versions_in(repo, s)) for s in (CANDIDATE, PROD)}
    return [
        {
            "version": str(v["version"]),
            "commit": str(v["commit_hexsha"])[:8],
            "registered": v["created_at"].isoformat(timespec="seconds"),
            "stages": ",".join(s for s in (PROD, CANDIDATE) if v["version"] in stages[s]),
        }
        for v in versions
    ]


def _as_list(found: Any) -> list[Any]:
    if found is None:
        return []
    return found if isinstance(found, list) else [found]


def main(argv: list[str] | None = None) -> int:
    """The registry's command line (see the module's docstring)."""
    parser = argparse.ArgumentParser(prog="python -m apparel_classifier.registry")
    parser.add_argument("--repo", type=Path, default=Path(), help="the git+DVC repository")
    commands = parser.add_subparsers(dest="command", required=True)
    reg = commands.add_parser("register", help="register the model at a commit (default HEAD)")
    reg.add_argument("--version", help="e.g. v1.2.0 (default: the next patch version)")
    reg.add_argument("--rev", default="HEAD")
    assign_ = commands.add_parser("assign", help="put a version in a stage")
    assign_.add_argument("version")
    assign_.add_argument("stage", choices=[CANDIDATE, PROD])
    commands.add_parser("promote", help="put a version in prod").add_argument("version")
    commands.add_parser("rollback", help="put the previous prod version back in prod")
    commands.add_parser("show", help="registered versions and their stages")
    get = commands.add_parser("fetch", help="download a stage's or version's model files")
    get.add_argument("ref", help="prod, candidate or a version")
    get.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        if args.command == "register":
            print(f"registered {ARTIFACT} {register(args.repo, args.version, args.rev)}")
        elif args.command == "assign":
            assign(args.repo, args.version, args.stage)
            print(f"{ARTIFACT} {args.version} is now in {args.stage}")
        elif args.command == "promote":
            promote(args.repo, args.version)
            print(f"{ARTIFACT} {args.version} is now in {PROD}")
        elif args.command == "rollback":
            print(f"rolled back: {ARTIFACT} {rollback(args.repo)} is in {PROD} again")
        elif args.command == "fetch":
            got = fetch(args.repo, args.ref, args.out)
            print(f"{ARTIFACT} {got.version} (commit {got.commit[:8]}) -> {args.out}")
        else:
            for row in show(args.repo):
                print(f"{row['version']:<10} {row['commit']}  {row['registered']}  {row['stages']}")
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
