"""Widget callbacks on their own, and the explorers' deterministic first picture and updates.

Runs on ipywidgets 8 (``make test``) and on Colab's ipywidgets 7.7 (``make test-ipywidgets7``).
"""

from __future__ import annotations

import base64
import io
import json

import ipywidgets as w
import numpy as np
import pytest
import torch
from ipywidgets.embed import dependency_state
from PIL import Image

from ae_helpers import widgets as W
from ae_helpers.latent import encode_all

# A keyword one ipywidgets version lacks (e.g. 8's `behavior=` or `tooltip=` on 7) is only a
# warning from traitlets, and the widget silently ignores it: make it fail here.
pytestmark = pytest.mark.filterwarnings("error:Passing unrecognized arguments:DeprecationWarning")


def png_array(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def images_in(widget) -> list[w.Image]:
    found = []
    if isinstance(widget, w.Image):
        found.append(widget)
    for child in getattr(widget, "children", ()):
        found += images_in(child)
    return found


def sliders_in(widget) -> list[w.Widget]:
    found = []
    if isinstance(widget, (w.FloatSlider, w.BoundedIntText)):
        found.append(widget)
    for child in getattr(widget, "children", ()):
        found += sliders_in(child)
    return found


def test_decode_point_matches_the_model(trained_ae_2d):
    """Catches a widget's digit decoded otherwise than by the model."""
    img = W.decode_point(trained_ae_2d, [0.5, -1.0])
    assert img.shape == (28, 28) and img.dtype == np.float32
    with torch.no_grad():
        ref = trained_ae_2d.decode(torch.tensor([[0.5, -1.0]])).reshape(28, 28).numpy()
    np.testing.assert_allclose(img, ref, atol=1e-6)
    assert not np.allclose(img, W.decode_point(trained_ae_2d, [-10.0, -10.0]), atol=1e-3)


def test_point_from_directions():
    """Catches slider values combined with the wrong directions, or too many accepted."""
    mean = np.array([1.0, 2.0, 3.0])
    dirs = np.array([[1.0, 0.0, 0.0], [0.0, 0.6, 0.8]])
    np.testing.assert_allclose(W.point_from_directions(mean, dirs, [0, 0]), mean)
    np.testing.assert_allclose(W.point_from_directions(mean, dirs, [2.0, -1.0]), [3.0, 1.4, 2.2], rtol=1e-6)
    np.testing.assert_allclose(W.point_from_directions(mean, dirs, [2.0]), [3.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="coefficients"):
        W.point_from_directions(mean, dirs, [1, 2, 3])


def test_digit_png_is_dark_on_light_blocks():
    """Catches digits drawn light on dark, blurred, or at the wrong scale."""
    img = np.zeros((28, 28), np.float32)
    img[3, 5] = 1.0
    img[0, 0] = 0.5
    arr = png_array(W.digit_png(img, scale=3))
    assert arr.shape == (84, 84, 3)
    assert (arr[9:12, 15:18] == 0).all(), "ink (1.0) is black"
    assert (arr[0:3, 0:3] == 128).all() and arr[20, 20, 0] == 255
    strip = png_array(W.strip_png([img, img, img], scale=2, gap=2))
    assert strip.shape == (56, 3 * 56 + 4, 3)


def test_scatter_canvas_marker(trained_ae_2d, mnist_test_small):
    """Catches a marker drawn away from its code, or a scatter whose PNG differs from its pixels."""
    x, y = mnist_test_small
    z = encode_all(trained_ae_2d, x).numpy()
    sc = W.render_scatter(z, y, size_px=200)
    assert sc.rgb.shape == (200, 200, 3)
    left, top, right, bottom = sc.box
    assert 0 <= left < right <= 200 and 0 <= top < bottom <= 200
    assert sc.to_pixel((sc.x_range[0], sc.y_range[0])) == (left, bottom)
    assert sc.to_pixel((sc.x_range[1], sc.y_range[1])) == (right, top)
    centre = ((sc.x_range[0] + sc.x_range[1]) / 2, (sc.y_range[0] + sc.y_range[1]) / 2)
    marked = sc.with_marker(centre)
    cx, cy = sc.to_pixel(centre)
    assert (marked[cy, cx] == 0).all() and not np.array_equal(marked, sc.rgb)
    assert np.array_equal(png_array(sc.png()), sc.rgb)


def test_explorer_2d_defaults_and_updates(trained_ae_2d, mnist_test_small):
    """Catches a first picture that changes between runs, sliders over the wrong range, or a digit not
    redrawn."""
    x, y = mnist_test_small
    z = encode_all(trained_ae_2d, x).numpy()
    box = W.explorer_2d(trained_ae_2d, z, y)
    box2 = W.explorer_2d(trained_ae_2d, z, y)
    sx, sy = sliders_in(box)
    where, digit = images_in(box)
    assert [where.value, digit.value] == [im.value for im in images_in(box2)], "same first picture every run"
    lo, hi = np.percentile(z, [0.5, 99.5], axis=0)
    assert sx.min == pytest.approx(lo[0], rel=1e-5) and sx.max == pytest.approx(hi[0], rel=1e-5)
    assert sy.min == pytest.approx(lo[1], rel=1e-5) and sy.max == pytest.approx(hi[1], rel=1e-5)
    np.testing.assert_allclose(png_array(digit.value)[::6, ::6, 0],
                               np.round(255 * (1 - W.decode_point(trained_ae_2d, (sx.value, sy.value)))), atol=1)
    before_digit, before_where = digit.value, where.value
    sx.value = sx.min
    sy.value = sy.max
    assert digit.value != before_digit and where.value != before_where
    np.testing.assert_allclose(png_array(digit.value)[::6, ::6, 0],
                               np.round(255 * (1 - W.decode_point(trained_ae_2d, (sx.min, sy.max)))), atol=1)
    with pytest.raises(ValueError, match="explorer_nd"):
        W.explorer_2d(trained_ae_2d, np.zeros((10, 3)), np.zeros(10))


def test_explorer_nd_moves_along_directions(train_small_autoencoder, mnist_test_small):
    """Catches sliders that start off the mean code or do not move the digit."""
    model = train_small_autoencoder(5)
    z = encode_all(model, mnist_test_small[0]).numpy()
    box = W.explorer_nd(model, z, n_directions=3)
    sliders = sliders_in(box)
    (digit,) = images_in(box)
    assert len(sliders) == 3 and all(s.value == 0 and s.min == -3 and s.max == 3 for s in sliders)
    np.testing.assert_allclose(png_array(digit.value)[::6, ::6, 0],
                               np.round(255 * (1 - W.decode_point(model, z.astype(np.float64).mean(0)))), atol=1)
    first = digit.value
    assert images_in(W.explorer_nd(model, z, n_directions=3))[0].value == first
    sliders[0].value = 2.5
    assert digit.value != first


def test_interpolation_explorer(trained_ae_2d, mnist_test_small):
    """Catches an interpolation explorer that shows the wrong end images or codes."""
    x, _ = mnist_test_small
    box = W.interpolation_explorer(trained_ae_2d, x[:20], index_a=0, index_b=1, t=0.0)
    ia, ib, t = sliders_in(box)
    (pic,) = images_in(box)
    arr = png_array(pic.value)
    assert arr.shape == (112, 3 * 112 + 4, 3)
    za = encode_all(trained_ae_2d, x[:1])[0]
    np.testing.assert_allclose(arr[::4, 114:226:4, 0], np.round(255 * (1 - W.decode_point(trained_ae_2d, za))), atol=1)
    np.testing.assert_array_equal(arr[::4, :112:4, 0], np.round(255 * (1 - x[0, 0].numpy())))
    start = pic.value
    t.value = 1.0
    zb = encode_all(trained_ae_2d, x[1:2])[0]
    arr = png_array(pic.value)
    assert pic.value != start
    np.testing.assert_allclose(arr[::4, 114:226:4, 0], np.round(255 * (1 - W.decode_point(trained_ae_2d, zb))), atol=1)
    ib.value = 5
    np.testing.assert_array_equal(png_array(pic.value)[::4, 228::4, 0], np.round(255 * (1 - x[5, 0].numpy())))
    assert ia.max == 19


def test_explorers_state_is_what_a_frontend_needs(trained_ae_2d, mnist_test_small):
    """The widget state a frontend receives (Jupyter, Colab, or the book's stored state): plain JSON
    plus the PNG buffers, with live sliders, for every explorer, on ipywidgets 7 and 8 alike."""
    x, y = mnist_test_small
    z = encode_all(trained_ae_2d, x).numpy()
    explorers = {"explorer_2d": W.explorer_2d(trained_ae_2d, z, y),
                 "explorer_nd": W.explorer_nd(trained_ae_2d, z),
                 "interpolation_explorer": W.interpolation_explorer(trained_ae_2d, x[:20])}
    major = int(w.__version__.split(".")[0])
    controls = {7: "1.5.0", 8: "2.0.0"}[major]
    for name, box in explorers.items():
        state = dependency_state(box, drop_defaults=False)
        json.dumps(state)  # no Python objects left: the frontend gets JSON
        models = {m["model_name"] for m in state.values()}
        assert {"ImageModel", "FloatSliderModel"} <= models, f"{name}: {sorted(models)}"
        for m in state.values():
            if m["model_module"] == "@jupyter-widgets/controls":
                assert m["model_module_version"] == controls, f"{name}: {m['model_name']} {m['model_module_version']}"
        pictures = {base64.b64decode(m["buffers"][0]["data"])
                    for m in state.values() if m["model_name"] == "ImageModel"}
        assert pictures == {im.value for im in images_in(box)}, f"{name}: the PNGs travel as binary buffers"
        sliders = [m["state"] for m in state.values() if m["model_name"] == "FloatSliderModel"]
        assert all(st["continuous_update"] and st["min"] <= st["value"] <= st["max"] for st in sliders), name
