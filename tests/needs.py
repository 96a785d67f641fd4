"""Tests that need something heavy (the trained model, a browser): skip locally, fail in CI."""

import os

import pytest


def need(available: bool, what: str) -> None:
    """Skip with reason `what` when missing; in CI fail instead, where a skip would hide it."""
    if available:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{what} (CI=true, so this cannot be skipped)")
    pytest.skip(what)
