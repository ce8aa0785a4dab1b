"""Where the data and the trained models live.

Both default to folders inside the project (ignored by git) and can be moved with an
environment variable, so a reader can point several checkouts at one download.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["PROJECT_ROOT", "data_dir", "cache_dir"]

#: The repository root when the package is installed in editable mode from a checkout.
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _default_base() -> Path:
    """The checkout when running from one, else the current folder (e.g. a Colab install)."""
    if (PROJECT_ROOT / "pyproject.toml").is_file():
        return PROJECT_ROOT
    return Path.cwd()


def data_dir() -> Path:
    """Folder holding MNIST: ``$AE_DATA_DIR`` if set, else ``data/`` in the project."""
    env = os.environ.get("AE_DATA_DIR")
    return Path(env).expanduser() if env else _default_base() / "data"


def cache_dir() -> Path:
    """Folder holding trained models: ``$AE_CACHE_DIR`` if set, else ``cache/`` in the project."""
    env = os.environ.get("AE_CACHE_DIR")
    return Path(env).expanduser() if env else _default_base() / "cache"
