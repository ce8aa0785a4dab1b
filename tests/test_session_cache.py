"""The root conftest.py: a test run trains into a model cache of its own, never into the reader's.

Each test runs a small pytest session in a temporary folder holding a copy of the root
conftest.py (whose ``cache/`` then stands for the reader's) and looks at what it left.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

WRITES_TO_ITS_CACHE = '''
import os
from pathlib import Path
from ae_helpers.paths import cache_dir

def test_write():
    Path(os.environ["WHERE"]).write_text(str(cache_dir()))
    cache_dir().mkdir(parents=True, exist_ok=True)
    (cache_dir() / "model.pt").write_bytes(b"trained")
'''

WRITES_TO_THE_READERS_CACHE = '''
from pathlib import Path

def test_leak():
    readers = Path(__file__).parent / "cache"
    readers.mkdir(exist_ok=True)
    (readers / "leaked.pt").write_bytes(b"trained")
'''


def _session(folder: Path, test_source: str, **env: str) -> subprocess.CompletedProcess:
    shutil.copy(ROOT / "conftest.py", folder / "conftest.py")
    (folder / "pytest.ini").write_text("[pytest]\n")
    (folder / "test_it.py").write_text(test_source)
    environ = {k: v for k, v in os.environ.items() if k != "AE_CACHE_DIR"}
    environ.update(PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]), **env)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(folder)],
                          cwd=folder, env=environ, capture_output=True, text=True, timeout=120)


def test_a_run_trains_into_a_fresh_cache_that_it_removes(tmp_path):
    """Catches tests (or nbval's kernels) training into the reader's cache/, and session caches left
    behind."""
    where = tmp_path / "where.txt"
    run = _session(tmp_path, WRITES_TO_ITS_CACHE, WHERE=str(where))
    assert run.returncode == 0, run.stdout + run.stderr
    session_cache = Path(where.read_text())
    assert session_cache.name.startswith("ae-test-cache-") and tmp_path not in session_cache.parents
    assert not session_cache.exists(), "the session's cache is removed at the end"
    assert not (tmp_path / "cache").exists(), "the reader's cache was not created"


def test_a_run_that_changes_the_readers_cache_fails_naming_it(tmp_path):
    """Catches a test that writes into cache/ by its path, past AE_CACHE_DIR: the run must not pass."""
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "kept.pt").write_bytes(b"the reader's model")
    run = _session(tmp_path, WRITES_TO_THE_READERS_CACHE)
    assert run.returncode == pytest.ExitCode.TESTS_FAILED, run.stdout + run.stderr
    assert "changed the reader's model cache" in run.stdout and "leaked.pt" in run.stdout
    assert (tmp_path / "cache" / "kept.pt").read_bytes() == b"the reader's model"


def test_a_cache_the_caller_names_is_used_and_kept(tmp_path):
    """Catches the run overriding (or deleting) a cache folder the caller chose, as make test-foreign does."""
    chosen = tmp_path / "chosen-cache"
    where = tmp_path / "where.txt"
    run = _session(tmp_path, WRITES_TO_ITS_CACHE, WHERE=str(where), AE_CACHE_DIR=str(chosen))
    assert run.returncode == 0, run.stdout + run.stderr
    assert Path(where.read_text()) == chosen
    assert (chosen / "model.pt").read_bytes() == b"trained"
