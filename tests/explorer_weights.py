"""Decode with the weights an in-page explorer carries, so browser tests compare like with like.

``ae_helpers.explorer`` embeds its settings in the HTML it outputs as one JSON literal, the
argument of the inline call to ``explorer.js``: ``({"kind": "single" | "pair", "id": ...,
"panels": [...]})``. Each panel has its own ``id`` (the root element the browser tests look up)
and a ``decoder`` (a pair's panels an ``encoder`` too): ``params`` is every weight and bias end
to end, base64 little-endian float32 or float16 (``dtype``), and ``layers`` lists ``{"type":
"linear", "in", "out", "w", "b"}`` (``w``/``b``: offsets into params, ``W`` stored row-major as
``(out, in)``) and ``{"type": "relu" | "sigmoid" | "tanh"}``. The page's JavaScript computes in
float64 from those values; :func:`decode` does the same with numpy, so the two agree to
rounding whatever machine trained the weights.

Used by tests/test_book_browser.py.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["embedded_configs", "notebook_configs", "decoders", "decode", "gray_levels"]

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
