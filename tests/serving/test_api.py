"""The REST API through real HTTP: every endpoint, and every rejection path as a clear 4xx."""

import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import httpx2
import pytest

from apparel_classifier.fashion_mnist import CLASS_NAMES
from apparel_classifier.model_card import load_card
from apparel_classifier.serving.__main__ import flag_of, main, parse_args
from apparel_classifier.serving.app import DEFAULT_MAX_UPLOAD_BYTES, create_app
from apparel_classifier.serving.config import ServingConfig
from tests.images import encode, fashion_item, product_photo
from tests.serving.conftest import MAX_BATCH, MAX_UPLOAD_BYTES
from tools.server import running_server

PNG = encode(product_photo(fashion_item(7)), "PNG")


def _upload(data: bytes, name: str = "shoe.png", kind: str = "image/png") -> dict[str, tuple]:
    return {"file": (name, data, kind)}


def _assert_error(response: httpx2.Response, status: int, words: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert words in response.json()["detail"]


def test_predict_returns_category_confidence_probabilities_and_model(
    server: str, tiny_model_dir: Path
) -> None:
    response = httpx2.post(f"{server}/predict", files=_upload(PNG))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["category"] == CLASS_NAMES[body["class_id"]]
    assert list(body["probabilities"]) == list(CLASS_NAMES)
    assert body["confidence"] == pytest.approx(max(body["probabilities"].values()))
    assert body["filename"] == "shoe.png"
    assert body["uncertain"] is False  # the tiny model's threshold is 0
    card = load_card(tiny_model_dir)
    assert body["model"]["weights_md5"] == card.model.weights_md5
    assert body["model"]["dataset"] == card.dataset.processed
    assert body["model"]["code_digest"] == card.code.digest


def test_an_answer_below_the_threshold_is_marked_uncertain(unsure_server: str) -> None:
    single = httpx2.post(f"{unsure_server}/predict", files=_upload(PNG)).json()
    assert single["uncertain"] is True
    assert single["category"] == CLASS_NAMES[single["class_id"]]  # still the closest class
    batch = httpx2.post(
        f"{unsure_server}/predict/batch", files=[("files", ("a.png", PNG, "image/png"))]
    ).json()
    assert [p["uncertain"] for p in batch["predictions"]] == [True]


def test_predict_accepts_jpeg_and_webp(server: str) -> None:
    photo = product_photo(fashion_item(7))
    answers = {
        fmt: httpx2.post(f"{server}/predict", files=_upload(encode(photo, fmt), f"x.{fmt}")).json()
        for fmt in ("PNG", "JPEG", "WEBP")
    }
    assert len({a["class_id"] for a in answers.values()}) == 1


def test_batch_predicts_every_image_in_order(server: str) -> None:
    items = [encode(product_photo(fashion_item(k)), "PNG") for k in (1, 7, 9)]
    files = [("files", (f"{i}.png", data, "image/png")) for i, data in enumerate(items)]
    response = httpx2.post(f"{server}/predict/batch", files=files)
    assert response.status_code == 200, response.text
    predictions = response.json()["predictions"]
    assert [p["filename"] for p in predictions] == ["0.png", "1.png", "2.png"]
    singles = [httpx2.post(f"{server}/predict", files=_upload(d)).json()["class_id"] for d in items]
    assert [p["class_id"] for p in predictions] == singles


def test_health(server: str, tiny_model_dir: Path) -> None:
    body = httpx2.get(f"{server}/health").json()
    md5 = load_card(tiny_model_dir).model.weights_md5
    assert body == {"status": "ok", "weights_md5": md5, "version": f"md5-{md5[:8]}"}


def test_model_returns_the_card(server: str, tiny_model_dir: Path) -> None:
    assert httpx2.get(f"{server}/model").json() == load_card(tiny_model_dir).model_dump(mode="json")


def test_index_serves_the_page_and_its_assets(server: str) -> None:
    page = httpx2.get(f"{server}/")
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    assert 'type="file"' in page.text
    for asset in ("/static/app.js", "/static/style.css"):
        assert httpx2.get(f"{server}{asset}").status_code == 200, asset


@pytest.mark.parametrize(
    ("data", "status", "words"),
    [
        (b"", 400, "empty"),
        (b"just some text, not a picture", 415, "not an image"),
        (PNG[: len(PNG) // 2], 422, "cannot be decoded"),
    ],
)
def test_bad_images_are_clear_4xx(server: str, data: bytes, status: int, words: str) -> None:
    _assert_error(httpx2.post(f"{server}/predict", files=_upload(data)), status, words)


def test_bad_image_in_batch_is_named(server: str) -> None:
    files = [
        ("files", ("good.png", PNG, "image/png")),
        ("files", ("bad.txt", b"text", "text/plain")),
    ]
    _assert_error(httpx2.post(f"{server}/predict/batch", files=files), 415, "bad.txt")


def test_wrong_field_name_is_a_clear_4xx(server: str) -> None:
    response = httpx2.post(f"{server}/predict", files={"image": ("x.png", PNG, "image/png")})
    _assert_error(response, 422, "no form field named 'file'")
    response = httpx2.post(f"{server}/predict/batch", files={"file": ("x.png", PNG, "image/png")})
    _assert_error(response, 422, "no form field named 'files'")


def test_no_multipart_body_is_a_clear_4xx(server: str) -> None:
    _assert_error(httpx2.post(f"{server}/predict", json={"file": "x"}), 422, "field named 'file'")


def test_too_many_batch_images_is_a_clear_4xx(server: str) -> None:
    files = [("files", (f"{i}.png", PNG, "image/png")) for i in range(MAX_BATCH + 1)]
    _assert_error(httpx2.post(f"{server}/predict/batch", files=files), 400, f"at most {MAX_BATCH}")


def test_upload_over_the_limit_is_413(server: str) -> None:
    big = b"\0" * (MAX_UPLOAD_BYTES + 1)
    _assert_error(httpx2.post(f"{server}/predict", files=_upload(big)), 413, "limit")


def test_streamed_upload_over_the_limit_is_413(server: str) -> None:
    # No Content-Length (chunked): the server must count the bytes as they arrive.
    def chunks():
        yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="x"\r\n\r\n'
        for _ in range(MAX_UPLOAD_BYTES // 1000 + 5):
            yield b"\0" * 1000
        yield b"\r\n--b--\r\n"

    response = httpx2.post(
        f"{server}/predict",
        content=chunks(),
        headers={"content-type": "multipart/form-data; boundary=b"},
    )
    assert "content-length" not in response.request.headers
    _assert_error(response, 413, "limit")


def test_declared_oversize_body_is_refused_before_it_is_sent(server: str) -> None:
    # Announce 1 GB and send nothing: a server that waited to read it would time out here.
    parts = urlsplit(server)
    request = (
        f"POST /predict HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        "Content-Type: multipart/form-data; boundary=b\r\n"
        f"Content-Length: {10**9}\r\n\r\n"
    ).encode()
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
        sock.sendall(request)
        answer = b""
        # Headers and body may come in separate packets: read until the JSON body has ended.
        while not answer.endswith(b"}") and (chunk := sock.recv(4096)):
            answer += chunk
    head = answer.decode()
    assert head.startswith("HTTP/1.1 413"), head
    assert "limit" in head


def test_default_limits() -> None:
    # The app's own defaults (10 MB), without starting it.
    assert DEFAULT_MAX_UPLOAD_BYTES == 10 * 1024 * 1024
    assert create_app().title == "Apparel classifier"


def test_openapi_describes_every_response(server: str) -> None:
    schema = httpx2.get(f"{server}/openapi.json").json()
    for path in ("/predict", "/predict/batch"):
        responses = schema["paths"][path]["post"]["responses"]
        assert set(responses) == {"200", "400", "413", "415", "422"}, path
        for status in ("400", "413", "415", "422"):
            ref = responses[status]["content"]["application/json"]["schema"]["$ref"]
            assert ref.endswith("/ErrorResponse"), (path, status)
    for path in ("/health", "/model", "/"):
        assert "200" in schema["paths"][path]["get"]["responses"]
    assert "PredictResponse" in schema["components"]["schemas"]


def test_openapi_states_the_upload_bounds(server: str) -> None:
    # What the routes refuse with a 4xx whatever the bytes are, the schema says up front.
    schema = httpx2.get(f"{server}/openapi.json").json()

    def form(path: str) -> dict:
        body = schema["paths"][path]["post"]["requestBody"]["content"]["multipart/form-data"]
        return schema["components"]["schemas"][body["schema"]["$ref"].rsplit("/", 1)[1]]

    upload = {"type": "string", "format": "binary", "minLength": 1}
    assert upload.items() <= form("/predict")["properties"]["file"].items()
    files = form("/predict/batch")["properties"]["files"]
    assert (files["minItems"], files["maxItems"]) == (1, MAX_BATCH)  # the server's own limit
    assert upload.items() <= files["items"].items()


def test_unknown_route_is_json_404(server: str) -> None:
    _assert_error(httpx2.get(f"{server}/nope"), 404, "Not Found")


def test_server_without_a_model_exits_with_one_clear_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "apparel_classifier.serving", "--model-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert "error: " in result.stderr
    assert "train a model first" in result.stderr
    assert "Traceback" not in result.stderr


def _serve(*options: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m apparel_classifier.serving` with options that stop it before it listens."""
    return subprocess.run(
        [sys.executable, "-m", "apparel_classifier.serving", *options],
        capture_output=True, text=True, timeout=60, check=False, env=env,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("option", "words"),
    [
        (["--canary-share", "2"], "--canary-share must be between 0.0 and 1.0, not 2.0"),
        (["--max-upload-bytes", "0"], "--max-upload-bytes must be greater than 0, not 0"),
        (["--log-max-bytes", "0"], "--log-max-bytes must be greater than 0, not 0"),
        (["--threads", "0"], "--threads must be greater than 0, not 0"),
    ],
)
def test_a_bad_server_option_is_one_sentence_naming_its_flag(
    option: list[str], words: str, capsys: pytest.CaptureFixture
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--model-dir", "no-such-folder", *option])  # refused before any model is read
    assert exited.value.code == 2
    assert capsys.readouterr().err == f"error: {words}\n"


PORTS = "must be a whole number between 0 and 65535"


@pytest.mark.parametrize(
    ("option", "port", "words"),
    [
        (["--port", "70000"], "8000", f"--port: {PORTS}, not '70000'"),
        ([], "http", f"--port: {PORTS}, not 'http'"),
        (["--workers", "0"], "8000", "--workers: must be a whole number at least 1, not '0'"),
        (["--workers", "two"], "8000", "--workers: must be a whole number at least 1, not 'two'"),
    ],
)  # fmt: skip
def test_a_bad_port_or_worker_count_is_refused_by_the_parser(
    option: list[str], port: str, words: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
) -> None:  # fmt: skip
    monkeypatch.setenv("PORT", port)  # the --port default: a bad $PORT is refused as --port is
    with pytest.raises(SystemExit) as exited:
        parse_args(option)
    assert exited.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1].endswith(f"argument {words}")


def test_every_server_setting_has_the_flag_its_errors_name(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        parse_args(["--help"])
    usage = capsys.readouterr().out
    for name in set(ServingConfig.model_fields) - {"runtime_dir"}:  # runtime_dir: per run
        assert re.search(rf"{flag_of(name)}\b", usage), name


def test_a_served_and_a_refused_start_leave_no_runtime_folder(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    temp = tmp_path / "tmp"  # where the server's tempfile makes its folders
    temp.mkdir()
    env = {"TMPDIR": str(temp)}
    with running_server(tiny_model_dir, "--workers", "2", env=env):
        assert len(_runtime_folders(temp)) == 1
    assert _runtime_folders(temp) == []  # removed when the server stopped
    file = tmp_path / "model.txt"
    file.write_text("not a model folder")
    refused = _serve("--model-dir", str(file), env={**os.environ, **env})
    assert refused.returncode == 1
    assert refused.stderr == (
        f"error: {file} is a file, not a model folder: name the folder that holds "
        "model_card.json and model.safetensors\n"
    )
    assert _runtime_folders(temp) == []


def _runtime_folders(temp: Path) -> list[Path]:
    return [p for p in temp.iterdir() if p.name.startswith("apparel-serving-")]


def test_a_log_dir_that_is_a_file_is_refused_before_the_server_starts(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    file = tmp_path / "log"
    file.write_text("keep me")
    result = _serve("--model-dir", str(tiny_model_dir), "--log-dir", str(file))
    assert result.returncode == 1
    assert result.stderr == (
        f"error: --log-dir {file} is a file, not a folder: name a folder for the prediction log\n"
    )
    assert file.read_text() == "keep me"
