"""ae_helpers.uses: noise, the cached denoiser and held-out models, anomaly scores, neighbours.

Everything runs on real MNIST slices (tests/conftest.py); the scikit-learn wrappers are
checked against direct computations, the models against what they are meant to do.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ae_helpers.latent import encode_all
from ae_helpers.measure import anomaly_auc, per_image_mse, reconstruct_all, reconstruction_errors, roc_points
from ae_helpers.uses import (
    add_noise,
    knn_accuracy,
    mixed_noise,
    nearest_neighbours,
    unusual_inputs,
)


@pytest.fixture
def digits(mnist_test_small) -> torch.Tensor:
    """500 real test digits ``(500, 1, 28, 28)``."""
    return mnist_test_small[0][:500]


# --------------------------------------------------------------------------- noise


def test_gaussian_noise_has_the_asked_spread_stays_an_image_and_is_seeded(digits):
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
    masked = add_noise(digits, "mask", 0.3, seed=1)
    ink = digits > 0
    blanked = ink & (masked == 0)
    assert float(blanked.sum() / ink.sum()) == pytest.approx(0.3, abs=0.01)
    kept = masked != 0
    assert torch.equal(masked[kept], digits[kept]), "a pixel is either kept unchanged or blanked"
    assert torch.equal(add_noise(digits, "mask", 0.0), digits)
    assert add_noise(digits, "mask", 1.0).abs().sum() == 0


def test_noise_arguments_are_checked(digits):
    with pytest.raises(ValueError, match="unknown noise kind"):
        add_noise(digits, "salt", 0.1)
    with pytest.raises(ValueError, match="between 0 and 1"):
        add_noise(digits, "mask", 1.5)
    with pytest.raises(ValueError, match=">= 0"):
        add_noise(digits, "gaussian", -0.1)
    with pytest.raises(TypeError):
        add_noise(digits.numpy(), "mask", 0.1)


def test_mixed_noise_gives_each_kind_an_equal_share(digits):
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


# --------------------------------------------------------------------------- scores


def test_per_image_mse(digits):
    other = add_noise(digits, "gaussian", 0.3)
    errors = per_image_mse(other, digits)
    assert errors.shape == (500,) and errors.dtype == np.float64
    assert errors[7] == pytest.approx(float(((other[7] - digits[7]) ** 2).mean()), rel=1e-6)
    assert errors.mean() == pytest.approx(float(torch.nn.functional.mse_loss(other, digits)), rel=1e-6)
    assert (per_image_mse(digits.reshape(500, -1), digits) == 0).all()
    with pytest.raises(ValueError, match="same number"):
        per_image_mse(digits[:3], digits[:4])
    with pytest.raises(ValueError, match="values each"):
        per_image_mse(digits[:3], digits[:3, :, :10])


def test_reconstruction_errors_of_a_model_and_of_pca(trained_ae_2d, mnist_train_small, digits):
    from ae_helpers.latent import fit_pca

    errors = reconstruction_errors(trained_ae_2d, digits)
    np.testing.assert_allclose(errors, per_image_mse(reconstruct_all(trained_ae_2d, digits), digits))
    assert errors.shape == (500,) and (errors > 0).all()
    basis = fit_pca(mnist_train_small[0], 20)
    pca2, pca20 = reconstruction_errors(basis, digits, k=2), reconstruction_errors(basis, digits, k=20)
    assert pca2.mean() == pytest.approx(basis.mse(digits, 2), rel=1e-6)
    assert pca20.mean() < pca2.mean(), "more components reconstruct better"
    with pytest.raises(ValueError, match="needs k"):
        reconstruction_errors(basis, digits)
    with pytest.raises(ValueError, match="fixed"):
        reconstruction_errors(trained_ae_2d, digits, k=2)


def _pairwise_auc(normal: np.ndarray, unusual: np.ndarray) -> float:
    """P(unusual scores higher) + P(tie) / 2, counted over every pair."""
    diff = unusual[:, None] - normal[None, :]
    return float((diff > 0).mean() + 0.5 * (diff == 0).mean())


def test_auc_and_roc_of_reconstruction_errors(trained_ae_2d, mnist_test_small):
    x, y = mnist_test_small
    errors = reconstruction_errors(trained_ae_2d, x)
    ones = (y == 1).numpy()
    normal, unusual = errors[~ones], errors[ones]
    auc = anomaly_auc(normal, unusual)
    assert auc == pytest.approx(_pairwise_auc(normal, unusual), abs=1e-12)
    assert anomaly_auc(unusual, normal) == pytest.approx(1 - auc, abs=1e-12)
    # 1s have little ink and are the easiest digits to reconstruct: as "anomalies" they score low
    assert auc < 0.5
    fpr, tpr = roc_points(normal, unusual)
    assert (fpr[0], tpr[0]) == (0, 0) and (fpr[-1], tpr[-1]) == (1, 1)
    assert (np.diff(fpr) >= 0).all() and (np.diff(tpr) >= 0).all()
    assert np.trapezoid(tpr, fpr) == pytest.approx(auc, abs=1e-12)
    inverted = unusual_inputs(x, "inverted")
    assert anomaly_auc(errors, per_image_mse(reconstruct_all(trained_ae_2d, inverted), inverted)) == 1.0
    with pytest.raises(ValueError, match="both groups"):
        anomaly_auc(normal, [])
    with pytest.raises(ValueError, match="finite"):
        anomaly_auc(normal, [np.nan])


# --------------------------------------------------------------------------- neighbours


def test_nearest_neighbours_match_a_direct_search(mnist_train_small, mnist_test_small):
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
    (xtr, ytr), (xte, yte) = mnist_train_small, mnist_test_small
    accuracy = knn_accuracy(encode_all(trained_ae_2d, xtr), ytr, encode_all(trained_ae_2d, xte), yte, k=5)
    # this model had one epoch on 4,000 images (26% here): twice chance, far below all 784 pixels
    assert 0.2 < accuracy < knn_accuracy(xtr, ytr, xte, yte, k=5) - 0.3
