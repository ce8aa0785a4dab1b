"""Where the browser tests look for a Chromium or Chrome (tools/browsers.py), with fake browsers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import browsers

BROWSERS_PY = Path(__file__).resolve().parent.parent / "tools" / "browsers.py"


def _exe(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """An environment with nothing on PATH and an empty home (so no Playwright cache)."""
    (tmp_path / "bin").mkdir()
    (tmp_path / "home").mkdir()
    return {"PATH": str(tmp_path / "bin"), "HOME": str(tmp_path / "home")}


def test_nothing_found_says_how_to_fix_it_in_one_line(env):
    """Catches a missing browser reported without the fix, or over several lines."""
    path, problem = browsers.browser_problem(env)
    if path is not None and str(path).startswith("/Applications/"):
        pytest.skip("this Mac has a system Chrome, which is always found")
    assert path is None and problem == browsers.BROWSER_MISSING
    assert "\n" not in problem and "apt-get install chromium" in problem and "AE_BROWSER=" in problem


def test_path_names_in_order(env, tmp_path):
    """Catches the lookup taking a non-executable file, or another browser than the first on PATH's list."""
    chrome = _exe(tmp_path / "bin" / "google-chrome")
    assert browsers.find_browser(env) == chrome
    chromium = _exe(tmp_path / "bin" / "chromium")
    assert browsers.find_browser(env) == chromium
    (tmp_path / "bin" / "not-exec").write_text("")
    (tmp_path / "bin" / "chromium").chmod(0o644)  # not executable: skipped
    assert browsers.find_browser(env) == chrome


def test_playwright_download_found_newest_first(env, tmp_path):
    """Catches an older Playwright browser chosen over the newest, or the macOS layout missed."""
    cache = tmp_path / "home" / ".cache" / "ms-playwright"
    _exe(cache / "chromium-1100" / "chrome-linux" / "chrome")
    newest = _exe(cache / "chromium-1255" / "chrome-linux64" / "chrome")
    _exe(cache / "chromium_headless_shell-1300" / "chrome-headless-shell-linux64" / "chrome-headless-shell")
    assert browsers.find_browser(env) == newest
    mac = tmp_path / "pw" / "chromium-1255" / "chrome-mac-arm64" / "Google Chrome for Testing.app"
    mac_exe = _exe(mac / "Contents" / "MacOS" / "Google Chrome for Testing")
    assert browsers.find_browser({**env, "PLAYWRIGHT_BROWSERS_PATH": str(tmp_path / "pw")}) == mac_exe


def test_ae_browser_overrides_and_is_not_silently_replaced(env, tmp_path):
    """Catches a wrong AE_BROWSER silently replaced by another browser instead of reported."""
    _exe(tmp_path / "bin" / "chromium")
    mine = _exe(tmp_path / "elsewhere" / "my-chrome")
    assert browsers.find_browser({**env, "AE_BROWSER": str(mine)}) == mine
    assert browsers.find_browser({**env, "AE_BROWSER": "chromium"}) == tmp_path / "bin" / "chromium"
    path, problem = browsers.browser_problem({**env, "AE_BROWSER": str(tmp_path / "nowhere")})
    assert path is None and problem.startswith(f"AE_BROWSER={tmp_path / 'nowhere'} is not") and "\n" not in problem


@pytest.mark.parametrize("value, expected", [("true", True), ("1", True), ("", False), ("false", False)])
def test_ci_detection(value, expected):
    """Catches CI=true not recognised (missing browsers would skip instead of fail under CI)."""
    assert browsers.on_ci({"CI": value}) is expected


def _prereqs(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    # What the Makefile runs, as a user who cannot install anything (no apt-get on PATH).
    return subprocess.run([sys.executable, str(BROWSERS_PY), *args], env={**os.environ, **env},
                          capture_output=True, text=True)


def test_make_step_stops_with_one_line_when_nothing_can_be_installed(env):
    """Catches make test starting its long steps without a browser, or stopping with more than one line."""
    _exe(Path(env["PATH"]) / "npm")
    env = {**env, "AE_BROWSER": ""}
    proc = _prereqs(env, "--need", "browser", "npm")
    if browsers.find_browser(env) is not None:
        pytest.skip("a system browser outside PATH is installed here")
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr == f"make test: {browsers.BROWSER_MISSING}\n"


def test_make_step_passes_quietly_when_everything_is_there(env, tmp_path):
    """Catches the prerequisite step printing or failing when all is in place, and make book stopping
    without npm."""
    _exe(tmp_path / "bin" / "npm")
    _exe(tmp_path / "bin" / "chromium")
    proc = _prereqs({**env, "AE_BROWSER": ""}, "--need", "browser", "npm")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")
    # `make book` only wants npm: without it (and without apt) it carries on.
    (tmp_path / "bin" / "npm").unlink()
    proc = _prereqs({**env, "AE_BROWSER": ""}, "--want", "npm", "--who", "make book")
    assert (proc.returncode, proc.stderr) == (0, "")
