"""The browser test's helpers: reading the table of contents and the sources, serving a folder."""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path

import pytest

import book_site


def _write_nb(path: Path, cells: list[dict], widget_state: dict | None = None) -> Path:
    meta: dict = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    if widget_state is not None:
        meta["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": widget_state}}
    path.write_text(json.dumps({"cells": cells, "metadata": meta, "nbformat": 4, "nbformat_minor": 5}))
    return path


def _md(text: str) -> dict:
    return {"cell_type": "markdown", "metadata": {}, "source": text}


def _code(outputs: list[dict]) -> dict:
    return {"cell_type": "code", "metadata": {}, "source": "x", "outputs": outputs, "execution_count": 1}


def test_toc_pages_follow_parts_chapters_and_sections(tmp_path, monkeypatch):
    """Catches a page of _toc.yml that the browser test would never open (nested sections, parts)."""
    monkeypatch.setattr(book_site, "ROOT", tmp_path)
    (tmp_path / "book").mkdir()
    for name in ("intro.md", "a.ipynb", "b.md", "c.md"):
        (tmp_path / "book" / name).write_text("# x\n")
    toc = tmp_path / "_toc.yml"
    toc.write_text("format: jb-book\nroot: book/intro\nparts:\n- caption: P\n  chapters:\n"
                   "  - file: book/a\n    sections:\n    - file: book/b.md\n- chapters:\n  - file: book/c\n"
                   "  - url: https://example.org\n")
    pages = book_site.toc_pages(toc)
    assert [p.docname for p in pages] == ["book/intro", "book/a", "book/b", "book/c"]
    assert pages[1].source == tmp_path / "book" / "a.ipynb"
    assert pages[2].url_path == "/book/b.html"


def test_toc_page_without_a_source_is_a_clear_error(tmp_path, monkeypatch):
    """Catches a _toc.yml entry without a source passing silently instead of naming it."""
    monkeypatch.setattr(book_site, "ROOT", tmp_path)
    toc = tmp_path / "_toc.yml"
    toc.write_text("format: jb-book\nroot: book/missing\n")
    with pytest.raises(FileNotFoundError, match="book/missing"):
        book_site.toc_pages(toc)


def test_headings_skip_code_fences_and_deeper_levels(tmp_path):
    """Catches headings expected on a page that are really code comments or directive content."""
    md = tmp_path / "p.md"
    md.write_text("---\ntitle: t\n---\n# Title\n\n```python\n# not a heading\n```\n"
                  "## Part *one*\n### too deep\n:::{note}\n# inside a directive\n:::\n## Two ##\n")
    assert book_site.source_headings(md) == [(1, "Title"), (2, "Part *one*"), (2, "Two")]
    nb = _write_nb(tmp_path / "n.ipynb", [_md("# Chapter\ntext"), _code([]), _md(["## Sec", "tion\n"])])
    assert book_site.source_headings(nb) == [(1, "Chapter"), (2, "Section")]


@pytest.mark.parametrize("text, has_math", [
    ("inline $z = f(x)$ here", True),
    ("$$\nx^2\n$$", True),
    ("```{math}\nx\n```", True),
    ("costs \\$5 only", False),
    ("```python\ny = '$a$'\n```", False),
    ("no math at all", False),
])
def test_source_has_math(tmp_path, text, has_math):
    """Catches math missed in a source (MathJax then goes unchecked) or a dollar amount taken for math."""
    md = tmp_path / "p.md"
    md.write_text(text)
    assert book_site.source_has_math(md) is has_math


def test_widget_views_counts_views_and_state(tmp_path):
    """Catches widget outputs miscounted, or a notebook without saved widget state taken for one with it."""
    view = {"output_type": "display_data", "metadata": {},
            "data": {"application/vnd.jupyter.widget-view+json": {"model_id": "m"}, "text/plain": "w"}}
    plain = {"output_type": "stream", "name": "stdout", "text": "hi"}
    with_state = _write_nb(tmp_path / "a.ipynb", [_code([view, plain]), _code([view])], {"m": {}})
    without = _write_nb(tmp_path / "b.ipynb", [_code([view])])
    assert book_site.widget_views(with_state) == (2, True)
    assert book_site.widget_views(without) == (1, False)
    md = tmp_path / "c.md"
    md.write_text("# x")
    assert book_site.widget_views(md) == (0, False)


def test_outputs_of_cells_tagged_off_the_page_are_not_expected_there(tmp_path):
    """Catches the browser test expecting a kernel-only explorer, or an image, that a remove-output or
    remove-cell tag keeps off the page (and an untagged cell's outputs dropped from the count)."""
    view = {"output_type": "display_data", "metadata": {},
            "data": {"application/vnd.jupyter.widget-view+json": {"model_id": "m"}, "text/plain": "w"}}
    image = {"output_type": "display_data", "metadata": {}, "data": {"image/png": "iVBORw0KGgo="}}
    hidden = [dict(_code([view, image]), metadata={"tags": [tag]}) for tag in ("remove-output", "remove-cell")]
    shown = dict(_code([view, image]), metadata={"tags": ["hide-input"]})
    nb = _write_nb(tmp_path / "a.ipynb", [*hidden, shown], {"m": {}})
    assert book_site.widget_views(nb) == (1, True)
    assert list(book_site.shown_outputs(json.loads(nb.read_text()))) == [view, image]


def test_serve_answers_on_localhost_only_while_open(tmp_path):
    """Catches a test server listening beyond localhost, or left running after the test."""
    (tmp_path / "index.html").write_text("<p>ok</p>")
    with book_site.serve(tmp_path) as base:
        assert base.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(f"{base}/index.html", timeout=10) as response:
            assert response.read() == b"<p>ok</p>"
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{base}/index.html", timeout=2)


def test_book_is_stale_tracks_sources_pages_and_asset_mode(tmp_path, monkeypatch):
    """Catches a stale build tested as it is (a source changed, or vendored scripts gone), or needless
    rebuilds."""
    module = book_site._offline_assets()  # load the real extension before ROOT moves
    html = tmp_path / "_build" / "html"
    monkeypatch.setattr(book_site, "ROOT", tmp_path)
    monkeypatch.setattr(book_site, "HTML_DIR", html)
    monkeypatch.setattr(book_site, "BUILD_STAMP", tmp_path / "_build" / ".html-build-ok")
    pins = {a.package: "1.0.0" for a in module.ASSETS}
    (tmp_path / "package.json").write_text(json.dumps({"dependencies": pins}))
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: book/intro\n")
    (tmp_path / "book").mkdir()
    source = tmp_path / "book" / "intro.md"
    source.write_text("# Intro\n")
    assert book_site.book_is_stale()  # never built

    (html / "book").mkdir(parents=True)
    (html / "index.html").write_text("")
    (html / "book" / "intro.html").write_text("")
    (html / "_vendor").mkdir()
    stamp = html / "_vendor" / "assets.json"
    stamp.write_text(json.dumps({"mode": "cdn", "versions": pins}))  # no node_modules here
    book_site.BUILD_STAMP.touch()
    assert not book_site.book_is_stale()

    stamp.write_text(json.dumps({"mode": "vendored", "versions": pins}))
    assert book_site.book_is_stale()  # built with vendored scripts that are gone now
    stamp.write_text(json.dumps({"mode": "cdn", "versions": pins}))

    later = book_site.BUILD_STAMP.stat().st_mtime + 10
    os.utime(source, (later, later))
    assert book_site.book_is_stale()  # a source changed after the build


def _extension(name: str):
    """One of the book's Sphinx extensions (book/_ext/<name>.py), loaded from its file."""
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location(f"_book_{name}", book_site.ROOT / "book" / "_ext" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_widget_scripts_stay_only_on_pages_that_show_a_widget():
    """Catches the widget manager, require.js and the stored widget state written into a page that shows
    no widget (myst-nb adds them wherever the notebook stores widget state), or taken from one that does,
    and other inline scripts taken with them."""
    from types import SimpleNamespace

    from sphinx.builders.html._assets import _JavaScript

    oa = book_site._offline_assets()
    # One script vendored, one from a CDN; Sphinx files a local script under _static/.
    widget_js = {"": {"body": "adapter()"}, "../_vendor/requirejs/require.js": {},
                 "https://cdn.example/html-manager/dist/embed-amd.js": {}}
    app = SimpleNamespace(config=SimpleNamespace(nb_ipywidgets_js=widget_js))

    def scripts() -> list:  # in the order a widget page gets them
        return [_JavaScript("_static/doctools.js"), _JavaScript("", body="other()"),
                _JavaScript(None, type="application/vnd.jupyter.widget-state+json", body="{}"),
                _JavaScript("", body="adapter()"), _JavaScript("_static/../_vendor/requirejs/require.js"),
                _JavaScript("https://cdn.example/html-manager/dist/embed-amd.js")]

    shows = {"body": f"<p>x</p>{oa.WIDGET_VIEW_TAG}{{}}</script>", "script_files": scripts()}
    oa._drop_unused_widget_scripts(app, "a", "page.html", shows, None)
    assert shows["script_files"] == scripts()
    kept_off = {"body": "<p>x</p>", "script_files": scripts()}
    oa._drop_unused_widget_scripts(app, "b", "page.html", kept_off, None)
    assert kept_off["script_files"] == scripts()[:2]


def test_an_edited_static_file_makes_every_page_outdated(tmp_path):
    """Catches an edit to book/_static/ alone (the book's CSS) never reaching the site: Sphinx copies
    static files only when it writes pages, and with no page outdated it writes none."""
    from types import SimpleNamespace

    page_fixes = _extension("page_fixes")
    (tmp_path / "static" / "sub").mkdir(parents=True)
    (tmp_path / "static" / "reader.css").write_text("img { height: auto; }")
    (tmp_path / "static" / "sub" / "a.js").write_text("1")
    site = tmp_path / "out" / "_static"
    app = SimpleNamespace(builder=SimpleNamespace(format="html"), outdir=str(tmp_path / "out"),
                          confdir=str(tmp_path), config=SimpleNamespace(html_static_path=["static"]))
    env = SimpleNamespace(found_docs={"b", "a"})

    def outdated() -> list[str]:
        return page_fixes._pages_outdated_by_static_files(app, env, set(), set(), set())

    assert outdated() == ["a", "b"]  # never copied
    (site / "sub").mkdir(parents=True)
    (site / "reader.css").write_text("img { height: auto; }")
    (site / "sub" / "a.js").write_text("1")
    assert outdated() == []
    (tmp_path / "static" / "reader.css").write_text("img { height: auto !important; }")
    assert outdated() == ["a", "b"]
