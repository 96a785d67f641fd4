"""The web page in headless Chromium: upload a photo, see the category and which model answered."""

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from apparel_classifier.fashion_mnist import CLASS_NAMES
from tests.fakes import REPO_ROOT
from tests.images import encode, fashion_item, product_photo
from tests.needs import need

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
ARTIFACTS = REPO_ROOT / "test-artifacts"


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    need(bool(CHROMIUM and CHROMEDRIVER), "Chromium is not installed: run `make browser-deps`")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    with tempfile.TemporaryDirectory() as profile:
        # No sandbox (we run as root in a container), and nothing that phones home.
        for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                     "--no-first-run", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync",
                     "--window-size=900,900", f"--user-data-dir={profile}"):  # fmt: skip
            options.add_argument(flag)
        driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
        try:
            yield driver
        finally:
            driver.quit()


def test_upload_shows_category_confidence_and_model(
    server: str, browser: WebDriver, tmp_path: Path
) -> None:
    photo = tmp_path / "sneaker.png"
    photo.write_bytes(encode(product_photo(fashion_item(7), size=224), "PNG"))
    expected = httpx2.post(f"{server}/predict", files={"file": photo.open("rb")}).json()

    browser.get(f"{server}/")
    browser.find_element(By.ID, "file").send_keys(str(photo))
    WebDriverWait(browser, 20).until(ec.visibility_of_element_located((By.ID, "result")))

    category = browser.find_element(By.ID, "category").text
    assert category in CLASS_NAMES
    assert category == expected["category"]
    assert browser.find_element(By.ID, "confidence").text.endswith("confident")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#top li")) == 3
    assert expected["model"]["weights_md5"][:10] in browser.find_element(By.ID, "model").text
    assert expected["model"]["version"] in browser.find_element(By.ID, "model").text
    assert not browser.find_element(By.ID, "error").is_displayed()
    # The monitoring panel names the serving model and the state of the drift window.
    WebDriverWait(browser, 10).until(
        ec.text_to_be_present_in_element((By.ID, "serving"), expected["model"]["version"])
    )
    assert browser.find_element(By.ID, "drift").text.startswith(("Drift", "No drift"))

    ARTIFACTS.mkdir(exist_ok=True)
    assert browser.save_screenshot(str(ARTIFACTS / "browser-predict.png"))


def test_an_uncertain_answer_says_not_sure_and_the_closest_class(
    unsure_server: str, browser: WebDriver, tmp_path: Path
) -> None:
    photo = tmp_path / "sneaker.png"
    photo.write_bytes(encode(product_photo(fashion_item(7), size=224), "PNG"))
    expected = httpx2.post(f"{unsure_server}/predict", files={"file": photo.open("rb")}).json()
    assert expected["uncertain"] is True

    browser.get(f"{unsure_server}/")
    browser.find_element(By.ID, "file").send_keys(str(photo))
    WebDriverWait(browser, 20).until(ec.visibility_of_element_located((By.ID, "result")))
    shown = browser.find_element(By.ID, "category").text
    assert shown == f"Not sure, closest: {expected['category']}"


def test_non_image_shows_the_error(server: str, browser: WebDriver, tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a photo")
    browser.get(f"{server}/")
    browser.find_element(By.ID, "file").send_keys(str(text))
    error = WebDriverWait(browser, 20).until(ec.visibility_of_element_located((By.ID, "error")))
    assert "not an image" in error.text
    assert not browser.find_element(By.ID, "result").is_displayed()
