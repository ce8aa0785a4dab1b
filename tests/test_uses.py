"""ae_helpers.uses: noise, inputs that are no digit, and neighbours.

Everything runs on real MNIST slices (tests/conftest.py); the scikit-learn wrappers are
checked against direct computations.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ae_helpers.latent import encode_all
from ae_helpers.uses import (
    add_noise,
    knn_accuracy,
    mixed_noise,
    nearest_neighbours,
    unusual_inputs,
)


# --------------------------------------------------------------------------- noise


def test_gaussian_noise_has_the_asked_spread_stays_an_image_and_is_seeded(digits):
    """Catches noise of another spread, images pushed out of [0, 1], or noise that moves the global
    generator."""
    state = torch.get_rng_state()
    noisy = add_noise(digits, "gaussian", 0.05, seed=3)
    assert torch.equal(torch.get_rng_state(), state), "the global random state must not move"
    assert noisy.shape == digits.shape and noisy.dtype == torch.float32
    assert noisy.min() >= 0 and noisy.max() <= 1
    middle = (digits > 0.2) & (digits < 0.8)  # pixels the clipping cannot reach at this level (4 sigma)
    assert middle.sum() > 5000
    assert float((noisy - digits)[middle].std()) == pytest.approx(0.05, rel=0.05)
    assert abs(float((noisy - digits)[middle].mean())) < 0.005
    assert torch.equal(add_noise(digits, "gaussian", 0.05, seed=3), noisy)
    assert not torch.equal(add_noise(digits, "gaussian", 0.05, seed=4), noisy)
    assert torch.equal(add_noise(digits, "gaussian", 0.0), digits)


def test_mask_blanks_the_asked_share_of_pixels_and_nothing_else(digits):
    """Catches masking that blanks another share of pixels or changes the kept ones."""
    masked = add_noise(digits, "mask", 0.3, seed=1)
    ink = digits > 0
    blanked = ink & (masked == 0)
    assert float(blanked.sum() / ink.sum()) == pytest.approx(0.3, abs=0.01)
    kept = masked != 0
    assert torch.equal(masked[kept], digits[kept]), "a pixel is either kept unchanged or blanked"
    assert torch.equal(add_noise(digits, "mask", 0.0), digits)
    assert add_noise(digits, "mask", 1.0).abs().sum() == 0


def test_noise_arguments_are_checked(digits):
    """Catches unknown noise kinds or impossible levels accepted."""
    with pytest.raises(ValueError, match="unknown noise kind"):
        add_noise(digits, "salt", 0.1)
    with pytest.raises(ValueError, match="between 0 and 1"):
        add_noise(digits, "mask", 1.5)
    with pytest.raises(ValueError, match=">= 0"):
        add_noise(digits, "gaussian", -0.1)
    with pytest.raises(TypeError):
        add_noise(digits.numpy(), "mask", 0.1)


def test_mixed_noise_gives_each_kind_an_equal_share(digits):
    """Catches a mix where one kind of noise dominates, or that is not seeded."""
    noisy = mixed_noise(digits, [("gaussian", 0.5), ("mask", 0.5)], seed=0)
    flat, clean = noisy.reshape(len(noisy), -1), digits.reshape(len(digits), -1)
    # Gaussian noise lights up the empty background; masking only ever removes ink.
    lit_background = ((flat > 0) & (clean == 0)).any(1)
    only_removed = ((flat == clean) | (flat == 0)).all(1)
    assert int(lit_background.sum()) == 250 and int(only_removed.sum()) == 250
    assert torch.equal(lit_background, ~only_removed)
    assert torch.equal(mixed_noise(digits, [("gaussian", 0.5), ("mask", 0.5)], seed=0), noisy)
    with pytest.raises(ValueError, match="empty"):
        mixed_noise(digits, [])


def test_unusual_inputs(digits):
    """Catches unusual inputs turned the wrong way, not inverted, or not uniform noise."""
    assert torch.equal(unusual_inputs(digits, "inverted"), 1 - digits)
    quarter = unusual_inputs(digits, "rotated90")
    assert torch.equal(unusual_inputs(quarter, "rotated90"), unusual_inputs(digits, "rotated180"))
    assert torch.equal(quarter[0, 0, :, 0], digits[0, 0, 0, :].flip(0)), "anticlockwise: the top row becomes the left column"
    assert not torch.equal(quarter, digits)
    noise = unusual_inputs(digits, "noise", seed=1)
    assert noise.shape == digits.shape and 0 <= noise.min() and noise.max() <= 1
    assert float(noise.mean()) == pytest.approx(0.5, abs=0.01)
    with pytest.raises(ValueError, match="unknown kind"):
        unusual_inputs(digits, "sideways")
    with pytest.raises(ValueError, match=r"\(N, 1, 28, 28\)"):
        unusual_inputs(digits.reshape(500, -1), "inverted")


# --------------------------------------------------------------------------- neighbours


def test_nearest_neighbours_match_a_direct_search(mnist_train_small, mnist_test_small):
    """Catches neighbours other than the nearest by Euclidean distance, or the wrong k."""
    ref, queries = mnist_train_small[0][:2000], mnist_test_small[0][:50]
    distances, indices = nearest_neighbours(ref, queries, k=4)
    assert distances.shape == indices.shape == (50, 4)
    direct = torch.cdist(queries.reshape(50, -1).double(), ref.reshape(2000, -1).double())
    best = direct.topk(4, largest=False)
    np.testing.assert_array_equal(indices, best.indices.numpy())
    np.testing.assert_allclose(distances, best.values.numpy(), rtol=1e-4)
    d_self, i_self = nearest_neighbours(ref, ref[:10], k=1)
    np.testing.assert_array_equal(i_self[:, 0], np.arange(10))
    np.testing.assert_allclose(d_self, 0, atol=1e-3)
    with pytest.raises(ValueError, match="k must be"):
        nearest_neighbours(ref[:3], queries, k=4)
    with pytest.raises(ValueError, match="values"):
        nearest_neighbours(ref, queries[:, :, :5], k=1)


def test_knn_accuracy_is_the_share_of_right_votes(mnist_train_small, mnist_test_small):
    """Catches a k-NN accuracy that does not count right votes, or accepts mismatched inputs."""
    (xtr, ytr), (xte, yte) = mnist_train_small, mnist_test_small
    accuracy = knn_accuracy(xtr, ytr, xte, yte, k=1)
    nearest = torch.cdist(xte.reshape(len(xte), -1), xtr.reshape(len(xtr), -1)).argmin(1)
    assert accuracy == pytest.approx(float((ytr[nearest] == yte).double().mean()), abs=1e-12)
    assert accuracy > 0.85, "1-NN on 4,000 raw MNIST digits classifies about nine in ten test digits"
    assert knn_accuracy(xtr[:300], ytr[:300], xtr[:300], ytr[:300], k=1) == 1.0
    shuffled = ytr[torch.randperm(len(ytr), generator=torch.Generator().manual_seed(0))]
    assert knn_accuracy(xtr, shuffled, xte, yte, k=5) < 0.2, "labels that carry no information give ~10%"
    with pytest.raises(ValueError, match="one label per item"):
        knn_accuracy(xtr, ytr[:10], xte, yte)
    with pytest.raises(ValueError, match="values"):
        knn_accuracy(xtr, ytr, xte[:, :, :3], yte)


def test_knn_on_codes_of_a_trained_model(trained_ae_2d, mnist_train_small, mnist_test_small):
    """Catches codes whose neighbours carry no digit information at all, or more than the pixels."""
    (xtr, ytr), (xte, yte) = mnist_train_small, mnist_test_small
    accuracy = knn_accuracy(encode_all(trained_ae_2d, xtr), ytr, encode_all(trained_ae_2d, xte), yte, k=5)
    # this model had one epoch on 4,000 images (26% here): twice chance, far below all 784 pixels
    assert 0.2 < accuracy < knn_accuracy(xtr, ytr, xte, yte, k=5) - 0.3
