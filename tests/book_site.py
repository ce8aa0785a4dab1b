"""The built book as the browser test sees it: its pages, their headings, a fresh build, a server.

Used by ``tests/test_book_browser.py``.
"""

from __future__ import annotations

import functools
import http.server
import importlib.util
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import yaml

__all__ = [
    "ROOT",
    "HTML_DIR",
    "SCREENSHOT_DIR",
    "BUILD_STAMP",
    "Page",
    "toc_pages",
    "source_headings",
    "source_has_math",
    "shown_outputs",
    "widget_views",
    "book_is_stale",
    "build_book",
    "ensure_built",
    "serve",
]

ROOT = Path(__file__).resolve().parent.parent
HTML_DIR = ROOT / "_build" / "html"
SCREENSHOT_DIR = ROOT / "_build" / "screenshots"
#: Touched after a build that finished without warnings (also by `make book`).
BUILD_STAMP = ROOT / "_build" / ".html-build-ok"

_SOURCE_SUFFIXES = (".md", ".ipynb", ".rst")
_WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


@dataclass(frozen=True)
class Page:
    """One page the table of contents lists."""

    docname: str  # as in _toc.yml, e.g. "book/intro"
    source: Path

    @property
    def html(self) -> Path:
        return HTML_DIR / f"{self.docname}.html"

    @property
    def url_path(self) -> str:
        return f"/{self.docname}.html"



def _toc_files(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        for key in ("root", "file"):
            if isinstance(node.get(key), str):
                yield node[key]
        for key in ("parts", "chapters", "sections"):
            for child in node.get(key) or []:
                yield from _toc_files(child)
    elif isinstance(node, list):
        for child in node:
            yield from _toc_files(child)


def _source_for(docname: str) -> Path:
    base = ROOT / docname
    if base.suffix in _SOURCE_SUFFIXES and base.is_file():
        return base
    for suffix in _SOURCE_SUFFIXES:
        candidate = base.with_name(base.name + suffix)
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"_toc.yml lists {docname!r} but no {docname}.md/.ipynb exists: fix _toc.yml")


def toc_pages(toc: Path | None = None) -> list[Page]:
    """Every page ``_toc.yml`` lists (root first, in order)."""
    toc = toc or ROOT / "_toc.yml"
    data = yaml.safe_load(toc.read_text(encoding="utf-8"))
    pages: list[Page] = []
    for name in _toc_files(data):
        docname = re.sub(r"\.(md|ipynb|rst)$", "", name)
        if docname not in {p.docname for p in pages}:
            pages.append(Page(docname, _source_for(docname)))
    return pages


def _markdown_texts(source: Path) -> list[str]:
    if source.suffix == ".ipynb":
        nb = json.loads(source.read_text(encoding="utf-8"))
        return ["".join(c["source"]) if isinstance(c["source"], list) else c["source"]
                for c in nb["cells"] if c["cell_type"] == "markdown"]
    text = source.read_text(encoding="utf-8")
    if text.startswith("---\n"):  # front matter
        end = text.find("\n---", 4)
        text = text[end + 4:] if end != -1 else text
    return [text]


def _strip_fences(text: str) -> str:
    out, fence = [], None
    for line in text.splitlines():
        m = re.match(r"^\s*(`{3,}|~{3,}|:{3,})", line)
        if m:
            mark = m.group(1)
            if fence is None:
                fence = mark
            elif mark[0] == fence[0] and len(mark) >= len(fence) and line.strip() == mark:
                fence = None
            continue
        if fence is None:
            out.append(line)
    return "\n".join(out)


def source_headings(source: Path, max_level: int = 2) -> list[tuple[int, str]]:
    """``#``/``##`` headings of a Markdown file or notebook, outside code fences, in order."""
    found = []
    for text in _markdown_texts(source):
        for line in _strip_fences(text).splitlines():
            m = re.match(r"^(#{1,6})\s+(.+?)\s*#*\s*$", line)
            if m and len(m.group(1)) <= max_level:
                found.append((len(m.group(1)), m.group(2)))
    return found


def source_has_math(source: Path) -> bool:
    """Whether the Markdown (outside code fences) holds ``$...$``, ``$$`` or a math directive."""
    for text in _markdown_texts(source):
        if re.search(r"\{math\}|\$\$|(?<![\\$])\$[^$\s][^$\n]*\$", _strip_fences(text)):
            return True
        if re.search(r"^\s*[`:]{3,}\s*\{math\}", text, flags=re.M):
            return True
    return False


#: Cell tags that keep a code cell's outputs in the notebook but off the page (Jupyter Book's).
_OFF_THE_PAGE = {"remove-output", "remove-cell"}


def shown_outputs(nb: dict) -> Iterator[dict]:
    """The outputs of a notebook's code cells that the page shows.

    A cell tagged ``remove-output`` or ``remove-cell`` keeps its outputs in the notebook (a
    kernel's explorer, which needs Python behind it) but not on the page.
    """
    for cell in nb["cells"]:
        if cell["cell_type"] == "code" and not _OFF_THE_PAGE & set(cell.get("metadata", {}).get("tags", [])):
            yield from cell.get("outputs", [])


def widget_views(source: Path) -> tuple[int, bool]:
    """Number of ipywidgets views the page should show (:func:`shown_outputs`), and whether the
    notebook stores widget state."""
    if source.suffix != ".ipynb":
        return 0, False
    nb = json.loads(source.read_text(encoding="utf-8"))
    state = nb.get("metadata", {}).get("widgets", {}).get(
        "application/vnd.jupyter.widget-state+json", {}).get("state")
    views = sum(1 for o in shown_outputs(nb) if _WIDGET_VIEW in o.get("data", {}))
    return views, bool(state)


def _sources() -> Iterator[Path]:
    for name in ("_toc.yml", "_config.yml", "package.json", "package-lock.json",
                 "node_modules/.package-lock.json", "node_modules/.vendor-stamp"):
        if (ROOT / name).is_file():
            yield ROOT / name
    for path in (ROOT / "book").rglob("*"):
        if path.is_file() and ".ipynb_checkpoints" not in path.parts and "__pycache__" not in path.parts:
            yield path


@functools.cache
def _offline_assets() -> ModuleType:
    """The book's own Sphinx extension (book/_ext/offline_assets.py), loaded from its file."""
    name = "_book_offline_assets"
    spec = importlib.util.spec_from_file_location(name, ROOT / "book" / "_ext" / "offline_assets.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _assets_changed() -> bool:
    """Whether the last build loaded its scripts differently from how a build would now."""
    module = _offline_assets()
    vendored, versions, _ = module.resolve_assets(ROOT)
    try:
        built = json.loads((HTML_DIR / module.VENDOR_DIR / module.STAMP_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return True
    return built.get("mode") != ("vendored" if vendored else "cdn") or built.get("versions") != versions


def book_is_stale() -> bool:
    """True when ``_build/html`` is missing, failed last time, is older than a source, or was
    built with CDN scripts while vendored ones are now installed (or the other way round)."""
    if not BUILD_STAMP.is_file() or not (HTML_DIR / "index.html").is_file():
        return True
    if not all(page.html.is_file() for page in toc_pages()):
        return True
    if _assets_changed():
        return True
    built = BUILD_STAMP.stat().st_mtime
    return any(path.stat().st_mtime > built for path in _sources())


def build_book() -> None:
    """Run ``jupyter-book build . -n -W --keep-going`` with the project's venv; raise on failure."""
    exe = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(exe) if exe.exists() else "jupyter-book", "build", ".", "-n", "-W", "--keep-going"]
    BUILD_STAMP.unlink(missing_ok=True)
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-40:])
        raise RuntimeError(f"`jupyter-book {' '.join(cmd[1:])}` failed (exit {proc.returncode}); "
                           f"fix the warnings it reports:\n{tail}")
    BUILD_STAMP.touch()


def ensure_built() -> bool:
    """Build the book when it is stale; return whether a build ran."""
    if book_is_stale():
        build_book()
        return True
    return False


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@contextmanager
def serve(directory: Path = HTML_DIR) -> Iterator[str]:
    """Serve ``directory`` on 127.0.0.1 at an ephemeral port; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=os.fspath(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="book-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)

