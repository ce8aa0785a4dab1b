"""`make` stops at once, in one line, on a Python older than the lock needs (3.11).

The check runs while make reads the Makefile, so it is tested with ``make -n``: had it let an old
Python through, make would print the commands it was about to run instead of the one line.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MAKE = shutil.which("make")
pytestmark = pytest.mark.skipif(MAKE is None, reason="no make on PATH")


def _fake_python(folder: Path, name: str, version: str) -> Path:
    """A stand-in for an old interpreter: answers ``--version`` as that Python does."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(f'#!/bin/sh\necho "Python {version}"\n')
    path.chmod(0o755)
    return path


def _make(*args: str, path: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHON", "MAKEFLAGS", "MAKELEVEL"}}
    env["PATH"] = path
    return subprocess.run([MAKE, "-n", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def _one_line_stop(result: subprocess.CompletedProcess) -> str:
    output = (result.stdout + result.stderr).strip()
    assert result.returncode == 2, output
    assert len(output.splitlines()) == 1, f"expected one line, got:\n{output}"
    assert "-m venv" not in output and "pip install" not in output
    return output


def test_an_old_python3_on_path_stops_every_target(tmp_path):
    bin_dir = tmp_path / "bin"
    _fake_python(bin_dir, "python3", "3.9.6")  # macOS's /usr/bin/python3
    for target in ("book", "test", "install", "lab"):
        line = _one_line_stop(_make(target, path=str(bin_dir)))
        assert "Python 3.11 or newer is needed" in line
        assert f"{bin_dir / 'python3'} is 3.9.6" in line
        assert "PYTHON=/path/to/python3.11" in line


def test_an_old_python_named_with_PYTHON_stops_too(tmp_path):
    old = _fake_python(tmp_path / "bin", "python3.10", "3.10.14")
    line = _one_line_stop(_make("book", f"PYTHON={old}", path=os.environ.get("PATH", "")))
    assert f"{old} is 3.10.14" in line


def test_no_python_at_all_is_named(tmp_path):
    (tmp_path / "empty").mkdir()
    line = _one_line_stop(_make("book", path=str(tmp_path / "empty")))
    assert "no Python found" in line


def test_a_current_python_passes_and_clean_needs_none(tmp_path):
    # A venv path that does not exist yet, so make plans to create it even where .venv is built.
    ok = _make("book", f"PYTHON={sys.executable}", f"VENV={tmp_path / 'venv'}", path=os.environ.get("PATH", ""))
    assert ok.returncode == 0, ok.stderr
    assert f"{sys.executable} -m venv" in ok.stdout
    old = _fake_python(tmp_path / "bin", "python3", "3.9.6")
    clean = _make("clean", f"PYTHON={old}", path=os.environ.get("PATH", ""))
    assert clean.returncode == 0 and "rm -rf _build" in clean.stdout
