"""What the explorer tests share: the weights an explorer page carries, and driving the page.

Decoding with the weights the page carries makes the browser tests compare like with like.

``ae_helpers.explorer`` embeds its settings in the HTML it outputs as one JSON literal, the
argument of the inline call to ``explorer.js``: ``({"kind": "single" | "pair", "id": ...,
"panels": [...]})``. Each panel has its own ``id`` (the root element the browser tests look up)
and a ``decoder`` (a pair's panels an ``encoder`` too): ``params`` is every weight and bias end
to end, base64 little-endian float32 or float16 (``dtype``), and ``layers`` lists ``{"type":
"linear", "in", "out", "w", "b"}`` (``w``/``b``: offsets into params, ``W`` stored row-major as
``(out, in)``) and ``{"type": "relu" | "sigmoid" | "tanh"}``. The page's JavaScript computes in
float64 from those values; :func:`decode` does the same with numpy, so the two agree to
rounding whatever machine trained the weights.

The page helpers (:func:`load`, :func:`code_of`, :func:`digit_grays`, ...) take a Playwright
page. Used by tests/test_explorer.py, tests/test_pair_explorer.py and tests/test_book_browser.py.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = ["embedded_configs", "notebook_configs", "decoders", "decode", "gray_levels", "torch_grays",
           "assert_self_contained", "load", "insert_like_a_notebook", "code_of", "press_keys", "canvas_pixels",
           "digit_grays"]

CFG_MARKER = '({"kind":'


def embedded_configs(html: str, marker: str = CFG_MARKER) -> dict[str, dict[str, Any]]:
    """Every explorer panel embedded in ``html`` (a built page or an output), keyed by its ``id``."""
    found: dict[str, dict[str, Any]] = {}
    decoder = json.JSONDecoder()
    start = html.find(marker)
    while start != -1:
        cfg, end = decoder.raw_decode(html, start + 1)
        for panel in cfg.get("panels", []) if isinstance(cfg, dict) else []:
            found[str(panel["id"])] = panel
        start = html.find(marker, end)
    return found


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
