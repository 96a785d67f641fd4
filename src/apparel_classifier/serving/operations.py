"""The operator's routes: monitoring, Prometheus metrics and the token-protected model reload."""

import logging
import secrets

from fastapi import APIRouter, HTTPException, Request, Response

from apparel_classifier.errors import UserError
from apparel_classifier.serving import metrics
from apparel_classifier.serving.config import ServingConfig, admin_token
from apparel_classifier.serving.fleet import Fleet
from apparel_classifier.serving.schemas import (
    ErrorResponse,
    MonitoringResponse,
    ReloadRequest,
    ReloadResponse,
)

log = logging.getLogger(__name__)
router = APIRouter()


def current_fleet(request: Request) -> Fleet:
    """This process's models, after taking up any reload another worker published."""
    fleet: Fleet = request.app.state.fleet
    fleet.sync()  # a reload published by another worker process takes effect here
    return fleet


def _check_token(request: Request) -> None:
    """401 without a bearer token, 403 with a wrong one (or when no token is configured)."""
    expected = admin_token()
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given:
        raise HTTPException(
            status_code=401,
            detail="admin route: send the token as 'Authorization: Bearer <token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if expected is None:
        raise HTTPException(
            status_code=403,
            detail="admin routes are off: start the server with APPAREL_ADMIN_TOKEN set",
        )
    if not secrets.compare_digest(given.encode(), expected.encode()):
        raise HTTPException(status_code=403, detail="wrong admin token")


@router.get("/monitoring", response_model=MonitoringResponse)
def monitoring(request: Request) -> MonitoringResponse:
    """Which models serve, and the drift of live requests from the prod model's profile.

    The window is this worker process's: with several workers, each tests its own share.
    """
    config: ServingConfig = request.app.state.config
    return MonitoringResponse.of(current_fleet(request), config)


@router.get("/metrics", include_in_schema=False)
def prometheus_metrics(request: Request) -> Response:
    """Prometheus metrics, summed over the worker processes."""
    current_fleet(request).export_gauges()
    body, content_type = metrics.exposition()
    return Response(body, media_type=content_type)


# An operator's route: left out of the public API schema (and its fuzz test).
@router.post(
    "/admin/reload",
    response_model=ReloadResponse,
    include_in_schema=False,
    responses={
        401: {"model": ErrorResponse, "description": "No bearer token"},
        403: {"model": ErrorResponse, "description": "A wrong token, or no token configured"},
        409: {"model": ErrorResponse, "description": "A model failed to load; nothing changed"},
    },
)
def reload(request: Request, body: ReloadRequest | None = None) -> ReloadResponse:
    """Load the models again (registry stages are resolved anew), without a restart.

    The body may name other references: `{"prod": "registry:v1.0.0"}`, or
    `{"candidate": null}` to stop the candidate. If any model fails to load, nothing
    changes: the old models keep answering and the 409 says why.
    """
    _check_token(request)
    fleet = current_fleet(request)
    overrides = body.model_dump(exclude_unset=True) if body else {}
    try:
        state = fleet.reload(**overrides)
    except UserError as err:
        log.warning("reload failed, the old models keep answering: %s", err)
        raise HTTPException(
            status_code=409,
            detail=f"reload failed, still serving prod {fleet.prod.version}: {err}",
        ) from None
    return ReloadResponse.of(state)
