"""Where the data and the trained models live.

Both default to folders inside the project (ignored by git) and can be moved with an
environment variable, so a reader can point several checkouts at one download.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable

__all__ = ["PROJECT_ROOT", "atomic_write", "data_dir", "cache_dir"]

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


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], object]) -> Path:
    """Create or replace the file ``path`` all at once: never a half-written file.

    ``write(fh)`` writes the contents into a temporary file in the same folder (opened in
    binary mode); the file is then flushed to disk and renamed over ``path`` (an atomic step
    on one file system), readable by everyone like an ordinary file. If ``write`` raises, the
    temporary file is removed and ``path`` is left as it was. Returns ``path`` as a ``Path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it private
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
