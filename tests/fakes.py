"""Tiny generated stand-ins for Fashion-MNIST: same file format, learnable, seconds to train on."""

import gzip
import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from apparel_classifier.fashion_mnist import NUM_CLASSES, RAW_FILES
from apparel_classifier.params import FieldParams

REPO_ROOT = Path(__file__).resolve().parents[1]


def idx_bytes(array: np.ndarray) -> bytes:
    """Serialise a uint8 array in the IDX format (magic, big-endian dims, data)."""
    magic = (0x08 << 8) | array.ndim
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def fake_split(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """`n` balanced samples: class k is a bright bar at a class-specific place, plus noise."""
    rng = np.random.default_rng(seed)
    labels = np.tile(np.arange(NUM_CLASSES), n // NUM_CLASSES).astype(np.uint8)
    images = rng.integers(0, 40, size=(n, 28, 28), dtype=np.uint8)
    for k in range(NUM_CLASSES):
        row = 2 + 2 * k
        images[labels == k, row : row + 3, 4:24] = 255  # full brightness, as in Fashion-MNIST
    return images, labels


def write_fake_raw(
    raw_dir: Path, n_train: int = 200, n_test: int = 100, seed: int = 0
) -> dict[str, str]:
    """Write the four gzipped IDX files; return file name -> MD5 (for params.yaml)."""
    raw_dir.mkdir(parents=True, exist_ok=True)
    md5: dict[str, str] = {}
    for split, n, s in (("train", n_train, seed), ("test", n_test, seed + 1)):
        images, labels = fake_split(n, s)
        for name, array in zip(RAW_FILES[split], (images, labels), strict=True):
            # mtime=0: the same data always gives the same bytes, hence the same MD5.
            data = gzip.compress(idx_bytes(array), mtime=0)
            (raw_dir / name).write_bytes(data)
            md5[name] = hashlib.md5(data, usedforsecurity=False).hexdigest()
    return md5


def tiny_params(
    md5: dict[str, str], n_train: int = 200, n_test: int = 100, **overrides: Any
) -> dict[str, Any]:
    """The project's params.yaml, re-aimed at a tiny fake dataset and a short training run."""
    params: dict[str, Any] = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    params["dataset"].update(md5=md5, train_size=n_train, test_size=n_test)
    # Pinned, not read from params.yaml: the repeats shape the tiny training rows, and
    # tuning them on the real photos must not move the tiny runs. With 8 outside repeats
    # the tiny model reached validation accuracy 1.0, so its temperature sat on its bound
    # whatever the flip, and the tiny baseline scored 1.0 on a tenth of the data.
    # No photo held out for calibration either (tests that want some ask for a share).
    params["field"].update(train_repeats=2, outside_repeats=6, calibration_share=0.0)
    # No staged photos either: each costs a GrabCut (tests that want some ask for them).
    params["preprocess"].update(staged_photos=0)
    params["download"].update(mirrors=["http://127.0.0.1:9/unreachable/"], retries=0, timeout_s=2)
    # fp32 whatever the machine (`auto` is bf16 on some CPUs): a tiny run's outcome must not
    # depend on where the tests run; the bf16 tests ask for it.
    params.update(epochs=2, batch_size=32, width=8, device="cpu", precision="fp32")
    params.update(overrides)
    return params


def one_folder_field(**overrides: Any) -> FieldParams:
    """Field params for one folder, `pants` (Trouser): each photo trained once, as is."""
    values: dict[str, Any] = {
        "categories": {"pants": ["Trouser"]},
        "train_repeats": 1,
        "outside_repeats": 1,
        "repeat_rotation_deg": 0.0,
        "repeat_shrink": 0.0,
        "calibration_share": 0.0,
    }
    return FieldParams(**(values | overrides))
