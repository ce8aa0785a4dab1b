"""Shared test fixtures: small slices of real MNIST, small trained autoencoders, the book's
recipes on a small MNIST, a headless browser.

Keep fixtures general (other test files use them too); helpers the explorer tests share live
in explorer_page.py, those of the rendered book's test in book_site.py. Session-scoped
fixtures are computed once per test run. Models trained through the cache go to the run's own
cache (AE_CACHE_DIR, set by the conftest.py at the root) or to a test's ``tmp_path``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Callable, Iterator

import matplotlib
import pytest
import torch

matplotlib.use("Agg")

from ae_helpers.data import load_mnist  # noqa: E402
from ae_helpers.models import AutoEncoder  # noqa: E402
from ae_helpers.seeding import seed_everything  # noqa: E402
from ae_helpers.training import History, fit  # noqa: E402

# tools/browsers.py, the one place a Chromium or Chrome is looked for (the Makefile runs it too)
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
import browsers  # noqa: E402


@pytest.fixture(scope="session")
def mnist_train_small() -> tuple[torch.Tensor, torch.Tensor]:
    """The first 4,000 real MNIST training images ``(4000, 1, 28, 28)`` in [0, 1] and their labels."""
    x, y = load_mnist("train")
    return x[:4000].clone(), y[:4000].clone()


@pytest.fixture(scope="session")
def mnist_test_small() -> tuple[torch.Tensor, torch.Tensor]:
    """The first 1,000 real MNIST test images and their labels."""
    x, y = load_mnist("test")
    return x[:1000].clone(), y[:1000].clone()


@pytest.fixture
def digits(mnist_test_small) -> torch.Tensor:
    """500 real test digits ``(500, 1, 28, 28)``."""
    return mnist_test_small[0][:500]


@pytest.fixture
def small_mnist(monkeypatch, mnist_train_small, mnist_test_small):
    """The book's recipes (ae_helpers.recipes) train on ``mnist_train_small`` and test on
    ``mnist_test_small`` instead of all of MNIST: the same path through the cache, in seconds."""
    from ae_helpers import recipes

    monkeypatch.setattr(recipes, "mnist_tensors", lambda: (*mnist_train_small, *mnist_test_small))
    return mnist_train_small, mnist_test_small


def _train_small(images: torch.Tensor, latent_dim: int, *, epochs: int = 1, seed: int = 0):
    """An AutoEncoder trained briefly with the book's recipe through ``fit``; returns (model, History)."""
    seed_everything(seed)
    model = AutoEncoder(latent_dim=latent_dim)
    history = fit(model, images, epochs=epochs, batch_size=256, lr=0.005, seed=seed, progress=False)
    model.eval()
    return model, history


@pytest.fixture(scope="session")
def train_small_autoencoder(mnist_train_small) -> Callable[..., AutoEncoder]:
    """Factory ``f(latent_dim=2, epochs=1, seed=0) -> AutoEncoder`` trained on ``mnist_train_small``.

    Results are cached for the session; ``f.histories()[(latent_dim, epochs, seed)]`` is each
    run's History. Do not modify the returned model's weights.
    """
    cache: dict[tuple[int, int, int], tuple[AutoEncoder, History]] = {}

    def make(latent_dim: int = 2, epochs: int = 1, seed: int = 0) -> AutoEncoder:
        key = (latent_dim, epochs, seed)
        if key not in cache:
            cache[key] = _train_small(mnist_train_small[0], latent_dim, epochs=epochs, seed=seed)
        return cache[key][0]

    def histories() -> dict[tuple[int, int, int], History]:
        return {k: v[1] for k, v in cache.items()}

    make.histories = histories  # type: ignore[attr-defined]
    return make


@pytest.fixture(scope="session")
def trained_ae_2d(train_small_autoencoder) -> AutoEncoder:
    """A 2-D AutoEncoder trained for one epoch on 4,000 real MNIST images (eval mode)."""
    return train_small_autoencoder(2)


@pytest.fixture(scope="session")
def trained_ae_2d_history(train_small_autoencoder, trained_ae_2d) -> History:
    """The History of ``trained_ae_2d``'s training run."""
    return train_small_autoencoder.histories()[(2, 1, 0)]


@pytest.fixture(scope="module")  # module: one sync Playwright per thread at a time (test_book_browser.py starts its own)
def browser() -> Iterator[object]:
    """A headless Chromium or Chrome (found by tools/browsers.py) driven by Playwright.

    Without a browser the test is skipped with one line naming the fix; under CI (CI=true) it fails.
    """
    executable = browsers.require_browser()
    if browsers.on_ci():
        from playwright import sync_api
    else:
        sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed: pip install playwright")
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(executable), args=browsers.LAUNCH_ARGS)
        try:
            yield b
        finally:
            b.close()


def pytest_terminal_summary(terminalreporter) -> None:
    """Say once, at the end, why the browser tests were skipped (not once per test)."""
    reasons = {str(r.longrepr[-1]).removeprefix("Skipped: ") for r in terminalreporter.stats.get("skipped", [])
               if isinstance(r.longrepr, tuple)}
    for why in sorted(reasons):
        if why == browsers.BROWSER_MISSING or why.startswith("AE_BROWSER="):
            terminalreporter.write_line(f"browser tests skipped: {why}", yellow=True)


@pytest.fixture
def page(browser) -> Iterator[object]:
    """A fresh browser page (closed after the test); browser console errors fail the test."""
    context = browser.new_context(viewport={"width": 900, "height": 700})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    yield pg
    context.close()
    assert not errors, f"JavaScript errors in the page: {errors}"
