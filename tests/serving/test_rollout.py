"""A candidate beside production, over real HTTP: canary, shadow, the prediction log, the admin
reload (token, swap, failed reload), and several worker processes."""

import json
import shutil
from pathlib import Path

import httpx2
import pytest

from apparel_classifier.__main__ import main as cli
from apparel_classifier.errors import UserError
from apparel_classifier.model_card import load_card
from apparel_classifier.serving.__main__ import main as serve
from apparel_classifier.serving.models import folder_version
from apparel_classifier.serving.prediction_log import read_entries
from tests.images import encode, fashion_item, product_photo
from tools.server import running_server

PNG = encode(product_photo(fashion_item(7)), "PNG")
TOKEN = "s3cret-for-tests"


def _version(model_dir: Path) -> str:
    return folder_version(load_card(model_dir))


def _predict(http: httpx2.Client, client: str | None = None) -> httpx2.Response:
    headers = {"X-Client-Id": client} if client else {}
    response = http.post("/predict", files={"file": ("x.png", PNG, "image/png")}, headers=headers)
    assert response.status_code == 200, response.text
    return response


def test_canary_answers_a_sticky_share_of_clients(
    tiny_model_dir: Path, second_model_dir: Path
) -> None:
    prod, candidate = _version(tiny_model_dir), _version(second_model_dir)
    options = ["--candidate", str(second_model_dir), "--canary-share", "0.3"]
    with running_server(tiny_model_dir, *options) as url, httpx2.Client(base_url=url) as http:
        first = {f"client-{i}": _predict(http, f"client-{i}").json()["model"] for i in range(100)}
        by_candidate = [c for c, m in first.items() if m["version"] == candidate]
        # 30 % of clients expected; a hash of 100 names lands within a few of that.
        assert 15 <= len(by_candidate) <= 45
        assert all(first[c]["role"] == "candidate" for c in by_candidate)
        assert {m["version"] for m in first.values()} == {prod, candidate}
        for client in list(first)[:20]:  # sticky: the same client, the same model
            again = _predict(http, client)
            assert again.json()["model"]["version"] == first[client]["version"]
            assert again.headers["X-Model-Version"] == first[client]["version"]
        # A client without an id gets one as a cookie, and keeps its model with it.
        fresh = _predict(http)
        cookie = fresh.cookies["client_id"]
        with httpx2.Client(base_url=url, cookies={"client_id": cookie}) as browser:
            for _ in range(5):
                answer = _predict(browser).json()["model"]["version"]
                assert answer == fresh.json()["model"]["version"]


def test_shadow_logs_both_answers_and_returns_prod(
    tiny_model_dir: Path, second_model_dir: Path, tmp_path: Path
) -> None:
    prod, candidate = _version(tiny_model_dir), _version(second_model_dir)
    logs = tmp_path / "log"
    options = ["--candidate", str(second_model_dir), "--shadow", "--log-dir", str(logs)]
    with running_server(tiny_model_dir, *options) as url, httpx2.Client(base_url=url) as http:
        ids = [_predict(http, f"c{i}").headers["X-Request-Id"] for i in range(10)]
        assert {_predict(http).json()["model"]["version"] for _ in range(3)} == {prod}
        batch = http.post(
            "/predict/batch",
            files=[("files", (f"{i}.png", PNG, "image/png")) for i in range(2)],
        )
        assert batch.status_code == 200
    entries = read_entries(logs)
    assert len(entries) == 15  # written after each response, flushed before the server stopped
    by_id = {e["request_id"]: e for e in entries}
    for rid in ids:
        entry = by_id[rid]
        assert entry["version"] == prod
        assert entry["role"] == "prod"
        assert entry["shadow"]["version"] == candidate
        assert entry["shadow"]["role"] == "candidate"
        assert set(entry) >= {"time", "route", "category", "confidence", "uncertain", "latency_ms"}
        assert "image" not in entry  # image bytes are kept only with --log-images
    assert not (logs / "images").exists()


def test_the_log_rotates_and_keeps_images_only_when_asked(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    logs = tmp_path / "log"
    options = ["--log-dir", str(logs), "--log-max-bytes", "2000", "--log-backups", "2",
               "--log-images"]  # fmt: skip
    with running_server(tiny_model_dir, *options) as url, httpx2.Client(base_url=url) as http:
        ids = [_predict(http).headers["X-Request-Id"] for _ in range(40)]
    files = sorted(p.name for p in logs.glob("predictions-*.jsonl*"))
    assert len(files) == 3, files  # the live file and two backups: the oldest were dropped
    assert all(p.stat().st_size <= 2000 for p in logs.glob("predictions-*"))
    kept = read_entries(logs)
    assert 0 < len(kept) < 40
    assert (logs / kept[-1]["image"]).read_bytes() == PNG
    assert kept[-1]["request_id"] == ids[-1]


def test_compare_log_reports_agreement_classes_confidence_and_latency(
    tiny_model_dir: Path, second_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    logs = tmp_path / "log"
    options = ["--candidate", str(second_model_dir), "--shadow", "--canary-share", "0.5",
               "--log-dir", str(logs)]  # fmt: skip
    with running_server(tiny_model_dir, *options) as url, httpx2.Client(base_url=url) as http:
        for i in range(30):
            _predict(http, f"client-{i}")
    assert cli(["compare-log", str(logs), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["entries"] == 30
    modes = {(m["version"], m["mode"]) for m in report["models"]}
    prod, candidate = _version(tiny_model_dir), _version(second_model_dir)
    assert modes == {(v, mode) for v in (prod, candidate) for mode in ("answered", "shadow")}
    pairs = {(a["answered_by"], a["shadow"]): a for a in report["agreement"]}
    assert sum(a["pairs"] for a in pairs.values()) == 30
    for a in pairs.values():
        assert 0.0 <= a["agreement"] <= 1.0
    for m in report["models"]:
        assert abs(sum(m["classes"].values()) - 1.0) < 1e-9
        assert m["latency_p50_ms"] <= m["latency_p99_ms"]
    assert cli(["compare-log", str(logs)]) == 0
    text = capsys.readouterr().out
    assert "agreement" in text
    assert prod in text


def test_compare_log_of_an_empty_folder_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert cli(["compare-log", str(tmp_path)]) == 1
    assert "no prediction log" in capsys.readouterr().err


# A line the server writes (as in its log) and, below, lines it never writes.
LOGGED = {"request_id": "r1", "time": "2026-01-01T00:00:00.000+00:00", "route": "/predict",
          "version": "md5-1", "role": "prod", "category": "Sneaker", "confidence": 0.9,
          "uncertain": False, "latency_ms": 1.5}  # fmt: skip


@pytest.mark.parametrize(
    ("line", "words"),
    [
        (json.dumps({"level": "info", "msg": "started"}).encode(), "version: Field required"),
        (json.dumps([LOGGED]).encode(), "a JSON list, not an object"),
        (b"\x89PNG\r\x1a\x00\xff\xfe", "can't decode byte"),
        (json.dumps({**LOGGED, "confidence": "high"}).encode(), "confidence: Input should be"),
        (json.dumps({**LOGGED, "shadow": {"version": 3}}).encode(), "version: Input should be"),
    ],
)
def test_compare_log_names_the_file_and_line_it_cannot_read(
    tmp_path: Path, line: bytes, words: str
) -> None:
    good = json.dumps(LOGGED).encode()
    path = tmp_path / "predictions-1.jsonl"
    path.write_bytes(good + b"\n" + line + b"\n" + good + b"\n")
    with pytest.raises(UserError, match=f"{path}, line 2, is not a prediction log line") as err:
        read_entries(tmp_path)
    assert words in str(err.value)


def test_compare_log_skips_only_a_last_line_cut_short(tmp_path: Path) -> None:
    good = json.dumps(LOGGED).encode()
    (tmp_path / "predictions-1.jsonl").write_bytes(good + b"\n\n" + good + b"\n" + good[:20])
    assert read_entries(tmp_path) == [LOGGED, LOGGED]  # a blank line and the cut line skipped


@pytest.mark.parametrize("mode", ["--canary-share", "--shadow"])
def test_a_canary_or_shadow_without_a_candidate_is_refused(
    tiny_model_dir: Path, mode: str, capsys: pytest.CaptureFixture
) -> None:
    option = [mode, "0.5"] if mode == "--canary-share" else [mode]
    with pytest.raises(SystemExit) as exited:
        serve(["--model-dir", str(tiny_model_dir), *option])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {mode} needs a --candidate")
    assert len(err.splitlines()) == 1


def _reload(http: httpx2.Client, token: str | None, body: dict | None = None) -> httpx2.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return http.post("/admin/reload", headers=headers, json=body)


def test_reload_needs_the_admin_token(tiny_model_dir: Path) -> None:
    env = {"APPAREL_ADMIN_TOKEN": TOKEN}
    with running_server(tiny_model_dir, env=env) as url, httpx2.Client(base_url=url) as http:
        missing = _reload(http, None)
        assert missing.status_code == 401
        assert missing.headers["WWW-Authenticate"] == "Bearer"
        assert "Bearer" in missing.json()["detail"]
        wrong = _reload(http, "not-the-token")
        assert wrong.status_code == 403
        assert wrong.json()["detail"] == "wrong admin token"
        assert _reload(http, TOKEN).status_code == 200


def test_reload_is_off_without_a_configured_token(tiny_model_dir: Path) -> None:
    with running_server(tiny_model_dir, env={"APPAREL_ADMIN_TOKEN": ""}) as url:
        response = _reload(httpx2.Client(base_url=url), "anything")
    assert response.status_code == 403
    assert "APPAREL_ADMIN_TOKEN" in response.json()["detail"]


def test_reload_swaps_models_without_a_restart_and_a_failed_one_changes_nothing(
    tiny_model_dir: Path, second_model_dir: Path, tmp_path: Path
) -> None:
    first, second = _version(tiny_model_dir), _version(second_model_dir)
    corrupt = tmp_path / "corrupt"
    shutil.copytree(second_model_dir, corrupt)
    (corrupt / "model.safetensors").write_bytes(b"not weights")
    env = {"APPAREL_ADMIN_TOKEN": TOKEN}
    # Two worker processes: a reload answered by one must reach the other too.
    options = ["--workers", "2"]
    with running_server(tiny_model_dir, *options, env=env) as url:
        with httpx2.Client(base_url=url) as http:
            before = http.get("/monitoring").json()
            assert _predict(http).json()["model"]["version"] == first
            swapped = _reload(http, TOKEN, {"prod": str(second_model_dir)})
            assert swapped.status_code == 200, swapped.text
            assert swapped.json()["prod"] == second
            assert before["models"][0]["version"] == first

            for bad, words in ((tmp_path / "missing", "not found"), (corrupt, "does not match")):
                failed = _reload(http, TOKEN, {"prod": str(bad)})
                assert failed.status_code == 409
                detail = failed.json()["detail"]
                assert f"still serving prod {second}" in detail
                assert words in detail
        # New connections, spread over both workers: every one answers with the new model.
        workers = set()
        for _ in range(40):
            with httpx2.Client(base_url=url) as http:
                assert _predict(http).json()["model"]["version"] == second
                monitoring = http.get("/monitoring").json()
                assert monitoring["models"][0]["version"] == second
                workers.add(monitoring["worker"])
            if len(workers) == 2:
                break
        assert len(workers) == 2


def test_reload_refuses_a_misspelt_key_and_a_file_for_a_model_folder(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    prod = _version(tiny_model_dir)
    file = tmp_path / "model.safetensors"
    file.write_bytes(b"a file, not a folder")
    env = {"APPAREL_ADMIN_TOKEN": TOKEN}
    with running_server(tiny_model_dir, env=env) as url, httpx2.Client(base_url=url) as http:
        misspelt = _reload(http, TOKEN, {"prd": str(file)})
        assert misspelt.status_code == 422  # not 200 with the current models reloaded
        assert "unknown key 'prd'" in misspelt.json()["detail"]
        failed = _reload(http, TOKEN, {"candidate": str(file)})
        assert failed.status_code == 409, failed.text
        detail = failed.json()["detail"]
        assert f"still serving prod {prod}" in detail
        assert f"{file} is a file, not a model folder" in detail
        generation = http.get("/monitoring").json()
        assert [m["role"] for m in generation["models"]] == ["prod"]  # nothing changed
