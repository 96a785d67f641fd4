"""What a model came from besides its data: the code that shaped it and the library versions.

dvc.yaml is the one list of the files a stage depends on. The code digest hashes
exactly the Python files that dvc.yaml lists as the `train` stage's deps, so the
digest in a model card and DVC's decision to retrain always agree.
"""

import hashlib
import platform
from importlib import metadata
from pathlib import Path

import yaml

from apparel_classifier.errors import UserError

# The project root of this copy of the library: src/apparel_classifier/ -> the root.
# Not the working directory, so tests that train in a temporary directory hash the same code.
PROJECT_ROOT = Path(__file__).resolve().parents[2]
_VERSIONED = ("torch", "numpy", "dvc")


def stage_code_files(stage: str, root: Path = PROJECT_ROOT) -> list[str]:
    """The Python files dvc.yaml lists as deps of `stage`, as written there (root-relative)."""
    try:
        stages = yaml.safe_load((root / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
        deps: list[str] = stages[stage]["deps"]
    except (OSError, KeyError, TypeError) as exc:
        raise UserError(
            f"cannot read the deps of stage {stage!r} from {root / 'dvc.yaml'} ({exc}); "
            "run the pipeline from a clone of the project"
        ) from None
    return [dep for dep in deps if dep.endswith(".py")]


def code_digest(files: list[str], root: Path = PROJECT_ROOT) -> str:
    """SHA-256 over the names and bytes of `files` (root-relative), in sorted order."""
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode())
        digest.update((root / name).read_bytes())
    return digest.hexdigest()


def library_versions() -> dict[str, str]:
    """Python and the libraries whose version can change the trained weights or their format."""
    return {"python": platform.python_version()} | {
        name: metadata.version(name) for name in _VERSIONED
    }
