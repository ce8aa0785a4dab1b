"""Plotting helpers for the book's figures.

Conventions: every helper takes ``ax=None`` (it creates a small figure only when no axes is
given), returns the :class:`~matplotlib.figure.Figure`, never calls ``plt.show()``, never saves
files and never changes global matplotlib settings. Digits are drawn dark on light
(``cmap="gray_r", vmin=0, vmax=1``). Grids of digits are drawn as one image on one axes, which
keeps the stored PNGs small and lets every helper draw into an axes you pass.

A figure draws what it is given: numbers it shows (an AUC, a test error) come computed, by
the chapter or :mod:`ae_helpers.measure`. Decoding codes into the digits it draws is the one
thing a helper runs a model for (through :mod:`ae_helpers.latent`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from torch import nn

from .latent import decode_all, populated_range

if TYPE_CHECKING:
    from .measure import ScoreSeparation

__all__ = [
    "DIGIT_CMAP",
    "DIGIT_COLORS",
    "digit_montage",
    "plot_digit_grid",
    "plot_reconstructions",
    "plot_latent_scatter",
    "plot_decoded_points",
    "plot_manifold",
    "plot_mse_vs_latent",
    "plot_model_comparison",
    "plot_tsne",
    "plot_samples",
    "plot_digit_grids",
    "plot_interpolation",
    "plot_direction_sweep",
    "plot_denoising",
    "plot_anomaly_scores",
    "plot_neighbours",
    "plot_training_curves",
    "plot_loss_terms",
    "plot_kl_per_dimension",
]

DIGIT_CMAP = "gray_r"
"""Colour map for digits throughout the book: dark ink on a light background."""

DIGIT_COLORS: tuple[str, ...] = tuple(
    "#{:02x}{:02x}{:02x}".format(*(int(round(255 * c)) for c in rgb)) for rgb in plt.get_cmap("tab10").colors
)
"""Ten distinct colours, one per digit 0-9 (matplotlib's ``tab10``)."""

_GAP = 2  # pixels between tiles in a montage
_GAP_VALUE = 0.12  # light grey lines between tiles (on the gray_r scale)


def _images(images: Any) -> np.ndarray:
    """Images as a float array ``(N, 28, 28)`` from a tensor/array of shape (N,784), (N,28,28) or (N,1,28,28)."""
    if isinstance(images, torch.Tensor):
        images = images.detach().to("cpu", torch.float32).numpy()
    x = np.asarray(images, dtype=np.float32)
    if x.ndim == 1 and x.size == 784:
        x = x[None]
    if x.ndim < 2 or x[0].size != 784:
        raise ValueError(f"expected images of 784 pixels each, shape (N, 784), (N, 28, 28) or "
                         f"(N, 1, 28, 28); got shape {x.shape}")
    return x.reshape(len(x), 28, 28)


def _array(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().to("cpu").numpy()
    return np.asarray(x)


def _new_axes(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    """``ax``'s figure and ``ax``, or a new small figure with one axes.

    A new figure is closed in pyplot right away: it is not shown automatically at the end of
    a notebook cell (so it never appears twice) and is displayed when the cell returns it.
    """
    if ax is not None:
        return ax.figure, ax
    fig = plt.figure(figsize=figsize, dpi=100, layout="constrained")
    plt.close(fig)
    return fig, fig.add_subplot()


def digit_montage(images: Any, ncols: int = 10, *, gap: int = _GAP, gap_value: float = _GAP_VALUE) -> np.ndarray:
    """Tile images into one array, ``ncols`` per row, with ``gap`` pixels of ``gap_value`` between.

    Empty cells of the last row are left blank (0).
    """
    x = _images(images)
    n = len(x)
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    step = 28 + gap
    out = np.full((nrows * step - gap, ncols * step - gap), gap_value, dtype=np.float32)
    for i in range(nrows * ncols):
        r, c = divmod(i, ncols)
        out[r * step:r * step + 28, c * step:c * step + 28] = x[i] if i < n else 0.0
    return out


def _show_montage(ax: Axes, montage: np.ndarray) -> None:
    ax.imshow(montage, cmap=DIGIT_CMAP, vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


def _label_tiles(ax: Axes, labels: Sequence[Any], ncols: int, *, fontsize: float = 8) -> None:
    """Write ``labels[i]`` in the top-left corner of tile ``i``."""
    step = 28 + _GAP
    for i, lab in enumerate(labels):
        r, c = divmod(i, ncols)
        ax.text(c * step + 1, r * step + 1, str(lab), fontsize=fontsize, color="#c00000",
                ha="left", va="top")


def _grid_figsize(nrows: int, ncols: int, inch_per_tile: float = 0.6, extra_h: float = 0.3) -> tuple[float, float]:
    return (max(1.5, ncols * inch_per_tile), max(1.0, nrows * inch_per_tile + extra_h))


def plot_digit_grid(images: Any, labels: Sequence[Any] | Any | None = None, *, ncols: int = 10,
                    title: str | None = None, ax: Axes | None = None) -> Figure:
    """A grid of digits, ``ncols`` per row, each with its label (if given) in the corner.

    Args:
        images: ``(N, 1, 28, 28)``, ``(N, 28, 28)`` or ``(N, 784)`` tensor or array in [0, 1].
        labels: one label per image (digits, or any short text), or None.
    """
    x = _images(images)
    ncols = max(1, min(ncols, len(x)))
    nrows = -(-len(x) // ncols)
    fig, ax = _new_axes(ax, _grid_figsize(nrows, ncols))
    _show_montage(ax, digit_montage(x, ncols))
    if labels is not None:
        labels = list(_array(labels).reshape(-1)) if not isinstance(labels, (list, tuple)) else list(labels)
        if len(labels) != len(x):
            raise ValueError(f"got {len(labels)} labels for {len(x)} images: pass one label per image")
        _label_tiles(ax, labels, ncols)
    if title:
        ax.set_title(title)
    return fig


def _rows_figure(rows: Sequence[np.ndarray], row_names: Sequence[str], ax: Axes | None,
                 title: str | None, inch_per_tile: float = 0.6) -> Figure:
    """One montage with one row per entry of ``rows`` (each ``(n, 28, 28)``) and names on the left."""
    n = len(rows[0])
    fig, ax = _new_axes(ax, (n * inch_per_tile + 1.0, len(rows) * inch_per_tile + 0.35))
    _show_montage(ax, digit_montage(np.concatenate(rows), n))
    step = 28 + _GAP
    ax.set_yticks([r * step + 13.5 for r in range(len(rows))], labels=list(row_names))
    ax.tick_params(axis="y", length=0)
    if title:
        ax.set_title(title)
    return fig


def plot_reconstructions(originals: Any, reconstructions: Any, *, n: int = 10,
                         title: str | None = None, ax: Axes | None = None) -> Figure:
    """The first ``n`` originals in the top row and their reconstructions in the row below."""
    a, b = _images(originals), _images(reconstructions)
    n = min(n, len(a))
    if len(b) < n:
        raise ValueError(f"got {len(b)} reconstructions for {n} originals: pass one per original")
    return _rows_figure([a[:n], b[:n]], ["original", "reconstructed"], ax, title)


def _legend_handles(classes: Sequence[int]) -> list[Line2D]:
    return [Line2D([], [], linestyle="", marker="o", markersize=6, color=DIGIT_COLORS[int(c) % 10],
                   label=str(int(c))) for c in classes]


def plot_latent_scatter(codes: Any, labels: Any, *, points: Any = None, point_names: Sequence[str] | None = None,
                        s: float = 1.0, alpha: float = 0.5, seed: int = 0, title: str | None = None,
                        legend: bool = True, ax: Axes | None = None) -> Figure:
    """The 2-D codes as a scatter, coloured by digit, with a legend of the ten colours.

    Readable with all 60,000 training codes: small markers, transparency, points drawn in a
    seeded random order (so no digit hides the others), rasterized and without antialiasing
    (crisp dots in few colours: small files, even at twice the pixel density).

    Args:
        codes: ``(N, 2)`` codes. labels: ``(N,)`` digits 0-9.
        points: optional ``(M, 2)`` codes to mark with black crosses, named by ``point_names``.
    """
    z, y = _array(codes).astype(np.float32), _array(labels).astype(int).reshape(-1)
    if z.ndim != 2 or z.shape[1] != 2:
        raise ValueError(f"plot_latent_scatter needs 2-D codes of shape (N, 2), got {z.shape}; "
                         "for larger codes use tsne_embedding first")
    if len(y) != len(z):
        raise ValueError(f"got {len(y)} labels for {len(z)} codes: pass one label per code")
    fig, ax = _new_axes(ax, (4.2, 3.5))
    order = np.random.default_rng(seed).permutation(len(z))
    colors = np.array(DIGIT_COLORS)[y[order] % 10]
    ax.scatter(z[order, 0], z[order, 1], c=colors, s=s, alpha=alpha, linewidths=0, rasterized=True,
               antialiased=False)
    if points is not None:
        p = _array(points).astype(np.float32).reshape(-1, 2)
        ax.scatter(p[:, 0], p[:, 1], marker="X", s=80, c="black", edgecolors="white", linewidths=1, zorder=3)
        for i, (px, py) in enumerate(p):
            name = point_names[i] if point_names is not None and i < len(point_names) else str(i + 1)
            ax.annotate(name, (px, py), xytext=(5, 5), textcoords="offset points", fontsize=9,
                        fontweight="bold", zorder=4)
    if legend:
        ax.legend(handles=_legend_handles(np.unique(y)), title="digit", loc="center left",
                  bbox_to_anchor=(1.0, 0.5), frameon=False, handletextpad=0.2, borderaxespad=0.3)
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    if title:
        ax.set_title(title)
    return fig


def _decode_np(model: nn.Module, codes: Any) -> np.ndarray:
    return decode_all(model, codes).numpy().reshape(-1, 28, 28)


def plot_decoded_points(model: nn.Module, points: Any, titles: Sequence[str] | None = None, *,
                        ax: Axes | None = None) -> Figure:
    """Decode a few hand-picked codes and show them in a row, each titled (default: its code)."""
    p = _array(points).astype(np.float32)
    p = p.reshape(1, -1) if p.ndim == 1 else p
    imgs = _decode_np(model, p)
    if titles is None:
        titles = ["(" + ", ".join(f"{v:.2g}" for v in row) + ")" for row in p]
    if len(titles) != len(p):
        raise ValueError(f"got {len(titles)} titles for {len(p)} points: pass one title per point")
    fig, ax = _new_axes(ax, (max(2.0, 1.3 * len(p)), 1.7))
    _show_montage(ax, digit_montage(imgs, len(p)))
    step = 28 + _GAP
    ax.set_xticks([i * step + 13.5 for i in range(len(p))], labels=list(titles), fontsize=8)
    ax.tick_params(axis="x", length=0, labeltop=True, labelbottom=False)
    return fig


def plot_manifold(model: nn.Module, codes: Any = None, *, n: int = 15,
                  x_range: tuple[float, float] | None = None, y_range: tuple[float, float] | None = None,
                  x_values: Sequence[float] | None = None, y_values: Sequence[float] | None = None,
                  percentiles: tuple[float, float] = (1.0, 99.0), title: str | None = None,
                  ax: Axes | None = None) -> Figure:
    """Decode an ``n x n`` grid of 2-D codes (in one batch) and show it as one picture.

    The grid spans ``x_range`` by ``y_range``; a range not given is taken from ``codes`` (the
    given percentiles of each dimension). ``x_values``/``y_values`` give the grid's
    coordinates explicitly (e.g. Gaussian quantiles). The top row is the largest ``z_2``.
    """
    if x_values is None or y_values is None:
        if (x_range is None or y_range is None) and codes is None:
            raise ValueError("plot_manifold needs codes (to take the range from) or x_range and y_range")
        rng = populated_range(codes, percentiles=percentiles) if codes is not None else None
        if rng is not None and rng.shape[0] != 2:
            raise ValueError(f"plot_manifold needs 2-D codes, got codes of size {rng.shape[0]}")
        xr = x_range if x_range is not None else tuple(rng[0])
        yr = y_range if y_range is not None else tuple(rng[1])
    xs = np.asarray(x_values if x_values is not None else np.linspace(xr[0], xr[1], n), dtype=np.float32)
    ys = np.asarray(y_values if y_values is not None else np.linspace(yr[0], yr[1], n), dtype=np.float32)
    grid = np.array([[x, y] for y in ys[::-1] for x in xs], dtype=np.float32)
    imgs = _decode_np(model, grid)
    fig, ax = _new_axes(ax, (4.3, 4.0 * len(ys) / len(xs) + 0.3))
    _show_montage(ax, digit_montage(imgs, len(xs)))
    step = 28 + _GAP
    xt = np.unique(np.linspace(0, len(xs) - 1, min(5, len(xs))).round().astype(int))
    yt = np.unique(np.linspace(0, len(ys) - 1, min(5, len(ys))).round().astype(int))
    ax.set_xticks(xt * step + 13.5, labels=[f"{xs[i]:.2g}" for i in xt])
    ax.set_yticks(yt * step + 13.5, labels=[f"{ys[::-1][i]:.2g}" for i in yt])
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    if title:
        ax.set_title(title)
    return fig


def _losses(h: Any, per: str) -> list[float]:
    if hasattr(h, f"{per}_losses"):
        return [float(v) for v in getattr(h, f"{per}_losses")]
    if isinstance(h, Mapping) and f"{per}_losses" in h:
        return [float(v) for v in h[f"{per}_losses"]]
    arr = _array(h)
    if arr.ndim == 1 and np.issubdtype(arr.dtype, np.number):
        return [float(v) for v in arr]
    raise TypeError(f"cannot read losses from {type(h).__name__}: pass a History (with "
                    f"{per}_losses) or a list of numbers")


def plot_mse_vs_latent(ae_mse: Mapping[int, float], pca_mse: Mapping[int, float] | None = None, *,
                       title: str | None = None, ax: Axes | None = None) -> Figure:
    """Test MSE against latent size for the autoencoders, with PCA (same number of components) as baseline.

    Args:
        ae_mse: ``{latent_size: test MSE}`` of the autoencoders.
        pca_mse: ``{n_components: test MSE}`` of PCA, or None.
    """
    if not ae_mse:
        raise ValueError("ae_mse is empty: pass {latent_size: test_mse}")
    fig, ax = _new_axes(ax, (4.8, 3.2))
    k = sorted(ae_mse)
    ax.plot(k, [ae_mse[i] for i in k], marker="o", label="autoencoder")
    sizes = set(k)
    if pca_mse:
        kp = sorted(pca_mse)
        ax.plot(kp, [pca_mse[i] for i in kp], marker="s", linestyle="--", label="PCA")
        sizes |= set(kp)
    ax.set_xscale("log")
    ticks = sorted(sizes)
    ax.set_xticks(ticks, labels=[str(t) for t in ticks])
    ax.minorticks_off()
    ax.set_xlabel("latent size (PCA: components)")
    ax.set_ylabel("test MSE")
    ax.set_ylim(bottom=0)
    ax.legend()
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title)
    return fig


def plot_model_comparison(originals: Any, reconstructions: Mapping[str, Any], *, n: int = 25,
                          title: str | None = None, ax: Axes | None = None) -> Figure:
    """The same ``n`` test digits: originals on top, then one row per model's reconstructions.

    Args:
        reconstructions: ``{row name: reconstructions}`` (e.g. ``{"latent 2": ..., "latent 50": ...}``),
            each holding at least ``n`` images in the same order as ``originals``.
    """
    a = _images(originals)
    n = min(n, len(a))
    rows, names = [a[:n]], ["original"]
    for name, rec in reconstructions.items():
        r = _images(rec)
        if len(r) < n:
            raise ValueError(f"{name!r} has {len(r)} reconstructions, need {n}: pass one per original")
        rows.append(r[:n])
        names.append(str(name))
    return _rows_figure(rows, names, ax, title, inch_per_tile=0.3)


def plot_digit_grids(grids: Mapping[str, Any], *, ncols: int = 10, tile_inch: float = 0.3) -> Figure:
    """Several digit grids side by side, one panel per entry of ``{title: images}``.

    For comparing sets of images at a glance, e.g. samples of two generators. Each panel is
    :func:`plot_digit_grid` with ``ncols`` digits per row.
    """
    if not grids:
        raise ValueError("grids is empty: pass {title: images, ...}")
    panels = [(str(name), _images(images)) for name, images in grids.items()]
    nrows = max(-(-len(x) // ncols) for _, x in panels)
    width = len(panels) * ncols * tile_inch + 0.2 * (len(panels) - 1)
    fig = plt.figure(figsize=(width, nrows * tile_inch + 0.4), dpi=100, layout="constrained")
    plt.close(fig)
    for ax, (name, x) in zip(fig.subplots(1, len(panels), squeeze=False)[0], panels):
        plot_digit_grid(x, ncols=ncols, title=name, ax=ax)
    return fig


def plot_tsne(embedding: Any, labels: Any, *, s: float = 2.0, alpha: float = 0.7, title: str | None = None,
              ax: Axes | None = None) -> Figure:
    """A 2-D t-SNE embedding coloured by digit, with a colour bar of the ten digits."""
    e, y = _array(embedding).astype(np.float32), _array(labels).astype(int).reshape(-1)
    if e.ndim != 2 or e.shape[1] != 2 or len(e) != len(y):
        raise ValueError(f"need an (N, 2) embedding and N labels, got {e.shape} and {y.shape}")
    fig, ax = _new_axes(ax, (4.2, 3.5))
    cmap = ListedColormap(DIGIT_COLORS, name="digits")
    norm = BoundaryNorm(np.arange(-0.5, 10.5, 1.0), cmap.N)
    sc = ax.scatter(e[:, 0], e[:, 1], c=y, cmap=cmap, norm=norm, s=s, alpha=alpha, linewidths=0, rasterized=True,
                    antialiased=False)  # crisp dots in few colours: a small PNG
    cb = fig.colorbar(sc, ax=ax, ticks=range(10))
    cb.set_label("digit")
    cb.solids.set_alpha(1)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("t-SNE 1")
    ax.set_ylabel("t-SNE 2")
    if title:
        ax.set_title(title)
    return fig


def plot_samples(model: nn.Module, codes: Any, *, ncols: int = 10, title: str | None = None,
                 ax: Axes | None = None) -> Figure:
    """Decode ``codes`` (``(N, latent_dim)``, e.g. sampled ones) and show them as a grid."""
    return plot_digit_grid(_decode_np(model, codes), ncols=ncols, title=title, ax=ax)


def plot_interpolation(model: nn.Module, z_a: Any, z_b: Any, *, steps: int = 10,
                       image_a: Any = None, image_b: Any = None, title: str | None = None,
                       ax: Axes | None = None) -> Figure:
    """Decoded codes on the straight line from ``z_a`` to ``z_b``, in one row.

    If ``image_a``/``image_b`` (the images the codes came from) are given, they frame the row.
    """
    from .latent import interpolate

    imgs = _decode_np(model, interpolate(z_a, z_b, steps))
    labels = [f"{t:.2f}" for t in np.linspace(0, 1, steps)]
    if image_a is not None and image_b is not None:
        imgs = np.concatenate([_images(image_a)[:1], imgs, _images(image_b)[:1]])
        labels = ["A"] + labels + ["B"]
    fig, ax = _new_axes(ax, (0.6 * len(imgs) + 0.3, 1.2))
    _show_montage(ax, digit_montage(imgs, len(imgs)))
    step = 28 + _GAP
    ax.set_xticks([i * step + 13.5 for i in range(len(imgs))], labels=labels, fontsize=7)
    ax.tick_params(axis="x", length=0)
    ax.set_xlabel("t")
    if title:
        ax.set_title(title)
    return fig


def plot_direction_sweep(model: nn.Module, mean: Any, directions: Any, stds: Any, *, n_directions: int = 5,
                         steps: int = 9, span: float = 2.0, labels: Sequence[str] | None = None,
                         title: str | None = None, ax: Axes | None = None) -> Figure:
    """Decoded codes moved along the main directions of the codes, one row per direction.

    Row ``i`` decodes ``mean + c * directions[i]`` for ``c`` from ``-span`` to ``+span`` times
    ``stds[i]`` (see :func:`ae_helpers.latent.principal_directions`). ``labels`` names the rows
    (default "direction 1", ...); unit vectors as ``directions`` move single dimensions.
    """
    m = _array(mean).astype(np.float32).reshape(-1)
    v = _array(directions).astype(np.float32)
    sd = _array(stds).astype(np.float32).reshape(-1)
    n_directions = min(n_directions, len(v))
    coeffs = np.linspace(-span, span, steps, dtype=np.float32)
    codes = np.array([m + c * sd[i] * v[i] for i in range(n_directions) for c in coeffs], dtype=np.float32)
    imgs = _decode_np(model, codes)
    rows = [imgs[i * steps:(i + 1) * steps] for i in range(n_directions)]
    names = list(labels) if labels is not None else [f"direction {i + 1}" for i in range(n_directions)]
    if len(names) < n_directions:
        raise ValueError(f"{len(names)} labels for {n_directions} rows")
    fig = _rows_figure(rows, names[:n_directions], ax, title, inch_per_tile=0.5)
    ax = fig.axes[0] if ax is None else ax
    step = 28 + _GAP
    ax.set_xticks([j * step + 13.5 for j in range(steps)], labels=[f"{c:+.1f}σ" for c in coeffs], fontsize=7)
    ax.tick_params(axis="x", length=0)
    return fig


def plot_denoising(noisy: Any, outputs: Mapping[str, Any], clean: Any, *, n: int = 10,
                   title: str | None = None, ax: Axes | None = None) -> Figure:
    """The first ``n`` noisy images on top, one row per method's output, the clean images last.

    Args:
        noisy: the corrupted inputs. clean: the images before corruption, in the same order.
        outputs: ``{row name: images}``, e.g. ``{"denoiser": ..., "PCA 50": ...}``, each holding
            at least ``n`` images in the same order.
    """
    a, c = _images(noisy), _images(clean)
    n = min(n, len(a))
    rows, names = [a[:n]], ["noisy"]
    for name, images in [*outputs.items(), ("clean", c)]:
        r = _images(images)
        if len(r) < n:
            raise ValueError(f"{name!r} has {len(r)} images, need {n}: pass one per noisy image")
        rows.append(r[:n])
        names.append(str(name))
    return _rows_figure(rows, names, ax, title, inch_per_tile=0.45)


def plot_anomaly_scores(separations: Mapping[str, ScoreSeparation], *,
                        names: tuple[str, str] = ("normal", "unusual"), bins: int = 50, title: str | None = None,
                        axes: Sequence[Axes] | None = None) -> Figure:
    """How well a score separates unusual inputs from normal ones: histograms and ROC curves.

    Left: the histograms (each scaled to area 1, log-spaced bins) of the first method's scores
    for the normal and the unusual inputs. Right: each method's ROC curve, its AUC in the
    legend, and the diagonal that guessing gives. Nothing is computed here but the histograms:
    the curves and their areas come measured.

    Args:
        separations: ``{method: score_separation(normal_scores, unusual_scores)}``
            (:func:`ae_helpers.measure.score_separation`), a higher score meaning "more
            unusual" (e.g. reconstruction errors from ``reconstruction_errors``).
        names: what the two groups are (legend of the histograms).
        axes: two axes to draw into, or None for a new figure.
    """
    if not separations:
        raise ValueError("separations is empty: pass {method: score_separation(normal_scores, unusual_scores)}")
    for method, sep in separations.items():
        if not all(hasattr(sep, field) for field in ("normal", "unusual", "fpr", "tpr", "auc")):
            raise TypeError(f"separations[{method!r}] is a {type(sep).__name__}, not a ScoreSeparation: "
                            "pass score_separation(normal_scores, unusual_scores) for each method")
    if axes is None:
        fig = plt.figure(figsize=(8.0, 3.3), dpi=100, layout="constrained")
        plt.close(fig)
        ax_hist, ax_roc = fig.subplots(1, 2)
    else:
        if len(axes) != 2:
            raise ValueError(f"axes must be two axes (histograms, ROC), got {len(axes)}")
        ax_hist, ax_roc = axes
        fig = ax_hist.figure
    first = next(iter(separations))
    normal, unusual = (_array(v).astype(np.float64).reshape(-1)
                       for v in (separations[first].normal, separations[first].unusual))
    both = np.concatenate([normal, unusual])
    if not (both > 0).all():
        raise ValueError("the histograms use log-spaced bins: scores must be positive")
    edges = np.geomspace(both.min(), both.max(), bins + 1)
    for values, name, color in ((normal, names[0], "#1f77b4"), (unusual, names[1], "#d62728")):
        ax_hist.hist(values, bins=edges, density=True, histtype="stepfilled", alpha=0.45, color=color,
                     label=f"{name} ({len(values):,})")
    ax_hist.set_xscale("log")
    ax_hist.set_xlabel(f"score: {first}")
    ax_hist.set_ylabel("density")
    ax_hist.legend(frameon=False, fontsize=8)
    for method, sep in separations.items():
        ax_roc.plot(sep.fpr, sep.tpr, label=f"{method} (AUC {sep.auc:.2f})")
    ax_roc.plot([0, 1], [0, 1], linestyle=":", color="grey", label="guessing (AUC 0.5)")
    ax_roc.set_xlabel(f"false positive rate\n(share of {names[0]} flagged)", fontsize=9)
    ax_roc.set_ylabel(f"true positive rate\n(share of {names[1]} flagged)", fontsize=9)
    ax_roc.set_xlim(0, 1)
    ax_roc.set_ylim(0, 1.01)
    ax_roc.set_aspect("equal")
    ax_roc.legend(frameon=False, fontsize=8, loc="lower right")
    if title:
        fig.suptitle(title)
    return fig


def plot_neighbours(query: Any, neighbours: Mapping[str, Any], *, labels: Mapping[str, Any] | None = None,
                    query_label: Any = None, title: str | None = None, ax: Axes | None = None) -> Figure:
    """A query image and its nearest neighbours, one row per representation.

    Each row starts with the query and continues with its neighbours, nearest first.

    Args:
        query: one image (784 pixels in any shape).
        neighbours: ``{representation: images}``, e.g. ``{"AE codes (50)": train_images[idx]}``,
            each with the same number of images.
        labels: ``{representation: labels of its neighbours}`` written in each tile's corner;
            ``query_label`` goes on the query.
    """
    q = _images(query)[:1]
    if not neighbours:
        raise ValueError("neighbours is empty: pass {representation: images}")
    found = {str(name): _images(images) for name, images in neighbours.items()}
    k = len(next(iter(found.values())))
    if any(len(x) != k for x in found.values()):
        raise ValueError(f"every representation needs the same number of neighbours, got "
                         f"{ {name: len(x) for name, x in found.items()} }")
    rows = [np.concatenate([q, x]) for x in found.values()]
    fig = _rows_figure(rows, list(found), ax, title, inch_per_tile=0.5)
    ax = fig.axes[0] if ax is None else ax
    step = 28 + _GAP
    ax.set_xticks([j * step + 13.5 for j in range(k + 1)], labels=["query", *map(str, range(1, k + 1))], fontsize=7)
    ax.tick_params(axis="x", length=0)
    if labels is not None or query_label is not None:
        tile_labels: list[Any] = []
        for name in found:
            row = list(_array(labels[name]).reshape(-1)) if labels is not None and name in labels else [""] * k
            if len(row) != k:
                raise ValueError(f"{name!r}: got {len(row)} labels for {k} neighbours")
            tile_labels += ["" if query_label is None else query_label, *row]
        _label_tiles(ax, [str(v) for v in tile_labels], k + 1)
    return fig


def plot_training_curves(histories: Any, *, batches: bool = False, logy: bool = False,
                         ylim: tuple[float | None, float | None] | None = None, title: str | None = None,
                         ax: Axes | None = None) -> Figure:
    """Training loss and test MSE of one or several models, each drawn where it was measured.

    The x axis counts epochs. A training loss averaged over an epoch (solid line, circles) is
    drawn at the middle of that epoch, since the weights changed while it was taken; a test MSE
    (dashed line, squares) at the end of its epoch, measured with the weights of that moment.
    With ``batches=True`` every batch's loss is drawn too (a thin, pale line). One colour per
    model; the legend sits to the right of the axes, where it hides no data.

    Args:
        histories: a History (anything with ``epoch_losses``, and ``batch_losses``/``test_mse``
            when drawn) or a dict ``name -> History``.
        logy: a logarithmic loss axis. ylim: ``(bottom, top)`` of the loss axis (None: automatic).
    """
    if isinstance(histories, Mapping) and not any(k in histories for k in ("epoch_losses", "batch_losses")):
        items = [(str(name), h) for name, h in histories.items()]
    else:
        items = [(None, histories)]
    if not items:
        raise ValueError("histories is empty: pass a History or {name: History}")
    fig, ax = _new_axes(ax, (6.0, 3.4))
    model_handles = []
    for i, (name, h) in enumerate(items):
        colour = f"C{i % 10}"
        means = _losses(h, "epoch")
        if batches:
            per_batch = _losses(h, "batch")
            if per_batch:
                xs = np.arange(1, len(per_batch) + 1) * max(len(means), 1) / len(per_batch)
                ax.plot(xs, per_batch, color=colour, linewidth=0.5, alpha=0.35)
        ax.plot(np.arange(1, len(means) + 1) - 0.5, means, color=colour, marker="o", markersize=3)
        test = list(getattr(h, "test_mse", None) or (h.get("test_mse", []) if isinstance(h, Mapping) else []))
        if test:
            ax.plot(np.arange(1, len(test) + 1), test, color=colour, linestyle="--", marker="s", markersize=3)
        if name is not None:
            model_handles.append(Line2D([], [], color=colour, linewidth=3, label=name))
    style = [Line2D([], [], color="0.3", marker="o", markersize=3, label="training loss,\nmean of the epoch")]
    if any(getattr(h, "test_mse", None) or (isinstance(h, Mapping) and h.get("test_mse")) for _, h in items):
        style.append(Line2D([], [], color="0.3", linestyle="--", marker="s", markersize=3,
                            label="test MSE after\nthe epoch"))
    if batches:
        style.append(Line2D([], [], color="0.3", linewidth=0.5, alpha=0.5, label="training loss\nof each batch"))
    ax.legend(handles=model_handles + style, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False,
              fontsize=8)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (MSE)")
    if logy:
        ax.set_yscale("log")
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.grid(alpha=0.3, which="both" if logy else "major")
    if title:
        ax.set_title(title)
    return fig


def plot_loss_terms(histories: Any, *, terms: Sequence[str] = ("reconstruction", "kl"), title: str | None = None,
                    logy: bool = False) -> Figure:
    """Each named term of a loss per epoch, one panel per term, for one or several models.

    ``histories`` is a History or a dict ``name -> History`` whose ``terms`` and ``test_terms``
    hold the terms (``fit`` records them for a loss made of named terms, such as a VAE's). As in
    :func:`plot_training_curves`, an epoch's mean over its batches (solid line, circles) is drawn
    at the middle of the epoch and a test value (dashed line, squares) at its end. Returns the
    figure (a new one: the panels need a figure of their own).
    """
    items = list(histories.items()) if isinstance(histories, Mapping) else [(None, histories)]
    if not items:
        raise ValueError("histories is empty: pass a History or {name: History}")
    for name, h in items:
        missing = [t for t in terms if t not in getattr(h, "terms", {})]
        if missing:
            raise ValueError(f"{name or 'the history'} records no {', '.join(missing)}: it holds terms "
                             f"{sorted(getattr(h, 'terms', {}))} (fit records the named terms of a loss that has them)")
    fig = plt.figure(figsize=(3.3 * len(terms) + 1.6, 3.0), dpi=100, layout="constrained")
    plt.close(fig)  # shown when returned, never a second time by pyplot (see _new_axes)
    axes = fig.subplots(1, len(terms), squeeze=False)
    for ax, term in zip(axes[0], terms):
        for i, (name, h) in enumerate(items):
            colour = f"C{i % 10}"
            train = h.terms[term]
            ax.plot(np.arange(1, len(train) + 1) - 0.5, train, color=colour, marker="o", markersize=3)
            test = h.test_terms.get(term, [])
            if test:
                ax.plot(np.arange(1, len(test) + 1), test, color=colour, linestyle="--", marker="s", markersize=3)
        ax.set_title(term, fontsize=10)
        ax.set_xlabel("epoch")
        if logy:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
    handles = [Line2D([], [], color=f"C{i % 10}", linewidth=3, label=name) for i, (name, _) in enumerate(items) if name]
    handles += [Line2D([], [], color="0.3", marker="o", markersize=3, label="training,\nmean of the epoch"),
                Line2D([], [], color="0.3", linestyle="--", marker="s", markersize=3, label="test images\nafter the epoch")]
    axes[0][-1].legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False, fontsize=8)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def plot_kl_per_dimension(kl: Any, *, used: Any = None, threshold: float | None = None, title: str | None = None,
                          ax: Axes | None = None) -> Figure:
    """A bar per latent dimension, largest first: its share of the KL term (nats per image, log scale).

    ``kl`` holds one value per dimension (e.g. :func:`ae_helpers.vae.kl_per_dimension`); ``used``,
    a boolean per dimension, colours the dimensions the codes use apart from the others;
    ``threshold`` draws a horizontal line at that value.
    """
    values = _array(kl).astype(np.float64).reshape(-1)
    if values.size == 0:
        raise ValueError("kl is empty: pass one value per latent dimension")
    order = np.argsort(-values, kind="stable")
    fig, ax = _new_axes(ax, (6.4, 2.8))
    floor = max(values[values > 0].min(initial=1.0) / 2, 1e-6)
    colours = ["C0"] * len(values)
    if used is not None:
        flags = _array(used).astype(bool).reshape(-1)
        if flags.shape != values.shape:
            raise ValueError(f"used has {flags.size} entries for {values.size} dimensions")
        colours = ["C0" if flags[j] else "0.7" for j in order]
        ax.legend(handles=[Line2D([], [], color="C0", linewidth=6, label="used"),
                           Line2D([], [], color="0.7", linewidth=6, label="at the prior")],
                  frameon=False, fontsize=8, loc="upper right")
    ax.bar(np.arange(len(values)), np.maximum(values[order], floor), color=colours, width=0.8)
    if threshold is not None:
        ax.axhline(threshold, color="0.3", linestyle=":", linewidth=1)
    ax.set_yscale("log")
    ax.set_xlabel("latent dimension, largest KL first")
    ax.set_ylabel("KL (nats per image)")
    ax.set_xlim(-0.7, len(values) - 0.3)
    ax.grid(alpha=0.3, axis="y", which="both")
    if title:
        ax.set_title(title)
    return fig
