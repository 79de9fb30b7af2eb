"""The app's version, read from the installed package's metadata (pyproject.toml is the one
place it is written). Plain Python: ``main.py --version`` and ``network-designer --version``
use it without loading Qt or torch (``designer.version`` re-exports it)."""
from __future__ import annotations

import re
from pathlib import Path

DISTRIBUTION = "network-designer"
PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def app_version() -> str:
    from importlib import metadata
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:  # a checkout that was never installed: read the source
        return _version_in_pyproject() or "unknown"


def _version_in_pyproject() -> str | None:
    try:
        text = PYPROJECT.read_text(encoding="utf-8")
    except OSError:
        return None
    found = re.search(r'(?m)^version\s*=\s*"([^"]+)"', text)
    return found.group(1) if found else None


__all__ = ["app_version"]
