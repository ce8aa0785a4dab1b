"""The rendered book in a real browser (a Chromium or Chrome driven by Playwright), fully offline.

The book is built first when ``_build/html`` is missing or older than its sources, then served
on 127.0.0.1. Every page ``_toc.yml`` lists must load with no console errors and no request
leaving localhost (such requests are aborted and counted), show its images, typeset its math,
render its stored widgets and carry the headings its source has. A full-page screenshot of
each page goes to ``_build/screenshots/``, with ``report.json`` summarising the run. On the
page with the kernel-free explorer, dragging the point must redraw the digit with the pixels
that the decoder weights embedded in that very page give for the new code (decoded again in
Python by tests/explorer_page.py), so the check holds whatever machine trained them.

The browser is found by tools/browsers.py; without one these tests skip with one line, or fail
under CI (CI=true).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import sync_playwright

import book_site
import browsers
import explorer_page
from book_site import HTML_DIR, SCREENSHOT_DIR, Page

LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}
CONTENT = "article.bd-article"
TIMEOUT_MS = 60_000

PAGES = book_site.toc_pages()
# Screenshot names: the page's file name, or its whole path where two pages share a name.
_NAMES = [Path(p.docname).name for p in PAGES]
SHOT_NAMES = {p.docname: (n if _NAMES.count(n) == 1 else p.docname.replace("/", "_"))
              for p, n in zip(PAGES, _NAMES)}
_REPORT: dict[str, Any] = {}


def _normalise(text: str) -> str:
    return re.sub(r"[\W_]+", "", text.lower())


def _expected_heading(markdown: str) -> str:
    text = re.sub(r"\{math\}`[^`]*`", "", markdown)  # math is checked separately
    text = re.sub(r"\$[^$]*\$", "", text)
    text = re.sub(r"\{[\w:-]+\}", "", text)  # MyST role names
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)  # links and images keep their text
    return _normalise(text)


def _image_outputs(page: Page) -> int:
    if page.source.suffix != ".ipynb":
        return 0
    nb = json.loads(page.source.read_text(encoding="utf-8"))
    kinds = ("image/png", "image/jpeg", "image/svg+xml")
    return sum(1 for o in book_site.shown_outputs(nb) if any(k in o.get("data", {}) for k in kinds))


def _write_report() -> None:
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=SCREENSHOT_DIR, prefix=".report-")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(_REPORT, fh, indent=2, sort_keys=True)
    os.chmod(tmp, 0o644)
    os.replace(tmp, SCREENSHOT_DIR / "report.json")


@pytest.fixture(scope="module")
def browser_executable() -> Path:
    """The Chromium or Chrome to drive; looked up before the book is built, so a missing one says so at once."""
    return browsers.require_browser()


@pytest.fixture(scope="module")
def site(browser_executable: Path) -> Iterator[str]:
    """Base URL of the freshly built book, served on 127.0.0.1."""
    book_site.ensure_built()
    assets = json.loads((HTML_DIR / "_vendor" / "assets.json").read_text(encoding="utf-8"))
    _REPORT["assets"] = {"mode": assets["mode"], "versions": assets["versions"], "reason": assets["reason"]}
    _REPORT["pages"] = {}
    with book_site.serve() as base:
        yield base
    _write_report()


@pytest.fixture(scope="module")
def book_browser(browser_executable: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A browser context with a fresh profile."""
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=str(browser_executable),
            headless=True,
            args=browsers.LAUNCH_ARGS,
            viewport={"width": 1280, "height": 900},
        )
        try:
            yield context
        finally:
            context.close()


class Visit:
    """One page opened in the browser with every request logged and external ones aborted."""

    def __init__(self, context: Any, base: str, page: Page):
        self.requests: list[str] = []
        self.external: list[str] = []
        self.console_errors: list[str] = []
        self.tab = context.new_page()
        self.tab.set_default_timeout(TIMEOUT_MS)
        self.tab.route("**/*", self._route)
        self.tab.on("request", lambda r: self.requests.append(r.url))
        self.tab.on("console", self._console)
        self.tab.on("pageerror", lambda e: self.console_errors.append(f"uncaught: {e}"))
        try:
            response = self.tab.goto(base + page.url_path, wait_until="load")
            assert response is not None and response.ok, f"{page.url_path} answered {response and response.status}"
            self.tab.wait_for_load_state("networkidle")
        except BaseException:
            self.tab.close()
            raise

    def _route(self, route: Any) -> None:
        url = route.request.url
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob") or parts.hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            self.external.append(url)
            route.abort()

    def _console(self, msg: Any) -> None:
        if msg.type != "error":
            return
        where = (msg.location or {}).get("url", "")
        if where in self.external:  # the aborted request itself: counted as external
            return
        self.console_errors.append(f"{msg.text} ({where})")

    def close(self) -> None:
        self.tab.close()


_PAGE_STATE_JS = """
async (sel) => {
  const root = document.querySelector(sel) || document.querySelector('main');
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await MathJax.startup.promise;
  }
  const imgs = [...root.querySelectorAll('img')];
  await Promise.all(imgs.map(img => { img.loading = 'eager'; return img.decode().catch(() => null); }));
  const maths = [...root.querySelectorAll('.math')];
  const headings = [...root.querySelectorAll('h1, h2, h3, h4, h5, h6')].map(h => {
    const c = h.cloneNode(true);
    c.querySelectorAll('a.headerlink, .math, mjx-container').forEach(e => e.remove());
    return [+h.tagName[1], c.textContent.trim()];
  });
  return {
    content: !!document.querySelector(sel),
    mathjax: !!(window.MathJax && MathJax.startup),
    images: imgs.map(i => [i.getAttribute('src'), i.naturalWidth]),
    math: maths.length,
    typeset: maths.filter(m => m.querySelector('mjx-container')).length,
    math_errors: root.querySelectorAll('mjx-merror').length,
    headings,
    widgets_rendered: [...root.querySelectorAll('.widget-subarea')].filter(e => e.children.length).length,
  };
}
"""


@pytest.mark.parametrize("book_page", PAGES, ids=[p.docname for p in PAGES])
def test_page_renders_offline(book_browser: Any, site: str, book_page: Page) -> None:
    """The page works with no network and shows what its source says it should."""
    assert book_page.html.is_file(), f"{book_page.html} was not built: check _toc.yml and the build log"
    visit = Visit(book_browser, site, book_page)
    try:
        state = visit.tab.evaluate(_PAGE_STATE_JS, CONTENT)
        views, has_state = book_site.widget_views(book_page.source)
        if views and has_state:
            # Widgets render after the embed manager loads (on window load); give it time.
            try:
                visit.tab.wait_for_function(
                    "(n) => [...document.querySelectorAll('.widget-subarea')]"
                    ".filter(e => e.children.length).length >= n", arg=views, timeout=20_000)
            except PlaywrightTimeout:
                pass  # reported below as widgets that did not render
            state = visit.tab.evaluate(_PAGE_STATE_JS, CONTENT)
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        shot = SCREENSHOT_DIR / f"{SHOT_NAMES[book_page.docname]}.png"
        visit.tab.screenshot(path=str(shot), full_page=True)
    finally:
        visit.close()

    problems: list[str] = []
    if not state["content"]:
        problems.append(f"no {CONTENT} element (theme changed?)")
    if visit.external:
        hint = ""
        if _REPORT.get("assets", {}).get("mode") == "cdn":
            hint = (f" (the book was built without its vendored scripts: {_REPORT['assets']['reason']};"
                    " run `make vendor`, which needs npm, then rebuild)")
        problems.append(f"{len(visit.external)} request(s) left localhost: {visit.external}{hint}")
    if visit.console_errors:
        problems.append(f"console errors: {visit.console_errors}")
    broken = [src for src, width in state["images"] if not width]
    if broken:
        problems.append(f"images that did not load: {broken}")
    expected_images = _image_outputs(book_page)
    if len(state["images"]) < expected_images:
        problems.append(f"{len(state['images'])} <img> on the page but the notebook stores {expected_images} images")
    if book_site.source_has_math(book_page.source) and state["math"] == 0:
        problems.append("the source has math but the page has no .math elements")
    if state["math"] and not state["mathjax"]:
        problems.append("the page has math but MathJax did not load")
    if state["typeset"] != state["math"] or state["math_errors"]:
        problems.append(f"MathJax typeset {state['typeset']} of {state['math']} math elements, "
                        f"{state['math_errors']} with errors")
    rendered = {_normalise(text) for _, text in state["headings"]}
    for level, heading in book_site.source_headings(book_page.source):
        if _expected_heading(heading) not in rendered:
            problems.append(f"heading {'#' * level} {heading!r} is missing from the page")
    if views and not has_state:
        problems.append(f"the notebook has {views} widget output(s) but no saved widget state, so they "
                        "cannot render: save it with widget state (Jupyter: Settings > Save Widget State)")
    elif views and state["widgets_rendered"] < views:
        problems.append(f"{state['widgets_rendered']} of {views} stored widgets rendered")

    _REPORT.setdefault("pages", {})[book_page.docname] = {
        "requests": len(visit.requests),
        "external_requests": len(visit.external),
        "external": visit.external,
        "console_errors": visit.console_errors,
        "images": len(state["images"]),
        "math_typeset": f"{state['typeset']}/{state['math']}",
        "headings_checked": len(book_site.source_headings(book_page.source)),
        "widgets_rendered": state["widgets_rendered"],
        "screenshot": os.fspath(shot.relative_to(book_site.ROOT)),
        "problems": problems,
    }
    assert not problems, f"{book_page.docname}: " + "; ".join(problems)


def _explorer_pages() -> list[Page]:
    pattern = re.compile(r"""class=["'][^"']*\bae-explorer\b""")
    return [p for p in PAGES if p.html.is_file() and pattern.search(p.html.read_text(encoding="utf-8"))]


_DIGIT_JS = """
(root) => {
  const c = root.querySelector('canvas.ae-explorer-digit');
  const S = +c.dataset.scale;
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  const px = [];
  for (let i = 0; i < 784; i++) {
    const x = (i % 28) * S + Math.floor(S / 2), y = Math.floor(i / 28) * S + Math.floor(S / 2);
    const k = (y * c.width + x) * 4;
    px.push([d[k], d[k + 1], d[k + 2], d[k + 3]]);
  }
  return {scale: S, width: c.width, height: c.height, px, code: JSON.parse(root.dataset.code)};
}
"""


def test_explorer_drag_matches_python_decode(book_browser: Any, site: str) -> None:
    """Dragging the explorer's point redraws the digit as the weights embedded in the page decode it."""
    pages = _explorer_pages()
    if not pages:
        pytest.skip("no page in _toc.yml contains a div.ae-explorer yet (the 2-D chapter adds it)")
    results = {}
    for page in pages:
        configs = explorer_page.embedded_configs(page.html.read_text(encoding="utf-8"))
        visit = Visit(book_browser, site, page)
        try:
            root = visit.tab.locator("div.ae-explorer").first
            root.locator("canvas.ae-explorer-latent").scroll_into_view_if_needed()
            root_id = root.get_attribute("id")
            assert root_id, "div.ae-explorer has no id, so window.aeExplorers[id] cannot be found"
            assert root_id in configs, (f"{page.html.name} has no embedded cfg with id {root_id!r} "
                                        f"(found {sorted(configs)}): did the explorer's embedding change?")
            assert configs[root_id] == explorer_page.notebook_configs(page.source).get(root_id), (
                f"the explorer in {page.html.name} is not the one {page.source.name} stores: rebuild the book")
            before = root.evaluate(_DIGIT_JS)
            assert before["width"] == 28 * before["scale"] == before["height"], (
                f"digit canvas is {before['width']}x{before['height']}, expected 28 x data-scale")

            box = root.locator("canvas.ae-explorer-latent").bounding_box()
            assert box, "canvas.ae-explorer-latent is not visible"
            start = (box["x"] + 0.30 * box["width"], box["y"] + 0.35 * box["height"])
            end = (box["x"] + 0.70 * box["width"], box["y"] + 0.65 * box["height"])
            visit.tab.mouse.move(*start)
            visit.tab.mouse.down()
            visit.tab.mouse.move(*end, steps=12)
            visit.tab.mouse.up()
            visit.tab.wait_for_function(
                "([id, old]) => document.getElementById(id).dataset.code !== old",
                arg=[root_id, json.dumps(before["code"])], timeout=5_000)
            after = root.evaluate(_DIGIT_JS)
            js_decode = visit.tab.evaluate(
                "([id, z]) => Array.from(window.aeExplorers[id].decode(z))", [root_id, after["code"]])
        finally:
            visit.close()

        code = [float(v) for v in after["code"]]
        assert len(code) == 2 and code != [float(v) for v in before["code"]], f"data-code {after['code']}"
        assert after["px"] != before["px"], "dragging changed data-code but not the digit canvas"
        (decoder,) = explorer_page.decoders(configs[root_id])
        gray_py = explorer_page.gray_levels(explorer_page.decode(decoder, code))
        assert len(js_decode) == 784, f"decode returned {len(js_decode)} values, expected 784"
        gray_js = explorer_page.gray_levels(js_decode)
        worst_js = int(abs(gray_js - gray_py).max())
        assert worst_js <= 1, (f"the page's JS decode differs from a Python decode of the page's own weights "
                               f"by up to {worst_js} gray levels at {code}")
        odd = [i for i, (r, g, b, a) in enumerate(after["px"]) if not (r == g == b and a == 255)]
        assert not odd, f"digit pixels {odd[:5]} are not opaque gray"
        worst_px = max(abs(px[0] - int(g)) for px, g in zip(after["px"], gray_py))
        assert worst_px <= 1, (f"digit canvas differs from a Python decode of the page's own weights "
                               f"by up to {worst_px} gray levels")
        assert gray_py.max() - gray_py.min() > 100, "decoded digit is nearly blank: the comparison proves little"
        results[page.docname] = {"code_before": before["code"], "code_after": code,
                                 "max_gray_diff_canvas": worst_px, "max_gray_diff_js": worst_js}
    _REPORT["explorer"] = results


def test_embedded_weights_decode_like_the_model() -> None:
    """The Python reading of an explorer's embedded weights is the model's own decoder (no browser needed)."""
    import torch

    from ae_helpers.page_explorers import latent_explorer_html
    from ae_helpers.models import AutoEncoder

    torch.manual_seed(0)
    model = AutoEncoder(latent_dim=2).eval()
    codes = torch.randn(300, 2) * 3
    html = latent_explorer_html(model, codes, torch.arange(300) % 10, n_points=50).data
    (cfg,) = explorer_page.embedded_configs(html).values()
    (decoder,) = explorer_page.decoders(cfg)
    with torch.no_grad():
        expected = model.decode(codes[:20]).reshape(20, -1).double().numpy()
    got = explorer_page.decode(decoder, codes[:20].numpy())
    assert got.shape == (20, 784)
    assert abs(got - expected).max() < 1e-5
    assert explorer_page.decode(decoder, codes[0].numpy()).shape == (784,)
