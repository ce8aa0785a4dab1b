"""Latent-space tools: batched encoding, the PCA baseline, t-SNE, sampling, interpolation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ae_helpers import latent as L


def test_encode_all_matches_direct_call_and_restores_mode(trained_ae_2d, mnist_test_small):
    """Catches codes that differ from the encoder's (batching, numpy input) or a model left in eval mode."""
    x, _ = mnist_test_small
    model = trained_ae_2d
    model.train()
    try:
        z = L.encode_all(model, x[:300], batch_size=64)
        assert model.training, "encode_all must restore training mode"
    finally:
        model.eval()
    assert z.shape == (300, 2) and z.dtype == torch.float32 and not z.requires_grad
    with torch.no_grad():
        direct = model.encode(x[:300])
    torch.testing.assert_close(z, direct, rtol=1e-5, atol=1e-6)
    assert not model.training
    assert torch.equal(L.encode_all(model, x[:300].numpy(), batch_size=64), z), "numpy input must give the same codes"


def test_decode_all_matches_the_decoder_and_accepts_one_code(trained_ae_2d):
    """Catches decoded images in another shape than images, or a single code refused."""
    codes = torch.tensor([[0.5, -0.5], [2.0, 1.0], [-1.0, 0.0]])
    images = L.decode_all(trained_ae_2d, codes, batch_size=2)
    assert images.shape == (3, 1, 28, 28)
    with torch.no_grad():
        torch.testing.assert_close(images.reshape(3, -1), trained_ae_2d.decode(codes))
    torch.testing.assert_close(L.decode_all(trained_ae_2d, [0.5, -0.5]), images[:1])
    with pytest.raises(ValueError, match="batch_size"):
        L.encode_all(trained_ae_2d, codes, batch_size=0)


def test_pca_matches_sklearn_and_mse_falls_with_k(mnist_train_small, mnist_test_small):
    """Catches a PCA baseline that differs from scikit-learn's, or whose error does not fall with more
    components."""
    from sklearn.decomposition import PCA

    xtr = mnist_train_small[0][:2000].reshape(-1, 784)
    xte = mnist_test_small[0].reshape(-1, 784)
    basis = L.fit_pca(xtr, 20)
    sk = PCA(20, svd_solver="full").fit(xtr.numpy().astype(np.float64))
    rec_sk = sk.inverse_transform(sk.transform(xte.numpy().astype(np.float64)))
    rec = basis.reconstruct(xte, 20).reshape(-1, 784).numpy()
    assert np.abs(rec - rec_sk).max() < 1e-4
    np.testing.assert_allclose(basis.explained_variance.numpy(), sk.explained_variance_, rtol=1e-6)
    mse = {k: basis.mse(xte, k) for k in (2, 5, 20)}
    assert mse[2] > mse[5] > mse[20] > 0
    assert mse[20] == pytest.approx(float(((rec_sk - xte.numpy()) ** 2).mean()), rel=1e-5)
    with pytest.raises(ValueError, match="k must be between"):
        basis.reconstruct(xte, 21)


@pytest.mark.parametrize("n", [600, 3000])  # the two gradient methods (Barnes-Hut below 3,000, FFT above)
def test_tsne_is_deterministic_and_keeps_digits_together(mnist_test_small, mnist_train_small, n):
    """Catches a t-SNE map that changes between runs or scatters the digits."""
    x = torch.cat([mnist_test_small[0], mnist_train_small[0]])[:n]
    x = L.fit_pca(x, 50).encode(x, 50)  # 50-D inputs, like the codes of the latent-50 model
    y = torch.cat([mnist_test_small[1], mnist_train_small[1]])[:n].numpy()
    a = L.tsne_embedding(x, seed=3)
    b = L.tsne_embedding(x, seed=3)
    assert a.shape == (n, 2) and a.dtype == np.float32
    assert np.array_equal(a, b), "same seed must give the same embedding"
    # Each point's nearest neighbour in the embedding mostly shows the same digit (chance: 10 %).
    from sklearn.neighbors import NearestNeighbors

    idx = NearestNeighbors(n_neighbors=2).fit(a).kneighbors(a, return_distance=False)[:, 1]
    assert (y[idx] == y).mean() > 0.8


def test_tsne_rejects_too_many_codes():
    """Catches a t-SNE run far too long for a chapter being started."""
    with pytest.raises(ValueError, match="at most"):
        L.tsne_embedding(np.zeros((L.TSNE_MAX_POINTS + 1, 2)))


def test_populated_range_and_principal_directions():
    """Catches ranges or main directions of the codes that miss their spread."""
    rng = np.random.default_rng(0)
    z = rng.normal(size=(5000, 3)) * np.array([5.0, 1.0, 0.1]) + np.array([1.0, 2.0, 3.0])
    r = L.populated_range(z)
    assert r.shape == (3, 2) and (r[:, 0] < r[:, 1]).all()
    assert r[0, 0] < 1.0 - 2 * 5 and r[0, 1] > 1.0 + 2 * 5  # the 1-99 % range spans about +-2.3 std
    mean, dirs, stds = L.principal_directions(z, 2)
    np.testing.assert_allclose(mean, [1, 2, 3], atol=0.2)
    assert dirs.shape == (2, 3) and stds.shape == (2,)
    assert abs(dirs[0, 0]) > 0.99 and abs(dirs[1, 1]) > 0.99
    np.testing.assert_allclose(stds, [5.0, 1.0], rtol=0.05)


def test_sampling_matches_moments_and_is_seeded():
    """Catches samplers that miss the codes' moments or correlation, or ignore their seed."""
    rng = np.random.default_rng(1)
    cov = np.array([[4.0, 1.8], [1.8, 1.0]])
    codes = torch.as_tensor(rng.multivariate_normal([1.0, -2.0], cov, size=20000), dtype=torch.float32)
    diag = L.sample_per_dimension(codes, 20000, generator=0)
    full = L.sample_full_covariance(codes, 20000, generator=0)
    assert diag.shape == full.shape == (20000, 2) and diag.dtype == full.dtype == torch.float32
    for s in (diag, full):
        np.testing.assert_allclose(s.mean(0), [1.0, -2.0], atol=0.06)
        np.testing.assert_allclose(s.std(0), [2.0, 1.0], rtol=0.03)
    assert abs(np.corrcoef(diag.T)[0, 1]) < 0.03, "per-dimension samples are uncorrelated"
    assert np.corrcoef(full.T)[0, 1] == pytest.approx(0.9, abs=0.02), "full-covariance keeps the correlation"
    assert torch.equal(diag, L.sample_per_dimension(codes, 20000, generator=torch.Generator().manual_seed(0)))
    assert torch.equal(full, L.sample_full_covariance(codes, 20000, generator=0))
    assert not torch.equal(diag, L.sample_per_dimension(codes, 20000, generator=1))


def test_interpolation():
    """Catches interpolated codes off the line between the two codes, or missing an end."""
    a, b = torch.tensor([0.0, 2.0, -1.0]), torch.tensor([1.0, 0.0, 3.0])
    path = L.interpolate(a, b, 5)
    assert path.shape == (5, 3)
    torch.testing.assert_close(path[0], a)
    torch.testing.assert_close(path[-1], b)
    torch.testing.assert_close(path[2], (a + b) / 2)
    torch.testing.assert_close(L.interpolate_codes(a, b, 0.25), 0.75 * a + 0.25 * b)
    with pytest.raises(ValueError, match="same size"):
        L.interpolate_codes(a, b[:2], 0.5)
    with pytest.raises(ValueError, match="steps"):
        L.interpolate(a, b, 1)
