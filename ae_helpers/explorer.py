"""A latent-space explorer that needs no kernel: one self-contained HTML output.

:func:`latent_explorer_html` embeds the decoder's weights (base64 float32) and a sample of
codes in inline JavaScript. The reader drags a point over the latent scatter and the decoded
digit is redrawn live by a JavaScript copy of the decoder. Nothing is fetched from the
network and no widget library is used, so it works in the rendered book, in Jupyter (trusted
notebooks) and in Colab.

DOM contract (relied on by the browser tests):

* root ``<div class="ae-explorer" id="...">`` with ``data-code`` = current code as JSON ``[z0, z1]``;
* ``<canvas class="ae-explorer-latent">``: the scatter, click or drag on it to move the point;
* ``<canvas class="ae-explorer-digit" data-scale="S">``: the digit, each pixel an S x S block of
  grey ``round(255 * (1 - v))``, opaque;
* ``window.aeExplorers[rootId]`` with ``.decode([z0, z1])`` (784 floats) and ``.setCode([z0, z1])``.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
from typing import Any

import numpy as np
import torch
from IPython.display import HTML
from torch import nn

from .latent import populated_range

__all__ = ["latent_explorer_html", "decoder_layers", "MAX_HTML_BYTES"]

MAX_HTML_BYTES = 1_000_000
"""Upper bound on the size of one explorer output."""

_COUNTER = itertools.count(1)

_ACTIVATIONS = {nn.ReLU: "relu", nn.Sigmoid: "sigmoid", nn.Tanh: "tanh", nn.Identity: None}

_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
           "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]


def decoder_layers(model: nn.Module) -> list[tuple[str, np.ndarray | None, np.ndarray | None]]:
    """The decoder as a list of ``("linear", W (out, in), b (out,))`` and ``("relu"|"sigmoid"|"tanh", None, None)``.

    Needs ``model.decoder`` to be an ``nn.Sequential`` of ``Linear`` layers and those activations
    (as in :class:`ae_helpers.models.AutoEncoder`).
    """
    dec = getattr(model, "decoder", None)
    if not isinstance(dec, nn.Sequential):
        raise TypeError(f"{type(model).__name__} has no nn.Sequential .decoder: the explorer needs a "
                        "decoder made of Linear layers and ReLU/Sigmoid/Tanh, like AutoEncoder's")
    layers: list[tuple[str, np.ndarray | None, np.ndarray | None]] = []
    for m in dec:
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


def _b64(a: np.ndarray, dtype: str) -> str:
    return base64.b64encode(np.ascontiguousarray(a, dtype=dtype).tobytes()).decode("ascii")


def _ticks(lo: float, hi: float) -> list[float]:
    from matplotlib.ticker import MaxNLocator

    return [float(t) for t in MaxNLocator(5).tick_values(lo, hi) if lo <= t <= hi]


_JS = r"""
(function () {
  var cfg = %(cfg)s;
  function b64bytes(s) {
    var bin = atob(s), n = bin.length, u = new Uint8Array(n);
    for (var i = 0; i < n; i++) u[i] = bin.charCodeAt(i);
    return u;
  }
  function b64f32(s) {
    var u = b64bytes(s), dv = new DataView(u.buffer), n = u.length / 4, out = new Float32Array(n);
    for (var i = 0; i < n; i++) out[i] = dv.getFloat32(4 * i, true);
    return out;
  }
  var params = b64f32(cfg.params), layers = cfg.layers;
  function decode(z) {
    var h = [Number(z[0]), Number(z[1])];
    for (var l = 0; l < layers.length; l++) {
      var L = layers[l];
      if (L.type === "linear") {
        var out = new Array(L.out);
        for (var j = 0; j < L.out; j++) {
          var s = params[L.b + j], row = L.w + j * L.in;
          for (var i = 0; i < L.in; i++) s += params[row + i] * h[i];
          out[j] = s;
        }
        h = out;
      } else if (L.type === "relu") {
        for (var k = 0; k < h.length; k++) if (h[k] < 0) h[k] = 0;
      } else if (L.type === "sigmoid") {
        for (var k2 = 0; k2 < h.length; k2++) h[k2] = 1 / (1 + Math.exp(-h[k2]));
      } else if (L.type === "tanh") {
        for (var k3 = 0; k3 < h.length; k3++) h[k3] = Math.tanh(h[k3]);
      }
    }
    return h;
  }
  function init(root) {
    var lat = root.querySelector("canvas.ae-explorer-latent");
    var dig = root.querySelector("canvas.ae-explorer-digit");
    var readout = root.querySelector(".ae-explorer-readout");
    var fallback = root.querySelector(".ae-explorer-fallback");
    if (fallback) fallback.parentNode.removeChild(fallback);
    var S = parseInt(dig.getAttribute("data-scale"), 10);
    var W = lat.width, H = lat.height, m = cfg.margin;
    var x0 = cfg.xr[0], x1 = cfg.xr[1], y0 = cfg.yr[0], y1 = cfg.yr[1];
    function toPx(z) {
      return [m.l + (z[0] - x0) / (x1 - x0) * (W - m.l - m.r), H - m.b - (z[1] - y0) / (y1 - y0) * (H - m.t - m.b)];
    }
    function toCode(px, py) {
      return [x0 + (px - m.l) / (W - m.l - m.r) * (x1 - x0), y0 + (H - m.b - py) / (H - m.t - m.b) * (y1 - y0)];
    }
    // Draw the scatter once on an off-screen canvas.
    var bg = document.createElement("canvas");
    bg.width = W; bg.height = H;
    var g = bg.getContext("2d");
    g.fillStyle = "#ffffff"; g.fillRect(0, 0, W, H);
    g.strokeStyle = "#999999"; g.lineWidth = 1;
    g.strokeRect(m.l + 0.5, m.t + 0.5, W - m.l - m.r - 1, H - m.t - m.b - 1);
    g.fillStyle = "#333333"; g.font = "11px sans-serif";
    g.textAlign = "center"; g.textBaseline = "top";
    cfg.xt.forEach(function (t) { var p = toPx([t, y0]); g.fillRect(p[0], H - m.b, 1, 4); g.fillText(String(t), p[0], H - m.b + 5); });
    g.textAlign = "right"; g.textBaseline = "middle";
    cfg.yt.forEach(function (t) { var p = toPx([x0, t]); g.fillRect(m.l - 4, p[1], 4, 1); g.fillText(String(t), m.l - 6, p[1]); });
    g.fillStyle = "#555555"; g.font = "italic 12px sans-serif";
    g.textAlign = "right"; g.textBaseline = "bottom"; g.fillText("z1", W - m.r - 4, H - m.b - 3);
    g.textAlign = "left"; g.textBaseline = "top"; g.fillText("z2", m.l + 4, m.t + 3);
    var pts = b64f32(cfg.points), lab = b64bytes(cfg.labels);
    g.save();
    g.beginPath(); g.rect(m.l, m.t, W - m.l - m.r, H - m.t - m.b); g.clip();
    g.globalAlpha = 0.6;
    for (var i = 0; i < lab.length; i++) {
      var p = toPx([pts[2 * i], pts[2 * i + 1]]);
      g.fillStyle = cfg.colors[lab[i] %% 10];
      g.fillRect(p[0] - 1, p[1] - 1, 3, 3);
    }
    g.restore();
    var ctx = lat.getContext("2d"), dctx = dig.getContext("2d");
    var img = dctx.createImageData(28 * S, 28 * S);
    var code = cfg.start.slice();
    function drawDigit(v) {
      var d = img.data, w = 28 * S;
      for (var r = 0; r < 28; r++) for (var c = 0; c < 28; c++) {
        var x = Math.min(1, Math.max(0, v[r * 28 + c])), gray = Math.round(255 * (1 - x));
        for (var dy = 0; dy < S; dy++) for (var dx = 0; dx < S; dx++) {
          var o = 4 * ((r * S + dy) * w + c * S + dx);
          d[o] = gray; d[o + 1] = gray; d[o + 2] = gray; d[o + 3] = 255;
        }
      }
      dctx.putImageData(img, 0, 0);
    }
    function draw() {
      ctx.drawImage(bg, 0, 0);
      var p = toPx(code);
      ctx.save();
      ctx.beginPath(); ctx.rect(m.l, m.t, W - m.l - m.r, H - m.t - m.b); ctx.clip();
      ctx.beginPath(); ctx.arc(p[0], p[1], 6, 0, 2 * Math.PI);
      ctx.fillStyle = "#000000"; ctx.fill();
      ctx.lineWidth = 2; ctx.strokeStyle = "#ffffff"; ctx.stroke();
      ctx.restore();
      drawDigit(decode(code));
      root.setAttribute("data-code", JSON.stringify([code[0], code[1]]));
      if (readout) readout.textContent = "z = (" + code[0].toFixed(2) + ", " + code[1].toFixed(2) + ")";
    }
    function setCode(z) { code = [Number(z[0]), Number(z[1])]; draw(); }
    function fromEvent(e) {
      var r = lat.getBoundingClientRect();
      var px = (e.clientX - r.left) * W / r.width, py = (e.clientY - r.top) * H / r.height;
      px = Math.min(W - m.r, Math.max(m.l, px)); py = Math.min(H - m.b, Math.max(m.t, py));
      setCode(toCode(px, py));
    }
    var dragging = false;
    lat.addEventListener("pointerdown", function (e) {
      dragging = true;
      if (lat.setPointerCapture) { try { lat.setPointerCapture(e.pointerId); } catch (err) { /* not capturable */ } }
      try { lat.focus({ preventScroll: true }); } catch (err) { /* focus is optional */ }
      fromEvent(e); e.preventDefault();
    });
    lat.addEventListener("pointermove", function (e) { if (dragging) { fromEvent(e); e.preventDefault(); } });
    function stop() { dragging = false; }
    lat.addEventListener("keydown", function (e) {
      var dx = { ArrowLeft: -1, ArrowRight: 1 }[e.key] || 0, dy = { ArrowDown: -1, ArrowUp: 1 }[e.key] || 0;
      if (!dx && !dy) return;
      var f = e.shiftKey ? 0.1 : 0.02;
      setCode([code[0] + dx * f * (x1 - x0), code[1] + dy * f * (y1 - y0)]);
      e.preventDefault();
    });
    lat.addEventListener("pointerup", stop);
    lat.addEventListener("pointercancel", stop);
    window.aeExplorers = window.aeExplorers || {};
    window.aeExplorers[root.id] = { decode: decode, setCode: setCode, getCode: function () { return code.slice(); } };
    draw();
  }
  var tries = 0, me = document.currentScript;
  function start() {
    var root = document.getElementById(cfg.id);
    if (!root && me && me.parentNode) root = me.parentNode.querySelector("[id='" + cfg.id + "']");
    if (root) { init(root); return; }
    if (tries++ < 100) setTimeout(start, 50);
  }
  start();
})();
"""


def latent_explorer_html(model: nn.Module, codes: Any, labels: Any, *, n_points: int = 2000, seed: int = 0,
                         start: Any = None, size: int = 360, scale: int = 6, margin: float = 0.25,
                         element_id: str | None = None) -> HTML:
    """A self-contained HTML explorer of a 2-D latent space, for readers without a kernel.

    Shows a seeded sample of ``n_points`` codes on a canvas, coloured by digit; the reader drags
    the black point and the decoded 28 x 28 digit is redrawn live by a JavaScript copy of the
    decoder (its weights embedded). No network, no CDN, no widget library; under 1 MB.

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
    z = (codes.detach().cpu().numpy() if isinstance(codes, torch.Tensor) else np.asarray(codes)).astype(np.float32)
    y = (labels.detach().cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)).reshape(-1)
    if z.ndim != 2 or z.shape[1] != 2:
        raise ValueError(f"the explorer needs 2-D codes of shape (N, 2), got {z.shape}: use a model with latent_dim=2")
    if len(y) != len(z):
        raise ValueError(f"got {len(y)} labels for {len(z)} codes: pass one label per code")
    layers = decoder_layers(model)
    first = next(w for kind, w, _ in layers if kind == "linear")
    if first.shape[1] != 2:
        raise ValueError(f"the decoder takes codes of size {first.shape[1]}, the explorer needs size 2")
    idx = np.random.default_rng(seed).permutation(len(z))[:n_points]
    pts, lab = z[idx], (y[idx].astype(np.int64) % 256).astype(np.uint8)

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
    params = np.concatenate(flat).astype("<f4")

    rng = populated_range(z, percentiles=(0.5, 99.5))
    pad = margin * (rng[:, 1] - rng[:, 0])
    xr = [float(rng[0, 0] - pad[0]), float(rng[0, 1] + pad[0])]
    yr = [float(rng[1, 0] - pad[1]), float(rng[1, 1] + pad[1])]
    start_code = np.median(z, axis=0) if start is None else np.asarray(start, dtype=np.float64).reshape(2)

    if element_id is None:
        digest = hashlib.sha1(params.tobytes() + pts.tobytes() + lab.tobytes()).hexdigest()[:10]
        element_id = f"ae-explorer-{digest}-{next(_COUNTER)}"
    cfg = {
        "id": element_id, "layers": spec, "params": _b64(params, "<f4"),
        "points": _b64(pts, "<f4"), "labels": _b64(lab, "u1"), "colors": _COLORS,
        "xr": xr, "yr": yr, "xt": _ticks(*xr), "yt": _ticks(*yr),
        "margin": {"l": 40, "r": 8, "t": 8, "b": 24},
        "start": [float(start_code[0]), float(start_code[1])],
    }
    legend = "".join(f'<span style="margin-right:6px;white-space:nowrap"><span style="display:inline-block;'
                     f'width:9px;height:9px;border-radius:50%;background:{c};margin-right:2px"></span>{d}</span>'
                     for d, c in enumerate(_COLORS))
    px = 28 * scale
    html = (
        f'<div class="ae-explorer" id="{element_id}" data-code="{json.dumps(cfg["start"])}" '
        'style="display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start;font-family:sans-serif;'
        'font-size:13px;color:#222;background:#fff;padding:6px">'
        f'<div><canvas class="ae-explorer-latent" width="{size}" height="{size}" tabindex="0" '
        'aria-label="latent space: drag the point, or focus and use the arrow keys" '
        f'style="width:{size}px;height:{size}px;touch-action:none;cursor:crosshair;border:1px solid #ddd"></canvas>'
        f'<div style="max-width:{size}px;margin-top:4px">{legend}</div></div>'
        f'<div><canvas class="ae-explorer-digit" data-scale="{scale}" width="{px}" height="{px}" '
        f'style="width:{px}px;height:{px}px;image-rendering:pixelated;border:1px solid #ddd"></canvas>'
        '<div class="ae-explorer-readout" style="margin-top:4px;font-family:monospace"></div>'
        f'<div style="max-width:{px + 40}px;margin-top:4px;color:#555">Drag the black point over the codes '
        '(or click the scatter and use the arrow keys); the digit is decoded as you move.</div>'
        '<div class="ae-explorer-fallback" style="color:#a00">This explorer needs JavaScript '
        '(in Jupyter, trust the notebook).</div></div>'
        '</div>'
        f'<script>{_JS % {"cfg": json.dumps(cfg, separators=(",", ":"))}}</script>'
    )
    size_bytes = len(html.encode("utf-8"))
    if size_bytes > MAX_HTML_BYTES:
        raise ValueError(f"the explorer would be {size_bytes} bytes, over {MAX_HTML_BYTES}: "
                         "pass a smaller n_points or a smaller decoder")
    return HTML(html)
