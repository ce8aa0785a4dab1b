"""ipywidgets explorers of the latent space, for Jupyter and Colab: they need a running kernel.

Every slider moved calls Python, which decodes the code and redraws the picture; without a
kernel behind the page (the rendered book, a notebook opened without running it) they show
nothing that moves. The explorers that run in the page itself are :mod:`ae_helpers.page_explorers`.

Each explorer is a small widget box whose pictures are PNG images (``ipywidgets.Image``),
redrawn by plain functions defined here (``decode_point``, ``point_from_directions``,
``interpolate_codes``, ``digit_png``, ...) that are tested on their own. Every explorer has
explicit defaults, so a run without a reader (nbval, the book build) shows one deterministic
picture. Widget views need a live kernel: for readers of the rendered book pair each explorer
with its static figure (``plot_latent_scatter`` + ``plot_decoded_points``,
``plot_direction_sweep``, ``plot_interpolation``) or with the kernel-free
:func:`ae_helpers.page_explorers.latent_explorer_html`. In nbval, mark the widget cell
``# NBVAL_IGNORE_OUTPUT`` (a widget view carries a model id that changes on every run).

The explorers use only what ipywidgets 7.6+ and 8.x share (``Image`` with PNG bytes,
``FloatSlider``/``BoundedIntText`` with ``description``, ``continuous_update``,
``readout_format`` and ``style={"description_width": ...}``, ``HBox``/``VBox``,
``observe(..., names="value")``), so they work on Colab's ipywidgets 7.7 as on 8.x: no
8-only keyword (``behavior=``, ``tooltip=``, ...), which 7.x would silently ignore.
``make test-ipywidgets7`` runs the widget tests against 7.7, and tests/test_jupyterlab.py drags
the sliders in a live JupyterLab.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from .latent import decode_all, encode_all, interpolate_codes, populated_range, principal_directions

__all__ = [
    "decode_point",
    "point_from_directions",
    "interpolate_codes",
    "digit_png",
    "strip_png",
    "ScatterCanvas",
    "render_scatter",
    "explorer_2d",
    "explorer_nd",
    "interpolation_explorer",
]


def decode_point(model: nn.Module, z: Any) -> np.ndarray:
    """Decode one code ``z`` (length ``latent_dim``) into a 28 x 28 float array in [0, 1]."""
    code = torch.as_tensor(np.asarray(z, dtype=np.float32)).reshape(1, -1)
    return decode_all(model, code).numpy().reshape(28, 28)


def point_from_directions(mean: Any, directions: Any, coeffs: Sequence[float]) -> np.ndarray:
    """The code ``mean + sum_i coeffs[i] * directions[i]`` (shape ``(d,)``).

    ``directions`` has one direction per row, ``(k, d)``; ``coeffs`` has ``k`` or fewer entries
    (missing ones count as 0). See :func:`ae_helpers.latent.principal_directions`.
    """
    m = np.asarray(mean, dtype=np.float64).reshape(-1)
    v = np.asarray(directions, dtype=np.float64).reshape(-1, m.size)
    c = np.asarray(coeffs, dtype=np.float64).reshape(-1)
    if c.size > len(v):
        raise ValueError(f"got {c.size} coefficients for {len(v)} directions: pass at most one per direction")
    return (m + c @ v[:c.size]).astype(np.float32)


def _png(rgb: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def _gray(img: np.ndarray) -> np.ndarray:
    """Digit in [0, 1] -> uint8 grey levels, dark on light (the book's convention)."""
    return np.round(255 * (1 - np.clip(np.asarray(img, dtype=np.float64), 0, 1))).astype(np.uint8)


def digit_png(img: Any, scale: int = 6) -> bytes:
    """PNG bytes of a 28 x 28 digit in [0, 1], dark on light, each pixel a ``scale x scale`` block."""
    a = np.asarray(img, dtype=np.float32).reshape(28, 28)
    g = np.kron(_gray(a), np.ones((scale, scale), dtype=np.uint8))
    return _png(np.repeat(g[:, :, None], 3, axis=2))


def strip_png(images: Sequence[Any], scale: int = 4, gap: int = 2) -> bytes:
    """PNG bytes of 28 x 28 digits side by side (dark on light), each pixel ``scale x scale``."""
    tiles = [np.kron(_gray(np.asarray(im).reshape(28, 28)), np.ones((scale, scale), dtype=np.uint8))
             for im in images]
    sep = np.full((28 * scale, gap), 200, dtype=np.uint8)
    parts: list[np.ndarray] = []
    for i, t in enumerate(tiles):
        if i:
            parts.append(sep)
        parts.append(t)
    g = np.concatenate(parts, axis=1)
    return _png(np.repeat(g[:, :, None], 3, axis=2))


@dataclass
class ScatterCanvas:
    """A pre-drawn latent scatter as an RGB array, with the map from codes to its pixels."""

    rgb: np.ndarray
    x_range: tuple[float, float]
    y_range: tuple[float, float]
    box: tuple[int, int, int, int]  # left, top, right, bottom pixel of the axes area

    def to_pixel(self, z: Sequence[float]) -> tuple[int, int]:
        """Pixel (column, row) of code ``z`` on the picture."""
        left, top, right, bottom = self.box
        fx = (float(z[0]) - self.x_range[0]) / (self.x_range[1] - self.x_range[0])
        fy = (float(z[1]) - self.y_range[0]) / (self.y_range[1] - self.y_range[0])
        return int(round(left + fx * (right - left))), int(round(bottom - fy * (bottom - top)))

    def with_marker(self, z: Sequence[float], size: int = 7) -> np.ndarray:
        """A copy of the picture with a black cross (white outline) at code ``z``, clipped to the axes."""
        out = self.rgb.copy()
        left, top, right, bottom = self.box
        cx, cy = self.to_pixel(z)
        cx, cy = min(max(cx, left), right), min(max(cy, top), bottom)
        h, w = out.shape[:2]
        for width, colour in ((2, 255), (1, 0)):
            r0, r1 = max(cy - width, 0), min(cy + width + 1, h)
            c0, c1 = max(cx - width, 0), min(cx + width + 1, w)
            out[r0:r1, max(cx - size - width, 0):min(cx + size + width + 1, w)] = colour
            out[max(cy - size - width, 0):min(cy + size + width + 1, h), c0:c1] = colour
        return out

    def png(self, z: Sequence[float] | None = None) -> bytes:
        """PNG bytes of the picture, with the marker at ``z`` if given."""
        return _png(self.rgb if z is None else self.with_marker(z))


def render_scatter(codes: Any, labels: Any, *, x_range: tuple[float, float] | None = None,
                   y_range: tuple[float, float] | None = None, max_points: int = 20_000, seed: int = 0,
                   size_px: int = 300) -> ScatterCanvas:
    """Draw the 2-D latent scatter once (a seeded sample of at most ``max_points`` codes).

    The range defaults to the 0.5-99.5 percentiles of the codes, widened by 5 %.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from .plotting import plot_latent_scatter

    z, y = np.asarray(codes, dtype=np.float32), np.asarray(labels).reshape(-1)
    if len(z) > max_points:
        idx = np.random.default_rng(seed).choice(len(z), max_points, replace=False)
        z, y = z[idx], y[idx]
    rng = populated_range(z, percentiles=(0.5, 99.5))
    pad = 0.05 * (rng[:, 1] - rng[:, 0])
    xr = x_range or (float(rng[0, 0] - pad[0]), float(rng[0, 1] + pad[0]))
    yr = y_range or (float(rng[1, 0] - pad[1]), float(rng[1, 1] + pad[1]))
    fig = Figure(figsize=(size_px / 100, size_px / 100), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.12, 0.1, 0.85, 0.87))
    plot_latent_scatter(z, y, s=2, alpha=0.4, seed=seed, legend=False, ax=ax)
    ax.set_xlim(*xr)
    ax.set_ylim(*yr)
    ax.set_xlabel("")
    ax.set_ylabel("")
    ax.tick_params(labelsize=7)
    fig.canvas.draw()
    rgb = np.asarray(fig.canvas.buffer_rgba())[:, :, :3].copy()
    bb = ax.get_window_extent()
    h = rgb.shape[0]
    box = (int(round(bb.x0)), int(round(h - bb.y1)), int(round(bb.x1)), int(round(h - bb.y0)))
    return ScatterCanvas(rgb=rgb, x_range=(float(xr[0]), float(xr[1])), y_range=(float(yr[0]), float(yr[1])), box=box)


def explorer_2d(model: nn.Module, codes: Any, labels: Any, *, start: Sequence[float] | None = None,
                percentiles: tuple[float, float] = (0.5, 99.5), scale: int = 6, max_points: int = 20_000):
    """Two sliders (z1, z2) over the populated range of ``codes``; the decoded digit and a marker
    on the latent scatter update as they move.

    Args:
        model: a trained model with a 2-D code. codes, labels: e.g. the training set's codes.
        start: the code shown first (default: the median code), so a headless run is deterministic.
    Returns:
        an ``ipywidgets.VBox``; its pictures are ``ipywidgets.Image`` widgets.

    Static companion: ``plot_latent_scatter(codes, labels, points=[z])`` with
    ``plot_decoded_points(model, [z])``, or the kernel-free ``latent_explorer_html``.
    """
    import ipywidgets as w

    z = np.asarray(codes, dtype=np.float32)
    if z.ndim != 2 or z.shape[1] != 2:
        raise ValueError(f"explorer_2d needs 2-D codes of shape (N, 2), got {z.shape}; use explorer_nd for larger codes")
    rng = populated_range(z, percentiles=percentiles)
    start = np.median(z, axis=0) if start is None else np.asarray(start, dtype=np.float32)
    scatter = render_scatter(z, labels, max_points=max_points)
    step = float((rng[:, 1] - rng[:, 0]).max() / 200)
    sx = w.FloatSlider(value=float(start[0]), min=float(rng[0, 0]), max=float(rng[0, 1]), step=step,
                       description="z1", continuous_update=True, readout_format=".2f")
    sy = w.FloatSlider(value=float(start[1]), min=float(rng[1, 0]), max=float(rng[1, 1]), step=step,
                       description="z2", continuous_update=True, readout_format=".2f")
    digit = w.Image(format="png")
    where = w.Image(format="png")

    def update(_: Any = None) -> None:
        code = (sx.value, sy.value)
        digit.value = digit_png(decode_point(model, code), scale)
        where.value = scatter.png(code)

    update()
    sx.observe(update, names="value")
    sy.observe(update, names="value")
    return w.VBox([w.HBox([sx, sy]), w.HBox([where, digit])])


def explorer_nd(model: nn.Module, codes: Any, *, n_directions: int = 5, span: float = 3.0, scale: int = 6):
    """Sliders along the main directions of ``codes`` (their PCA); the decoded digit updates.

    Slider ``i`` moves the code from the mean along direction ``i``, in units of the codes'
    standard deviation along it (from ``-span`` to ``+span``); all start at 0 (the mean code).
    Returns an ``ipywidgets.HBox``. Static companion: :func:`ae_helpers.plotting.plot_direction_sweep`.
    """
    import ipywidgets as w

    z = np.asarray(codes, dtype=np.float32)
    n_directions = min(n_directions, z.shape[1])
    mean, dirs, stds = principal_directions(z, n_directions)
    sliders = [w.FloatSlider(value=0.0, min=-span, max=span, step=0.1, description=f"dir {i + 1} (σ)",
                             continuous_update=True, readout_format="+.1f",
                             style={"description_width": "initial"}) for i in range(n_directions)]
    digit = w.Image(format="png")

    def update(_: Any = None) -> None:
        coeffs = [s.value * float(sd) for s, sd in zip(sliders, stds)]
        digit.value = digit_png(decode_point(model, point_from_directions(mean, dirs, coeffs)), scale)

    update()
    for s in sliders:
        s.observe(update, names="value")
    return w.HBox([w.VBox(sliders), digit])


def interpolation_explorer(model: nn.Module, images: Any, *, index_a: int = 0, index_b: int = 1,
                           t: float = 0.5, scale: int = 4):
    """Pick two images by index and slide ``t`` from one's code (0) to the other's (1).

    Shows image A, the decoded interpolated code, and image B. Returns an ``ipywidgets.VBox``.
    Static companion: :func:`ae_helpers.plotting.plot_interpolation`.
    """
    import ipywidgets as w

    x = torch.as_tensor(np.asarray(images, dtype=np.float32)) if not isinstance(images, torch.Tensor) else images
    n = len(x)
    ia = w.BoundedIntText(value=index_a, min=0, max=n - 1, description="image A")
    ib = w.BoundedIntText(value=index_b, min=0, max=n - 1, description="image B")
    st = w.FloatSlider(value=t, min=0.0, max=1.0, step=0.05, description="t", continuous_update=True)
    pic = w.Image(format="png")
    cache: dict[int, np.ndarray] = {}

    def code(i: int) -> np.ndarray:
        if i not in cache:
            cache[i] = encode_all(model, x[i:i + 1])[0].numpy()
        return cache[i]

    def update(_: Any = None) -> None:
        z = interpolate_codes(code(ia.value), code(ib.value), st.value)
        pic.value = strip_png([x[ia.value].reshape(28, 28).numpy(), decode_point(model, z),
                               x[ib.value].reshape(28, 28).numpy()], scale)

    update()
    for c in (ia, ib, st):
        c.observe(update, names="value")
    return w.VBox([w.HBox([ia, ib]), st, pic])
