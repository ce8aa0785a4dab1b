"""The kernel-free explorer: self-contained HTML, and its JavaScript decoder in headless Chromium."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from ae_helpers.page_explorers import MAX_HTML_BYTES, decoder_layers, latent_explorer_html
from ae_helpers.latent import encode_all
from ae_helpers.models import AutoEncoder
from explorer_page import (
    PHONES,
    assert_self_contained,
    code_of,
    code_under,
    content_box,
    digit_grays,
    explorer_settings,
    finger_drag,
    insert_like_a_notebook,
    load,
    overflow,
    phone_document,
    phone_page,
    press_keys,
    torch_grays,
)

CODES = [[0.0, 0.0], [1.5, -2.0], [-3.0, 4.0], [12.0, -7.5], [-0.25, 0.125]]


@pytest.fixture(scope="module")
def explorer(trained_ae_2d, mnist_test_small):
    x, y = mnist_test_small
    z = encode_all(trained_ae_2d, x)
    return trained_ae_2d, z, y, latent_explorer_html(trained_ae_2d, z, y, n_points=1000)


def test_html_is_self_contained_and_small(explorer):
    """Catches an explorer that fetches anything from the network or outgrows its size budget."""
    model, z, y, out = explorer
    html = out.data
    assert hasattr(out, "_repr_html_")
    assert len(html.encode()) < MAX_HTML_BYTES
    assert_self_contained(html)
    assert 'class="ae-explorer"' in html and 'class="ae-explorer-latent"' in html
    assert re.search(r'class="ae-explorer-digit" data-scale="\d+"', html)


def test_ids_are_unique_and_deterministic_in_order(trained_ae_2d, mnist_test_small, explorer):
    """Catches two explorers sharing an id (they would steer each other) or outputs that change between
    runs."""
    x, y = mnist_test_small
    z = explorer[1]
    a = latent_explorer_html(trained_ae_2d, z, y, n_points=50).data
    b = latent_explorer_html(trained_ae_2d, z, y, n_points=50).data
    ida, idb = (re.search(r'<div class="ae-explorer" id="([^"]+)"', h).group(1) for h in (a, b))
    assert ida != idb
    assert a.replace(ida, "ID") == b.replace(idb, "ID"), "apart from the id, the output is deterministic"
    assert 'id="mine"' in latent_explorer_html(trained_ae_2d, z, y, n_points=50, element_id="mine").data


def test_bad_inputs_give_clear_errors(trained_ae_2d):
    """Catches codes, models or decoders the explorer cannot show being accepted silently."""
    with pytest.raises(ValueError, match="2-D codes"):
        latent_explorer_html(trained_ae_2d, np.zeros((5, 3)), np.zeros(5))
    with pytest.raises(ValueError, match="latent_dim=2|size 2"):
        latent_explorer_html(AutoEncoder(latent_dim=3), np.zeros((5, 2)), np.zeros(5))
    with pytest.raises(TypeError, match="decoder"):
        latent_explorer_html(torch.nn.Linear(2, 784), np.zeros((5, 2)), np.zeros(5))
    kinds = [k for k, _, _ in decoder_layers(trained_ae_2d)]
    assert kinds == ["linear", "relu", "linear", "relu", "linear", "sigmoid"]


def test_js_decoder_matches_pytorch(page, explorer):
    """Catches a JavaScript decoder that computes other digits than the model."""
    model, _, _, out = explorer
    root = load(page, out.data)
    js = np.array(page.evaluate("([id, cs]) => cs.map(c => window.aeExplorers[id].decode(c))", [root, CODES]))
    with torch.no_grad():
        ref = model.decode(torch.tensor(CODES)).numpy()
    assert js.shape == (len(CODES), 784)
    assert np.abs(js - ref).max() < 1e-4
    assert np.abs(ref[0] - ref[1]).max() > 1e-2, "the codes must decode to different digits"


def test_digit_canvas_shows_the_decoded_code(page, explorer):
    """Catches a digit canvas that shows another code's digit, or draws it other than grey blocks."""
    model, z, _, out = explorer
    root = load(page, out.data)
    start = code_of(page, root)
    np.testing.assert_allclose(start, np.median(z.numpy(), axis=0), rtol=1e-6)
    page.evaluate("([id, c]) => window.aeExplorers[id].setCode(c)", [root, CODES[1]])
    assert code_of(page, root) == CODES[1]
    shown = digit_grays(page, f"#{root} canvas.ae-explorer-digit")
    assert np.abs(shown - torch_grays(model, [CODES[1]])[0]).max() <= 1


def test_dragging_moves_the_point_and_redraws(page, explorer):
    """Catches a drag that does not move the point, moves it the wrong way, or leaves the digit stale."""
    model, _, _, out = explorer
    root = load(page, out.data)
    box = page.locator(f"#{root} canvas.ae-explorer-latent").bounding_box()
    digit = f"#{root} canvas.ae-explorer-digit"
    before_code, before_px = code_of(page, root), digit_grays(page, digit)
    page.mouse.move(box["x"] + 0.3 * box["width"], box["y"] + 0.7 * box["height"])
    page.mouse.down()
    mid = code_of(page, root)
    page.mouse.move(box["x"] + 0.8 * box["width"], box["y"] + 0.2 * box["height"], steps=5)
    page.mouse.up()
    after = code_of(page, root)
    assert mid != before_code and after != mid
    assert after[0] > mid[0] and after[1] > mid[1], "right and up on the canvas is larger z1 and z2"
    after_px = digit_grays(page, digit)
    assert not np.array_equal(after_px, before_px)
    assert np.abs(after_px - torch_grays(model, [after])[0]).max() <= 1
    # Moving without the button pressed changes nothing.
    page.mouse.move(box["x"] + 0.5 * box["width"], box["y"] + 0.5 * box["height"])
    assert code_of(page, root) == after


def test_two_explorers_on_one_page_stay_independent(page, trained_ae_2d, explorer):
    """Catches explorers on one page sharing their state."""
    _, z, y, _ = explorer
    a = latent_explorer_html(trained_ae_2d, z, y, n_points=100).data
    b = latent_explorer_html(trained_ae_2d, z, y, n_points=100).data
    page.set_content(a + b)
    page.wait_for_function("() => window.aeExplorers && Object.keys(window.aeExplorers).length === 2")
    ids = page.evaluate("() => Array.from(document.querySelectorAll('.ae-explorer')).map(e => e.id)")
    assert len(set(ids)) == 2
    page.evaluate("([id, c]) => window.aeExplorers[id].setCode(c)", [ids[1], CODES[2]])
    assert code_of(page, ids[1]) == CODES[2]
    assert code_of(page, ids[0]) != CODES[2]


def test_runs_when_inserted_like_a_notebook_output(page, explorer):
    """JupyterLab and Colab insert output HTML after the page has loaded and then run its scripts."""
    _, _, _, out = explorer
    insert_like_a_notebook(page, out.data, panels=1)
    root = page.locator(".ae-explorer").get_attribute("id")
    assert page.locator(f"#{root} .ae-explorer-fallback").count() == 0, "the no-JavaScript note is removed"
    assert len(page.evaluate("(id) => window.aeExplorers[id].decode([0, 0])", root)) == 784


def test_arrow_keys_move_the_point(page, explorer):
    """Catches a point that keyboard users cannot move, or that moves the wrong way."""
    _, _, _, out = explorer
    root = load(page, out.data)
    (panel,) = explorer_settings(out.data)[0]["panels"]
    centre = [sum(panel["xr"]) / 2, sum(panel["yr"]) / 2]
    z = press_keys(page, root, "ArrowRight", "ArrowUp", start=centre)
    assert z[0] > centre[0] and z[1] > centre[1]
    assert press_keys(page, root, "ArrowLeft")[0] == pytest.approx(centre[0], abs=1e-9)


def test_arrow_keys_stop_at_the_edge_of_the_map(page, explorer):
    """Catches keys that walk the point off its map, out of the reader's sight (the mouse and a finger
    stop at the map's edge)."""
    _, _, _, out = explorer
    root = load(page, out.data)
    (panel,) = explorer_settings(out.data)[0]["panels"]
    (x0, x1), (y0, y1) = panel["xr"], panel["yr"]
    # Shift moves a tenth of the map: 15 presses cross it from anywhere on it.
    assert press_keys(page, root, *["Shift+ArrowRight"] * 15, *["Shift+ArrowUp"] * 15) == pytest.approx([x1, y1])
    assert press_keys(page, root, *["ArrowRight", "ArrowUp"] * 3) == pytest.approx([x1, y1])
    assert press_keys(page, root, *["Shift+ArrowLeft"] * 15, *["Shift+ArrowDown"] * 15) == pytest.approx([x0, y0])
    z = press_keys(page, root, "ArrowRight")
    assert z[0] == pytest.approx(x0 + 0.02 * (x1 - x0)) and z[1] == pytest.approx(y0), "it moves away from an edge"


def test_wide_screen_shows_the_canvases_at_their_own_size(page, explorer):
    """Catches a layout for phones that shrinks the explorer where there is room for all of it."""
    root = load(page, explorer[3].data)
    scatter = content_box(page, f"#{root} canvas.ae-explorer-latent")
    digit = content_box(page, f"#{root} canvas.ae-explorer-digit")
    assert (scatter["width"], scatter["height"]) == (360, 360) == (scatter["pixels"],) * 2
    assert (digit["width"], digit["height"]) == (168, 168) == (digit["pixels"],) * 2
    assert digit["x"] >= scatter["x"] + scatter["width"] and digit["y"] < scatter["y"] + scatter["height"]
    assert overflow(page, f"#{root}") == []


@pytest.mark.parametrize("width, height", PHONES, ids=[f"{w}px" for w, _ in PHONES])
def test_fits_a_phone_with_the_digit_on_the_right(browser, explorer, width, height):
    """Catches an explorer wider than the book's column on a phone (the page scrolling sideways, the
    scatter sticking out of its box), and a digit wrapped below the scatter where the text says it is
    on the right."""
    with phone_page(browser, width, height) as page:
        root = load(page, phone_document(explorer[3].data))
        assert overflow(page, f"#{root}") == []
        scatter = content_box(page, f"#{root} canvas.ae-explorer-latent")
        digit = content_box(page, f"#{root} canvas.ae-explorer-digit")
        assert scatter["width"] < scatter["pixels"], "the scatter is shown smaller than it is drawn"
        assert scatter["width"] >= 0.5 * width, f"a scatter {scatter['width']:.0f} px wide is too small to drag on"
        assert abs(scatter["width"] - scatter["height"]) < 0.5, "the scatter keeps its square shape"
        assert digit["x"] >= scatter["x"] + scatter["width"], "the digit is on the scatter's right"
        assert digit["y"] < scatter["y"] + scatter["height"] / 2, "... beside it, not below"
        assert digit["width"] >= 28 * 3 - 2 and abs(digit["width"] - digit["height"]) < 0.5


@pytest.mark.parametrize("width, height", PHONES, ids=[f"{w}px" for w, _ in PHONES])
def test_a_finger_on_the_scaled_scatter_moves_the_point_under_it(browser, explorer, width, height):
    """Catches touch coordinates that follow the scatter's drawing size instead of the size a phone
    shows it at (the point landing away from the finger), and a drag that scrolls the page."""
    model, _, _, out = explorer
    with phone_page(browser, width, height) as page:
        root = load(page, phone_document(out.data))
        sel = f"#{root} canvas.ae-explorer-latent"
        page.locator(sel).scroll_into_view_if_needed()
        box = content_box(page, sel)
        assert box["width"] < box["pixels"], "the scatter is shown scaled down"
        scroll = page.evaluate("() => [window.scrollX, window.scrollY]")
        at = [(box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in ((0.3, 0.7), (0.75, 0.25))]
        before = code_of(page, root)
        finger_drag(page, at)
        after = code_of(page, root)
        assert after != before
        # One CSS pixel, in code units: the finger's position may be rounded to whole pixels.
        cfg = next(c for c in explorer_settings(out.data) if c["id"] == root)
        p, m, n = cfg["panels"][0], cfg["margin"], box["pixels"]
        tol = n / box["width"] * max((p["xr"][1] - p["xr"][0]) / (n - m["l"] - m["r"]),
                                     (p["yr"][1] - p["yr"][0]) / (n - m["t"] - m["b"]))
        np.testing.assert_allclose(after, code_under(out.data, root, box, *at[-1]), atol=tol)
        assert page.evaluate("() => [window.scrollX, window.scrollY]") == scroll, "the drag scrolled the page"
        shown = digit_grays(page, f"#{root} canvas.ae-explorer-digit")
        assert np.abs(shown - torch_grays(model, [after])[0]).max() <= 1
