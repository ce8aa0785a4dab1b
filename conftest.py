"""Settings for every pytest run from the repository root (unit tests and nbval alike).

Seeded CPU training repeats bit for bit only at the same number of threads, and the
chapters' stored outputs were computed with ``BOOK_THREADS`` (tools/variants.py, the one place
it is set): nbval's kernels inherit it, so a bare ``pytest --nbval`` reproduces them on machines
with more cores too. Set OMP_NUM_THREADS yourself to override it.

Under the test suite a chapter's failed check (``expect`` or ``claim``, ``ae_helpers.checks``)
must fail the chapter, while in a reader's own session it only prints a line: the variable
below switches the checks to strict, here and in every kernel nbval starts.

The models a test run trains go to a model cache of the run's own: unless the caller names
one with AE_CACHE_DIR, it is set to a fresh temporary folder for the whole session (the
chapters' kernels under nbval inherit it too) and removed afterwards. The reader's ``cache/``
is never written: a run that changes it anyway, while AE_CACHE_DIR named another folder,
fails at the end, naming what changed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from tools.variants import BOOK_THREADS

os.environ.setdefault("OMP_NUM_THREADS", BOOK_THREADS)
os.environ.setdefault("AE_STRICT_CHECKS", "1")

#: The reader's model cache (ae_helpers.paths.cache_dir() when AE_CACHE_DIR is not set).
READERS_CACHE = Path(__file__).resolve().parent / "cache"

_SESSION_CACHE = pytest.StashKey[str]()
_READERS_BEFORE = pytest.StashKey[dict]()
_READERS_CHANGED = pytest.StashKey[list]()


def _listing(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``folder`` with its size and modification time (empty when it does not exist)."""
    if not folder.is_dir():
        return {}
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("AE_CACHE_DIR"):
        named = Path(os.environ["AE_CACHE_DIR"]).expanduser().resolve()
        if named == READERS_CACHE.resolve():
            return  # the caller asked for the reader's cache: nothing to guard
    else:
        folder = tempfile.mkdtemp(prefix="ae-test-cache-")
        os.environ["AE_CACHE_DIR"] = folder
        config.stash[_SESSION_CACHE] = folder
    config.stash[_READERS_BEFORE] = _listing(READERS_CACHE)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    before = session.config.stash.get(_READERS_BEFORE, None)
    if before is None:
        return
    after = _listing(READERS_CACHE)
    changed = sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))
    if changed:
        session.config.stash[_READERS_CHANGED] = changed
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    changed = config.stash.get(_READERS_CHANGED, [])
    if changed:
        terminalreporter.write_line(
            f"the test run changed the reader's model cache {READERS_CACHE}: {', '.join(changed[:5])} "
            f"(tests must train into AE_CACHE_DIR, which was {os.environ.get('AE_CACHE_DIR')})", red=True)


def pytest_unconfigure(config: pytest.Config) -> None:
    folder = config.stash.get(_SESSION_CACHE, None)
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)
        if os.environ.get("AE_CACHE_DIR") == folder:
            del os.environ["AE_CACHE_DIR"]


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list) -> None:
    """Tests marked ``after_chapters`` run last, once nbval has filled the run's model cache with the
    chapters' models (tests/test_settings_edits.py re-runs chapters with edited settings)."""
    items.sort(key=lambda item: item.get_closest_marker("after_chapters") is not None)
