"""Run the real stages on tiny generated data in a temporary directory (seconds, CPU)."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from apparel_classifier.params import Params, parse_params
from apparel_classifier.stages import preprocess
from tests.fakes import tiny_params, write_fake_raw
from tests.images import write_fake_field

N_TRAIN, N_TEST = 200, 100


@dataclass(frozen=True)
class TinyProject:
    """Where a tiny run keeps its files, and its validated params."""

    root: Path
    params: Params

    @property
    def processed(self) -> Path:
        return self.root / "data" / "processed"

    def models(self, name: str = "models") -> Path:
        return self.root / name


def make_tiny_project(root: Path, seed: int = 0, **overrides: Any) -> TinyProject:
    """Fake raw files -> the real `preprocess` stage -> processed data under `root`."""
    md5 = write_fake_raw(root / "data" / "raw", N_TRAIN, N_TEST, seed=seed)
    params = parse_params(tiny_params(md5, N_TRAIN, N_TEST, **overrides))
    write_fake_field(root / "data" / "field", params.field.categories)
    preprocess.run(
        root / "data" / "raw",
        root / "data" / "processed",
        params.dataset,
        params.preprocess,
        params.field,
        field_dir=root / "data" / "field",
    )
    return TinyProject(root=root, params=params)
