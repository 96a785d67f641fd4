"""The API against its own OpenAPI schema: schemathesis sends the running server, over real
HTTP, requests that the schema allows and requests that it forbids, and checks every answer."""

import httpx2
import schemathesis
from schemathesis import Case, CheckContext, Response

from apparel_classifier.serving.app import create_app
from tests.serving.conftest import MAX_BATCH, MAX_UPLOAD_BYTES

# A fixed seed, so every run sends the same requests, and at most 100 drawn requests per
# operation, valid and invalid ones together (plus schemathesis's fixed coverage cases: about
# 270 requests in all, a few seconds); schemathesis already runs Hypothesis with no deadline.
CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 8,
        "generation": {"max-examples": 100, "database": "none"},
        "checks": {
            # A schema-valid request is accepted, except for what JSON Schema cannot state:
            # the bytes must be an image we can decode (415, 422) and the whole multipart body
            # must fit the upload limit (413). An empty file (400), an empty batch (422) and too
            # many images (400) are stated in the schema (minLength, minItems, maxItems), so a
            # schema-valid request that gets one of those is a mismatch and fails here.
            "positive_data_acceptance": {"expected-statuses": ["2xx", "413", "415", "422"]},
        },
    }
)

# Loaded here, not from the `server` fixture's /openapi.json: schemathesis 4.32's loader for
# a fixture (`schemathesis.pytest.from_fixture`) sets `Node._nodeid`, which pytest 9.2 no
# longer has. The server is built by the same `create_app` with the same limits, and
# `test_the_fuzzed_schema_is_the_served_one` checks that the two schemas are equal.
OPENAPI = create_app(max_upload_bytes=MAX_UPLOAD_BYTES, max_batch=MAX_BATCH).openapi()
schema = schemathesis.openapi.from_dict(OPENAPI, config=CONFIG)


def valid_uploads_are_refused_only_as_images(
    ctx: CheckContext, response: Response, case: Case
) -> bool | None:
    """A schema-valid request gets 422 only for an image that cannot be decoded.

    422 is also the answer to a missing form field, which the schema does state; a
    schema-valid request that is told its field is missing (as an empty batch was) fails.
    """
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return None
    if response.status_code == 422:
        detail = response.json()["detail"]
        assert "cannot be decoded" in detail, f"schema-valid request refused: {detail}"
    return None


def test_the_fuzzed_schema_is_the_served_one(server: str) -> None:
    assert httpx2.get(f"{server}/openapi.json").json() == OPENAPI


@schema.parametrize()
def test_api_conforms_to_its_openapi_schema(case: Case, server: str) -> None:
    # Every built-in check schemathesis has (none is disabled), plus the one above.
    case.call_and_validate(
        base_url=server, additional_checks=[valid_uploads_are_refused_only_as_images]
    )
