"""Which model answers a request: sticky canary routing by client id."""

import hashlib
import uuid

CLIENT_HEADER = "X-Client-Id"
CLIENT_COOKIE = "client_id"
_BUCKETS = 10_000


def client_id(header: str | None, cookie: str | None) -> tuple[str, bool]:
    """The client's id from the header, else the cookie, else a new one.

    Returns the id and whether it is new (the response then sets the cookie, so a browser
    keeps its model from one request to the next).
    """
    for given in (header, cookie):
        if given and given.strip():
            return given.strip()[:200], False
    return uuid.uuid4().hex, True


def in_canary(client: str, share: float) -> bool:
    """True when `client` falls in the canary's `share` of clients, always the same way.

    A hash, not a random draw: the same client gets the same model on every request (and
    on every worker process), and raising the share only moves more clients over.
    """
    if share <= 0:
        return False
    digest = hashlib.sha256(client.encode()).digest()
    return int.from_bytes(digest[:8], "big") % _BUCKETS < round(share * _BUCKETS)
