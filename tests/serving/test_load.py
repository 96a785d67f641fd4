"""Load: 8 concurrent clients for 10 seconds against the running server, with zero errors."""

from pathlib import Path

from tests.images import encode, fashion_item, product_photo
from tools.bench_serving import load_test
from tools.server import running_server

PHOTO = encode(product_photo(fashion_item(4)), "PNG")


def test_eight_clients_for_ten_seconds_without_errors(server: str) -> None:
    result = load_test(server, PHOTO, clients=8, seconds=10.0)
    print(f"\nload test: {result.summary()}")
    assert result.errors == 0, result.first_error
    assert result.ok > 80  # at least 1 request/s per client even on a busy 2-core machine


def test_eight_clients_with_a_twenty_percent_canary_and_shadow_mode(
    tiny_model_dir: Path, second_model_dir: Path, tmp_path: Path
) -> None:
    options = ["--candidate", str(second_model_dir), "--canary-share", "0.2", "--shadow",
               "--log-dir", str(tmp_path / "log")]  # fmt: skip
    with running_server(tiny_model_dir, *options) as url:
        result = load_test(url, PHOTO, clients=8, seconds=10.0)
    print(f"\nload test, 20 % canary + shadow: {result.summary()}")
    assert result.errors == 0, result.first_error
    assert result.ok > 80
    # Every client has its own id, so some land on the candidate (1 - 0.8^8 = 83 % likely
    # for at least one of 8; the ids are fixed, so this is deterministic).
    assert len(result.versions) == 2, result.versions
