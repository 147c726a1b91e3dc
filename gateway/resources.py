"""Where the shipped data lives, installed as a wheel or run from a checkout.

A wheel carries ``rules/`` inside the package as ``gateway/_rules``; an editable install or a source
checkout reads the repository's top-level ``rules/``.
"""

from __future__ import annotations

from pathlib import Path

_PKG = Path(__file__).resolve().parent


def rules_dir() -> Path:
    """The directory holding policy.yaml, lexicons/ and templates/."""
    for candidate in (_PKG / "_rules", _PKG.parent / "rules"):
        if (candidate / "policy.yaml").is_file() or (candidate / "lexicons").is_dir():
            return candidate
    raise FileNotFoundError(f"rules/ not found next to {_PKG}; reinstall harassment-gateway")


def samples_dir() -> Path:
    """Sample support mail shipped with the package (a Maildir), used by the embedded defaults."""
    return _PKG / "samples"
