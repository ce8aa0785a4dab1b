"""Plot helpers: each returns a Figure with the expected axes and artists, honours ax=, never shows."""

from __future__ import annotations

import io
from types import SimpleNamespace

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.collections import PathCollection
from matplotlib.image import AxesImage

from ae_helpers import plotting as P
from ae_helpers.latent import encode_all, principal_directions
from ae_helpers.measure import ScoreSeparation, reconstruct_all, score_separation


@pytest.fixture(autouse=True)
def no_show(monkeypatch):
    """Fail any test whose helper calls plt.show(); check rcParams stay untouched."""
    def boom(*args, **kwargs):
        raise AssertionError("plotting helpers must not call plt.show()")

    monkeypatch.setattr(plt, "show", boom)
    before = dict(matplotlib.rcParams)
    yield
    after = dict(matplotlib.rcParams)
    assert {k for k in before if before[k] != after.get(k)} == set(), "a helper changed rcParams"
    plt.close("all")


def png_size(fig) -> int:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.tell()


def only_image(ax) -> np.ndarray:
    images = [a for a in ax.get_children() if isinstance(a, AxesImage)]
    assert len(images) == 1
    assert images[0].get_cmap().name == "gray_r" and images[0].get_clim() == (0, 1)
    return np.asarray(images[0].get_array())


def test_digit_montage_layout():
    """Catches tiles placed in the wrong cell, or empty cells drawn as digits."""
    imgs = np.stack([np.full((28, 28), i / 10, np.float32) for i in range(7)])
    m = P.digit_montage(imgs, ncols=3, gap=2)
    assert m.shape == (3 * 30 - 2, 3 * 30 - 2)
    assert m[0, 0] == 0.0 and m[0, 30] == pytest.approx(0.1) and m[60, 0] == pytest.approx(0.6)
    assert m[60, 30] == 0.0, "empty cells stay blank"
    assert m[28, 0] == pytest.approx(P._GAP_VALUE)


def test_digit_grids_side_by_side(mnist_test_small):
    """Catches grids drawn under the wrong title or in the wrong place."""
    x, _ = mnist_test_small
    fig = P.plot_digit_grids({"first": x[:20], "second": x[20:35]}, ncols=10)
    assert [ax.get_title() for ax in fig.axes] == ["first", "second"]
    np.testing.assert_array_equal(only_image(fig.axes[1])[:28, :28], x[20, 0].numpy())
    assert only_image(fig.axes[0]).shape == (2 * 30 - 2, 10 * 30 - 2)
    with pytest.raises(ValueError, match="grids is empty"):
        P.plot_digit_grids({})


def test_digit_grid(mnist_test_small):
    """Catches digits or labels in the wrong tile, or a figure too large to store."""
    x, y = mnist_test_small
    fig = P.plot_digit_grid(x[:20], y[:20], ncols=10, title="digits")
    ax = fig.axes[0]
    assert len(fig.axes) == 1
    arr = only_image(ax)
    assert arr.shape == (2 * 30 - 2, 10 * 30 - 2)
    np.testing.assert_array_equal(arr[:28, :28], x[0, 0].numpy())
    assert [t.get_text() for t in ax.texts] == [str(int(v)) for v in y[:20]]
    assert ax.get_title() == "digits"
    assert png_size(fig) < 100_000
    with pytest.raises(ValueError, match="labels"):
        P.plot_digit_grid(x[:5], y[:4])
    with pytest.raises(ValueError, match="784 pixels"):
        P.plot_digit_grid(np.zeros((3, 10)))


def test_helpers_draw_into_the_given_axes(trained_ae_2d, mnist_test_small):
    """Catches a helper that ignores ax= and makes a figure of its own."""
    x, y = mnist_test_small
    z = encode_all(trained_ae_2d, x)
    fig, axes = plt.subplots(2, 5, figsize=(12, 5))
    calls = [
        lambda ax: P.plot_digit_grid(x[:8], y[:8], ax=ax),
        lambda ax: P.plot_reconstructions(x[:5], x[:5], ax=ax),
        lambda ax: P.plot_latent_scatter(z, y, ax=ax),
        lambda ax: P.plot_decoded_points(trained_ae_2d, [[0, 0], [1, 1]], ax=ax),
        lambda ax: P.plot_manifold(trained_ae_2d, z, n=4, ax=ax),
        lambda ax: P.plot_training_curves(SimpleNamespace(epoch_losses=[0.3, 0.2, 0.1], test_mse=[]), ax=ax),
        lambda ax: P.plot_mse_vs_latent({2: 0.04, 5: 0.03}, {2: 0.05, 5: 0.045}, ax=ax),
        lambda ax: P.plot_model_comparison(x[:4], {"a": x[:4]}, ax=ax),
        lambda ax: P.plot_samples(trained_ae_2d, torch.zeros(4, 2), ax=ax),
        lambda ax: P.plot_interpolation(trained_ae_2d, [0, 0], [1, 1], steps=3, ax=ax),
    ]
    for call, ax in zip(calls, axes.flat):
        assert call(ax) is fig
        assert ax.has_data(), f"nothing drawn on {ax}"
    assert len(fig.axes) == 10, "no helper may add axes when given one"
    tsne_fig, tsne_ax = plt.subplots()
    assert P.plot_tsne(np.zeros((10, 2)), np.arange(10), ax=tsne_ax) is tsne_fig
    sweep_fig, sweep_ax = plt.subplots()
    assert P.plot_direction_sweep(trained_ae_2d, [0, 0], np.eye(2), [1, 1], ax=sweep_ax) is sweep_fig


def test_new_figures_are_not_left_open_in_pyplot(mnist_test_small):
    """Catches figures shown twice in a notebook (once returned, once by pyplot)."""
    plt.close("all")
    fig = P.plot_digit_grid(mnist_test_small[0][:3])
    assert plt.get_fignums() == [], "a new figure must not be shown again by pyplot at the end of a cell"
    assert len(fig.axes) == 1


def test_reconstructions_two_rows(trained_ae_2d, mnist_test_small):
    """Catches originals and reconstructions drawn in swapped or mismatched rows."""
    x = mnist_test_small[0][:8]
    rec = reconstruct_all(trained_ae_2d, x)
    fig = P.plot_reconstructions(x, rec, n=6)
    ax = fig.axes[0]
    arr = only_image(ax)
    assert arr.shape == (2 * 30 - 2, 6 * 30 - 2)
    np.testing.assert_array_equal(arr[:28, :28], x[0, 0].numpy())
    np.testing.assert_allclose(arr[30:58, :28], rec[0, 0].numpy())
    assert [t.get_text() for t in ax.get_yticklabels()] == ["original", "reconstructed"]


def test_latent_scatter_is_readable_with_60000_points():
    """Catches a scatter of the whole training set that is unreadable, uncoloured or too large to store."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, 60000)
    z = rng.normal(size=(60000, 2)) * 0.4 + np.stack([np.cos(y), np.sin(y)], 1) * 4
    fig = P.plot_latent_scatter(z, y, points=[[0, 0], [4, 0]], point_names=["a", "b"], title="t")
    ax = fig.axes[0]
    main, marks = ax.collections
    assert isinstance(main, PathCollection) and len(main.get_offsets()) == 60000
    assert main.get_rasterized() and main.get_sizes()[0] <= 2 and 0 < main.get_alpha() < 1
    colours = {tuple(c) for c in np.round(main.get_facecolors()[:, :3], 4)}
    assert len(colours) == 10, "ten distinct colours"
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == [str(i) for i in range(10)]
    assert len(marks.get_offsets()) == 2 and [t.get_text() for t in ax.texts] == ["a", "b"]
    assert png_size(fig) < 100_000
    with pytest.raises(ValueError, match="2-D codes"):
        P.plot_latent_scatter(np.zeros((5, 3)), np.zeros(5))


def test_decoded_points_titles(trained_ae_2d):
    """Catches a decoded point drawn under another point's title."""
    pts = [[0.0, 0.0], [2.0, -1.0], [30.0, 30.0]]
    fig = P.plot_decoded_points(trained_ae_2d, pts, ["clear", "border", "outside"])
    ax = fig.axes[0]
    arr = only_image(ax)
    with torch.no_grad():
        dec = trained_ae_2d.decode(torch.tensor(pts)).reshape(3, 28, 28).numpy()
    np.testing.assert_allclose(arr[:, 60:88], dec[2], atol=1e-6)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["clear", "border", "outside"]
    default = P.plot_decoded_points(trained_ae_2d, pts)
    assert default.axes[0].get_xticklabels()[1].get_text() == "(2, -1)"


def test_manifold_decodes_one_grid_over_the_data_range(trained_ae_2d, mnist_test_small, monkeypatch):
    """Catches a manifold over another range than the codes', upside down, or decoded point by point."""
    x, _ = mnist_test_small
    z = encode_all(trained_ae_2d, x)
    seen = []
    original = type(trained_ae_2d).decode

    def spy(self, codes):
        seen.append(codes.detach().clone())
        return original(self, codes)

    monkeypatch.setattr(type(trained_ae_2d), "decode", spy)
    fig = P.plot_manifold(trained_ae_2d, z, n=5)
    assert len(seen) == 1 and seen[0].shape == (25, 2), "the grid is decoded in one batch"
    lo, hi = np.percentile(z.numpy(), [1, 99], axis=0)
    np.testing.assert_allclose(seen[0].min(0).values, lo, rtol=1e-5)
    np.testing.assert_allclose(seen[0].max(0).values, hi, rtol=1e-5)
    assert seen[0][0, 1] == seen[0].max(0).values[1], "top row is the largest z2"
    assert only_image(fig.axes[0]).shape == (5 * 30 - 2, 5 * 30 - 2)
    seen.clear()
    P.plot_manifold(trained_ae_2d, x_range=(-1, 1), y_range=(0, 2), n=3)
    assert seen[0][:, 0].tolist()[:3] == [-1.0, 0.0, 1.0] and seen[0][0, 1] == 2.0
    seen.clear()
    P.plot_manifold(trained_ae_2d, x_values=[-1, 1], y_values=[0, 1, 2])
    assert seen[0].shape == (6, 2)
    with pytest.raises(ValueError, match="needs codes"):
        P.plot_manifold(trained_ae_2d)


def test_mse_vs_latent():
    """Catches errors drawn against the wrong latent sizes, or the baseline mislabelled."""
    fig = P.plot_mse_vs_latent({2: 0.040, 5: 0.027, 50: 0.012}, {2: 0.056, 5: 0.045, 50: 0.012})
    ax = fig.axes[0]
    assert len(ax.lines) == 2 and ax.get_xscale() == "log"
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), [2, 5, 50])
    np.testing.assert_array_equal(ax.lines[1].get_ydata(), [0.056, 0.045, 0.012])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["autoencoder", "PCA"]
    assert len(P.plot_mse_vs_latent({2: 0.04}).axes[0].lines) == 1


def test_model_comparison_rows(mnist_test_small):
    """Catches a model's reconstructions drawn in another model's row."""
    x = mnist_test_small[0][:30]
    fig = P.plot_model_comparison(x, {"latent 2": x * 0.5, "latent 50": x * 0.9}, n=25)
    ax = fig.axes[0]
    arr = only_image(ax)
    assert arr.shape == (3 * 30 - 2, 25 * 30 - 2)
    np.testing.assert_allclose(arr[30:58, :28], 0.5 * x[0, 0].numpy())
    assert [t.get_text() for t in ax.get_yticklabels()] == ["original", "latent 2", "latent 50"]
    assert png_size(fig) < 100_000
    with pytest.raises(ValueError, match="need 25"):
        P.plot_model_comparison(x, {"short": x[:3]})


def test_tsne_scatter_has_a_colour_bar():
    """Catches a t-SNE map without its digit colour key, or too large to store."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, 10000)
    e = rng.normal(size=(10000, 2)) * 0.6 + 8 * np.stack([np.cos(y), np.sin(y)], 1)  # clusters, like a real t-SNE
    fig = P.plot_tsne(e, y)
    ax, cax = fig.axes
    sc = ax.collections[0]
    assert len(sc.get_offsets()) == 10000 and sc.get_rasterized()
    assert [int(float(t.get_text().replace("\u2212", "-"))) for t in cax.get_yticklabels()] == list(range(10))
    assert png_size(fig) < 100_000


def test_samples_interpolation_and_direction_sweep(trained_ae_2d, mnist_test_small):
    """Catches decoded samples, interpolations or sweeps drawn in the wrong order or with the wrong labels."""
    codes = torch.tensor([[0.0, 0.0], [1.0, 2.0], [-1.0, 0.5]])
    fig = P.plot_samples(trained_ae_2d, codes, ncols=2)
    arr = only_image(fig.axes[0])
    with torch.no_grad():
        dec = trained_ae_2d.decode(codes).reshape(3, 28, 28).numpy()
    np.testing.assert_allclose(arr[30:58, :28], dec[2], atol=1e-6)

    x = mnist_test_small[0]
    za, zb = encode_all(trained_ae_2d, x[:2])
    fig = P.plot_interpolation(trained_ae_2d, za, zb, steps=5, image_a=x[0], image_b=x[1])
    ax = fig.axes[0]
    arr = only_image(ax)
    assert arr.shape == (28, 7 * 30 - 2)
    np.testing.assert_array_equal(arr[:, :28], x[0, 0].numpy())
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels[0] == "A" and labels[-1] == "B" and labels[1] == "0.00" and labels[-2] == "1.00"

    z = encode_all(trained_ae_2d, x)
    mean, dirs, stds = principal_directions(z)
    fig = P.plot_direction_sweep(trained_ae_2d, mean, dirs, stds, steps=5)
    ax = fig.axes[0]
    assert only_image(ax).shape == (2 * 30 - 2, 5 * 30 - 2)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["direction 1", "direction 2"]
    assert ax.get_xticklabels()[2].get_text() == "+0.0σ"


def test_denoising_rows(mnist_test_small):
    """Catches noisy, denoised and clean images drawn in the wrong rows."""
    x = mnist_test_small[0][:12]
    noisy, denoised = x * 0.5, x * 0.9
    fig = P.plot_denoising(noisy, {"denoiser": denoised, "PCA": x * 0.7}, x, n=8)
    ax = fig.axes[0]
    arr = only_image(ax)
    assert arr.shape == (4 * 30 - 2, 8 * 30 - 2)
    np.testing.assert_allclose(arr[:28, :28], noisy[0, 0].numpy())
    np.testing.assert_allclose(arr[30:58, 30:58], denoised[1, 0].numpy())
    np.testing.assert_array_equal(arr[90:118, :28], x[0, 0].numpy())
    assert [t.get_text() for t in ax.get_yticklabels()] == ["noisy", "denoiser", "PCA", "clean"]
    with pytest.raises(ValueError, match="need 8"):
        P.plot_denoising(noisy, {"short": x[:3]}, x, n=8)
    given_fig, given_ax = plt.subplots()
    assert P.plot_denoising(noisy, {"d": denoised}, x, ax=given_ax) is given_fig and len(given_fig.axes) == 1


def test_anomaly_scores_draw_unit_area_histograms_and_the_given_curves():
    """Catches histograms not scaled to area 1 (groups of 900 and 100 would not compare), bins
    that cut off scores, and ROC curves or AUCs other than the separations passed in."""
    rng = np.random.default_rng(0)
    normal, unusual = rng.lognormal(-4, 0.3, 900), rng.lognormal(-3.3, 0.3, 100)
    fig = P.plot_anomaly_scores({"autoencoder": score_separation(normal, unusual),
                                 "PCA": score_separation(normal, unusual * 0.8)}, names=("digits", "held-out 8"))
    ax_hist, ax_roc = fig.axes
    assert ax_hist.get_xscale() == "log" and len(ax_hist.patches) == 2
    assert [t.get_text() for t in ax_hist.get_legend().get_texts()] == ["digits (900)", "held-out 8 (100)"]
    for patch in ax_hist.patches:  # each histogram has area 1 over its log-spaced bins
        x, y = patch.get_xy().T  # the step outline, in data coordinates
        assert 0.5 * abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))) == pytest.approx(1.0, rel=1e-9)
        assert x.min() == pytest.approx(min(normal.min(), unusual.min()))
        assert x.max() == pytest.approx(max(normal.max(), unusual.max()))
    sep = score_separation(normal, unusual)
    labels = [t.get_text() for t in ax_roc.get_legend().get_texts()]
    assert labels[0] == f"autoencoder (AUC {sep.auc:.2f})" and labels[-1].startswith("guessing")
    assert len(ax_roc.lines) == 3
    np.testing.assert_array_equal(ax_roc.lines[0].get_xdata(), sep.fpr)
    np.testing.assert_array_equal(ax_roc.lines[0].get_ydata(), sep.tpr)
    # the figure draws the curve and area it is given; it computes none of its own
    given = ScoreSeparation(normal, unusual, fpr=np.array([0.0, 0.5, 1.0]), tpr=np.array([0.0, 0.9, 1.0]), auc=0.7)
    ax_given = P.plot_anomaly_scores({"given": given}).axes[1]
    assert ax_given.lines[0].get_xdata().tolist() == [0.0, 0.5, 1.0]
    assert ax_given.get_legend().get_texts()[0].get_text() == "given (AUC 0.70)"
    assert png_size(fig) < 100_000
    fig2, axes = plt.subplots(1, 2)
    assert P.plot_anomaly_scores({"a": score_separation(normal, unusual)}, axes=axes) is fig2 and len(fig2.axes) == 2
    with pytest.raises(ValueError, match="positive"):
        P.plot_anomaly_scores({"a": score_separation(normal - 1, unusual)})
    with pytest.raises(TypeError, match="not a ScoreSeparation"):
        P.plot_anomaly_scores({"a": (normal, unusual)})
    with pytest.raises(ValueError, match="empty"):
        P.plot_anomaly_scores({})


def test_neighbours_one_row_per_representation(mnist_test_small):
    """Catches neighbours drawn in another representation's row, or under the wrong labels."""
    x, y = mnist_test_small
    fig = P.plot_neighbours(x[0], {"codes": x[1:6], "pixels": x[6:11]},
                            labels={"codes": y[1:6], "pixels": y[6:11]}, query_label=int(y[0]))
    ax = fig.axes[0]
    arr = only_image(ax)
    assert arr.shape == (2 * 30 - 2, 6 * 30 - 2)
    np.testing.assert_array_equal(arr[30:58, :28], x[0, 0].numpy())
    np.testing.assert_array_equal(arr[30:58, 30:58], x[6, 0].numpy())
    assert [t.get_text() for t in ax.get_yticklabels()] == ["codes", "pixels"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["query", "1", "2", "3", "4", "5"]
    assert [t.get_text() for t in ax.texts] == [str(int(v)) for v in [y[0], *y[1:6], y[0], *y[6:11]]]
    with pytest.raises(ValueError, match="same number"):
        P.plot_neighbours(x[0], {"a": x[1:6], "b": x[1:4]})
    with pytest.raises(ValueError, match="labels for 5"):
        P.plot_neighbours(x[0], {"a": x[1:6]}, labels={"a": y[:2]})
    given_fig, given_ax = plt.subplots()
    assert P.plot_neighbours(x[0], {"a": x[1:4]}, ax=given_ax) is given_fig


def test_training_curves_draw_each_number_where_it_was_measured():
    """Catches an epoch's mean loss drawn at the epoch's end (it is the mean over the epoch), a
    test MSE drawn mid-epoch, or the legend covering the curves."""
    h = SimpleNamespace(epoch_losses=[0.06, 0.045, 0.04], batch_losses=list(np.linspace(0.2, 0.04, 30)),
                        test_mse=[0.05, 0.044, 0.041])
    fig = P.plot_training_curves({"latent 2": h}, batches=True, logy=True, ylim=(0.03, 0.3), title="t")
    ax = fig.axes[0]
    batch, means, test = ax.lines
    assert len(batch.get_xdata()) == 30 and batch.get_xdata()[-1] == pytest.approx(3.0)
    np.testing.assert_array_equal(means.get_xdata(), [0.5, 1.5, 2.5])  # an epoch mean: mid-epoch
    np.testing.assert_array_equal(means.get_ydata(), h.epoch_losses)
    np.testing.assert_array_equal(test.get_xdata(), [1, 2, 3])  # a test MSE: end of its epoch
    assert test.get_linestyle() == "--" and len({batch.get_color(), means.get_color(), test.get_color()}) == 1
    assert ax.get_yscale() == "log" and ax.get_ylim() == pytest.approx((0.03, 0.3)) and ax.get_title() == "t"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0] == "latent 2" and len(labels) == 4
    fig.canvas.draw()  # the legend sits right of the axes: it covers no data
    legend_box = ax.get_legend().get_window_extent()
    assert legend_box.x0 >= ax.get_window_extent().x1


def test_training_curves_of_several_models_one_colour_each():
    """Catches one model's train and test curves drawn in different colours, or a legend entry per line."""
    hs = {f"latent {d}": SimpleNamespace(epoch_losses=[0.05 / d, 0.04 / d], test_mse=[0.045 / d, 0.039 / d])
          for d in (2, 5, 10)}
    ax = P.plot_training_curves(hs).axes[0]
    assert len(ax.lines) == 6
    assert [ax.lines[i].get_color() for i in (0, 2, 4)] == ["C0", "C1", "C2"]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[:3] == list(hs) and len(labels) == 5, "one entry per model, one per line style"
    only_train = P.plot_training_curves(SimpleNamespace(epoch_losses=[0.3, 0.2])).axes[0]
    assert len(only_train.lines) == 1 and len(only_train.get_legend().get_texts()) == 1
    with pytest.raises(ValueError, match="empty"):
        P.plot_training_curves({})


def test_scatters_are_crisp_and_small():
    """Catches scatters drawn antialiased or as vectors (blurred, and megabytes per figure)."""
    rng = np.random.default_rng(0)
    z, y = rng.normal(size=(20_000, 2)), rng.integers(0, 10, 20_000)
    for fig in (P.plot_latent_scatter(z, y), P.plot_tsne(z, y)):
        dots = [c for c in fig.axes[0].collections if isinstance(c, PathCollection)][0]
        assert not dots.get_antialiased()[0] if np.ndim(dots.get_antialiased()) else not dots.get_antialiased()
        assert dots.get_rasterized()


def test_loss_terms_one_panel_per_term_each_value_where_it_was_measured():
    """Catches terms drawn in the wrong panel, test values at mid-epoch, a history without the terms
    accepted silently, and a figure left open in pyplot (shown twice in a notebook)."""
    plt.close("all")
    h = SimpleNamespace(terms={"reconstruction": [200.0, 150.0], "kl": [5.0, 9.0]},
                        test_terms={"reconstruction": [160.0, 140.0], "kl": [6.0, 9.5]})
    fig = P.plot_loss_terms({"vae": h}, title="terms")
    assert plt.get_fignums() == []
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == ["reconstruction", "kl"]
    train, test = panels[1].get_lines()[:2]
    np.testing.assert_allclose(train.get_xydata(), [[0.5, 5.0], [1.5, 9.0]])
    np.testing.assert_allclose(test.get_xydata(), [[1.0, 6.0], [2.0, 9.5]])
    with pytest.raises(ValueError, match="records no kl"):
        P.plot_loss_terms(SimpleNamespace(terms={"reconstruction": [1.0]}, test_terms={}))


def test_kl_per_dimension_bars_largest_first_coloured_by_use():
    """Catches unsorted bars, used and unused dimensions drawn alike, and a mismatched mask accepted."""
    kl = torch.tensor([0.001, 2.0, 0.5, 0.0])
    fig = P.plot_kl_per_dimension(kl, used=kl > 0.01, threshold=0.01)
    bars = fig.axes[0].patches
    heights = [b.get_height() for b in bars]
    assert heights[:3] == pytest.approx([2.0, 0.5, 0.001]) and heights[3] > 0  # the zero drawn at a floor (log scale)
    assert fig.axes[0].get_yscale() == "log"
    assert bars[0].get_facecolor() == bars[1].get_facecolor() != bars[2].get_facecolor()
    with pytest.raises(ValueError, match="entries"):
        P.plot_kl_per_dimension(kl, used=[True, False])


def test_direction_sweep_names_its_rows(trained_ae_2d):
    """Catches row labels ignored or misaligned (the VAE chapter moves single named dimensions)."""
    fig = P.plot_direction_sweep(trained_ae_2d, torch.zeros(2), torch.eye(2), torch.ones(2), steps=3, labels=["z1", "z0"])
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["z1", "z0"]
    with pytest.raises(ValueError, match="labels"):
        P.plot_direction_sweep(trained_ae_2d, torch.zeros(2), torch.eye(2), torch.ones(2), labels=["z1"])
