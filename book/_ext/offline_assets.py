"""Serve MathJax, require.js and the ipywidgets embed manager from the built book itself.

Jupyter Book 1.x pages load MathJax (``mathjax_path``) and, on pages with widget state,
require.js and ``@jupyter-widgets/html-manager`` (myst-nb's ``nb_ipywidgets_js``) from CDNs,
so they break with no network. ``make vendor`` installs the versions pinned in
``package.json`` into ``node_modules/`` with npm; this extension copies the files a page
needs into ``<outdir>/_vendor/<package>/`` and points both settings there. Without those
packages the build still succeeds, loads the same pinned versions from a CDN and says so in
one line.

The copies go to ``_vendor/``, never to a source ``_static/`` folder: Jupyter Book adds every
.js/.css file found under ``_static/`` to every page. ``<outdir>/_vendor/assets.json`` records
which way the last build went (the browser test reads it).

Widget pages also get one small inline script: an adapter for the MathJax 2 call the widget
manager makes (the book loads MathJax 3), and, when vendored, require.js's ``baseUrl`` so the
widget icon fonts load from ``_vendor/`` too.

myst-nb adds the widget scripts (and the notebook's stored widget state) to every page whose
notebook stores widget state, whether or not the page shows a widget: a chapter whose only
widgets are in cells kept off the page (``remove-output``) would load the 3.6 MB widget manager
for nothing. Pages that show no widget view lose those scripts (:func:`_drop_unused_widget_scripts`).
"""

from __future__ import annotations

import json
import os
import posixpath
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.util import logging

__all__ = ["Asset", "ASSETS", "STAMP_NAME", "VENDOR_DIR", "WIDGET_VIEW_TAG", "resolve_assets", "setup"]

logger = logging.getLogger(__name__)

#: Folder of the built site that holds the vendored files.
VENDOR_DIR = "_vendor"
#: File in ``<outdir>/_vendor/`` recording how the last build loaded its scripts.
STAMP_NAME = "assets.json"
#: How myst-nb writes a widget view into a page's body (the widget manager renders each one).
WIDGET_VIEW_TAG = '<script type="application/vnd.jupyter.widget-view+json">'
_WIDGET_STATE_TYPE = "application/vnd.jupyter.widget-state+json"


@dataclass(frozen=True)
class Asset:
    """One npm package: what to copy out of it, the script a page loads, its CDN address."""

    package: str
    copy: tuple[str, ...]  # paths or globs inside the package, copied to _vendor/<package>/
    entry: str
    cdn: str  # format string with {version}
    # (glob inside the package, folder under _vendor/) for files also needed somewhere else
    also: tuple[tuple[str, str], ...] = ()


# Font formats a current browser may ask for (eot and svg fonts only served old IE and Safari).
_FONTS = ("dist/*.woff2", "dist/*.woff", "dist/*.ttf")

ASSETS: tuple[Asset, ...] = (
    Asset(
        package="mathjax",
        # The combined TeX/MathML + CommonHTML file, plus what it loads on demand: TeX
        # extensions (autoload), the woff fonts, the context menu and accessibility parts.
        copy=(
            "es5/tex-mml-chtml.js",
            "es5/input",
            "es5/output",
            "es5/ui",
            "es5/a11y",
            "es5/adaptors",
            "es5/sre",
        ),
        entry="es5/tex-mml-chtml.js",
        cdn="https://cdn.jsdelivr.net/npm/mathjax@{version}/es5/tex-mml-chtml.js",
    ),
    Asset(
        package="requirejs",
        copy=("require.js",),
        entry="require.js",
        cdn="https://cdn.jsdelivr.net/npm/requirejs@{version}/require.js",
    ),
    Asset(
        package="@jupyter-widgets/html-manager",
        # The bundle and the Font Awesome files its CSS refers to (widget icons). Each AMD
        # module in the bundle looks for them next to its own require.js URL: the embed code
        # in dist/, the base and controls modules one level up (see _requirejs_base_js).
        copy=("dist/embed-amd.js", *_FONTS),
        entry="dist/embed-amd.js",
        cdn="https://cdn.jsdelivr.net/npm/@jupyter-widgets/html-manager@{version}/dist/embed-amd.js",
        also=tuple((font, "@jupyter-widgets") for font in _FONTS),
    ),
)


def _pinned_versions(root: Path) -> dict[str, str]:
    """Exact versions that ``package.json`` pins, by package name."""
    manifest = root / "package.json"
    try:
        deps = json.loads(manifest.read_text(encoding="utf-8"))["dependencies"]
    except (OSError, ValueError, KeyError) as exc:
        raise RuntimeError(f"cannot read the pinned browser assets from {manifest}: {exc}") from exc
    return {asset.package: str(deps[asset.package]) for asset in ASSETS}


def _installed_version(root: Path, package: str) -> str | None:
    try:
        meta = json.loads((root / "node_modules" / package / "package.json").read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return meta.get("version")


def resolve_assets(root: Path) -> tuple[bool, dict[str, str], str]:
    """Decide whether the build can vendor the assets.

    Returns ``(vendored, versions, reason)``: ``vendored`` is True when every pinned package
    is installed in ``root/node_modules`` at its pinned version; ``reason`` says why not.
    """
    pinned = _pinned_versions(root)
    absent, stale = [], []
    for asset in ASSETS:
        installed = _installed_version(root, asset.package)
        pkg = root / "node_modules" / asset.package
        if installed is None or not all(any(pkg.glob(p)) for p in asset.copy):
            absent.append(asset.package)
        elif installed != pinned[asset.package]:
            stale.append(f"{asset.package} {installed} (package.json pins {pinned[asset.package]})")
    if not absent and not stale:
        return True, pinned, ""
    if shutil.which("npm") is None:
        return False, pinned, "npm was not found"
    parts = []
    if absent:
        parts.append("node_modules lacks " + ", ".join(absent))
    if stale:
        parts.append("node_modules has " + ", ".join(stale))
    return False, pinned, "; ".join(parts)


def _sync(src: Path, dst: Path) -> None:
    """Copy a file or folder, skipping files whose size and mtime already match."""
    if src.is_dir():
        for path in src.rglob("*"):
            if path.is_file():
                _sync(path, dst / path.relative_to(src))
        return
    if dst.is_file():
        s, d = src.stat(), dst.stat()
        if s.st_size == d.st_size and int(s.st_mtime) == int(d.st_mtime):
            return
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dst.parent, prefix=".tmp-")
    os.close(fd)
    try:
        shutil.copy2(src, tmp)
        os.replace(tmp, dst)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _sync_pattern(src_root: Path, pattern: str, dst_root: Path) -> None:
    """Copy what ``pattern`` (a path or a glob) matches under ``src_root`` to ``dst_root``."""
    for src in sorted(src_root.glob(pattern)):
        _sync(src, dst_root / src.relative_to(src_root))


def _static_relative(path: str) -> str:
    # Sphinx prefixes every local script with "_static/"; step back out of it so the URL,
    # made relative to each page by Sphinx, lands on <outdir>/_vendor/.
    return f"../{VENDOR_DIR}/{path}"


# @jupyter-widgets/html-manager 1.x typesets widget labels through MathJax 2's
# ``MathJax.Hub.Queue``; Jupyter Book loads MathJax 3, which has no ``Hub``, so every widget
# with a description throws. Deferred scripts (MathJax) have run by DOMContentLoaded, and the
# embed manager renders on window load, so a small adapter installed in between is in time.
_MATHJAX2_HUB_SHIM = (
    'document.addEventListener("DOMContentLoaded", function () {'
    " var mj = window.MathJax;"
    " if (!mj || mj.Hub || !mj.startup) { return; }"
    " mj.Hub = {Queue: function () {"
    " Array.prototype.forEach.call(arguments, function (job) {"
    ' if (Array.isArray(job) && job[0] === "Typeset" && job[2]) {'
    " mj.startup.promise.then(function () { return mj.typesetPromise([job[2]]); }); }"
    " }); }};"
    " });\n"
)


def _requirejs_base_js() -> str:
    # The AMD modules in embed-amd.js take their asset path (the Font Awesome files of widget
    # icons) from their require.js module URL, which is relative to require.js's baseUrl: the
    # page's folder unless configured. A global ``require`` object read by require.js as its
    # configuration points baseUrl at the vendored copies, found from the site root that
    # Sphinx records on <html data-content_root>.
    return (
        "var require = {baseUrl: new URL((document.documentElement.dataset.content_root || '')"
        f" + '{VENDOR_DIR}/', document.baseURI).href}};"
    )


def _configure(app: Sphinx, config: Config) -> None:
    root = Path(app.srcdir)
    vendored, versions, reason = resolve_assets(root)
    urls: dict[str, str] = {}
    for asset in ASSETS:
        if vendored:
            urls[asset.package] = _static_relative(f"{asset.package}/{asset.entry}")
        else:
            urls[asset.package] = asset.cdn.format(version=versions[asset.package])
    config.mathjax_path = urls["mathjax"]
    # myst-nb adds these, in order, to pages that store widget state. An empty path with a
    # body becomes an inline script. Same shape as myst-nb's default otherwise: require.js,
    # then the AMD embed bundle.
    inline = _MATHJAX2_HUB_SHIM + (_requirejs_base_js() if vendored else "")
    config.nb_ipywidgets_js = {
        "": {"body": inline},
        urls["requirejs"]: {},
        urls["@jupyter-widgets/html-manager"]: {},
    }
    app.offline_assets = {  # type: ignore[attr-defined]
        "mode": "vendored" if vendored else "cdn",
        "versions": versions,
        "urls": urls,
        "reason": reason,
    }
    if not vendored:
        logger.info(
            "offline assets: %s, so pages load MathJax, require.js and the widget manager from "
            "CDNs (needs the network); run `make vendor` (needs npm) to serve them from the book",
            reason,
        )


def _copy_assets(app: Sphinx) -> None:
    if app.builder is None or app.builder.format != "html":
        return
    info: dict[str, Any] = app.offline_assets  # type: ignore[attr-defined]
    root = Path(app.srcdir)
    out = Path(app.outdir) / VENDOR_DIR
    if info["mode"] == "vendored":
        for asset in ASSETS:
            pkg = root / "node_modules" / asset.package
            for pattern in asset.copy:
                _sync_pattern(pkg, pattern, out / asset.package)
            for pattern, folder in asset.also:
                for src in sorted(pkg.glob(pattern)):
                    _sync(src, out / folder / src.name)
    out.mkdir(parents=True, exist_ok=True)
    stamp = out / STAMP_NAME
    fd, tmp = tempfile.mkstemp(dir=out, prefix=".tmp-")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(info, fh, indent=2, sort_keys=True)
    os.replace(tmp, stamp)


def _is_widget_script(app: Sphinx, js: Any) -> bool:
    """Whether ``js`` (a page's script) is one myst-nb adds for widgets: the stored state, or one
    of ``nb_ipywidgets_js`` (the inline adapter, require.js, the widget manager)."""
    attributes = getattr(js, "attributes", {})
    if attributes.get("type") == _WIDGET_STATE_TYPE:
        return True
    filename = os.fspath(getattr(js, "filename", None) or "")
    for path, kwargs in (app.config.nb_ipywidgets_js or {}).items():
        # Sphinx files a local script under _static/ (Builder.add_js_file).
        if filename not in (path, posixpath.join("_static", path) if path and "://" not in path else path):
            continue
        if path or attributes.get("body") == kwargs.get("body"):
            return True
    return False


def _drop_unused_widget_scripts(app: Sphinx, pagename: str, templatename: str,
                                context: dict[str, Any], doctree: Any) -> None:
    # Runs after myst-nb's own html-page-context handler (priority 500) added the scripts to
    # context["script_files"], the list the page's <head> is written from.
    scripts = context.get("script_files")
    if not isinstance(scripts, list) or WIDGET_VIEW_TAG in context.get("body", ""):
        return
    scripts[:] = [js for js in scripts if not _is_widget_script(app, js)]


def setup(app: Sphinx) -> dict[str, Any]:
    """Sphinx entry point (registered through ``sphinx: local_extensions:`` in _config.yml)."""
    # myst-nb reads nb_ipywidgets_js at builder-inited, so settle it at config-inited.
    app.connect("config-inited", _configure)
    # Copy before pages are written so Sphinx can add its ?v=<checksum> to the script URLs.
    app.connect("builder-inited", _copy_assets)
    app.connect("html-page-context", _drop_unused_widget_scripts, priority=900)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
