"""What the explorer tests share: the weights an explorer page carries, and driving the page.

Decoding with the weights the page carries makes the browser tests compare like with like.

``ae_helpers.page_explorers`` embeds its settings in the HTML it outputs as one JSON literal, the
argument of the inline call to ``explorer.js``: ``({"kind": "single" | "pair", "id": ...,
"panels": [...]})``. Each panel has its own ``id`` (the root element the browser tests look up)
and a ``decoder`` (a pair's panels an ``encoder`` too): ``params`` is every weight and bias end
to end, base64 little-endian float32 or float16 (``dtype``), and ``layers`` lists ``{"type":
"linear", "in", "out", "w", "b"}`` (``w``/``b``: offsets into params, ``W`` stored row-major as
``(out, in)``) and ``{"type": "relu" | "sigmoid" | "tanh"}``. The page's JavaScript computes in
float64 from those values; :func:`decode` does the same with numpy, so the two agree to
rounding whatever machine trained the weights.

The page helpers (:func:`load`, :func:`code_of`, :func:`digit_grays`, ...) take a Playwright
page. :func:`phone_page` opens one as a phone does (touch screen, mobile viewport), where
:func:`phone_document` lays an output out as the book's column on a phone, :func:`overflow` says
what sticks out sideways and :func:`finger_drag` drags a real finger (touch input through the
browser's own hit testing and ``touch-action``). Used by tests/test_explorer.py,
tests/test_pair_explorer.py and tests/test_book_browser.py.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = ["embedded_configs", "notebook_configs", "decoders", "decode", "gray_levels", "torch_grays",
           "assert_self_contained", "load", "insert_like_a_notebook", "code_of", "press_keys", "canvas_pixels",
           "digit_grays", "explorer_settings", "PHONES", "phone_document", "phone_page", "overflow", "content_box",
           "screen_rect", "finger_drag", "code_under"]

CFG_MARKER = '({"kind":'


def explorer_settings(html: str, marker: str = CFG_MARKER) -> list[dict[str, Any]]:
    """The settings of every explorer embedded in ``html``, in order (each with its ``panels``)."""
    found: list[dict[str, Any]] = []
    decoder = json.JSONDecoder()
    start = html.find(marker)
    while start != -1:
        cfg, end = decoder.raw_decode(html, start + 1)
        if isinstance(cfg, dict):
            found.append(cfg)
        start = html.find(marker, end)
    return found


def embedded_configs(html: str, marker: str = CFG_MARKER) -> dict[str, dict[str, Any]]:
    """Every explorer panel embedded in ``html`` (a built page or an output), keyed by its ``id``."""
    return {str(panel["id"]): panel for cfg in explorer_settings(html, marker) for panel in cfg.get("panels", [])}


def notebook_configs(notebook: Path, marker: str = CFG_MARKER) -> dict[str, dict[str, Any]]:
    """The configs in a notebook's stored ``text/html`` outputs, keyed by id."""
    nb = json.loads(Path(notebook).read_text(encoding="utf-8"))
    html = []
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            text = out.get("data", {}).get("text/html")
            if text is not None:
                html.append("".join(text) if isinstance(text, list) else text)
    return embedded_configs("\n".join(html), marker)


def decoders(cfg: Any) -> Iterator[Mapping[str, Any]]:
    """Every decoder (the value of a ``"decoder"`` key) inside ``cfg``, depth first."""
    if isinstance(cfg, Mapping):
        for key, value in cfg.items():
            if key == "decoder" and isinstance(value, Mapping):
                yield value
            elif isinstance(value, (Mapping, list)):
                yield from decoders(value)
    elif isinstance(cfg, list):
        for value in cfg:
            yield from decoders(value)


def decode(spec: Mapping[str, Any], codes: Any) -> np.ndarray:
    """Run the embedded decoder on ``codes`` (one code or a batch ``(N, d)``), in float64 like the page."""
    dtype = {"float32": "<f4", "float16": "<f2"}[spec.get("dtype", "float32")]
    params = np.frombuffer(base64.b64decode(spec["params"]), dtype=dtype).astype(np.float64)
    z = np.asarray(codes, dtype=np.float64)
    h = np.atleast_2d(z)
    for layer in spec["layers"]:
        kind = layer["type"]
        if kind == "linear":
            n_in, n_out, w, b = (int(layer[k]) for k in ("in", "out", "w", "b"))
            weight = params[w:w + n_out * n_in].reshape(n_out, n_in)
            if h.shape[1] != n_in:
                raise ValueError(f"a linear layer takes {n_in} inputs but gets {h.shape[1]}")
            h = h @ weight.T + params[b:b + n_out]
        elif kind == "relu":
            h = np.maximum(h, 0.0)
        elif kind == "sigmoid":
            h = 1.0 / (1.0 + np.exp(-h))
        elif kind == "tanh":
            h = np.tanh(h)
        else:
            raise ValueError(f"unknown layer type {kind!r} in the embedded decoder")
    return h[0] if z.ndim == 1 else h


def gray_levels(values: Any) -> np.ndarray:
    """The page's pixel grays for decoded values: ``Math.round(255 * (1 - clamp(v, 0, 1)))``."""
    v = np.clip(np.asarray(values, dtype=np.float64), 0.0, 1.0)
    return np.floor(255.0 * (1.0 - v) + 0.5).astype(np.int64)


def torch_grays(model: torch.nn.Module, codes: Any) -> np.ndarray:
    """The page's gray levels ``(N, 28, 28)`` for PyTorch's decode of ``codes`` by ``model``."""
    with torch.no_grad():
        values = model.decode(torch.tensor(codes, dtype=torch.float32)).numpy()
    return gray_levels(values).reshape(len(values), 28, 28)


# ---- the page ---------------------------------------------------------------------------------

def assert_self_contained(html: str) -> None:
    """One inline script and nothing that would reach the network."""
    assert not re.search(r"https?://", html), "no external URL"
    assert not re.search(r"""(src|href)\s*=\s*["']?//""", html), "no protocol-relative URL"
    assert "import(" not in html and "fetch(" not in html and "XMLHttpRequest" not in html
    assert html.count("<script") == 1 and html.count("</script") == 1


def load(page: Any, html: str, *, root: str = ".ae-explorer", panels: int = 1) -> str:
    """Show ``html`` on ``page``; wait for ``panels`` explorers; return the id of the first ``root``.

    Fails if the page requested anything but ``about:`` and ``data:`` URLs.
    """
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.set_content(html)
    page.wait_for_function("(n) => window.aeExplorers && Object.keys(window.aeExplorers).length >= n", arg=panels)
    assert [u for u in requests if not u.startswith(("about:", "data:"))] == [], "the explorer fetched something"
    return page.locator(root).first.get_attribute("id")


def insert_like_a_notebook(page: Any, html: str, panels: int) -> None:
    """Insert ``html`` after the page has loaded and run its scripts, as JupyterLab and Colab do."""
    page.set_content("<div id='output'></div>")
    page.evaluate("""(html) => {
        const host = document.getElementById('output');
        host.innerHTML = html;
        for (const old of host.querySelectorAll('script')) {
            const s = document.createElement('script');
            for (const a of old.attributes) s.setAttribute(a.name, a.value);
            s.textContent = old.textContent;
            old.parentNode.replaceChild(s, old);
        }
    }""", html)
    page.wait_for_function("(n) => window.aeExplorers && Object.keys(window.aeExplorers).length === n", arg=panels)


def code_of(page: Any, element_id: str) -> list[float]:
    """The code an explorer panel shows (its ``data-code``)."""
    return json.loads(page.locator(f"#{element_id}").get_attribute("data-code"))


def press_keys(page: Any, panel_id: str, *keys: str, start: list[float] | None = None) -> list[float]:
    """Press ``keys`` on a panel's focused scatter (from the code ``start`` when given); its code after."""
    if start is not None:
        page.evaluate("([id, c]) => window.aeExplorers[id].setCode(c)", [panel_id, start])
    page.locator(f"#{panel_id} canvas.ae-explorer-latent").focus()
    for key in keys:
        page.keyboard.press(key)
    return code_of(page, panel_id)


def canvas_pixels(page: Any, selector: str) -> np.ndarray:
    """A canvas's RGBA pixels ``(height, width, 4)``."""
    w, h, b64 = page.evaluate("""(sel) => {
        const c = document.querySelector(sel), d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let s = '';
        for (let i = 0; i < d.length; i += 8192) s += String.fromCharCode.apply(null, d.subarray(i, i + 8192));
        return [c.width, c.height, btoa(s)];
    }""", selector)
    return np.frombuffer(base64.b64decode(b64), dtype=np.uint8).reshape(h, w, 4)


def digit_grays(page: Any, selector: str) -> np.ndarray:
    """A digit canvas as its 28 x 28 gray levels (checking the blocks are opaque, grey and uniform)."""
    px = canvas_pixels(page, selector)
    s = px.shape[0] // 28
    assert (px[..., 3] == 255).all(), "opaque"
    assert (px[..., 0] == px[..., 1]).all() and (px[..., 1] == px[..., 2]).all(), "grey"
    blocks = px[..., 0].reshape(28, s, 28, s)
    assert (blocks == blocks[:, :1, :, :1]).all(), "each pixel is an S x S block"
    return blocks[:, 0, :, 0].astype(int)


# ---- on a phone -------------------------------------------------------------------------------

#: Viewports (CSS pixels) of a common phone and of the narrowest one still in use.
PHONES = [(390, 844), (320, 568)]


def phone_document(html: str) -> str:
    """``html`` in a page laid out like the book's on a phone: the device's width, 16 px each side."""
    return ('<!DOCTYPE html><html><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1"></head>'
            f'<body style="margin:0"><div style="padding:0 16px">{html}</div></body></html>')


@contextmanager
def phone_page(browser: Any, width: int, height: int) -> Iterator[Any]:
    """A page on a ``width x height`` touch-screen phone (mobile viewport, two device pixels per CSS
    pixel); JavaScript errors in it fail the test."""
    context = browser.new_context(viewport={"width": width, "height": height}, has_touch=True, is_mobile=True,
                                  device_scale_factor=2)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        yield page
    finally:
        context.close()
    assert not errors, f"JavaScript errors in the page: {errors}"


_OVERFLOW_JS = """(sel) => {
    const out = [], doc = document.documentElement, root = document.querySelector(sel);
    if (doc.scrollWidth > doc.clientWidth) out.push(`the page scrolls sideways (${doc.scrollWidth} > ${doc.clientWidth} px)`);
    if (root.scrollWidth > root.clientWidth) out.push(`${sel} overflows its box (${root.scrollWidth} > ${root.clientWidth} px)`);
    const inside = (a, b) => a.left >= b.left - 0.5 && a.right <= b.right + 0.5 && a.top >= b.top - 0.5 && a.bottom <= b.bottom + 0.5;
    const r = root.getBoundingClientRect();
    for (const c of root.querySelectorAll('canvas')) {
        const box = c.getBoundingClientRect(), name = `canvas.${c.className}` + (c.dataset.model ? `[${c.dataset.model}]` : '');
        const where = `${Math.round(box.left)}..${Math.round(box.right)}`;
        if (!inside(box, c.parentElement.getBoundingClientRect())) out.push(`${name} (${where}) sticks out of its container`);
        if (!inside(box, r)) out.push(`${name} (${where}) sticks out of ${sel} (${Math.round(r.left)}..${Math.round(r.right)})`);
    }
    return out;
}"""


def overflow(page: Any, root: str) -> list[str]:
    """What sticks out sideways: the page or the element ``root`` (a selector) wider than its box, or a
    canvas in it outside its container or outside ``root``. Empty when everything fits."""
    return page.evaluate(_OVERFLOW_JS, root)


def content_box(page: Any, selector: str) -> dict[str, float]:
    """A canvas's content box (inside border and padding) in viewport CSS pixels: ``x``, ``y``,
    ``width``, ``height``, and ``pixels``, the width of its drawing buffer."""
    return page.evaluate("""(sel) => {
        const c = document.querySelector(sel), r = c.getBoundingClientRect(), s = getComputedStyle(c);
        const px = (side) => parseFloat(s[`border${side}Width`]) + parseFloat(s[`padding${side}`]);
        return {x: r.left + px('Left'), y: r.top + px('Top'), width: r.width - px('Left') - px('Right'),
                height: r.height - px('Top') - px('Bottom'), pixels: c.width};
    }""", selector)


def screen_rect(page: Any) -> dict[str, float]:
    """The part of the page on screen (the visual viewport) in client coordinates, those of
    ``getBoundingClientRect``: ``left``, ``top``, ``right``, ``bottom`` and ``scale`` (pinch zoom)."""
    return page.evaluate("""() => { const v = window.visualViewport;
        return {left: v.offsetLeft, top: v.offsetTop, right: v.offsetLeft + v.width,
                bottom: v.offsetTop + v.height, scale: v.scale}; }""")


def finger_drag(page: Any, points: Sequence[tuple[float, float]], steps: int = 4) -> None:
    """Touch the screen at the first of ``points`` (client CSS pixels, as ``getBoundingClientRect``
    gives them), slide through the others in ``steps`` moves each, and lift: real touch input, which
    the browser hit-tests and turns into pointer events itself (Chromium's DevTools protocol, whose
    touch points are on the screen: the visual viewport, which a phone may offset or zoom)."""
    screen = screen_rect(page)
    cdp = page.context.new_cdp_session(page)
    try:
        def send(kind: str, xy: tuple[float, float] | None) -> None:
            touch = [] if xy is None else [{"x": (xy[0] - screen["left"]) * screen["scale"],
                                            "y": (xy[1] - screen["top"]) * screen["scale"]}]
            cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": touch})

        send("touchStart", points[0])
        for (x0, y0), (x1, y1) in zip(points, points[1:]):
            for k in range(1, steps + 1):
                send("touchMove", (x0 + (x1 - x0) * k / steps, y0 + (y1 - y0) * k / steps))
        send("touchEnd", None)
    finally:
        cdp.detach()


def code_under(html: str, panel_id: str, box: Mapping[str, float], x: float, y: float) -> list[float]:
    """The code a panel's scatter shows at viewport point (x, y), from the settings in ``html``, given
    the scatter's :func:`content_box`: its drawing buffer spread evenly over that box, however CSS
    scales it, and the point kept inside the plotting area."""
    cfg = next(c for c in explorer_settings(html) if any(p["id"] == panel_id for p in c["panels"]))
    p, m, size = next(p for p in cfg["panels"] if p["id"] == panel_id), cfg["margin"], box["pixels"]
    px = min(size - m["r"], max(m["l"], (x - box["x"]) * size / box["width"]))
    py = min(size - m["b"], max(m["t"], (y - box["y"]) * size / box["height"]))
    pw, ph = size - m["l"] - m["r"], size - m["t"] - m["b"]
    return [p["xr"][0] + (px - m["l"]) / pw * (p["xr"][1] - p["xr"][0]),
            p["yr"][0] + (size - m["b"] - py) / ph * (p["yr"][1] - p["yr"][0])]
