"""The real model's drift monitor over HTTP: Fashion-MNIST test images raise no drift, the
field photos raise it within the first window (needs `make run` first)."""

import httpx2

from apparel_classifier.model_card import CARD_FILE
from apparel_classifier.paths import FIELD_DIR, MODELS_DIR, PROCESSED_DIR
from apparel_classifier.splits import load_processed
from tests.fakes import REPO_ROOT
from tests.needs import need
from tools.bench_serving import as_png
from tools.server import running_server

FASHION_MNIST_REQUESTS = 600
# The window holds the last 200 requests, all Fashion-MNIST when the field photos start;
# their shift must show before they are half of it.
FIELD_REQUESTS = 100


def test_fashion_mnist_raises_no_drift_and_field_photos_do() -> None:
    model_dir = REPO_ROOT / MODELS_DIR
    need((model_dir / CARD_FILE).is_file(), f"no trained model in {model_dir}: run `make run`")
    processed = REPO_ROOT / PROCESSED_DIR
    test_images = load_processed(processed, "test").images[:FASHION_MNIST_REQUESTS]
    photos = sorted((REPO_ROOT / FIELD_DIR / "validation").rglob("*.jpg"))[::3][:FIELD_REQUESTS]
    assert len(photos) == FIELD_REQUESTS
    with running_server(model_dir) as url, httpx2.Client(base_url=url) as http:
        verdicts = []
        for n, image in enumerate(test_images, start=1):
            http.post("/predict", files={"file": ("x.png", as_png(image), "image/png")})
            if n % 25 == 0:
                verdicts.append(http.get("/monitoring").json()["drift"])
        assert verdicts[0] is None  # 25 requests: too few to test
        assert not any(verdicts[1:]), verdicts  # 23 checks, no false alarm
        sent = 0
        for path in photos:
            sent += 1
            http.post("/predict", files={"file": (path.name, path.read_bytes(), "image/jpeg")})
            drifted = http.get("/monitoring").json()
            if drifted["drift"]:
                break
    assert drifted["drift"] is True, drifted
    print(f"\nfield photos: drift after {sent} of them; tests: " + ", ".join(
        f"{t['name']} p={t['p_value']:.1e}" for t in drifted["tests"]))  # fmt: skip
