"""Where the browser tests find a Chromium or Chrome, and what `make` does when there is none.

One lookup serves the Makefile's prerequisite step (``python3 tools/browsers.py``, run before
``.venv`` exists, so this file uses the standard library only), the ``browser`` fixture
(tests/conftest.py) and tests/test_book_browser.py. A browser is looked for, in order:

1. ``$AE_BROWSER``: a path or a command name. When set it is the only place looked at, so a
   typo is reported instead of silently replaced by another browser.
2. ``chromium``, ``chromium-browser``, ``google-chrome``, ``google-chrome-stable``, ``chrome``
   on ``PATH``, then the usual macOS application bundles.
3. A browser Playwright downloaded (``playwright install chromium``): under
   ``$PLAYWRIGHT_BROWSERS_PATH`` or Playwright's cache folder (``~/.cache/ms-playwright``,
   ``~/Library/Caches/ms-playwright``, ``%LOCALAPPDATA%\\ms-playwright``), newest first.

Without one, the browser tests skip with :data:`BROWSER_MISSING` on a reader's machine and fail
under CI (``CI=true``).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

__all__ = ["BROWSER_MISSING", "NPM_MISSING", "LAUNCH_ARGS", "find_browser", "browser_problem", "on_ci",
           "require_browser", "main"]

BROWSER_MISSING = ("the browser tests need Chromium or Chrome and found none: "
                   "apt-get install chromium, or set AE_BROWSER=/path/to/chrome")
BOTH_MISSING = ("the browser tests need Chromium or Chrome and the offline book needs npm, and neither was found: "
                "apt-get install chromium npm (or set AE_BROWSER=/path/to/chrome and install Node.js)")
NPM_MISSING = ("the offline book needs npm to install its scripts (MathJax, the widget manager) and found none: "
               "apt-get install npm, or install Node.js")

#: Chromium flags both browser fixtures launch with (headless, as root in containers, no network chatter).
LAUNCH_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"]

PATH_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
MAC_APPS = ("/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
            "/Applications/Chromium.app/Contents/MacOS/Chromium")

# Inside a Playwright browser folder (chromium-<rev>/ or chromium_headless_shell-<rev>/), per
# platform, for the current layout (Chrome for Testing builds) and the older one.
_PLAYWRIGHT_LAYOUTS = (
    ("chromium-", ("chrome-linux64/chrome", "chrome-linux-arm64/chrome", "chrome-linux/chrome",
                   "chrome-mac-arm64/Google Chrome for Testing.app/Contents/MacOS/Google Chrome for Testing",
                   "chrome-mac-x64/Google Chrome for Testing.app/Contents/MacOS/Google Chrome for Testing",
                   "chrome-mac/Chromium.app/Contents/MacOS/Chromium",
                   "chrome-win64/chrome.exe", "chrome-win/chrome.exe")),
    ("chromium_headless_shell-", ("chrome-headless-shell-linux64/chrome-headless-shell",
                                  "chrome-headless-shell-linux-arm64/chrome-headless-shell",
                                  "chrome-linux/headless_shell",
                                  "chrome-headless-shell-mac-arm64/chrome-headless-shell",
                                  "chrome-headless-shell-mac-x64/chrome-headless-shell",
                                  "chrome-mac/headless_shell",
                                  "chrome-headless-shell-win64/chrome-headless-shell.exe",
                                  "chrome-win/headless_shell.exe")),
)


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _playwright_dirs(env: Mapping[str, str]) -> Iterator[Path]:
    custom = env.get("PLAYWRIGHT_BROWSERS_PATH")
    if custom == "0":  # browsers installed inside the playwright package itself
        import importlib.util

        spec = importlib.util.find_spec("playwright")
        if spec and spec.origin:
            yield Path(spec.origin).parent / "driver" / "package" / ".local-browsers"
        # The Makefile asks with the system Python, before .venv is on the path.
        venv = Path(__file__).resolve().parent.parent / ".venv"
        yield from venv.glob("lib/python3*/site-packages/playwright/driver/package/.local-browsers")
        return
    if custom:
        yield Path(custom).expanduser()
        return
    home = Path(env.get("HOME") or Path.home())
    yield Path(env.get("XDG_CACHE_HOME") or home / ".cache") / "ms-playwright"
    yield home / "Library" / "Caches" / "ms-playwright"
    yield Path(env.get("LOCALAPPDATA") or home / "AppData" / "Local") / "ms-playwright"


def _revision(folder: Path) -> int:
    m = re.search(r"-(\d+)$", folder.name)
    return int(m.group(1)) if m else -1


def _playwright_browsers(env: Mapping[str, str]) -> Iterator[Path]:
    for prefix, layouts in _PLAYWRIGHT_LAYOUTS:
        for root in _playwright_dirs(env):
            if not root.is_dir():
                continue
            for folder in sorted(root.glob(prefix + "*"), key=_revision, reverse=True):
                for rel in layouts:
                    yield folder / rel


def _candidates(env: Mapping[str, str]) -> Iterator[Path]:
    search_path = env.get("PATH", os.defpath)
    for name in PATH_NAMES:
        found = shutil.which(name, path=search_path)
        if found:
            yield Path(found)
    for app in MAC_APPS:
        yield Path(app)
    yield from _playwright_browsers(env)


def browser_problem(env: Mapping[str, str] | None = None) -> tuple[Path | None, str | None]:
    """``(browser, None)`` when one is found, else ``(None, one line naming the fix)``."""
    env = os.environ if env is None else env
    override = env.get("AE_BROWSER")
    if override:
        found = shutil.which(override, path=env.get("PATH", os.defpath)) if os.sep not in override else None
        path = Path(found) if found else Path(override).expanduser()
        if _executable(path):
            return path.absolute(), None
        return None, (f"AE_BROWSER={override} is not an executable Chromium or Chrome: "
                      "point it at one (e.g. /usr/bin/chromium), or unset it to search PATH and Playwright's browsers")
    for path in _candidates(env):
        if _executable(path):
            return path, None
    return None, BROWSER_MISSING


def find_browser(env: Mapping[str, str] | None = None) -> Path | None:
    """The Chromium or Chrome the browser tests use, or None (see the module docstring for the order)."""
    return browser_problem(env)[0]


def on_ci(env: Mapping[str, str] | None = None) -> bool:
    """Whether we run under CI (``CI`` set to true/1/yes, as GitHub Actions and most CI services do)."""
    env = os.environ if env is None else env
    return env.get("CI", "").strip().lower() in {"1", "true", "yes"}


def require_browser() -> Path:
    """For fixtures: the browser, else skip with one line (a failure under CI)."""
    import pytest

    path, problem = browser_problem()
    if path is not None:
        return path
    if on_ci():
        pytest.fail(f"{problem} (CI=true: a missing browser fails instead of skipping)", pytrace=False)
    pytest.skip(problem)


# --- the Makefile's prerequisite step ----------------------------------------------------------------

def _can_apt() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get") is not None


def _apt_install(packages: Sequence[str]) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    print(f"{' and '.join(packages)} not found: installing Debian's {' '.join(packages)} with apt-get", flush=True)
    # A failed update (one unreachable mirror) need not stop the install; a failed install shows
    # apt's own error, and the caller then prints its one line.
    subprocess.run(["apt-get", "update", "-q"], env=env)
    subprocess.run(["apt-get", "install", "-y", "-q", *packages], env=env)


def main(argv: Sequence[str] | None = None) -> int:
    """Check (and where root with apt-get, install) what the browser tests and the offline book need.

    ``--need browser npm``: stop with one line when one is missing and cannot be installed.
    ``--want npm``: install when possible, otherwise carry on (the book falls back to CDNs).
    """
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--need", nargs="*", default=[], choices=["browser", "npm"])
    parser.add_argument("--want", nargs="*", default=[], choices=["browser", "npm"])
    parser.add_argument("--who", default="make test", help="what needs them, for the message")
    args = parser.parse_args(argv)

    def missing(what: str) -> str | None:
        if what == "browser":
            return browser_problem()[1]
        return None if shutil.which("npm") else NPM_MISSING

    wanted = list(dict.fromkeys([*args.need, *args.want]))
    absent = {w: missing(w) for w in wanted}
    # An AE_BROWSER that points nowhere is the user's to fix; apt cannot help it.
    packages = [{"browser": "chromium", "npm": "npm"}[w] for w, why in absent.items()
                if why is not None and not (w == "browser" and os.environ.get("AE_BROWSER"))]
    if packages and _can_apt():
        _apt_install(packages)
        absent = {w: missing(w) for w in wanted}
    problems = [absent[w] for w in args.need if absent[w] is not None]
    if problems == [BROWSER_MISSING, NPM_MISSING]:
        problems = [BOTH_MISSING]
    if problems:
        print(f"{args.who}: " + "; and ".join(problems), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
