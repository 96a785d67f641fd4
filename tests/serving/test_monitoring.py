"""Live monitoring over real HTTP: /metrics scraped (summed over two worker processes) and the
drift verdict in /monitoring; the drift tests themselves on synthetic windows."""

import time
from pathlib import Path

import httpx2
import numpy as np
import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from apparel_classifier.model_card import load_card
from apparel_classifier.monitoring import DriftMonitor, build_profile
from apparel_classifier.predictor import Predictor
from apparel_classifier.serving import metrics
from apparel_classifier.serving.app import create_app
from apparel_classifier.serving.fleet import DRIFT_EXPORT_EVERY
from apparel_classifier.serving.models import folder_version
from tests.images import encode, fashion_item, product_photo
from tools.server import running_server

PNG = encode(product_photo(fashion_item(7)), "PNG")


def _scrape(url: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Metric sample name -> (labels, value) pairs, parsed by prometheus-client's own parser."""
    text = httpx2.get(f"{url}/metrics").text
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples.setdefault(s.name, []).append((s.labels, s.value))
    return samples


def _total(samples: dict, name: str, **labels: str) -> float:
    return sum(v for got, v in samples.get(name, []) if labels.items() <= got.items())


def test_metrics_add_up_across_two_workers(tiny_model_dir: Path, second_model_dir: Path) -> None:
    prod = folder_version(load_card(tiny_model_dir))
    candidate = folder_version(load_card(second_model_dir))
    options = ["--workers", "2", "--candidate", str(second_model_dir), "--canary-share", "0.5",
               "--shadow"]  # fmt: skip
    with running_server(tiny_model_dir, *options) as url:
        workers = set()
        for i in range(30):  # a new connection each time: the two workers share them
            with httpx2.Client(base_url=url) as http:
                ok = http.post("/predict", files={"file": ("x.png", PNG, "image/png")},
                               headers={"X-Client-Id": f"client-{i}"})  # fmt: skip
                assert ok.status_code == 200
                workers.add(http.get("/monitoring").json()["worker"])
        bad = httpx2.post(f"{url}/predict", files={"file": ("x.txt", b"text", "text/plain")})
        assert bad.status_code == 415
        assert len(workers) == 2  # both processes answered, so the sums below are real sums
        deadline = time.monotonic() + 10
        while True:  # shadow answers are counted just after each response
            samples = _scrape(url)
            shadow = _total(samples, "apparel_predictions_total", served="shadow")
            if shadow == 30 or time.monotonic() > deadline:
                break
            time.sleep(0.2)

    ok_requests = _total(samples, "apparel_requests_total", route="/predict", status="200")
    assert ok_requests == 30
    assert _total(samples, "apparel_requests_total", route="/predict", status="415") == 1
    by_version = {
        v: _total(samples, "apparel_requests_total", route="/predict", model_version=v)
        for v in (prod, candidate)
    }
    assert by_version[prod] > 0
    assert by_version[candidate] > 0  # the canary answered some
    assert _total(samples, "apparel_request_latency_seconds_count", route="/predict") == 31
    assert _total(samples, "apparel_predictions_total", served="answer") == 30
    assert shadow == 30  # the model that did not answer answered in shadow, every time
    categories = {labels["category"] for labels, _ in samples["apparel_predictions_total"]}
    assert categories  # answers are counted by predicted class
    assert _total(samples, "apparel_prediction_confidence_count") == 30
    ages = {labels["role"]: v for labels, v in samples["apparel_model_age_seconds"]}
    assert set(ages) == {"prod", "candidate"}
    assert all(0 < age < 3600 for age in ages.values())  # the test models were saved just now
    info = {(labels["role"], labels["model_version"]) for labels, v in samples["apparel_model_info"]
            if v == 1}  # fmt: skip
    assert info == {("prod", prod), ("candidate", candidate)}
    assert "apparel_uncertain_share" in samples
    assert "apparel_drift" in samples


def _requests(route: str, status: str, model_version: str) -> float:
    labels = {"route": route, "status": status, "model_version": model_version}
    return REGISTRY.get_sample_value("apparel_requests_total", labels) or 0.0


def test_refused_and_failed_requests_are_counted_too(
    tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A declared size over the limit is refused before any route matches; a route that
    # raises leaves the app as an exception, which the counter sees before the server
    # turns it into a 500 (the old BaseHTTPMiddleware counter missed those).
    version = folder_version(load_card(tiny_model_dir))
    refused = _requests("unmatched", "413", "none")
    failed = _requests("/predict", "500", version)

    def broken(*args: object) -> None:
        raise RuntimeError("a bug in the predictor")

    with TestClient(create_app(tiny_model_dir), raise_server_exceptions=False) as http:
        big = b"x" * (http.app.state.config.max_upload_bytes + 1)  # type: ignore[attr-defined]
        assert http.post("/predict", files={"file": ("x.png", big, "image/png")}).status_code == 413
        monkeypatch.setattr(Predictor, "preprocess", broken)
        assert http.post("/predict", files={"file": ("x.png", PNG, "image/png")}).status_code == 500
    assert _requests("unmatched", "413", "none") == refused + 1
    assert _requests("/predict", "500", version) == failed + 1


def test_monitoring_reports_drift_for_inputs_unlike_the_training_data(
    tiny_model_dir: Path,
) -> None:
    with running_server(tiny_model_dir, "--drift-window", "60") as url:
        with httpx2.Client(base_url=url) as http:
            before = http.get("/monitoring").json()
            assert before["drift"] is None  # too few requests to test
            assert before["requests"] == 0
            assert before["profile"] == "fake bars (200 images)"
            # Product photos of the fake items: the tiny model's reference is the raw bars.
            for k in range(60):
                photo = encode(product_photo(fashion_item(k % 10, seed=k)), "PNG")
                http.post("/predict", files={"file": ("x.png", photo, "image/png")})
            after = http.get("/monitoring").json()
        samples = _scrape(url)
    assert after["requests"] == 60
    assert after["drift"] is True
    assert {t["name"] for t in after["tests"]} == {
        "mean_intensity", "item_fill", "item_aspect", "confidence", "predicted_class",
    }  # fmt: skip
    assert min(t["p_value"] for t in after["tests"]) < after["threshold"]
    assert _total(samples, "apparel_drift") == 1


def test_a_worker_refreshes_its_drift_gauge_every_few_requests_without_a_scrape(
    tiny_model_dir: Path,
) -> None:
    # With several workers a scrape reaches only one; the others' gauges must not go stale.
    # In process, so the gauge is read without a scrape (which would refresh it itself).
    metrics.DRIFT.set(7)  # a value no verdict has
    with TestClient(create_app(tiny_model_dir)) as http:
        for sent in range(1, DRIFT_EXPORT_EVERY + 1):
            ok = http.post("/predict", files={"file": ("x.png", PNG, "image/png")})
            assert ok.status_code == 200
            gauge = REGISTRY.get_sample_value("apparel_drift")
            assert gauge == (-1 if sent == DRIFT_EXPORT_EVERY else 7)  # -1: too few for a verdict


# -- the drift tests on synthetic data ------------------------------------------------------


def _images(rng: np.random.Generator, n: int, brightness: int) -> np.ndarray:
    """Boxes of random size and place on black, `brightness` bright."""
    images = np.zeros((n, 28, 28), dtype=np.uint8)
    for image in images:
        h, w = rng.integers(8, 24, size=2)
        top, left = rng.integers(0, 28 - h), rng.integers(0, 28 - w)
        image[top : top + h, left : left + w] = brightness
    return images


def _probabilities(rng: np.random.Generator, n: int) -> np.ndarray:
    logits = rng.normal(size=(n, 10)) * 3
    e = np.exp(logits)
    return e / e.sum(axis=1, keepdims=True)


@pytest.fixture
def monitor() -> DriftMonitor:
    rng = np.random.default_rng(0)
    profile = build_profile(_images(rng, 3000, 200), _probabilities(rng, 3000), source="boxes")
    return DriftMonitor(profile, window=200, min_requests=50)


def _feed(monitor: DriftMonitor, images: np.ndarray, probs: np.ndarray) -> list[bool | None]:
    verdicts = []
    for image, p in zip(images, probs, strict=True):
        monitor.observe(image, int(p.argmax()), float(p.max()), uncertain=False)
        verdicts.append(monitor.report().drift)
    return verdicts


def test_the_same_distribution_raises_no_drift(monitor: DriftMonitor) -> None:
    rng = np.random.default_rng(1)
    verdicts = _feed(monitor, _images(rng, 600, 200), _probabilities(rng, 600))
    assert verdicts[:49] == [None] * 49  # no verdict on fewer than 50 requests
    assert not any(verdicts[49:])  # 551 checks of a sliding window, none a false alarm


def test_a_shifted_input_raises_drift_within_fifty_requests(monitor: DriftMonitor) -> None:
    rng = np.random.default_rng(2)
    verdicts = _feed(monitor, _images(rng, 50, 120), _probabilities(rng, 50))  # dimmer items
    assert verdicts[-1] is True
    report = monitor.report()
    assert {t.name for t in report.tests if t.p_value < report.threshold} >= {"mean_intensity"}


def test_answers_piling_on_one_class_raise_drift(monitor: DriftMonitor) -> None:
    rng = np.random.default_rng(3)
    probs = _probabilities(rng, 80)
    probs[:, 4] += 10  # every answer is class 4
    probs /= probs.sum(axis=1, keepdims=True)
    _feed(monitor, _images(rng, 80, 200), probs)
    report = monitor.report()
    assert report.drift is True
    by_name = {t.name: t for t in report.tests}
    assert by_name["predicted_class"].p_value < report.threshold
