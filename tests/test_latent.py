"""Latent-space tools: batched encoding, the PCA baseline, t-SNE, sampling, interpolation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ae_helpers import latent as L
from ae_helpers.measure import reconstruct_all


def test_encode_all_matches_direct_call_and_restores_mode(trained_ae_2d, mnist_test_small):
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


def test_encode_all_runs_in_eval_mode_without_grad(mnist_test_small):
    seen = {}

    class Spy(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(784, 3)

        def encode(self, x):
            seen["training"] = self.training
            seen["grad"] = torch.is_grad_enabled()
            return self.lin(x.reshape(len(x), -1))

    spy = Spy().train()
    L.encode_all(spy, mnist_test_small[0][:10])
    assert seen == {"training": False, "grad": False}
    assert spy.training


def test_decode_and_reconstruct_all(trained_ae_2d, mnist_test_small):
    x = mnist_test_small[0][:50]
    rec = reconstruct_all(trained_ae_2d, x, batch_size=16)
    assert rec.shape == (50, 1, 28, 28)
    with torch.no_grad():
        torch.testing.assert_close(rec, trained_ae_2d(x))
    assert L.decode_all(trained_ae_2d, [0.5, -0.5]).shape == (1, 1, 28, 28)
    with pytest.raises(ValueError, match="batch_size"):
        L.encode_all(trained_ae_2d, x, batch_size=0)


def test_pca_matches_sklearn_and_mse_falls_with_k(mnist_train_small, mnist_test_small):
    from sklearn.decomposition import PCA

    xtr = mnist_train_small[0][:2000].reshape(-1, 784)
    xte = mnist_test_small[0].reshape(-1, 784)
    basis = L.fit_pca(xtr, 20)
    sk = PCA(20, svd_solver="full").fit(xtr.numpy().astype(np.float64))
    rec_sk = sk.inverse_transform(sk.transform(xte.numpy().astype(np.float64)))
    rec = basis.reconstruct(xte, 20).reshape(-1, 784).numpy()
    assert np.abs(rec - rec_sk).max() < 1e-4
    np.testing.assert_allclose(basis.explained_variance.numpy(), sk.explained_variance_, rtol=1e-6)
    mse = L.pca_test_mse(xtr, xte, [2, 5, 20])
    assert list(mse) == [2, 5, 20]
    assert mse[2] > mse[5] > mse[20] > 0
    assert mse[20] == pytest.approx(float(((rec_sk - xte.numpy()) ** 2).mean()), rel=1e-5)
    with pytest.raises(ValueError, match="k must be between"):
        basis.reconstruct(xte, 21)


@pytest.mark.parametrize("n", [600, 3000])  # the two gradient methods (Barnes-Hut below 3,000, FFT above)
def test_tsne_is_deterministic_and_keeps_digits_together(mnist_test_small, mnist_train_small, n):
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
    with pytest.raises(ValueError, match="at most"):
        L.tsne_embedding(np.zeros((L.TSNE_MAX_POINTS + 1, 2)))


def test_populated_range_and_principal_directions():
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
