"""Load: 8 concurrent clients for 10 seconds against the running server, with zero errors."""

from tests.images import encode, fashion_item, product_photo
from tools.bench_serving import load_test


def test_eight_clients_for_ten_seconds_without_errors(server: str) -> None:
    photo = encode(product_photo(fashion_item(4)), "PNG")
    result = load_test(server, photo, clients=8, seconds=10.0)
    rate = result.requests_per_s
    print(f"\nload test: {rate:.0f} requests/s, {result.ok} ok, {result.errors} errors")
    assert result.errors == 0, result.first_error
    assert result.ok > 80  # at least 1 request/s per client even on a busy 2-core machine
