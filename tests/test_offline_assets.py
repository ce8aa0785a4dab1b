"""book/_ext/offline_assets.py: vendored scripts when npm installed them, pinned CDNs otherwise."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from types import SimpleNamespace

import pytest

import book_site

oa = book_site._offline_assets()


def _project(root: Path, *, installed: dict[str, str] | None = None) -> dict[str, str]:
    pins = {"mathjax": "3.2.2", "requirejs": "2.3.8", "@jupyter-widgets/html-manager": "1.0.15"}
    (root / "package.json").write_text(json.dumps({"dependencies": pins}))
    for asset in oa.ASSETS:
        if installed is None or asset.package not in installed:
            continue
        pkg = root / "node_modules" / asset.package
        pkg.mkdir(parents=True)
        (pkg / "package.json").write_text(json.dumps({"version": installed[asset.package]}))
        for pattern in asset.copy:
            target = pkg / pattern.replace("*", "font")
            if "." in Path(pattern).name:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(f"/* {pattern} */")
            else:
                target.mkdir(parents=True, exist_ok=True)
                (target / "part.js").write_text("/* part */")
    return pins


def test_vendored_when_every_pinned_package_is_installed(tmp_path):
    """Catches installed, pinned scripts not used (the book would need the network)."""
    pins = _project(tmp_path, installed={"mathjax": "3.2.2", "requirejs": "2.3.8",
                                         "@jupyter-widgets/html-manager": "1.0.15"})
    assert oa.resolve_assets(tmp_path) == (True, pins, "")


def test_missing_or_stale_packages_fall_back_with_a_reason(tmp_path, monkeypatch):
    """Catches a stale or missing package vendored anyway, or a fallback that does not say why."""
    monkeypatch.setattr(oa.shutil, "which", lambda name: "/usr/bin/npm")
    _project(tmp_path, installed={"mathjax": "3.2.1", "requirejs": "2.3.8"})
    vendored, _, reason = oa.resolve_assets(tmp_path)
    assert not vendored
    assert "lacks @jupyter-widgets/html-manager" in reason
    assert "mathjax 3.2.1 (package.json pins 3.2.2)" in reason
    monkeypatch.setattr(oa.shutil, "which", lambda name: None)
    assert oa.resolve_assets(tmp_path)[2] == "npm was not found"


def _run_build_hooks(root: Path, outdir: Path) -> SimpleNamespace:
    app = SimpleNamespace(srcdir=str(root), outdir=str(outdir), builder=SimpleNamespace(format="html"))
    config = SimpleNamespace(mathjax_path=None, nb_ipywidgets_js=None)
    oa._configure(app, config)
    oa._copy_assets(app)
    return config


def test_vendored_build_points_pages_at_copies_inside_the_site(tmp_path):
    """Catches pages pointing at scripts that are not copied into the site."""
    root, out = tmp_path / "src", tmp_path / "out"
    root.mkdir()
    _project(root, installed={"mathjax": "3.2.2", "requirejs": "2.3.8", "@jupyter-widgets/html-manager": "1.0.15"})
    config = _run_build_hooks(root, out)
    assert config.mathjax_path == "../_vendor/mathjax/es5/tex-mml-chtml.js"
    scripts = list(config.nb_ipywidgets_js)
    assert scripts == ["", "../_vendor/requirejs/require.js",
                       "../_vendor/@jupyter-widgets/html-manager/dist/embed-amd.js"]
    assert "baseUrl" in config.nb_ipywidgets_js[""]["body"]
    for rel in ("mathjax/es5/tex-mml-chtml.js", "mathjax/es5/input/part.js", "requirejs/require.js",
                "@jupyter-widgets/html-manager/dist/embed-amd.js", "@jupyter-widgets/html-manager/dist/font.woff2",
                "@jupyter-widgets/font.ttf"):
        assert (out / "_vendor" / rel).is_file(), rel
    stamp = json.loads((out / "_vendor" / "assets.json").read_text())
    assert stamp["mode"] == "vendored"


def test_cdn_build_uses_the_pinned_versions_and_says_why(tmp_path, caplog):
    """Catches a CDN fallback that loads other versions than pinned, or goes unannounced."""
    root, out = tmp_path / "src", tmp_path / "out"
    root.mkdir()
    _project(root)
    with caplog.at_level(logging.INFO):
        config = _run_build_hooks(root, out)
    lines = [r.getMessage() for r in caplog.records if "offline assets" in r.getMessage()]
    assert len(lines) == 1 and "CDNs" in lines[0] and "make vendor" in lines[0]
    assert config.mathjax_path == "https://cdn.jsdelivr.net/npm/mathjax@3.2.2/es5/tex-mml-chtml.js"
    assert "https://cdn.jsdelivr.net/npm/@jupyter-widgets/html-manager@1.0.15/dist/embed-amd.js" in config.nb_ipywidgets_js
    assert "baseUrl" not in config.nb_ipywidgets_js[""]["body"]
    assert json.loads((out / "_vendor" / "assets.json").read_text())["mode"] == "cdn"
    assert not (out / "_vendor" / "mathjax").exists()


def test_sync_copies_only_what_changed(tmp_path):
    """Catches stale copies of changed scripts, or needless copies that slow every build."""
    src, dst = tmp_path / "a.js", tmp_path / "out" / "a.js"
    src.write_text("one")
    oa._sync(src, dst)
    assert dst.read_text() == "one"
    before = dst.stat().st_mtime_ns
    oa._sync(src, dst)
    assert dst.stat().st_mtime_ns == before  # unchanged: not copied again
    src.write_text("three")
    oa._sync(src, dst)
    assert dst.read_text() == "three"


def test_unreadable_package_json_is_a_clear_error(tmp_path):
    """Catches a missing package.json failing without naming it."""
    with pytest.raises(RuntimeError, match="package.json"):
        oa.resolve_assets(tmp_path)


def test_page_fixes_drops_the_duplicate_inline_script():
    """Catches the inline script Sphinx adds twice being left in every page."""
    import importlib.util
    import sys

    from sphinx.builders.html._assets import _JavaScript

    spec = importlib.util.spec_from_file_location("_book_page_fixes", book_site.ROOT / "book" / "_ext" / "page_fixes.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    body = {"body": "const THEBE_JS_URL = 1"}
    # What Sphinx 7.4 ends up with: the builder's copy (filename None), then the registry's ('').
    builder = SimpleNamespace(_js_files=[_JavaScript("doctools.js"), _JavaScript(None, **body)])
    module._normalise_inline_scripts(SimpleNamespace(builder=builder), None)
    again = _JavaScript("", **body)  # prepare_writing re-adds the registry's copy only if new
    if again not in builder._js_files:
        builder._js_files.append(again)
    assert [js.filename for js in builder._js_files] == ["doctools.js", ""]
