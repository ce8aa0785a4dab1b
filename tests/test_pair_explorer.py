"""The side-by-side explorer (autoencoder and VAE) with its drawing pad, in headless Chromium.

The page's numbers are checked against Python: its decodes against PyTorch decodes of the
weights it embeds (at most 1 gray level), its 28 x 28 version of a drawing against
``preprocess_drawing`` of the same ink, and its two codes of that drawing against PyTorch's
encoders.
"""

from __future__ import annotations

import base64
import itertools
import json
import re

import numpy as np
import pytest
import torch

from ae_helpers.page_explorers import (
    panel_grid_codes,
    MAX_PAIR_HTML_BYTES,
    _javascript,
    encoder_layers,
    pair_explorer_html,
    preprocess_drawing,
    stored_weights_gray_error,
    with_stored_weights,
)
from ae_helpers.latent import encode_all
from ae_helpers.models import AutoEncoder
from ae_helpers.seeding import seed_everything
from ae_helpers.training import fit
from ae_helpers.vae import VAE, VAE_LR, vae_loss
from explorer_page import (
    PHONES,
    assert_self_contained,
    canvas_pixels,
    code_of,
    content_box,
    digit_grays,
    finger_drag,
    gray_levels,
    insert_like_a_notebook,
    load,
    overflow,
    phone_document,
    phone_page,
    press_keys,
    screen_rect,
    torch_grays,
)

MODELS = ("ae", "vae")


@pytest.fixture(scope="module")
def trained_vae_2d(mnist_train_small) -> VAE:
    """A 2-D VAE trained for one epoch on 4,000 real MNIST images (eval mode)."""
    seed_everything(0)
    model = VAE(latent_dim=2)
    fit(model, mnist_train_small[0], epochs=1, batch_size=256, lr=VAE_LR, seed=0, loss_fn=vae_loss, progress=False)
    return model.eval()


@pytest.fixture(scope="module")
def pair(trained_ae_2d, trained_vae_2d, mnist_test_small):
    x, y = mnist_test_small
    models = {"ae": trained_ae_2d, "vae": trained_vae_2d}
    codes = {k: encode_all(m, x) for k, m in models.items()}
    html = pair_explorer_html(trained_ae_2d, codes["ae"], trained_vae_2d, codes["vae"], y, n_points=800).data
    return models, codes, y, html


def settings(html: str) -> dict:
    """The JSON settings the output passes to explorer.js."""
    body = html.split("<script>", 1)[1]
    assert body.startswith(_javascript())
    literal = re.fullmatch(r"\((\{.*\})\);</script>", body[len(_javascript()):], re.S)
    assert literal, "the script is explorer.js called with one JSON literal"
    return json.loads(literal.group(1))


def stored(model, dtype: str):
    return with_stored_weights(model, dtype)


def load_pair(page, html: str) -> str:
    """Show a pair explorer; the id of its root (three explorers: the pair and its two panels)."""
    return load(page, html, root=".ae-pair", panels=3)


def panel_id(page, root: str, name: str) -> str:
    return page.evaluate("([id, n]) => window.aeExplorers[id].panels[n]", [root, name])


def mouse_drag(page, selector: str, points: list[tuple[float, float]]) -> None:
    """Press, move through ``points`` (fractions of the element's box) and release the mouse."""
    page.locator(selector).scroll_into_view_if_needed()
    box = page.locator(selector).bounding_box()
    xy = [(box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in points]
    page.mouse.move(*xy[0])
    page.mouse.down()
    for p in xy[1:]:
        page.mouse.move(*p, steps=4)
    page.mouse.up()


def touch_drag(page, selector: str, points: list[tuple[float, float]]) -> None:
    """The same with pointer events of pointerType 'touch', as a finger on a phone sends them."""
    page.evaluate("""([sel, pts]) => {
        const c = document.querySelector(sel), r = c.getBoundingClientRect();
        const send = (type, [fx, fy]) => c.dispatchEvent(new PointerEvent(type, {
            bubbles: true, cancelable: true, pointerId: 7, pointerType: 'touch', isPrimary: true,
            clientX: r.left + fx * r.width, clientY: r.top + fy * r.height}));
        send('pointerdown', pts[0]);
        for (const p of pts.slice(1)) send('pointermove', p);
        send('pointerup', pts[pts.length - 1]);
    }""", [selector, points])


def code_at(html: str, name: str, point: tuple[float, float]) -> list[float]:
    """The code under a point of a panel's scatter canvas (fractions of its box), from the settings."""
    cfg = settings(html)
    p, m = next(p for p in cfg["panels"] if p["name"] == name), cfg["margin"]
    size = int(re.search(r'class="ae-explorer-latent" width="(\d+)"', html).group(1))
    pw, ph = size - m["l"] - m["r"], size - m["t"] - m["b"]
    px = min(size - m["r"], max(m["l"], point[0] * size))
    py = min(size - m["b"], max(m["t"], point[1] * size))
    return [p["xr"][0] + (px - m["l"]) / pw * (p["xr"][1] - p["xr"][0]),
            p["yr"][0] + (size - m["b"] - py) / ph * (p["yr"][1] - p["yr"][0])]


def code_tolerance(html: str, name: str) -> float:
    """Two canvas pixels, in code units (the mouse lands on whole or half pixels)."""
    p = next(p for p in settings(html)["panels"] if p["name"] == name)
    return 2 * max(p["xr"][1] - p["xr"][0], p["yr"][1] - p["yr"][0]) / 250


SEVEN = [(0.2, 0.2), (0.8, 0.2), (0.55, 0.5), (0.4, 0.85)]


# ---- Python only ------------------------------------------------------------------------------

def test_html_is_self_contained_small_and_float16(pair):
    """Catches a pair explorer that fetches from the network, outgrows its budget, or loses a control."""
    models, codes, y, html = pair
    assert len(html.encode()) < MAX_PAIR_HTML_BYTES
    assert_self_contained(html)
    for cls in ("ae-pair", "ae-pair-grid", "ae-pair-draw", "ae-pair-clear", "ae-pair-input"):
        assert f'class="{cls}"' in html or f'class="{cls} ' in html, cls
    assert html.count('class="ae-explorer ae-pair-panel"') == 2
    assert html.count('class="ae-explorer-latent"') == 2 and html.count('class="ae-pair-recon"') == 2
    assert html.count('class="ae-pair-map"') == 2
    cfg = settings(html)
    assert [p["name"] for p in cfg["panels"]] == list(MODELS)
    for p in cfg["panels"]:
        assert p["decoder"]["dtype"] == p["encoder"]["dtype"] == "float16", "both models pass the 1-gray-level check"
        assert f'data-model="{p["name"]}" data-weights="float16"' in html


def test_embedded_weights_are_the_models_rounded_to_float16(pair):
    """Catches embedded weights that are not the models' (another layer order, another rounding)."""
    models, _, _, html = pair
    for p in settings(html)["panels"]:
        model = stored(models[p["name"]], "float16")
        for part, modules in (("decoder", list(model.decoder)), ("encoder", [*model.encoder, *(
                [model.mean_head] if hasattr(model, "mean_head") else [])])):
            embedded = np.frombuffer(base64.b64decode(p[part]["params"]), dtype="<f2").astype(np.float32)
            expected = np.concatenate([t.detach().numpy().reshape(-1) for m in modules if isinstance(m, torch.nn.Linear)
                                       for t in (m.weight, m.bias)])
            np.testing.assert_array_equal(embedded, expected)


def test_float16_decode_stays_within_one_gray_level(pair):
    """Catches float16 weights drawing visibly other digits than the model, and a gray-error
    measure that cannot see rounding at all (bfloat16's 8 significant bits must show)."""
    models, codes, _, _ = pair
    for name, model in models.items():
        z = codes[name].numpy()
        lo, hi = z.min(0), z.max(0)
        grid = np.stack(np.meshgrid(np.linspace(lo[0], hi[0], 41), np.linspace(lo[1], hi[1], 41)), -1).reshape(-1, 2)
        half = stored_weights_gray_error(model, grid, "float16")
        brain = stored_weights_gray_error(model, grid, "bfloat16")
        assert half <= 1 and 1 <= brain and half <= brain, (name, half, brain)


def test_ids_are_unique_and_deterministic_in_order(pair):
    """Catches two pairs sharing ids (they would steer each other) or outputs that change between runs."""
    models, codes, y, _ = pair
    args = (models["ae"], codes["ae"], models["vae"], codes["vae"], y)
    a, b = (pair_explorer_html(*args, n_points=50).data for _ in range(2))
    ida, idb = (re.search(r'<div class="ae-pair" id="([^"]+)"', h).group(1) for h in (a, b))
    assert ida != idb
    assert a.replace(ida, "ID") == b.replace(idb, "ID"), "apart from the id, the output is deterministic"
    mine = pair_explorer_html(*args, n_points=50, element_id="mine").data
    assert 'id="mine"' in mine and 'id="mine-ae"' in mine and 'id="mine-vae"' in mine


def test_bad_inputs_give_clear_errors(pair):
    """Catches codes, labels, models or weight formats the pair cannot show being accepted silently."""
    models, codes, y, _ = pair
    ae, vae = models["ae"], models["vae"]
    with pytest.raises(ValueError, match="2-D codes"):
        pair_explorer_html(ae, np.zeros((5, 3)), vae, np.zeros((5, 2)), np.zeros(5))
    with pytest.raises(ValueError, match="labels"):
        pair_explorer_html(ae, np.zeros((5, 2)), vae, np.zeros((5, 2)), np.zeros(4))
    with pytest.raises(ValueError, match="784 and 2"):
        pair_explorer_html(ae, np.zeros((5, 2)), VAE(latent_dim=3), np.zeros((5, 2)), np.zeros(5))
    with pytest.raises(ValueError, match="weights"):
        pair_explorer_html(ae, codes["ae"], vae, codes["vae"], y, weights="int8")
    with pytest.raises(ValueError, match="bytes, over"):
        pair_explorer_html(ae, codes["ae"], vae, codes["vae"], y, weights="float32")
    with pytest.raises(TypeError, match="encoder"):
        encoder_layers(torch.nn.Linear(784, 2))
    assert [k for k, _, _ in encoder_layers(vae)] == ["linear", "relu", "linear", "relu", "linear"]
    assert [k for k, _, _ in encoder_layers(AutoEncoder(latent_dim=2))] == ["linear", "relu", "linear", "relu", "linear"]


def test_preprocess_drawing_is_mnist_like(mnist_test_small):
    """Catches drawings prepared otherwise than MNIST's digits (size, centring, scale)."""
    assert (preprocess_drawing(np.zeros((50, 40))) == 0).all()
    with pytest.raises(ValueError, match="2-D"):
        preprocess_drawing(np.zeros(784))
    # A tall bar drawn in a corner: fitted into 20 rows, peak 1, centred by mass.
    ink = np.zeros((200, 200))
    ink[10:110, 150:170] = 1.0
    img = preprocess_drawing(ink)
    rows, cols = np.flatnonzero(img.any(1)), np.flatnonzero(img.any(0))
    assert rows.size == 20 and cols.size == 4 and img.max() == 1.0
    r, c = np.indices((28, 28))
    assert abs((img * r).sum() / img.sum() - 14) <= 0.5 and abs((img * c).sum() / img.sum() - 14) <= 0.5
    # An MNIST digit, drawn seven times larger, comes back as itself: the same steps made it.
    x = mnist_test_small[0][:50, 0].numpy().astype(np.float64)
    for digit in x:
        back = preprocess_drawing(np.kron(digit, np.ones((7, 7))))
        np.testing.assert_allclose(back, digit / digit.max(), atol=1e-12)


# ---- in the browser ---------------------------------------------------------------------------

def test_dragging_in_both_panels_matches_pytorch(page, pair):
    """Catches a drag that moves the other panel, lands elsewhere, or draws another digit than PyTorch."""
    models, _, _, html = pair
    root = load_pair(page, html)
    for name, (a, b) in zip(MODELS, [((0.3, 0.7), (0.7, 0.3)), ((0.7, 0.65), (0.35, 0.4))]):
        pid = panel_id(page, root, name)
        other = panel_id(page, root, "vae" if name == "ae" else "ae")
        before, other_before = code_of(page, pid), code_of(page, other)
        mouse_drag(page, f"#{pid} canvas.ae-explorer-latent", [a, b])
        after = code_of(page, pid)
        assert after != before and code_of(page, other) == other_before, "the panels' points are independent"
        np.testing.assert_allclose(after, code_at(html, name, b), atol=code_tolerance(html, name))
        shown = digit_grays(page, f"#{pid} canvas.ae-explorer-digit")
        for dtype in ("float16", "float32"):  # the embedded weights, and the model itself
            diff = np.abs(shown - torch_grays(stored(models[name], dtype), [after])[0]).max()
            assert diff <= 1, f"{name}: the page's digit differs from PyTorch's ({dtype}) by {diff} gray levels"
        assert shown.max() - shown.min() > 50, "the decoded digit is not blank"


def test_js_decoders_match_pytorch(page, pair):
    """Catches a JavaScript decoder that computes other digits than the stored weights."""
    models, codes, _, html = pair
    root = load_pair(page, html)
    for name in MODELS:
        z = codes[name].numpy()
        probe = [[float(v) for v in row] for row in np.vstack([z[:3], z.min(0), z.max(0), [0.0, 0.0]])]
        js = np.array(page.evaluate("([id, cs]) => cs.map(c => window.aeExplorers[id].decode(c))",
                                    [panel_id(page, root, name), probe]))
        with torch.no_grad():
            ref = stored(models[name], "float16").decode(torch.tensor(probe)).numpy()
        assert np.abs(js - ref).max() < 1e-5


def test_arrow_keys_move_each_point(page, pair):
    """Catches a panel that keyboard users cannot move, or keys that move the other panel's point."""
    _, _, _, html = pair
    root = load_pair(page, html)
    centres = {p["name"]: [sum(p["xr"]) / 2, sum(p["yr"]) / 2] for p in settings(html)["panels"]}
    moved = {}
    for name in MODELS:
        pid, centre = panel_id(page, root, name), centres[name]
        z = press_keys(page, pid, "ArrowRight", "ArrowUp", start=centre)
        assert z[0] > centre[0] and z[1] > centre[1]
        moved[name] = press_keys(page, pid, "Shift+ArrowLeft")
        assert moved[name][0] < centre[0]
    assert code_of(page, panel_id(page, root, "ae")) == moved["ae"], "the VAE's keys moved the autoencoder's point"


def test_arrow_keys_keep_each_point_on_its_map(page, pair):
    """Catches keys that walk a panel's point off its map, out of the reader's sight (the mouse and a
    finger stop at the map's edge), each map having its own range."""
    _, _, _, html = pair
    root = load_pair(page, html)
    for name in MODELS:
        p = next(p for p in settings(html)["panels"] if p["name"] == name)
        (x0, x1), (y0, y1) = p["xr"], p["yr"]
        pid = panel_id(page, root, name)
        assert press_keys(page, pid, *["Shift+ArrowLeft"] * 15, *["Shift+ArrowUp"] * 15) == pytest.approx([x0, y1])
        assert press_keys(page, pid, *["Shift+ArrowRight"] * 15, *["Shift+ArrowDown"] * 15) == pytest.approx([x1, y0])


def test_grid_toggle_paints_and_removes_the_decoded_grid(page, pair):
    """Catches a grid toggle that paints nothing or does not restore the scatter."""
    _, _, _, html = pair
    root = load_pair(page, html)
    sel = {n: f"#{panel_id(page, root, n)} canvas.ae-explorer-latent" for n in MODELS}
    before = {n: canvas_pixels(page, s) for n, s in sel.items()}
    page.locator(f"#{root} input.ae-pair-grid").check()
    on = {n: canvas_pixels(page, s) for n, s in sel.items()}
    for n in MODELS:
        changed = (on[n] != before[n]).any(axis=-1).mean()
        assert changed > 0.2, f"{n}: the grid changed only {changed:.1%} of the scatter's pixels"
        assert on[n][..., :3].mean() < before[n][..., :3].mean(), "decoded strokes darken the background"
    page.locator(f"#{root} input.ae-pair-grid").uncheck()
    for n in MODELS:
        assert (canvas_pixels(page, sel[n]) == before[n]).all(), "unchecking restores the plain scatter"


def test_drawing_is_encoded_by_both_models_like_python(page, pair):
    """Catches a drawing prepared or encoded otherwise in the page than in Python, or markers left after
    clearing."""
    models, _, _, html = pair
    root = load_pair(page, html)
    pad = f"#{root} canvas.ae-pair-draw"
    latent_before = {n: canvas_pixels(page, f"#{panel_id(page, root, n)} canvas.ae-explorer-latent") for n in MODELS}
    assert page.evaluate("(id) => window.aeExplorers[id].drawnImage()", root) is None
    mouse_drag(page, pad, SEVEN)
    ink = page.evaluate("(id) => window.aeExplorers[id].drawnInk()", root)
    ink = np.array(ink["data"]).reshape(ink["height"], ink["width"])
    image = np.array(page.evaluate("(id) => window.aeExplorers[id].drawnImage()", root))
    codes = page.evaluate("(id) => window.aeExplorers[id].drawnCodes()", root)
    assert json.loads(page.locator(f"#{root}").get_attribute("data-drawn-codes")) == codes
    assert ink.max() == 1.0 and 0.02 < (ink > 0).mean() < 0.5, "the stroke left ink on the pad"

    expected = preprocess_drawing(ink)
    np.testing.assert_allclose(image.reshape(28, 28), expected, atol=1e-9)
    assert expected.max() == 1.0 and (expected > 0).sum() > 30
    seen = digit_grays(page, f"#{root} canvas.ae-pair-input")
    assert np.abs(seen - gray_levels(expected)).max() == 0

    x = torch.tensor(expected.reshape(1, 784), dtype=torch.float32)
    for name in MODELS:
        model = stored(models[name], "float16")
        with torch.no_grad():
            z = model.encode(x)[0].numpy()
        np.testing.assert_allclose(codes[name], z, rtol=1e-4, atol=1e-4)
        recon = digit_grays(page, f"#{root} canvas.ae-pair-recon[data-model='{name}']")
        assert np.abs(recon - torch_grays(model, [codes[name]])[0]).max() <= 1
        latent = canvas_pixels(page, f"#{panel_id(page, root, name)} canvas.ae-explorer-latent")
        assert (latent != latent_before[name]).any(), f"{name}: no marker where the drawing landed"

    page.locator(f"#{root} button.ae-pair-clear").click()
    assert page.evaluate("(id) => window.aeExplorers[id].drawnImage()", root) is None
    assert page.locator(f"#{root}").get_attribute("data-drawn-codes") == "null"
    for name in MODELS:
        latent = canvas_pixels(page, f"#{panel_id(page, root, name)} canvas.ae-explorer-latent")
        assert (latent == latent_before[name]).all(), "clearing removes the markers"


def test_js_preprocessing_matches_python_on_awkward_drawings(page, pair):
    """Catches the page's preparation of small, wide, cornered or noisy drawings drifting from Python's."""
    root = load_pair(page, pair[3])
    rng = np.random.default_rng(0)
    inks = []
    tiny = np.zeros((60, 80))
    tiny[30:33, 40:42] = 0.7  # smaller than 20 x 20: grown, not shrunk
    wide = np.zeros((100, 100))
    wide[5:15, 0:100] = np.linspace(0.1, 1, 100)  # wider than tall, at the top edge
    corner = np.zeros((90, 90))
    corner[70:90, 75:90] = rng.random((20, 15))
    noise = rng.random((57, 43)) * (rng.random((57, 43)) > 0.8)
    inks += [tiny, wide, corner, noise]
    for ink in inks:
        js = page.evaluate("([id, d, w, h]) => window.aeExplorers[id].preprocess(d, w, h)",
                           [root, ink.ravel().tolist(), ink.shape[1], ink.shape[0]])
        np.testing.assert_allclose(np.array(js).reshape(28, 28), preprocess_drawing(ink), atol=1e-9)
    assert page.evaluate("(id) => window.aeExplorers[id].preprocess([0, 0, 0, 0], 2, 2)", root) is None


def test_touch_moves_the_point_and_draws(page, pair):
    """Catches an explorer that phones and tablets cannot use."""
    _, _, _, html = pair
    root = load_pair(page, html)
    pid = panel_id(page, root, "vae")
    before = code_of(page, pid)
    touch_drag(page, f"#{pid} canvas.ae-explorer-latent", [(0.2, 0.2), (0.5, 0.6), (0.8, 0.75)])
    after = code_of(page, pid)
    assert after != before
    np.testing.assert_allclose(after, code_at(html, "vae", (0.8, 0.75)), atol=code_tolerance(html, "vae"))
    touch_drag(page, f"#{root} canvas.ae-pair-draw", [(0.5, 0.15), (0.5, 0.5), (0.52, 0.85)])
    codes = page.evaluate("(id) => window.aeExplorers[id].drawnCodes()", root)
    assert set(codes) == set(MODELS)


def test_two_pairs_on_one_page_stay_independent(page, pair):
    """Catches pairs on one page sharing points, drawings or toggles."""
    models, codes, y, _ = pair
    args = (models["ae"], codes["ae"], models["vae"], codes["vae"], y)
    a, b = (pair_explorer_html(*args, n_points=100).data for _ in range(2))
    page.set_content(a + b)
    page.wait_for_function("() => window.aeExplorers && Object.keys(window.aeExplorers).length === 6")
    roots = page.evaluate("() => Array.from(document.querySelectorAll('.ae-pair')).map(e => e.id)")
    assert len(set(roots)) == 2
    first, second = roots
    page.evaluate("(id) => window.aeExplorers[id].setCode([0.5, -0.5])", panel_id(page, second, "ae"))
    assert code_of(page, panel_id(page, second, "ae")) == [0.5, -0.5]
    assert code_of(page, panel_id(page, first, "ae")) != [0.5, -0.5]
    mouse_drag(page, f"#{first} canvas.ae-pair-draw", SEVEN)
    assert page.evaluate("(id) => window.aeExplorers[id].drawnImage()", first) is not None
    assert page.evaluate("(id) => window.aeExplorers[id].drawnImage()", second) is None
    page.locator(f"#{second} input.ae-pair-grid").check()
    assert page.locator(f"#{first} input.ae-pair-grid").is_checked() is False


def test_runs_when_inserted_like_a_notebook_output(page, pair):
    """JupyterLab and Colab insert output HTML after the page has loaded and then run its scripts."""
    insert_like_a_notebook(page, pair[3], panels=3)
    root = page.locator(".ae-pair").get_attribute("id")
    assert page.locator(f"#{root} .ae-explorer-fallback").count() == 0, "the no-JavaScript note is removed"
    assert len(page.evaluate("(id) => window.aeExplorers[id].decode([0, 0])", panel_id(page, root, "vae"))) == 784


def test_panel_grid_codes_are_the_tile_centres_the_page_decodes(pair):
    """Catches a Python grid that is not the one the page paints (the playground chapter scores those
    tiles with the judge): the centres of the panel's grid x grid tiling of its view, top row first."""
    models, codes, y, html = pair
    for p in settings(html)["panels"]:
        grid = panel_grid_codes(codes[p["name"]], grid=p["grid"])
        n, (x0, x1), (y0, y1) = p["grid"], p["xr"], p["yr"]
        assert grid.shape == (n * n, 2)
        np.testing.assert_allclose(grid[0], [x0 + 0.5 / n * (x1 - x0), y1 - 0.5 / n * (y1 - y0)], rtol=1e-5)
        np.testing.assert_allclose(grid[n + 1], [x0 + 1.5 / n * (x1 - x0), y1 - 1.5 / n * (y1 - y0)], rtol=1e-5)
        np.testing.assert_allclose(grid[-1], [x0 + (n - 0.5) / n * (x1 - x0), y0 + 0.5 / n * (y1 - y0)], rtol=1e-5)
    with pytest.raises(ValueError, match="shape"):
        panel_grid_codes(np.zeros((5, 3)))


# ---- on a phone and on a wide screen ----------------------------------------------------------

_RINGS_JS = """(root) => [...document.getElementById(root).querySelectorAll('canvas')]
    .filter(c => !c.classList.contains('ae-pair-draw'))
    .map(c => {
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data, r = c.getBoundingClientRect();
        let red = 0;
        for (let i = 0; i < d.length; i += 4) if (d[i] > 150 && d[i + 1] < 40 && d[i + 2] < 40 && d[i + 3] > 200) red++;
        const owner = c.closest('[data-model]');
        return {cls: c.className, model: owner ? owner.dataset.model : null, red,
                box: {left: r.left, top: r.top, right: r.right, bottom: r.bottom}};
    })"""


def ring_red(px: np.ndarray) -> np.ndarray:
    """Where a canvas shows the red of a drawing's ring (the scatter's points are paler)."""
    return (px[..., 0] > 150) & (px[..., 1] < 40) & (px[..., 2] < 40) & (px[..., 3] > 200)


def on_screen(box: dict, screen: dict) -> bool:
    """Whether a box (client coordinates) lies inside :func:`screen_rect`'s rectangle."""
    return all(box[k] >= screen[k] for k in ("left", "top")) and all(box[k] <= screen[k] for k in ("right", "bottom"))


def test_wide_screen_keeps_the_big_panels(page, pair):
    """Catches a layout for phones that shrinks the two panels or stacks them where there is room."""
    root = load_pair(page, pair[3])
    a, b = (content_box(page, f"#{panel_id(page, root, n)} canvas.ae-explorer-latent") for n in MODELS)
    assert a["width"] == a["height"] == a["pixels"] == b["width"] == b["pixels"] == 300
    assert b["x"] > a["x"] + a["width"] and b["y"] == a["y"], "side by side"
    assert overflow(page, f"#{root}") == []


@pytest.mark.parametrize("width, height", PHONES, ids=[f"{w}px" for w, _ in PHONES])
def test_fits_a_phone(browser, pair, width, height):
    """Catches a playground wider than the book's column on a phone (the page scrolling sideways, a
    scatter sticking out of its box)."""
    with phone_page(browser, width, height) as page:
        root = load_pair(page, phone_document(pair[3]))
        assert overflow(page, f"#{root}") == []
        for name in MODELS:
            box = content_box(page, f"#{panel_id(page, root, name)} canvas.ae-explorer-latent")
            assert abs(box["width"] - box["height"]) < 0.5 and box["width"] >= 0.8 * (width - 44)


def test_small_maps_show_where_each_encoder_puts_the_drawing(page, pair):
    """Catches a map beside a reconstruction that shows no ring, the ring elsewhere than the drawing's
    code in that model's view, the other model's ring, or a ring left after clearing."""
    _, _, _, html = pair
    root = load_pair(page, html)
    maps = {n: f"#{root} canvas.ae-pair-map[data-model='{n}']" for n in MODELS}
    empty = {n: canvas_pixels(page, s) for n, s in maps.items()}
    assert not any(ring_red(px).any() for px in empty.values()), "no ring before anything is drawn"
    mouse_drag(page, f"#{root} canvas.ae-pair-draw", SEVEN)
    codes = page.evaluate("(id) => window.aeExplorers[id].drawnCodes()", root)
    for p in settings(html)["panels"]:
        px = canvas_pixels(page, maps[p["name"]])
        ys, xs = np.nonzero(ring_red(px))
        assert xs.size > 20, f"{p['name']}: no ring on its map"
        (x0, x1), (y0, y1), z = p["xr"], p["yr"], codes[p["name"]]
        assert x0 < z[0] < x1 and y0 < z[1] < y1, "the drawing lands inside the view (else the ring is clipped)"
        h, w = px.shape[:2]
        expected = ((z[0] - x0) / (x1 - x0) * w, (y1 - z[1]) / (y1 - y0) * h)
        centre = (xs.mean() + 0.5, ys.mean() + 0.5)
        assert np.hypot(centre[0] - expected[0], centre[1] - expected[1]) < 0.03 * w, (p["name"], centre, expected)
        latent = canvas_pixels(page, f"#{p['id']} canvas.ae-explorer-latent")
        assert ring_red(latent).any(), "the big scatter keeps its ring too"
    page.locator(f"#{root} button.ae-pair-clear").click()
    for n, s in maps.items():
        assert (canvas_pixels(page, s) == empty[n]).all(), f"{n}: clearing removes the ring from its map"


@pytest.mark.parametrize("width, height", PHONES, ids=[f"{w}px" for w, _ in PHONES])
def test_drawing_with_a_finger_keeps_both_rings_in_sight(browser, pair, width, height):
    """Catches a playground where, on a phone, a reader drawing on the pad cannot see where one of the
    encoders puts the drawing without scrolling away from the pad."""
    with phone_page(browser, width, height) as page:
        root = load_pair(page, phone_document(pair[3]))
        pad = f"#{root} canvas.ae-pair-draw"

        def draw() -> None:
            box = content_box(page, pad)
            finger_drag(page, [(box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in SEVEN])
            assert set(page.evaluate("(id) => window.aeExplorers[id].drawnCodes()", root) or ()) == set(MODELS)

        assert all(c["red"] == 0 for c in page.evaluate(_RINGS_JS, root)), "no ring before anything is drawn"
        page.evaluate("(sel) => document.querySelector(sel).scrollIntoView({block: 'center'})", pad)
        draw()
        # One ring of each model's: the choice that spans the least height with the pad; then the
        # screen those and the pad fit on together.
        pad_box = page.evaluate("(sel) => document.querySelector(sel).getBoundingClientRect().toJSON()", pad)
        shown = page.evaluate(_RINGS_JS, root)
        rings = {name: [c for c in shown if c["model"] == name and c["red"] > 0] for name in MODELS}
        assert all(rings.values()), f"no ring shows where these encoders put the drawing: {[n for n in MODELS if not rings[n]]}"

        def span(choice: tuple) -> tuple[float, float]:
            boxes = [pad_box] + [c["box"] for c in choice]
            return min(b["top"] for b in boxes), max(b["bottom"] for b in boxes)

        keep = min(itertools.product(*rings.values()), key=lambda choice: span(choice)[1] - span(choice)[0])
        top, bottom = span(keep)
        screen = screen_rect(page)
        tall = screen["bottom"] - screen["top"]
        assert bottom - top <= tall, (f"the pad and the rings nearest it ({[c['cls'] for c in keep]}) span "
                                      f"{bottom - top:.0f} px, more than the {tall:.0f}-px screen")
        page.evaluate("(dy) => window.scrollBy(0, dy)", (top + bottom) / 2 - (screen["top"] + screen["bottom"]) / 2)
        # Draw again there, with the finger, and look: the pad and both rings on screen at once.
        page.evaluate("(id) => window.aeExplorers[id].clear()", root)
        assert all(c["red"] == 0 for c in page.evaluate(_RINGS_JS, root)), "clearing removes the rings"
        draw()
        shown = page.evaluate(_RINGS_JS, root)
        screen = screen_rect(page)
        assert on_screen(page.evaluate("(sel) => document.querySelector(sel).getBoundingClientRect().toJSON()", pad),
                         screen)
        for name, old in zip(MODELS, keep):
            (now,) = [c for c in shown if c["model"] == name and c["cls"] == old["cls"]]
            assert now["red"] > 0 and on_screen(now["box"], screen), (name, now, screen)
