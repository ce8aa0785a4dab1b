"""ae_helpers.measure: running a model over data, its reconstruction errors, and ROC/AUC.

On real MNIST slices and a briefly trained autoencoder (tests/conftest.py); every number is
checked against a direct computation written out here.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ae_helpers.latent import fit_pca
from ae_helpers.measure import anomaly_auc, apply_in_batches, batch_results, evaluate_mse, per_digit_mse
from ae_helpers.measure import per_image_mse, reconstruct_all, reconstruction_errors, roc_points, score_separation
from ae_helpers.uses import add_noise, unusual_inputs


def _direct_errors(model: torch.nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Each image's mean squared reconstruction error, in one plain forward pass."""
    with torch.no_grad():
        return (model(images) - images).pow(2).mean(dim=(1, 2, 3))


# --------------------------------------------------------------------------- running a model


class _Spy(torch.nn.Module):
    """Records the mode, the gradient setting and the batch sizes its ``encode`` is called with."""

    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(784, 3)
        self.calls: list[tuple[bool, bool, int]] = []

    def encode(self, x):
        self.calls.append((self.training, torch.is_grad_enabled(), len(x)))
        return self.lin(x.reshape(len(x), -1))


def test_batch_results_runs_in_eval_mode_without_grad_and_restores_the_mode(digits):
    """Catches a model measured in training mode (a VAE would sample its codes, dropout would drop)
    or with gradients recorded, and a model left in eval mode after being measured."""
    spy = _Spy().train()
    out = apply_in_batches(spy, "encode", digits[:10].reshape(10, -1), 4)
    assert spy.calls == [(False, False, 4), (False, False, 4), (False, False, 2)]
    assert spy.training, "the model's training mode is restored"
    assert out.shape == (10, 3) and not out.requires_grad
    with torch.no_grad():
        assert torch.equal(out, spy.lin(digits[:10].reshape(10, -1)))
    pairs = batch_results(spy, lambda xb, yb: (len(xb), yb.tolist()), digits[:5], targets=torch.arange(5),
                          batch_size=3)
    assert pairs == [(3, [0, 1, 2]), (2, [3, 4])], "targets are sliced like the data"
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        batch_results(spy, spy.encode, digits, batch_size=0)
    with pytest.raises(ValueError, match="nothing to encode"):
        apply_in_batches(spy, "encode", digits[:0], 4)


def test_reconstruct_all_matches_the_model_and_keeps_image_shape(trained_ae_2d, digits):
    """Catches reconstructions that differ from the model's own forward pass (batching, dtype,
    order) or come back in another shape than images."""
    rec = reconstruct_all(trained_ae_2d, digits[:50], batch_size=16)
    assert rec.shape == (50, 1, 28, 28)
    with torch.no_grad():
        torch.testing.assert_close(rec, trained_ae_2d(digits[:50]))
    assert torch.equal(reconstruct_all(trained_ae_2d, digits[:50].numpy(), batch_size=16), rec)


# --------------------------------------------------------------------------- reconstruction errors


def test_evaluate_mse_matches_a_direct_computation_and_restores_mode(trained_ae_2d, digits):
    """Catches a test MSE that mis-weights an uneven last batch, averages over the wrong axis,
    or leaves the model in eval mode."""
    model = trained_ae_2d
    direct = float(_direct_errors(model, digits).mean())
    model.train()
    try:
        got = evaluate_mse(model, digits, batch_size=64)  # uneven last batch
        assert model.training  # previous mode restored
    finally:
        model.eval()
    assert got == pytest.approx(direct, rel=1e-5)
    with pytest.raises(ValueError, match="at least one image"):
        evaluate_mse(model, digits[:0])


def test_per_digit_mse_is_each_digits_mean_error_and_nan_for_an_absent_digit(trained_ae_2d, mnist_test_small):
    """Catches per-digit errors assigned to the wrong digit, weighted wrongly, or made up (0)
    for a digit that has no image."""
    images, labels = mnist_test_small[0][:500], mnist_test_small[1][:500]
    per_digit = per_digit_mse(trained_ae_2d, images, labels, batch_size=77)
    assert per_digit.shape == (10,)
    errors = _direct_errors(trained_ae_2d, images)
    for digit in range(10):
        assert per_digit[digit] == pytest.approx(errors[labels == digit].mean().item(), rel=1e-5)
    counts = torch.bincount(labels, minlength=10).float()
    overall = (per_digit * counts).sum() / counts.sum()
    assert overall.item() == pytest.approx(evaluate_mse(trained_ae_2d, images), rel=1e-5)
    only_ones = per_digit_mse(trained_ae_2d, images[labels == 1], labels[labels == 1])
    assert not torch.isnan(only_ones[1]) and torch.isnan(only_ones[0])
    with pytest.raises(ValueError, match="500 images but 3 labels"):
        per_digit_mse(trained_ae_2d, images, labels[:3])


def test_per_image_mse_is_each_images_mean_squared_difference(digits):
    """Catches errors averaged across images instead of within each, or mismatched inputs accepted."""
    other = add_noise(digits, "gaussian", 0.3)
    errors = per_image_mse(other, digits)
    assert errors.shape == (500,) and errors.dtype == np.float64
    assert errors[7] == pytest.approx(float(((other[7] - digits[7]) ** 2).mean()), rel=1e-6)
    assert errors.mean() == pytest.approx(float(F.mse_loss(other, digits)), rel=1e-6)
    assert (per_image_mse(digits.reshape(500, -1), digits) == 0).all()
    with pytest.raises(ValueError, match="same number"):
        per_image_mse(digits[:3], digits[:4])
    with pytest.raises(ValueError, match="values each"):
        per_image_mse(digits[:3], digits[:3, :, :10])


def test_reconstruction_errors_of_a_model_and_of_pca(trained_ae_2d, mnist_train_small, digits):
    """Catches anomaly scores that are not each image's own reconstruction error, for the
    autoencoder or for the PCA baseline, and a PCA baseline used without its number of components."""
    errors = reconstruction_errors(trained_ae_2d, digits)
    np.testing.assert_allclose(errors, _direct_errors(trained_ae_2d, digits).double().numpy(), rtol=1e-5)
    assert errors.mean() == pytest.approx(evaluate_mse(trained_ae_2d, digits), rel=1e-5), \
        "float64 per image and float32 per batch agree to float32 rounding"
    basis = fit_pca(mnist_train_small[0], 20)
    pca2, pca20 = reconstruction_errors(basis, digits, k=2), reconstruction_errors(basis, digits, k=20)
    assert pca2.mean() == pytest.approx(basis.mse(digits, 2), rel=1e-6)
    assert pca20.mean() < pca2.mean(), "more components reconstruct better"
    with pytest.raises(ValueError, match="needs k"):
        reconstruction_errors(basis, digits)
    with pytest.raises(ValueError, match="fixed"):
        reconstruction_errors(trained_ae_2d, digits, k=2)
    with pytest.raises(TypeError, match="autoencoder .* or a PCA baseline"):
        reconstruction_errors(object(), digits)


# --------------------------------------------------------------------------- separating scores


def _pairwise_auc(normal: np.ndarray, unusual: np.ndarray) -> float:
    """P(unusual scores higher) + P(tie) / 2, counted over every pair."""
    diff = unusual[:, None] - normal[None, :]
    return float((diff > 0).mean() + 0.5 * (diff == 0).mean())


def test_auc_and_roc_of_reconstruction_errors(trained_ae_2d, mnist_test_small):
    """Catches an AUC with the classes swapped (higher must mean unusual), a ROC curve that does
    not run from (0, 0) to (1, 1), and scores that are accepted though empty or not finite."""
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
    assert anomaly_auc(errors, reconstruction_errors(trained_ae_2d, inverted)) == 1.0
    with pytest.raises(ValueError, match="both groups"):
        anomaly_auc(normal, [])
    with pytest.raises(ValueError, match="finite"):
        anomaly_auc(normal, [np.nan])


def test_score_separation_bundles_the_scores_with_their_curve_and_area():
    """Catches a separation whose curve or area belongs to other scores than it carries (the
    figure would show one method's histogram with another's AUC)."""
    rng = np.random.default_rng(0)
    normal, unusual = rng.lognormal(-4, 0.3, 900), rng.lognormal(-3.3, 0.3, 100)
    sep = score_separation(torch.from_numpy(normal), unusual.tolist())
    np.testing.assert_array_equal(sep.normal, normal)
    np.testing.assert_array_equal(sep.unusual, unusual)
    fpr, tpr = roc_points(normal, unusual)
    np.testing.assert_array_equal(sep.fpr, fpr)
    np.testing.assert_array_equal(sep.tpr, tpr)
    assert sep.auc == anomaly_auc(normal, unusual) and 0.9 < sep.auc < 1.0
    with pytest.raises(ValueError, match="both groups"):
        score_separation(normal, [])
