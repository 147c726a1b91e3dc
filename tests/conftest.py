"""Shared fixtures. Under ``CI=true`` a missing server or browser fails the test; locally it skips."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


def require(condition: bool, what: str) -> None:
    """Skip locally, fail in CI, when a real part the test needs is missing."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{what} is required under CI=true (.ci/run installs it)")
    pytest.skip(f"{what} is not available here")


def find_binary(*names: str) -> str | None:
    for name in names:
        path = shutil.which(name) or (name if os.path.isabs(name) and os.access(name, os.X_OK) else None)
        if path:
            return path
        for prefix in ("/usr/sbin", "/usr/bin", "/sbin"):
            candidate = os.path.join(prefix, name)
            if os.access(candidate, os.X_OK):
                return candidate
    return None


@pytest.fixture
def shared_dir() -> Path:
    require(SHARED.is_dir(), f"the shared/ folder beside the checkout ({SHARED})")
    return SHARED


@pytest.fixture(scope="session")
def detector():  # type: ignore[no-untyped-def]
    """The shipped rules, loaded once for the whole run (loading takes a second or more). Nothing
    may change it; a test that needs its own detector (other rules, a fresh warm-up) defines a
    fixture of the same name in its module."""
    from gateway.detect import Detector

    return Detector.load()
