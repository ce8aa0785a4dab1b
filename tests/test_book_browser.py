"""The rendered book in a real browser (a Chromium or Chrome driven by Playwright), fully offline.

The book is built first when ``_build/html`` is missing or older than its sources, then served
on 127.0.0.1. Every page ``_toc.yml`` lists must load with no console errors and no request
leaving localhost (such requests are aborted and counted), show its images, typeset its math,
render its stored widgets and carry the headings its source has. A full-page screenshot of
each page goes to ``_build/screenshots/``, with ``report.json`` summarising the run. On the
page with the kernel-free explorer, dragging the point must redraw the digit with the pixels
that the decoder weights embedded in that very page give for the new code (decoded again in
Python by tests/explorer_page.py), so the check holds whatever machine trained them.

The page is also read as a reader meets it, on two phones (390 and 320 px, touch, mobile
viewport) and a desktop (1280 px), with folded cells opened: every figure keeps its shape, the
page never scrolls sideways, stored progress bars show a bar that reads finished and counts that
are not cut off, and no kernel explorer's controls sit on the page dead (those cells are kept
off it). Every image in the article says what it shows in its alt text (not its file name), and
only pages that show a widget load the widget manager. Screenshots of the phone widths go to
``_build/screenshots/<page>-<width>.png``.

The browser is found by tools/browsers.py; without one these tests skip with one line, or fail
under CI (CI=true).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
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
def playwright_driver(browser_executable: Path) -> Iterator[Any]:
    """One Playwright for the module (a thread can run one at a time)."""
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="module")
def book_browser(playwright_driver: Any, browser_executable: Path,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A browser context with a fresh profile."""
    context = playwright_driver.chromium.launch_persistent_context(
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


#: The widths a reader meets the book at: the phones of the explorer tests (a touch screen, a
#: mobile viewport, two device pixels per CSS pixel) and a desktop window.
READER_WIDTHS: dict[str, dict[str, Any]] = {
    **{f"{w}px": {"viewport": {"width": w, "height": h}, "is_mobile": True, "has_touch": True,
                  "device_scale_factor": 2} for w, h in explorer_page.PHONES},
    "1280px": {"viewport": {"width": 1280, "height": 900}},
}


@pytest.fixture(scope="module")
def reader_browser(playwright_driver: Any, browser_executable: Path) -> Iterator[Any]:
    """A browser in which each reader's visit gets a fresh context of its own width."""
    browser = playwright_driver.chromium.launch(executable_path=str(browser_executable), headless=True,
                                                args=browsers.LAUNCH_ARGS)
    try:
        yield browser
    finally:
        browser.close()


class Visit:
    """One page opened in the browser with every request logged and external ones aborted."""

    def __init__(self, context: Any, base: str, page: Page, html: str | None = None):
        """``html``: what the server would answer for ``page`` (a page made up by a test), or None."""
        self.made_up = {base + page.url_path: html} if html is not None else {}
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
        if url in self.made_up:
            route.fulfill(status=200, content_type="text/html; charset=utf-8", body=self.made_up[url])
        elif parts.scheme in ("data", "blob") or parts.hostname in LOCAL_HOSTS:
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


def _wait_for_widgets(visit: Visit, page: Page) -> None:
    """Give the stored widgets time to render: the embed manager starts on window load."""
    views, has_state = book_site.widget_views(page.source)
    if views and has_state:
        try:
            visit.tab.wait_for_function(
                "(n) => [...document.querySelectorAll('.widget-subarea')]"
                ".filter(e => e.children.length).length >= n", arg=views, timeout=20_000)
        except PlaywrightTimeout:
            pass  # the callers report widgets that did not render


@contextmanager
def _reader_visit(browser: Any, base: str, page: Page, width: str, html: str | None = None) -> Iterator[Visit]:
    """``page`` opened at one of :data:`READER_WIDTHS`, its stored widgets rendered (``html``: as in
    :class:`Visit`)."""
    context = browser.new_context(**READER_WIDTHS[width])
    try:
        visit = Visit(context, base, page, html)
        try:
            _wait_for_widgets(visit, page)
            yield visit
        finally:
            visit.close()
    finally:
        context.close()


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
        views, has_state = book_site.widget_views(book_page.source)
        _wait_for_widgets(visit, book_page)
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


_READER_JS = """
async (sel) => {
  const root = document.querySelector(sel) || document.querySelector('main');
  // Folded cells (the solutions) opened, as a reader opens them: their figures count too.
  root.querySelectorAll('details').forEach(d => { d.open = true; });
  const imgs = [...root.querySelectorAll('img')];
  await Promise.all(imgs.map(i => { i.loading = 'eager'; return i.decode().catch(() => null); }));
  const box = (e) => e.getBoundingClientRect();
  const de = document.documentElement;
  return {
    scroll_width: de.scrollWidth,
    client_width: de.clientWidth,
    images: imgs.map(i => ({src: i.getAttribute('src'), alt: i.getAttribute('alt'),
                            output: !!i.closest('.cell_output'), width: box(i).width, height: box(i).height,
                            natural: [i.naturalWidth, i.naturalHeight]})),
    // A stored progress bar: a row of the description, the bar and the counts (tqdm's).
    bars: [...root.querySelectorAll('.widget-hprogress')].map(b => {
      const row = b.parentElement, r = box(row);
      const track = b.querySelector('.progress'), fill = b.querySelector('.progress-bar');
      const texts = [...row.querySelectorAll('.widget-html-content')];
      return {
        text: texts.map(t => t.textContent).join(' | '),
        width: box(b).width,
        filled: track && fill ? box(fill).width / Math.max(1, box(track).width) : 0,
        cut: row.scrollWidth > row.clientWidth + 1 || texts.some(t => {
          const q = box(t);
          return q.left < r.left - 1 || q.right > r.right + 1 || t.scrollWidth > t.clientWidth + 1;
        }),
      };
    }),
    // Controls of a kernel's explorer (sliders, number boxes, ...): on the page they move nothing.
    controls: [...root.querySelectorAll('.widget-slider, .widget-text, .widget-dropdown, .widget-button, '
                                        + '.widget-toggle-button, .widget-checkbox')]
      .map(e => e.className),
  };
}
"""

#: Narrowest a stored progress bar may be drawn, in CSS pixels.
MIN_BAR_PX = 40
#: How far a figure's shown aspect ratio may be from its own.
ASPECT_TOLERANCE = 0.02


def _bar_problems(bars: list[dict[str, Any]]) -> list[str]:
    return [f"progress bar {bar['text'][:40]!r} drawn {bar['width']:.0f} px wide ({bar['filled']:.0%} filled)"
            f"{', its text cut off' if bar['cut'] else ''}"
            for bar in bars if bar["width"] < MIN_BAR_PX or bar["filled"] < 0.99 or bar["cut"]]


def _shot_name(page: Page, width: str) -> Path:
    return SCREENSHOT_DIR / f"{SHOT_NAMES[page.docname]}-{width}.png"


@pytest.mark.parametrize("width", list(READER_WIDTHS))
@pytest.mark.parametrize("book_page", PAGES, ids=[p.docname for p in PAGES])
def test_page_reads_well(reader_browser: Any, site: str, book_page: Page, width: str) -> None:
    """Catches figures stretched out of shape (a fixed height kept while the width shrinks to the
    column), a page that scrolls sideways (long inline code or a heading wider than a phone),
    stored progress bars squeezed to nothing with their counts cut off, and a kernel explorer's
    controls left on the page where nothing answers them."""
    with _reader_visit(reader_browser, site, book_page, width) as visit:
        state = visit.tab.evaluate(_READER_JS, CONTENT)
        if width != "1280px":  # test_page_renders_offline takes the desktop's
            SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
            visit.tab.screenshot(path=str(_shot_name(book_page, width)), full_page=True)

    problems: list[str] = []
    for img in state["images"]:
        (nw, nh), w, h = img["natural"], img["width"], img["height"]
        name = Path(img["src"] or "?").name[:16]
        if not (nw and nh and w and h):
            problems.append(f"image {name} is not shown ({w:.0f}x{h:.0f}, natural {nw}x{nh})")
        elif abs((w / h) / (nw / nh) - 1) > ASPECT_TOLERANCE:
            problems.append(f"image {name} is shown {w:.0f}x{h:.0f}, out of the shape of its {nw}x{nh} "
                            f"({h / (w * nh / nw):.2f}x as tall as its width gives)")
    if state["scroll_width"] > state["client_width"]:
        problems.append(f"the page scrolls sideways: {state['scroll_width']} px of content in "
                        f"{state['client_width']} px")
    problems += _bar_problems(state["bars"])
    if state["controls"]:
        problems.append(f"{len(state['controls'])} widget control(s) on the page that need a kernel to do "
                        "anything: tag the explorer's cell remove-output and say in the text around it to run "
                        "the chapter in Jupyter or Colab")
    _REPORT.setdefault("reader", {}).setdefault(book_page.docname, {})[width] = {
        "images": len(state["images"]), "progress_bars": len(state["bars"]), "problems": problems}
    assert not problems, f"{book_page.docname} at {width}: " + "; ".join(problems)


#: The cell metadata that gives a chapter's figure its alt text (myst-nb's image options per cell).
ALT_METADATA = '{"mystnb": {"image": {"alt": "..."}}}'


#: Finished progress bars as tqdm leaves them in a chapter run from an empty model cache: one row
#: of widgets each, the description, the bar and the counts (U+2007 is tqdm's space).
_PROGRESS_ROWS = [
    ("judge:\u2007100%", "\u20075/5\u2007[00:04<00:00,\u2007\u20071.00epoch/s,\u2007loss=0.0532]"),
    ("VAE,\u2007latent\u20072:\u2007100%",
     "\u20075/5\u2007[00:06<00:00,\u2007\u20071.42s/epoch,\u2007loss=164.6083,\u2007test_mse=0.0463]"),
    ("autoencoder\u2007without\u20078,\u2007latent\u200710:\u2007100%",
     "\u200710/10\u2007[00:11<00:00,\u2007\u20071.09s/epoch,\u2007loss=0.0101,\u2007test_mse=0.0098]"),
]


def _page_with_progress_bars(page: Page) -> str:
    """``page``'s built HTML with the :data:`_PROGRESS_ROWS` added at the end of its article as stored
    widget outputs, and the scripts the book's widget pages load, written as myst-nb writes them."""
    import ipywidgets
    from ipywidgets.embed import embed_data

    rows = [ipywidgets.HBox([ipywidgets.HTML(left), ipywidgets.FloatProgress(value=10, min=0, max=10,
                                                                             bar_style="success"),
                             ipywidgets.HTML(right)]) for left, right in _PROGRESS_ROWS]
    data = embed_data(views=rows)
    config = SimpleNamespace(mathjax_path=None, nb_ipywidgets_js=None)
    book_site._offline_assets()._configure(SimpleNamespace(srcdir=str(book_site.ROOT)), config)
    up = "../" * page.docname.count("/")
    state = json.dumps(data["manager_state"]).replace("</", "<\\/")
    head = [f'<script type="application/vnd.jupyter.widget-state+json">{state}</script>']
    for path, kwargs in config.nb_ipywidgets_js.items():
        if not path:
            head.append(f"<script>{kwargs['body']}</script>")
        else:  # Sphinx writes local scripts relative to _static/
            head.append(f'<script src="{path if urlsplit(path).scheme else up + "_static/" + path}"></script>')
    outputs = "".join('<div class="cell docutils container"><div class="cell_output docutils container">'
                      f'<script type="application/vnd.jupyter.widget-view+json">{json.dumps(view)}</script>'
                      '</div></div>' for view in data["view_specs"])
    html = page.html.read_text(encoding="utf-8")
    html = html.replace("</head>", "".join(head) + "</head>", 1)
    end = html.index("</article>", html.index('class="bd-article"'))
    return f'{html[:end]}<section id="progress-bars">{outputs}</section>{html[end:]}'


@pytest.mark.parametrize("width", list(READER_WIDTHS))
def test_stored_progress_bars_read_finished(reader_browser: Any, site: str, width: str) -> None:
    """Catches a stored progress bar (a chapter run from an empty model cache stores one per model it
    trains) squeezed to a sliver, its counts cut off at the edge of the output, as the widget row
    left them on a phone. The chapters stored now may have none: a chapter page is given three."""
    chapter = next(p for p in PAGES if p.source.suffix == ".ipynb")
    made_up = Page(f"{Path(chapter.docname).parent.as_posix()}/_progress_bars", chapter.source)
    with _reader_visit(reader_browser, site, made_up, width, _page_with_progress_bars(chapter)) as visit:
        try:
            visit.tab.wait_for_function("(n) => document.querySelectorAll('#progress-bars .widget-hprogress')"
                                        ".length >= n", arg=len(_PROGRESS_ROWS), timeout=20_000)
        except PlaywrightTimeout:
            pass  # reported below
        state = visit.tab.evaluate(_READER_JS, CONTENT)
        if len(state["bars"]) == len(_PROGRESS_ROWS):
            SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
            visit.tab.locator("#progress-bars").screenshot(path=str(SCREENSHOT_DIR / f"progress-bars-{width}.png"))
    assert len(state["bars"]) == len(_PROGRESS_ROWS), (
        f"the widget manager drew {len(state['bars'])} of {len(_PROGRESS_ROWS)} progress bars "
        f"(console errors: {visit.console_errors}; requests that left localhost: {visit.external})")
    problems = _bar_problems(state["bars"])
    if state["scroll_width"] > state["client_width"]:
        problems.append(f"the page scrolls sideways: {state['scroll_width']} px of content in "
                        f"{state['client_width']} px")
    assert not problems, f"at {width}: " + "; ".join(problems)


def _alt_problem(alt: str | None) -> str | None:
    """What is wrong with an image's alt text as a description of the figure, or None."""
    text = (alt or "").strip()
    if not text:
        return "no alt text"
    if re.search(r"\.(png|jpe?g|gif|svg|webp)\b", text, re.I) or re.search(r"[0-9a-f]{32}", text, re.I):
        return "its file name"
    if len(re.findall(r"[^\W\d_]{2,}", text)) < 4:
        return "fewer than four words"
    return None


@pytest.mark.parametrize("book_page", PAGES, ids=[p.docname for p in PAGES])
def test_images_say_what_they_show(reader_browser: Any, site: str, book_page: Page) -> None:
    """Catches a figure whose alt text is its file name or hash, which is what a screen reader reads
    out, or a search engine and a reader with images off see, in place of the figure.

    A chapter's figure gets its alt text from its cell's metadata: ``{"mystnb": {"image": {"alt":
    "..."}}}`` (myst-nb's per-cell image options; every image output of that cell gets it)."""
    with _reader_visit(reader_browser, site, book_page, "1280px") as visit:
        state = visit.tab.evaluate(_READER_JS, CONTENT)
    bad = [(Path(img["src"] or "?").name[:16], problem) for img in state["images"]
           if (problem := _alt_problem(img["alt"]))]
    assert not bad, (f"{book_page.docname}: {len(bad)} of {len(state['images'])} images do not say what they show "
                     "(give each figure's cell the metadata " + ALT_METADATA + f"): {bad}")


def _is_widget_manager(url: str) -> bool:
    path = urlsplit(url).path
    return path.endswith("/embed-amd.js") or path.endswith("/require.js")


@pytest.mark.parametrize("book_page", PAGES, ids=[p.docname for p in PAGES])
def test_only_pages_with_widgets_load_the_widget_manager(reader_browser: Any, site: str, book_page: Page) -> None:
    """Catches the 3.6 MB widget manager (and require.js) loaded by a page that shows no widget, as
    myst-nb does for every notebook that stores widget state even when its widgets are kept off the
    page, or missing from a page that shows one."""
    views, _ = book_site.widget_views(book_page.source)
    with _reader_visit(reader_browser, site, book_page, "1280px") as visit:
        loaded = sorted({urlsplit(u).path.rsplit("/", 1)[-1] for u in visit.requests if _is_widget_manager(u)})
        rendered = visit.tab.evaluate(
            "() => [...document.querySelectorAll('.widget-subarea')].filter(e => e.children.length).length")
    if views:
        assert loaded == ["embed-amd.js", "require.js"], (
            f"{book_page.docname} shows {views} widget(s) but loaded {loaded or 'no widget script'}")
        assert rendered >= views, f"{book_page.docname}: {rendered} of {views} widgets rendered"
    else:
        assert not loaded, f"{book_page.docname} shows no widget but loads {loaded}"


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


def test_explorers_on_the_pages_keep_the_point_on_the_map_with_keys(book_browser: Any, site: str) -> None:
    """Catches an explorer on a page whose arrow keys walk the point off its map, out of sight (the
    mouse and a finger stop at its edge): a chapter whose stored explorer predates the fix in
    explorer.js shows it until the chapter is executed again."""
    pages = _explorer_pages()
    if not pages:
        pytest.skip("no page in _toc.yml contains a div.ae-explorer yet (the 2-D chapter adds it)")
    off_the_map = []
    for page in pages:
        configs = explorer_page.embedded_configs(page.html.read_text(encoding="utf-8"))
        visit = Visit(book_browser, site, page)
        try:
            for panel_id, cfg in configs.items():
                corner = [cfg["xr"][1], cfg["yr"][1]]
                z = explorer_page.press_keys(visit.tab, panel_id, *["Shift+ArrowRight"] * 15, *["Shift+ArrowUp"] * 15)
                if z != pytest.approx(corner):
                    off_the_map.append(f"{page.docname} {panel_id}: at {z}, the map's corner is {corner}")
        finally:
            visit.close()
    assert not off_the_map, "arrow keys took the point off its map (execute the chapter again): " + "; ".join(off_the_map)


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
