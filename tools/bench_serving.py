"""`make bench-serve`: latency of one image (in-process and over HTTP), batch throughput, load.

Prints p50/p99 latencies and images per second for the model in --model-dir. The inputs
are a product-photo-like PNG (a dark item on white, RGB, 112×112), a 28×28 Fashion-MNIST
PNG, and a 1600×1200 phone JPEG (a field photo enlarged, when data/field/ exists), as
clients send them.
"""

import argparse
import io
import os
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx2
import numpy as np
import torch
from PIL import Image

from apparel_classifier.errors import UserError
from apparel_classifier.paths import FIELD_DIR, MODELS_DIR, PROCESSED_DIR
from apparel_classifier.predictor import Predictor
from apparel_classifier.splits import load_processed
from tools.server import running_server


@dataclass(frozen=True)
class Latency:
    """Percentiles of repeated calls, in milliseconds."""

    p50_ms: float
    p99_ms: float
    calls: int


@dataclass(frozen=True)
class LoadResult:
    """What concurrent clients saw: requests that succeeded, failed, and the rate."""

    ok: int
    errors: int
    seconds: float
    first_error: str | None
    latencies_ms: tuple[float, ...] = ()  # of the successful requests
    versions: frozenset[str] = frozenset()  # model versions that answered

    @property
    def requests_per_s(self) -> float:
        """Successful requests per second over the whole run."""
        return self.ok / self.seconds

    def summary(self) -> str:
        """Rate, latency percentiles and errors, on one line."""
        q = (
            statistics.quantiles(self.latencies_ms, n=100)
            if len(self.latencies_ms) > 1
            else [0] * 99
        )
        p50 = statistics.median(self.latencies_ms) if self.latencies_ms else 0.0
        return (
            f"{self.requests_per_s:,.0f} requests/s, p50 {p50:.1f} ms, p99 {q[98]:.1f} ms, "
            f"{self.ok} ok, {self.errors} errors"
        )


def load_processed_or_noise(n: int = 1) -> np.ndarray:
    """`n` real test items (28×28) when data/processed exists, else noise; (n, 28, 28) or one."""
    try:
        items = load_processed(PROCESSED_DIR, "test").images[:n]
    except UserError:
        items = np.random.default_rng(0).integers(0, 255, (n, 28, 28), dtype=np.uint8)
    return items[0] if n == 1 else items


def sample_photos(n: int, size: int = 112) -> list[bytes]:
    """`n` product-photo-like PNGs: real test items when data/processed exists, else noise."""
    items = load_processed_or_noise(n)
    photos = []
    for item in items:
        image = Image.fromarray(255 - item).resize((size, size), Image.Resampling.BICUBIC)
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, format="PNG")
        photos.append(buffer.getvalue())
    return photos


def phone_photo(size: tuple[int, int] = (1600, 1200)) -> bytes:
    """A phone-sized JPEG (quality 90): the first field validation photo enlarged, else a scene.

    Without data/field/ the scene is a dark garment-shaped patch on a wood-like floor.
    """
    photos = sorted((FIELD_DIR / "validation").rglob("*.jpg"))
    if photos:
        image = Image.open(photos[0]).convert("RGB")
    else:
        x = np.arange(size[0])[None, :, None]
        floor = 120 + 60 * np.sin(x / 9.0) * np.ones((size[1], 1, 3)) * [1.0, 0.8, 0.55]
        floor[300:900, 500:1100] = (30, 40, 90)
        image = Image.fromarray(floor.astype(np.uint8))
    buffer = io.BytesIO()
    image.resize(size, Image.Resampling.BICUBIC).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def as_png(item: np.ndarray) -> bytes:
    """A 28×28 Fashion-MNIST image as PNG bytes."""
    buffer = io.BytesIO()
    Image.fromarray(item).save(buffer, format="PNG")
    return buffer.getvalue()


def time_calls(call: Callable[[], object], calls: int, warmup: int = 20) -> Latency:
    """Run `call` repeatedly and return its latency percentiles."""
    for _ in range(warmup):
        call()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    q = statistics.quantiles(times, n=100)
    return Latency(p50_ms=statistics.median(times), p99_ms=q[98], calls=calls)


def load_test(url: str, photo: bytes, clients: int = 8, seconds: float = 10.0) -> LoadResult:
    """`clients` threads, each with its own keep-alive connection, POST /predict for `seconds`.

    Each client sends its own X-Client-Id (client-0, client-1, …), as a canary needs.
    """
    counts = {"ok": 0, "errors": 0}
    first_error: list[str] = []
    latencies: list[float] = []
    versions: set[str] = set()
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client(number: int) -> None:
        headers = {"X-Client-Id": f"client-{number}"}
        with httpx2.Client(base_url=url, timeout=30.0, headers=headers) as http:
            while time.monotonic() < deadline:
                started = time.perf_counter()
                try:
                    response = http.post("/predict", files={"file": ("x.png", photo, "image/png")})
                    ok, error = response.status_code == 200, f"HTTP {response.status_code}"
                except httpx2.HTTPError as exc:
                    ok, error = False, repr(exc)
                elapsed_ms = (time.perf_counter() - started) * 1000
                with lock:
                    counts["ok" if ok else "errors"] += 1
                    if ok:
                        latencies.append(elapsed_ms)
                        versions.add(response.headers.get("X-Model-Version", "?"))
                    elif not first_error:
                        first_error.append(error)

    start = time.monotonic()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    return LoadResult(
        counts["ok"], counts["errors"], elapsed, first_error[0] if first_error else None,
        tuple(latencies), frozenset(versions),
    )  # fmt: skip


def batch_throughput(predictor: Predictor, photos: list[bytes], rounds: int = 3) -> float:
    """Images per second through `predict_batch` (decode, preprocess and one forward pass)."""
    predictor.predict_batch(photos)  # warm-up
    start = time.perf_counter()
    for _ in range(rounds):
        predictor.predict_batch(photos)
    return rounds * len(photos) / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> None:
    """Run every measurement and print one line each."""
    parser = argparse.ArgumentParser(prog="python -m tools.bench_serving")
    parser.add_argument("--model-dir", type=Path, default=MODELS_DIR)
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--load-seconds", type=float, default=10.0)
    args = parser.parse_args(argv)

    photos = sample_photos(256)
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} (1 min)")
    predictor = Predictor(args.model_dir, num_threads=1)
    one = time_calls(lambda: predictor.predict(photos[0]), args.calls)
    print(f"in-process, 1 image (112×112 PNG): p50 {one.p50_ms:.2f} ms, p99 {one.p99_ms:.2f} ms")
    for threads in sorted({1, os.cpu_count() or 1}):
        torch.set_num_threads(threads)
        rate = batch_throughput(predictor, photos)
        print(f"in-process, batch of {len(photos)} ({threads} threads): {rate:,.0f} images/s")
    torch.set_num_threads(1)

    with running_server(args.model_dir) as url, httpx2.Client(base_url=url) as http:
        upload = {"file": ("x.png", photos[0], "image/png")}
        web = time_calls(lambda: http.post("/predict", files=upload).raise_for_status(), args.calls)
        print(f"HTTP, 1 image 112×112 PNG (keep-alive): p50 {web.p50_ms:.2f} ms, "
              f"p99 {web.p99_ms:.2f} ms")  # fmt: skip
        small = {"file": ("x.png", as_png(load_processed_or_noise()), "image/png")}
        web = time_calls(lambda: http.post("/predict", files=small).raise_for_status(), args.calls)
        print(f"HTTP, 1 image 28×28 PNG: p50 {web.p50_ms:.2f} ms, p99 {web.p99_ms:.2f} ms")
        phone = {"file": ("phone.jpg", phone_photo(), "image/jpeg")}
        web = time_calls(lambda: http.post("/predict", files=phone).raise_for_status(), 100, 5)
        print(f"HTTP, 1 phone photo 1600×1200 JPEG: p50 {web.p50_ms:.2f} ms, "
              f"p99 {web.p99_ms:.2f} ms")  # fmt: skip
        batch = [("files", (f"{i}.png", p, "image/png")) for i, p in enumerate(photos[:32])]
        per_batch = time_calls(
            lambda: http.post("/predict/batch", files=batch).raise_for_status(), 30, 3
        )
        rate = len(batch) * 1000 / per_batch.p50_ms
        print(f"HTTP, batch of {len(batch)}: p50 {per_batch.p50_ms:.1f} ms = {rate:,.0f} images/s")
        load = load_test(url, photos[0], clients=8, seconds=args.load_seconds)
        print(f"HTTP load, 8 clients × {load.seconds:.0f} s: {load.summary()}")
    # The same load with the same model as a candidate: 20 % canary, then shadow on too.
    for label, extra in (("20 % canary", []), ("20 % canary + shadow", ["--shadow"])):
        options = ["--candidate", str(args.model_dir), "--canary-share", "0.2", *extra]
        with running_server(args.model_dir, *options) as url:
            load = load_test(url, photos[0], clients=8, seconds=args.load_seconds)
            print(f"HTTP load, 8 clients × {load.seconds:.0f} s, {label}: {load.summary()}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
