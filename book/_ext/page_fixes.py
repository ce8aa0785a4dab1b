"""Work around a Sphinx 7.4 bug that writes some inline scripts twice into every page, and point
the launch buttons at the book's release tag.

Extensions that call ``app.add_js_file(None, body=...)`` after the HTML builder starts
(sphinx-togglebutton at builder-inited, sphinx-thebe at env-before-read-docs) put an asset
with filename ``None`` on the builder; ``prepare_writing`` then adds the same asset again
from the registry with filename ``''``, and the two never compare equal. The page ends up
with two ``<script>const THEBE_JS_URL = ...</script>`` tags and the browser reports
"Identifier 'THEBE_JS_URL' has already been declared". Normalising the filename before
writing lets Sphinx's own de-duplication drop the copy.

The launch buttons (Colab, Binder) open a chapter at ``repository_branch`` of the theme's options,
which Jupyter Book fills from ``repository: branch:`` in _config.yml. The pages publish from main,
but a reader who launches a chapter should get the code of the release the page belongs to, the
same tag the chapter's first cell installs ae_helpers from (tools/install_cell.py): ``v`` followed
by ``__version__`` of ae_helpers/__init__.py, read from its text since the pages build without
torch. sphinx-book-theme reads the option again for every page, so setting it once the
configuration is read is enough.

Sphinx copies ``html_static_path`` (book/_static/, the book's own CSS) into the site only when
it writes pages: after an edit to a static file alone a build reports "no targets are out of
date" and the site keeps the old file. A static file that differs from its copy in the site
makes every page outdated, so the build writes them and copies it.
"""

from __future__ import annotations

import filecmp
import re
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.builders.html._assets import _JavaScript
from sphinx.environment import BuildEnvironment

__all__ = ["release_tag", "setup"]

ROOT = Path(__file__).resolve().parents[2]


def release_tag(root: Path = ROOT) -> str:
    """The book's release tag, ``v`` + ``__version__`` as ae_helpers/__init__.py sets it."""
    text = (root / "ae_helpers" / "__init__.py").read_text(encoding="utf-8")
    match = re.search(r'^__version__ = "([^"]+)"$', text, re.M)
    if not match:
        raise ValueError(f"{root / 'ae_helpers' / '__init__.py'} sets no __version__ = \"...\" line")
    return f"v{match.group(1)}"


def _launch_at_the_release_tag(app: Sphinx, config: Config) -> None:
    config.html_theme_options["repository_branch"] = release_tag()


def _normalise_inline_scripts(app: Sphinx, env: BuildEnvironment) -> None:
    files = getattr(app.builder, "_js_files", None)
    if files is None:
        return
    fixed: list[_JavaScript] = []
    for js in files:
        if isinstance(js, _JavaScript) and js.filename is None:
            js = _JavaScript("", priority=js.priority, **js.attributes)
        if js not in fixed:
            fixed.append(js)
    files[:] = fixed


def _pages_outdated_by_static_files(app: Sphinx, env: BuildEnvironment, added: set[str],
                                    changed: set[str], removed: set[str]) -> list[str]:
    if app.builder is None or app.builder.format != "html":
        return []
    site = Path(app.outdir) / "_static"
    for entry in app.config.html_static_path:
        root = Path(app.confdir, entry)
        sources = [root] if root.is_file() else [p for p in root.rglob("*") if p.is_file()]
        for source in sources:
            copy = site / (source.name if root.is_file() else source.relative_to(root))
            if not copy.is_file() or not filecmp.cmp(source, copy, shallow=False):
                return sorted(env.found_docs)
    return []


def setup(app: Sphinx) -> dict[str, Any]:
    """Sphinx entry point (registered through ``sphinx: local_extensions:`` in _config.yml)."""
    # env-updated comes after every extension added its scripts and before prepare_writing.
    app.connect("env-updated", _normalise_inline_scripts)
    app.connect("config-inited", _launch_at_the_release_tag)
    app.connect("env-get-outdated", _pages_outdated_by_static_files)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
