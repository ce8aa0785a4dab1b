"""Latent-space explorers that run in the page itself, with no Python behind them: each one a
self-contained HTML output. (The explorers of :mod:`ae_helpers.widgets` are ipywidgets, which
need a running kernel.)

:func:`latent_explorer_html` shows one 2-D model: the reader drags a point over the latent
scatter and the decoded digit is redrawn live by a JavaScript copy of the decoder (its weights
embedded). :func:`pair_explorer_html` shows two models side by side (the book's autoencoder and
VAE), with a toggle that paints each decoder's grid of digits behind its scatter and a pad on
which the reader draws a digit that both encoders place in their latent spaces. Nothing is
fetched from the network and no widget library is used, so they work in the rendered book, in
Jupyter (trusted notebooks) and in Colab.

The JavaScript is ``explorer.js`` next to this module, one function expression; each output
calls it with its settings as a JSON literal. The weights travel as float32 or float16:
:func:`stored_weights_gray_error` is the explorer's check of what that rounding does to the
digits it draws (``weights="auto"`` chooses by it).

DOM contract (relied on by the browser tests):

* every latent panel is a ``<div class="ae-explorer" id="...">`` with ``data-code`` = its
  current code as JSON ``[z0, z1]``, holding ``<canvas class="ae-explorer-latent">`` (the
  scatter: click or drag on it, or focus it and use the arrow keys, to move the point) and
  ``<canvas class="ae-explorer-digit" data-scale="S">`` (the digit, each pixel an S x S block
  of grey ``round(255 * (1 - v))``, opaque);
* ``window.aeExplorers[panelId]`` has ``.decode([z0, z1])`` (784 floats), ``.setCode([z0, z1])``,
  ``.getCode()``, ``.setGrid(bool)``, and in a pair ``.encode(784 values)``;
* a pair is a ``<div class="ae-pair" id="...">`` holding two panels (``data-model`` ``"ae"``
  and ``"vae"``), ``<input class="ae-pair-grid" type="checkbox">``, ``<canvas
  class="ae-pair-draw">`` (the pad), ``<button class="ae-pair-clear">``, ``<canvas
  class="ae-pair-input">`` (the drawing as the encoders see it), and per model one ``<canvas
  class="ae-pair-recon" data-model="...">`` and one ``<canvas class="ae-pair-map"
  data-model="...">`` (a small map of that model's scatter with the drawing's ring, in sight of
  the pad where the panels are not, as on a phone); its root's ``data-drawn-codes`` is JSON
  ``{"ae": [z0, z1], "vae": [z0, z1]}`` or ``null``, and ``window.aeExplorers[pairId]`` has
  ``.panels`` (model name -> panel id), ``.drawnInk()``, ``.drawnImage()`` (784 values, the
  output of :func:`preprocess_drawing`), ``.drawnCodes()``, ``.setGrid(bool)`` and ``.clear()``;
* canvases keep their drawing size (``width``/``height``) and are shown at it where there is room;
  in a narrower column (a phone) CSS scales them down, and pointer positions are mapped through
  each canvas's displayed box (inside its border) to its pixels.
"""

from __future__ import annotations

import base64
import copy
import functools
import hashlib
import itertools
import json
from importlib import resources
from typing import Any

import numpy as np
import torch
from IPython.display import HTML
from torch import nn

from .latent import decode_all, populated_range
from .plotting import DIGIT_COLORS

__all__ = [
    "panel_grid_codes",
    "latent_explorer_html",
    "pair_explorer_html",
    "preprocess_drawing",
    "decoder_layers",
    "encoder_layers",
    "with_stored_weights",
    "stored_weights_gray_error",
    "MAX_HTML_BYTES",
    "MAX_PAIR_HTML_BYTES",
]

MAX_HTML_BYTES = 1_000_000
"""Upper bound on the size of one single-model explorer."""

MAX_PAIR_HTML_BYTES = 1_350_000
"""Upper bound on the size of one pair explorer (a chapter must stay under 1.5 MB)."""

_COUNTER = itertools.count(1)

_ACTIVATIONS = {nn.ReLU: "relu", nn.Sigmoid: "sigmoid", nn.Tanh: "tanh", nn.Identity: None}

_MARGIN = {"l": 40, "r": 8, "t": 8, "b": 24}  # pixels around the plotting area of a scatter

_Layers = list[tuple[str, "np.ndarray | None", "np.ndarray | None"]]


# ---- the models as layers the JavaScript can run ---------------------------------------------

def _sequential_layers(modules: list[nn.Module]) -> _Layers:
    layers: _Layers = []
    for m in modules:
        if isinstance(m, nn.Linear):
            w = m.weight.detach().cpu().to(torch.float32).numpy()
            b = (m.bias.detach().cpu().to(torch.float32).numpy() if m.bias is not None
                 else np.zeros(w.shape[0], np.float32))
            layers.append(("linear", w, b))
        elif type(m) in _ACTIVATIONS:
            act = _ACTIVATIONS[type(m)]
            if act is not None:
                layers.append((act, None, None))
        else:
            raise TypeError(f"the explorer cannot run a {type(m).__name__} layer in JavaScript: "
                            "use Linear layers with ReLU, Sigmoid or Tanh")
    return layers


def decoder_layers(model: nn.Module) -> _Layers:
    """The decoder as a list of ``("linear", W (out, in), b (out,))`` and ``("relu"|"sigmoid"|"tanh", None, None)``.

    Needs ``model.decoder`` to be an ``nn.Sequential`` of ``Linear`` layers and those activations
    (as in :class:`ae_helpers.models.AutoEncoder` and :class:`ae_helpers.vae.VAE`).
    """
    dec = getattr(model, "decoder", None)
    if not isinstance(dec, nn.Sequential):
        raise TypeError(f"{type(model).__name__} has no nn.Sequential .decoder: the explorer needs a "
                        "decoder made of Linear layers and ReLU/Sigmoid/Tanh, like AutoEncoder's")
    return _sequential_layers(list(dec))


def encoder_layers(model: nn.Module) -> _Layers:
    """The encoder (image -> code) in the form of :func:`decoder_layers`.

    ``model.encoder`` is an ``nn.Sequential``; a VAE's ``mean_head`` is appended, so its code is
    the mean of its Gaussian (what ``VAE.encode`` returns).
    """
    enc = getattr(model, "encoder", None)
    if not isinstance(enc, nn.Sequential):
        raise TypeError(f"{type(model).__name__} has no nn.Sequential .encoder: the explorer needs an "
                        "encoder made of Linear layers and ReLU/Sigmoid/Tanh, like AutoEncoder's")
    modules = list(enc)
    head = getattr(model, "mean_head", None)
    if head is not None:
        modules.append(head)
    return _sequential_layers(modules)


def _pack(layers: _Layers, dtype: str) -> tuple[list[dict[str, Any]], np.ndarray]:
    """The layers' specification for ``explorer.js`` and their parameters as one flat array."""
    flat: list[np.ndarray] = []
    spec: list[dict[str, Any]] = []
    offset = 0
    for kind, w, b in layers:
        if kind == "linear":
            assert w is not None and b is not None
            spec.append({"type": "linear", "in": int(w.shape[1]), "out": int(w.shape[0]),
                         "w": offset, "b": offset + w.size})
            flat += [w.reshape(-1), b.reshape(-1)]
            offset += w.size + b.size
        else:
            spec.append({"type": kind})
    return spec, np.concatenate(flat).astype("<f2" if dtype == "float16" else "<f4")


def _network(layers: _Layers, dtype: str) -> tuple[dict[str, Any], bytes]:
    spec, params = _pack(layers, dtype)
    raw = params.tobytes()
    return {"layers": spec, "params": base64.b64encode(raw).decode("ascii"), "dtype": dtype}, raw


def _sizes(layers: _Layers) -> tuple[int, int]:
    linear = [w for kind, w, _ in layers if kind == "linear"]
    assert linear[0] is not None and linear[-1] is not None
    return int(linear[0].shape[1]), int(linear[-1].shape[0])


# ---- stored precision -------------------------------------------------------------------------

_ROUNDING = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}


def with_stored_weights(model: nn.Module, weights: str) -> nn.Module:
    """A copy of ``model`` (eval mode) whose parameters are rounded to ``weights`` and back.

    With "float16" or "float32" this is what an explorer's page computes with; "bfloat16" (8
    significant bits instead of float16's 11) is there for comparison only.
    """
    if weights not in _ROUNDING:
        raise ValueError(f"weights must be one of {sorted(_ROUNDING)}, got {weights!r}")
    out = copy.deepcopy(model).eval()
    with torch.no_grad():
        for p in out.parameters():
            p.copy_(p.to(_ROUNDING[weights]).to(p.dtype))
    return out


def stored_weights_gray_error(model: nn.Module, codes: Any, weights: str = "float16") -> int:
    """Largest difference, in gray levels ``round(255 * v)``, between ``model``'s decode of ``codes``
    and the decode with its weights stored as ``weights``, over all codes and pixels.

    The explorer's check of its own embedded weights (what the page draws against what
    PyTorch draws), which ``pair_explorer_html(weights="auto")`` decides the storage by.
    """
    z = torch.as_tensor(np.asarray(codes, dtype=np.float32))
    one_batch = max(1, len(z))  # every code in one decode call: batch sizes can move the last bits
    a = torch.round(255 * decode_all(model, z, batch_size=one_batch))
    b = torch.round(255 * decode_all(with_stored_weights(model, weights), z, batch_size=one_batch))
    return int((a - b).abs().max().item())


# ---- the drawing's preprocessing (the same steps as explorer.js's preprocess) ------------------

def _blocks(n: int, size: int) -> list[tuple[int, int]]:
    out = []
    for k in range(n):
        a = k * size // n
        out.append((a, max(a + 1, (k + 1) * size // n)))
    return out


def preprocess_drawing(ink: Any) -> np.ndarray:
    """A drawing (``(h, w)`` values in [0, 1], 1 = ink) as an MNIST-like ``(28, 28)`` float64 image.

    The steps MNIST's digits went through, kept simple: crop to the ink's bounding box; fit it
    into 20 x 20 keeping the aspect ratio (each new pixel the mean of the block of drawing
    pixels it covers); scale so the darkest pixel is 1; place it in 28 x 28 with its centre of
    mass on pixel (14, 14), rounded to whole pixels, where MNIST's digits have theirs (shifted
    back inside where it would stick out). All zeros for an empty drawing. The pair explorer's
    page runs the same steps in JavaScript.
    """
    a = np.asarray(ink, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"ink must be a 2-D array (h, w), got shape {a.shape}")
    out = np.zeros((28, 28))
    rows, cols = np.flatnonzero((a > 0).any(axis=1)), np.flatnonzero((a > 0).any(axis=0))
    if rows.size == 0:
        return out
    crop = a[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    bh, bw = crop.shape
    big = max(bh, bw)
    nh, nw = max(1, (40 * bh + big) // (2 * big)), max(1, (40 * bw + big) // (2 * big))
    small = np.array([[crop[r0:r1, c0:c1].mean() for c0, c1 in _blocks(nw, bw)] for r0, r1 in _blocks(nh, bh)])
    small /= small.max()
    mass = small.sum()
    cy = (small.sum(axis=1) * np.arange(nh)).sum() / mass
    cx = (small.sum(axis=0) * np.arange(nw)).sum() / mass
    oy = int(min(28 - nh, max(0, np.floor(14.5 - cy))))
    ox = int(min(28 - nw, max(0, np.floor(14.5 - cx))))
    out[oy:oy + nh, ox:ox + nw] = small
    return out


# ---- HTML ---------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def _javascript() -> str:
    return resources.files(__package__).joinpath("explorer.js").read_text(encoding="utf-8").rstrip()


def _script(cfg: dict[str, Any]) -> str:
    """``<script>`` calling explorer.js with ``cfg`` as a JSON literal that cannot end the script."""
    literal = (json.dumps(cfg, separators=(",", ":"))
               .replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))
    return f"<script>{_javascript()}({literal});</script>"


def _array(x: Any) -> np.ndarray:
    return (x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x))


def _codes_2d(codes: Any, labels: np.ndarray) -> np.ndarray:
    z = _array(codes).astype(np.float32)
    if z.ndim != 2 or z.shape[1] != 2:
        raise ValueError(f"the explorer needs 2-D codes of shape (N, 2), got {z.shape}: use a model with latent_dim=2")
    if len(labels) != len(z):
        raise ValueError(f"got {len(labels)} labels for {len(z)} codes: pass one label per code")
    return z


def _ticks(lo: float, hi: float) -> list[float]:
    from matplotlib.ticker import MaxNLocator

    return [float(t) for t in MaxNLocator(5).tick_values(lo, hi) if lo <= t <= hi]


def _view(z: np.ndarray, margin: float) -> dict[str, Any]:
    """Axis ranges (the populated range widened by ``margin`` of it on each side) and ticks."""
    rng = populated_range(z, percentiles=(0.5, 99.5))
    pad = margin * (rng[:, 1] - rng[:, 0])
    xr = [float(rng[0, 0] - pad[0]), float(rng[0, 1] + pad[0])]
    yr = [float(rng[1, 0] - pad[1]), float(rng[1, 1] + pad[1])]
    return {"xr": xr, "yr": yr, "xt": _ticks(*xr), "yt": _ticks(*yr)}


def _grid_codes(view: dict[str, Any], n: int) -> np.ndarray:
    """An ``n x n`` grid of codes spanning the panel's whole canvas, corners included."""
    g0, g1 = np.linspace(*view["xr"], n), np.linspace(*view["yr"], n)
    return np.stack(np.meshgrid(g0, g1), axis=-1).reshape(-1, 2).astype(np.float32)


def panel_grid_codes(codes: Any, *, grid: int = 12, margin: float = 0.25) -> np.ndarray:
    """The ``(grid * grid, 2)`` codes whose decoded digits :func:`pair_explorer_html` paints behind a panel.

    The page tiles the panel's view (the codes' 0.5%-99.5% range widened by ``margin`` of it on
    each side) into ``grid x grid`` tiles and decodes one code at the centre of each, row by row
    from the top; pass the same ``grid`` and ``margin`` as to the page.
    """
    z = _array(codes).astype(np.float32)
    if z.ndim != 2 or z.shape[1] != 2 or grid < 1:
        raise ValueError(f"need 2-D codes of shape (N, 2) and grid >= 1, got codes {z.shape} and grid {grid}")
    view = _view(z, margin)
    (x0, x1), (y0, y1) = view["xr"], view["yr"]
    centres = (np.arange(grid) + 0.5) / grid
    xs, ys = x0 + centres * (x1 - x0), y1 - centres * (y1 - y0)
    return np.array([[x, y] for y in ys for x in xs], dtype=np.float32)


def _legend() -> str:
    return "".join(f'<span style="margin-right:6px;white-space:nowrap"><span style="display:inline-block;'
                   f'width:9px;height:9px;border-radius:50%;background:{c};margin-right:2px"></span>{d}</span>'
                   for d, c in enumerate(DIGIT_COLORS))


_FALLBACK = ('<div class="ae-explorer-fallback" style="color:#a00">This explorer needs JavaScript '
             '(in Jupyter, trust the notebook).</div>')


def _fit(px: int) -> str:
    """CSS for a square canvas of ``px`` pixels with a 1-px border: shown at its own size where there is
    room, scaled down (square, same drawing) to its container's width where there is not."""
    return f"width:{px + 2}px;max-width:100%;height:auto;box-sizing:border-box;border:1px solid #ddd"


def _latent_canvas(size: int) -> str:
    return (f'<canvas class="ae-explorer-latent" width="{size}" height="{size}" tabindex="0" '
            'aria-label="latent space: drag the point, or focus and use the arrow keys" '
            f'style="{_fit(size)};touch-action:none;cursor:crosshair"></canvas>')


def _digit_canvas(cls: str, scale: int, extra: str = "") -> str:
    px = 28 * scale
    return (f'<canvas class="{cls}" data-scale="{scale}"{extra} width="{px}" height="{px}" '
            f'style="{_fit(px)};image-rendering:pixelated"></canvas>')


def _check_size(html: str, limit: int, advice: str) -> None:
    size_bytes = len(html.encode("utf-8"))
    if size_bytes > limit:
        raise ValueError(f"the explorer would be {size_bytes} bytes, over {limit}: {advice}")


def latent_explorer_html(model: nn.Module, codes: Any, labels: Any, *, n_points: int = 2000, seed: int = 0,
                         start: Any = None, size: int = 360, scale: int = 6, margin: float = 0.25,
                         element_id: str | None = None) -> HTML:
    """A self-contained HTML explorer of a 2-D latent space, for readers without a kernel.

    Shows a seeded sample of ``n_points`` codes on a canvas, coloured by digit; the reader drags
    the black point and the decoded 28 x 28 digit is redrawn live by a JavaScript copy of the
    decoder (its weights embedded as float32). No network, no CDN, no widget library; under 1 MB.
    The digit stays on the scatter's right: in a column narrower than both (a phone) both are
    shown smaller, the scatter keeping most of the width.

    Args:
        model: trained model with a 2-D code and a ``decoder`` of Linear/ReLU/Sigmoid layers.
        codes, labels: codes ``(N, 2)`` (e.g. the test set's) and their digits.
        start: the first code shown (default: the median code).
        size: side of the scatter canvas in pixels. scale: pixel block size of the digit.
        margin: how far the canvas reaches beyond the populated range, as a fraction of it.
        element_id: id of the root element (default: unique and deterministic per output).
    Returns:
        an ``IPython.display.HTML`` (its ``.data`` is the HTML text).
    """
    y = _array(labels).reshape(-1)
    z = _codes_2d(codes, y)
    layers = decoder_layers(model)
    if _sizes(layers)[0] != 2:
        raise ValueError(f"the decoder takes codes of size {_sizes(layers)[0]}, the explorer needs size 2")
    idx = np.random.default_rng(seed).permutation(len(z))[:n_points]
    pts, lab = z[idx], (y[idx].astype(np.int64) % 256).astype(np.uint8)
    decoder, raw = _network(layers, "float32")
    start_code = np.median(z, axis=0) if start is None else np.asarray(start, dtype=np.float64).reshape(2)

    if element_id is None:
        digest = hashlib.sha1(raw + pts.tobytes() + lab.tobytes()).hexdigest()[:10]
        element_id = f"ae-explorer-{digest}-{next(_COUNTER)}"
    panel = {"id": element_id, "decoder": decoder, "points": base64.b64encode(pts.astype("<f4").tobytes()).decode(),
             "labels": base64.b64encode(lab.tobytes()).decode(), "grid": 12,
             "start": [float(start_code[0]), float(start_code[1])], **_view(z, margin)}
    cfg = {"kind": "single", "id": element_id, "colors": list(DIGIT_COLORS), "margin": _MARGIN, "panels": [panel]}
    px = 28 * scale
    # One row that never wraps, so the digit stays on the scatter's right: where the column is
    # narrower than both (a phone), both shrink, the digit faster but not below 3 pixels per pixel.
    html = (
        f'<div class="ae-explorer" id="{element_id}" data-code="{json.dumps(panel["start"])}" '
        'style="display:flex;gap:16px;align-items:flex-start;font-family:sans-serif;'
        'font-size:13px;color:#222;background:#fff;padding:6px">'
        f'<div style="flex:0 1 {size + 2}px;min-width:0">{_latent_canvas(size)}'
        f'<div style="max-width:{size}px;margin-top:4px">{_legend()}</div></div>'
        f'<div style="flex:0 1.5 {px + 40}px;min-width:{min(px, 28 * 3) + 2}px">'
        f'{_digit_canvas("ae-explorer-digit", scale)}'
        '<div class="ae-explorer-readout" style="margin-top:4px;font-family:monospace"></div>'
        f'<div style="max-width:{px + 40}px;margin-top:4px;color:#555">Drag the black point over the codes '
        '(or click the scatter and use the arrow keys); the digit is decoded as you move.</div>'
        f'{_FALLBACK}</div>'
        '</div>'
        + _script(cfg)
    )
    _check_size(html, MAX_HTML_BYTES, "pass a smaller n_points or a smaller decoder")
    return HTML(html)


# ---- the pair explorer: its panels' settings, then its HTML in parts -----------------------------

def _pair_panel(key: str, title: str, model: nn.Module, codes: Any, labels: np.ndarray, idx: np.ndarray,
                lab: np.ndarray, *, weights: str, grid: int, margin: float) -> tuple[dict[str, Any], bytes]:
    """One panel's settings for ``explorer.js`` (its model's encoder and decoder, its sample of codes,
    its view), and the bytes that identify it (for the output's id)."""
    z = _codes_2d(codes, labels)
    dec, enc = decoder_layers(model), encoder_layers(model)
    if _sizes(dec) != (2, 784) or _sizes(enc) != (784, 2):
        raise ValueError(f"the {title} maps {_sizes(enc)[0]} pixels to a code of size {_sizes(enc)[1]} and "
                         f"decodes size {_sizes(dec)[0]} to {_sizes(dec)[1]}: the explorer needs 784 and 2")
    view = _view(z, margin)
    dtype = weights
    if weights == "auto":
        dtype = "float16" if stored_weights_gray_error(model, _grid_codes(view, 101)) <= 1 else "float32"
    decoder, raw_dec = _network(dec, dtype)
    encoder, raw_enc = _network(enc, dtype)
    pts = z[idx].astype("<f4")
    panel = {"name": key, "title": title, "decoder": decoder, "encoder": encoder,
             "points": base64.b64encode(pts.tobytes()).decode(), "labels": base64.b64encode(lab.tobytes()).decode(),
             "grid": int(grid), "start": [float(v) for v in np.median(z, axis=0)], **view}
    return panel, raw_dec + raw_enc + pts.tobytes()


def _pair_panel_html(p: dict[str, Any], size: int, scale: int) -> str:
    """A model's panel: its title, its scatter and, under it, the digit its point decodes to."""
    return (f'<div class="ae-explorer ae-pair-panel" id="{p["id"]}" data-model="{p["name"]}" '
            f'data-weights="{p["decoder"]["dtype"]}" data-code="{json.dumps(p["start"])}" style="min-width:0">'
            f'<div style="font-weight:bold;margin-bottom:2px">{p["title"]}</div>{_latent_canvas(size)}'
            f'<div style="display:flex;gap:8px;align-items:center;margin-top:4px">'
            f'{_digit_canvas("ae-explorer-digit", scale)}'
            '<div class="ae-explorer-readout" style="font-family:monospace"></div></div></div>')


def _small(canvas: str, caption: str) -> str:
    """A small canvas (a digit at 3 pixels per pixel, or a map) with its caption under it."""
    return (f'<div style="text-align:center;width:{28 * 3 + 2}px">{canvas}'
            f'<div style="font-size:11px;color:#555">{caption}</div></div>')


def _mini_map(column: int, p: dict[str, Any]) -> str:
    """A small map of a model's scatter with the ring, under its reconstruction: on a phone the
    panels are out of sight while the reader draws, the pad's neighbours are not."""
    # Twice the shown size: sharp on screens with two device pixels per CSS pixel.
    return (f'<div style="grid-column:{column}">'
            + _small(f'<canvas class="ae-pair-map" data-model="{p["name"]}" width="{2 * 28 * 3}" '
                     f'height="{2 * 28 * 3}" role="img" aria-label="where the {p["title"]}\'s encoder puts '
                     f'your digit" style="{_fit(28 * 3)}"></canvas>', "where its encoder puts it")
            + '</div>')


def _drawing_html(panels: list[dict[str, Any]], pad_size: int) -> str:
    """The pad with its clear button, and beside it the drawing as the encoders see it, each model's
    reconstruction of it and, under each, the small map of where its encoder puts it."""
    return (
        '<div class="ae-pair-drawing" style="display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start">'
        '<div><div style="font-weight:bold;margin-bottom:2px">draw a digit</div>'
        f'<canvas class="ae-pair-draw" width="{pad_size}" height="{pad_size}" '
        'aria-label="drawing pad: draw a digit with the mouse or a finger" '
        f'style="width:{pad_size + 2}px;max-width:100%;height:auto;box-sizing:border-box;background:#fff;'
        'touch-action:none;cursor:crosshair;border:1px solid #999"></canvas>'
        '<div><button type="button" class="ae-pair-clear" style="margin-top:2px">clear</button></div></div>'
        # A grid, so that both maps start on one line under their reconstructions.
        f'<div style="display:grid;grid-template-columns:repeat({1 + len(panels)},{28 * 3 + 2}px);'
        'gap:6px 8px;align-items:start;margin-top:20px">'
        + _small(_digit_canvas("ae-pair-input", 3), "your digit, as the encoders see it")
        + "".join(_small(_digit_canvas("ae-pair-recon", 3, f' data-model="{p["name"]}"'),
                         f'{p["title"]}\'s reconstruction') for p in panels)
        + "".join(_mini_map(2 + k, p) for k, p in enumerate(panels))
        + '</div></div>'
    )


def _pair_html(element_id: str, panels: list[dict[str, Any]], *, size: int, scale: int, pad_size: int) -> str:
    """The pair's page without its script: the grid toggle, the two panels, the legend, the drawing
    and what to do."""
    return (
        f'<div class="ae-pair" id="{element_id}" style="font-family:sans-serif;font-size:13px;color:#222;'
        'background:#fff;padding:6px">'
        '<label style="display:block;margin-bottom:6px"><input type="checkbox" class="ae-pair-grid"> '
        'paint each decoder\'s grid of digits behind its scatter</label>'
        '<div style="display:flex;flex-wrap:wrap;gap:14px;align-items:flex-start">'
        + "".join(_pair_panel_html(p, size, scale) for p in panels) + '</div>'
        f'<div style="margin:4px 0 10px">{_legend()}</div>'
        + _drawing_html(panels, pad_size) +
        '<div style="margin-top:6px;color:#555;max-width:760px">Each panel has its own black point: drag it '
        '(or click a scatter and use the arrow keys; Shift for bigger steps) and that model decodes it below. '
        'The points are not linked, because the two models\' codes have different scales and axes that mean '
        'nothing to each other. Draw a digit on the pad: the red rings show where each encoder puts it, '
        'in its scatter and in the small map under its reconstruction, beside the pad.</div>'
        f'{_FALLBACK}</div>'
    )


def pair_explorer_html(ae_model: nn.Module, ae_codes: Any, vae_model: nn.Module, vae_codes: Any, labels: Any, *,
                       names: tuple[str, str] = ("plain autoencoder", "VAE"), n_points: int = 1500, seed: int = 0,
                       weights: str = "auto", size: int = 300, scale: int = 4, grid: int = 12,
                       margin: float = 0.25, pad_size: int = 196, line_width: float = 15.0,
                       element_id: str | None = None) -> HTML:
    """Two 2-D models side by side in one self-contained HTML output, with a pad to draw a digit on.

    Each panel shows a seeded sample of ``n_points`` of its own model's codes (the same images
    in both panels) and its own draggable point, whose decoded digit is redrawn live; a toggle
    paints each decoder's ``grid x grid`` digits behind its scatter. The reader can draw a digit
    with mouse or finger: the page prepares it like an MNIST digit (:func:`preprocess_drawing`),
    encodes it with both encoders (a VAE's code is its mean), marks where it lands in each
    scatter and shows each model's reconstruction beside the pad, with a small map of its scatter
    and the mark under it (on a phone the panels have scrolled away while the reader draws).
    Both models' weights are embedded.

    Args:
        ae_model, vae_model: models with 2-D codes, ``encoder`` / ``decoder`` made of Linear and
            ReLU/Sigmoid/Tanh layers (a VAE's ``mean_head`` is part of its encoder).
        ae_codes, vae_codes, labels: each model's codes ``(N, 2)`` of the same N images, and their digits.
        weights: how the weights are stored: "float16" (half the size), "float32", or "auto":
            float16 for a model whose decode over a 101 x 101 grid spanning its canvas then stays
            within 1 gray level (``round(255 * v)``) of its float32 decode, float32 otherwise.
            The choice is in each panel's ``data-weights`` attribute.
        size: side of each scatter canvas in pixels. scale: pixel block size of the decoded digits.
        pad_size: side of the drawing pad in pixels; line_width: its pen width in pixels.
        element_id: id of the root element (default: unique and deterministic per output); the
            panels get ``<id>-ae`` and ``<id>-vae``.
    Returns:
        an ``IPython.display.HTML`` (its ``.data`` is the HTML text).
    """
    if weights not in ("auto", "float16", "float32"):
        raise ValueError(f"weights must be 'auto', 'float16' or 'float32', got {weights!r}")
    y = _array(labels).reshape(-1)
    idx = np.random.default_rng(seed).permutation(len(y))[:n_points]   # the same images in both panels
    lab = (y[idx].astype(np.int64) % 256).astype(np.uint8)
    panels, digest = [], hashlib.sha1(lab.tobytes())
    for key, name, model, codes in (("ae", names[0], ae_model, ae_codes), ("vae", names[1], vae_model, vae_codes)):
        panel, raw = _pair_panel(key, name, model, codes, y, idx, lab, weights=weights, grid=grid, margin=margin)
        panels.append(panel)
        digest.update(raw)
    if element_id is None:
        element_id = f"ae-pair-{digest.hexdigest()[:10]}-{next(_COUNTER)}"
    for p in panels:
        p["id"] = f"{element_id}-{p['name']}"
    cfg = {"kind": "pair", "id": element_id, "colors": list(DIGIT_COLORS), "margin": _MARGIN,
           "line_width": float(line_width), "panels": panels}
    html = _pair_html(element_id, panels, size=size, scale=scale, pad_size=pad_size) + _script(cfg)
    _check_size(html, MAX_PAIR_HTML_BYTES, "pass weights='float16' or a smaller n_points")
    return HTML(html)
