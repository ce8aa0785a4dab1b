"""Tests for the variational autoencoder: model, KL term, loss, training, sampling, cache."""

from __future__ import annotations

import math
from functools import partial

import pytest
import torch

from ae_helpers.data import load_mnist
from ae_helpers.latent import encode_all
from ae_helpers.seeding import seed_everything
from ae_helpers.training import TrainingDiverged, evaluate_terms, fit
from ae_helpers.models import AutoEncoder
from ae_helpers.vae import (
    VAE,
    bce_autoencoder_terms,
    elbo_terms,
    kl_divergence,
    kl_per_dimension,
    reconstruction_nll,
    sample_vae,
    vae_loss,
    vae_loss_terms,
)


@pytest.fixture(scope="module")
def subset() -> torch.Tensor:
    """2,000 real training images."""
    return load_mnist("train")[0][:2000]


def test_shapes_and_the_code_is_the_mean():
    """Catches a VAE whose code is a random draw in eval mode, or whose output has another shape."""
    torch.manual_seed(0)
    model = VAE(latent_dim=3)
    x = torch.rand(5, 1, 28, 28)
    mu, logvar = model.encode_distribution(x)
    assert mu.shape == logvar.shape == (5, 3)
    assert torch.equal(model.encode(x), mu)
    assert torch.equal(model.encode(x.reshape(5, 784)), mu)
    model.eval()
    with torch.no_grad():
        out = model(x)
    assert out.shape == x.shape
    assert torch.equal(out, model.decode(mu).reshape(x.shape))
    with torch.no_grad():
        assert torch.equal(model.reconstruct(x), out)
    assert 0.0 <= float(out.min()) and float(out.max()) <= 1.0
    model.train()
    with torch.no_grad():
        assert not torch.equal(model(x), out), "in training mode the code must be a random draw"
    assert model.config() == {"num_features": 784, "latent_dim": 3, "hidden": [128, 64]}
    assert VAE(**model.config()).config() == model.config()


def test_backbone_matches_the_plain_autoencoder():
    """Catches a VAE with another backbone than the autoencoder it is compared with."""
    model = VAE(latent_dim=50)
    linear = [m for m in model.encoder if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linear] == [(784, 128), (128, 64)]
    assert isinstance(model.encoder[-1], torch.nn.ReLU)
    assert (model.mean_head.in_features, model.mean_head.out_features) == (64, 50)
    assert (model.logvar_head.in_features, model.logvar_head.out_features) == (64, 50)
    dec = [m for m in model.decoder if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in dec] == [(50, 64), (64, 128), (128, 784)]
    assert isinstance(model.decoder[-1], torch.nn.Sigmoid)


def test_decode_of_the_wrong_size_names_both_sizes():
    """Catches codes or images of the wrong size failing deep inside a matrix product."""
    model = VAE(latent_dim=2)
    with pytest.raises(ValueError, match=r"size 2.*\(4, 5\)"):
        model.decode(torch.zeros(4, 5))
    with pytest.raises(ValueError, match=r"size 2.*\(4, 5\)"):
        model.decode_logits(torch.zeros(4, 5))
    with pytest.raises(ValueError, match="784 values per image, got 100"):
        model.encode(torch.zeros(3, 100))


def test_kl_of_a_standard_normal_is_zero_and_positive_otherwise():
    """Catches a KL term with a wrong formula, sum or average."""
    zeros = torch.zeros(8, 4)
    assert float(kl_divergence(zeros, zeros)) == 0.0
    torch.manual_seed(1)
    for mu, logvar in [(torch.full((8, 4), 0.3), zeros), (zeros, torch.full((8, 4), -0.5)),
                       (torch.randn(8, 4), torch.randn(8, 4))]:
        assert float(kl_divergence(mu, logvar)) > 0.0
    # closed form: mu = 1, sigma = 1 gives 1/2 nat per dimension
    assert float(kl_divergence(torch.ones(8, 4), zeros)) == pytest.approx(2.0)
    # agrees with torch.distributions (summed over dimensions, averaged over the batch)
    mu, logvar = torch.randn(16, 3), torch.randn(16, 3)
    q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
    p = torch.distributions.Normal(torch.zeros(3), torch.ones(3))
    expected = torch.distributions.kl_divergence(q, p).sum(1).mean()
    assert float(kl_divergence(mu, logvar)) == pytest.approx(float(expected), rel=1e-5)
    with pytest.raises(ValueError, match="shape"):
        kl_divergence(torch.zeros(4, 2), torch.zeros(4, 3))


def _kl_monte_carlo(mu: torch.Tensor, logvar: torch.Tensor, samples: int, seed: int) -> tuple[float, float]:
    """KL(q || N(0, I)) as the mean of log q(z) - log p(z) over z ~ q, and that mean's standard error.

    Each row of ``mu``/``logvar`` is one Gaussian q; the estimate is averaged over rows, as
    ``kl_divergence`` averages over the batch. Float64, so rounding is far below the noise.
    """
    g = torch.Generator().manual_seed(seed)
    std = torch.exp(0.5 * logvar)
    eps = torch.randn(samples, *mu.shape, generator=g, dtype=torch.float64)
    z = mu + std * eps                                           # (samples, rows, d)
    log_q = torch.distributions.Normal(mu, std).log_prob(z).sum(-1)
    log_p = torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(-1)
    ratio = log_q - log_p                                        # (samples, rows)
    estimate = ratio.mean(0).mean()
    # rows are independent: the variance of the row average is the mean of the rows' variances / rows
    se = (ratio.var(0) / samples).mean().sqrt() / math.sqrt(mu.shape[0])
    return float(estimate), float(se)


def test_kl_matches_a_monte_carlo_estimate():
    """Catches a KL formula off by a constant (a missing -1), which closed forms alone might share."""
    g = torch.Generator().manual_seed(11)
    mu = torch.randn(6, 4, generator=g, dtype=torch.float64) * 1.5
    logvar = torch.randn(6, 4, generator=g, dtype=torch.float64)
    exact = float(kl_divergence(mu, logvar))
    estimate, se = _kl_monte_carlo(mu, logvar, samples=200_000, seed=5)
    assert 0 < se < 0.01 * exact, (se, exact)  # the estimate is precise enough to test anything
    assert abs(estimate - exact) < 4 * se, (estimate, exact, se)
    # and the check has teeth: a formula missing the "-1" (off by d/2 = 2 nats) is far outside
    wrong = float(0.5 * (mu.pow(2) + logvar.exp() - logvar).sum(1).mean())
    assert abs(estimate - wrong) > 100 * se
    # a prior-like q has KL near 0, and the estimate agrees there too
    near = torch.full((6, 4), 0.05, dtype=torch.float64)
    estimate0, se0 = _kl_monte_carlo(near, -near, samples=200_000, seed=6)
    assert abs(estimate0 - float(kl_divergence(near, -near))) < 4 * se0


def test_reparameterize_draws_from_the_gaussian_and_is_seeded():
    """Catches draws with another mean or spread, unseeded, or not differentiable in the mean."""
    mu, logvar = torch.full((20000, 2), 1.5), torch.full((20000, 2), math.log(0.25))
    z = VAE.reparameterize(mu, logvar, torch.Generator().manual_seed(3))
    assert torch.equal(z, VAE.reparameterize(mu, logvar, torch.Generator().manual_seed(3)))
    assert float(z.mean()) == pytest.approx(1.5, abs=0.02)
    assert float(z.std()) == pytest.approx(0.5, abs=0.02)
    mu.requires_grad_(True)
    VAE.reparameterize(mu, logvar).sum().backward()
    assert torch.equal(mu.grad, torch.ones_like(mu))


@torch.no_grad()
def test_loss_is_summed_bce_plus_beta_kl(subset):
    """Catches a loss that averages over pixels (the KL would dominate) or weights the KL wrongly."""
    torch.manual_seed(0)
    model = VAE(latent_dim=2).eval()
    xb = subset[:64].reshape(64, -1)
    mu, logvar = model.encode_distribution(xb)
    rec = model.decode(mu)
    assert torch.allclose(torch.sigmoid(model.decode_logits(mu)), rec)
    bce = torch.nn.functional.binary_cross_entropy(rec, xb, reduction="none").sum(1).mean()
    assert float(reconstruction_nll(model.decode_logits(mu), xb)) == pytest.approx(float(bce), rel=1e-5)
    kl = kl_divergence(mu, logvar)
    assert float(vae_loss(model, xb, beta=0.0)) == pytest.approx(float(bce), rel=1e-5)
    assert float(vae_loss(model, xb, None, beta=2.5)) == pytest.approx(float(bce + 2.5 * kl), rel=1e-5)
    with pytest.raises(ValueError, match="beta"):
        vae_loss(model, xb, beta=-1.0)


def test_reconstruction_nll_is_torchs_cross_entropy_with_logits_for_any_logits():
    # MNIST-like targets (mostly 0, some 1, some grey) against logits from -100 to 100: the
    # package's form max(z, 0) - x z - log sigmoid(|z|) must give torch's value and gradient
    """Catches the fast cross-entropy drifting from torch's, or overflowing for large logits."""
    g = torch.Generator().manual_seed(0)
    x = torch.rand(64, 784, generator=g)
    x[x < 0.6] = 0.0
    x[x > 0.9] = 1.0
    z = torch.randn(64, 784, generator=g) * 30
    z[0, :8] = torch.tensor([-100.0, -30.0, -1e-3, 1e-3, 0.5, 17.0, 30.0, 100.0])
    ours = z.clone().requires_grad_(True)
    torchs = z.double().requires_grad_(True)
    reconstruction_nll(ours, x).backward()
    expected = torch.nn.functional.binary_cross_entropy_with_logits(torchs, x.double(), reduction="sum") / 64
    expected.backward()
    assert torch.isfinite(ours.grad).all()
    assert float(reconstruction_nll(z, x)) == pytest.approx(float(expected.detach()), rel=1e-6)
    torch.testing.assert_close(ours.grad.double(), torchs.grad, rtol=0, atol=1e-7)


def test_training_lowers_the_loss_on_real_digits(subset):
    """Catches a VAE loss that does not train the model."""
    seed_everything(0)
    model = VAE(latent_dim=2)
    loss_fn = partial(vae_loss, beta=1.0)
    before = evaluate_terms(model, subset, loss_fn=loss_fn)["loss"]
    history = fit(model, subset, epochs=3, lr=1e-3, loss_fn=loss_fn, progress=False)
    after = evaluate_terms(model, subset, loss_fn=loss_fn)["loss"]
    assert history.epoch_losses[-1] < history.epoch_losses[0]
    assert after < 0.5 * before, (before, after)  # about 543 -> 200 nats per image
    assert not model.training


def _train_once(subset: torch.Tensor, seed: int) -> dict:
    seed_everything(seed)
    model = VAE(latent_dim=4)
    fit(model, subset[:1000], epochs=1, lr=1e-3, loss_fn=vae_loss, progress=False)
    return model.state_dict()


def test_seeded_runs_are_bit_identical(subset):
    """Catches VAE training that is not reproducible from its seed."""
    a, b, c = _train_once(subset, 7), _train_once(subset, 7), _train_once(subset, 8)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_sample_vae_is_seeded_and_in_range():
    """Catches samples that ignore their seed, leave [0, 1], or leave the model in eval mode."""
    torch.manual_seed(0)
    model = VAE(latent_dim=5).train()
    a = sample_vae(model, 30, seed=1)
    assert a.shape == (30, 1, 28, 28)
    assert torch.equal(a, sample_vae(model, 30, seed=1))
    assert not torch.equal(a, sample_vae(model, 30, seed=2))
    assert 0.0 <= float(a.min()) and float(a.max()) <= 1.0
    assert model.training, "the model's mode is restored"
    with pytest.raises(ValueError, match="n must be"):
        sample_vae(model, 0, seed=1)


def test_latent_tools_use_the_mean_code(subset):
    """Catches the latent-space tools encoding a VAE with random draws."""
    torch.manual_seed(0)
    model = VAE(latent_dim=3)
    codes = encode_all(model, subset[:50])
    with torch.no_grad():
        assert torch.allclose(codes, model.encode_distribution(subset[:50])[0])


def test_a_far_too_high_learning_rate_stops_training(subset):
    # lr 100 made the loss NaN within two epochs for each of the seeds 0-4 tried
    """Catches a diverged VAE run continuing with NaN weights."""
    seed_everything(0)
    with pytest.raises(TrainingDiverged, match=r"epoch \d, batch \d+ of 8.*lr=100"):
        fit(VAE(latent_dim=2), subset, epochs=3, lr=100.0, loss_fn=vae_loss, progress=False)


def test_elbo_terms_sample_one_code_per_image_and_add_up(subset):
    """Catches ELBO terms decoded from the mean code, unseeded, or split from their sum."""
    torch.manual_seed(0)
    model = VAE(latent_dim=3).eval()
    x = subset[:300]
    rec, kl = elbo_terms(model, x, seed=4, batch_size=128)
    assert (rec, kl) == elbo_terms(model, x, seed=4, batch_size=128)
    assert rec != elbo_terms(model, x, seed=5)[0], "the code is sampled"
    with torch.no_grad():
        mu, logvar = model.encode_distribution(x)
        assert kl == pytest.approx(float(kl_divergence(mu, logvar)), rel=1e-5)
        # the same draws as the loss takes in training mode from the same seed
        z = VAE.reparameterize(mu, logvar, torch.Generator().manual_seed(4))
        assert rec == pytest.approx(float(reconstruction_nll(model.decode_logits(z), x)), rel=1e-5)
    assert not model.training
    with pytest.raises(ValueError, match="empty"):
        elbo_terms(model, x[:0])


@torch.no_grad()
def test_the_control_loss_is_the_vaes_reconstruction_term_on_a_plain_autoencoder(subset):
    """Catches a control trained with another loss than the VAE's reconstruction term."""
    torch.manual_seed(0)
    model = AutoEncoder(latent_dim=4)
    xb = subset[:32]
    expected = torch.nn.functional.binary_cross_entropy(model(xb).reshape(32, -1), xb.reshape(32, -1),
                                                        reduction="sum") / 32
    assert float(bce_autoencoder_terms(model, xb)["loss"]) == pytest.approx(float(expected), rel=1e-5)
    # the same layers as the VAE's mean path give the same loss as the VAE with beta = 0
    vae = VAE(latent_dim=4).eval()
    model.encoder[0].load_state_dict(vae.encoder[0].state_dict())
    model.encoder[2].load_state_dict(vae.encoder[2].state_dict())
    model.encoder[4].load_state_dict(vae.mean_head.state_dict())
    model.decoder.load_state_dict(vae.decoder.state_dict())
    assert float(bce_autoencoder_terms(model, xb)["loss"]) == pytest.approx(float(vae_loss(vae, xb, beta=0.0)),
                                                                           rel=1e-6)


def test_the_loss_terms_add_up_and_name_the_mse_only_in_eval_mode(subset):
    """Catches terms that do not make up the loss, a KL weight applied twice or not at all, and an
    eval-mode MSE that is not the decoded mean's (fit takes the test MSE from it)."""
    seed_everything(0)
    model = VAE(latent_dim=3)
    x = subset[:300].reshape(300, -1)
    model.eval()
    with torch.no_grad():
        terms = vae_loss_terms(model, x, beta=2.0)
        assert set(terms) == {"loss", "reconstruction", "kl", "mse"}
        assert torch.allclose(terms["loss"], terms["reconstruction"] + 2.0 * terms["kl"])
        assert torch.equal(terms["loss"], vae_loss(model, x, beta=2.0))
        expected_mse = torch.mean((model.reconstruct(x) - x) ** 2)
        assert torch.allclose(terms["mse"], expected_mse, rtol=1e-6)
        model.train()
        assert "mse" not in vae_loss_terms(model, x)
        control = AutoEncoder(latent_dim=3).eval()
        parts = bce_autoencoder_terms(control, x)
        assert torch.allclose(parts["mse"], torch.mean((control(x) - x) ** 2), rtol=1e-6)
        assert set(parts) == {"loss", "mse"}


def test_kl_per_dimension_adds_up_to_the_kl_term(subset):
    """Catches a per-dimension split that does not add up to the KL term or averages the wrong axis."""
    seed_everything(1)
    model = VAE(latent_dim=5).eval()
    per_dimension = kl_per_dimension(model, subset[:700], batch_size=256)
    with torch.no_grad():
        mu, logvar = model.encode_distribution(subset[:700].reshape(700, -1))
    assert per_dimension.shape == (5,) and (per_dimension >= 0).all()
    assert float(per_dimension.sum()) == pytest.approx(float(kl_divergence(mu, logvar)), rel=1e-5)
    with torch.no_grad():  # a dimension pushed far from the prior carries more KL than the others
        model.mean_head.bias[2] += 5.0
    shifted = kl_per_dimension(model, subset[:700])
    assert int(shifted.argmax()) == 2 and float(shifted[2] - per_dimension[2]) == pytest.approx(12.5, rel=0.05)


def test_fit_records_each_term_and_measures_a_test_epoch_in_one_pass(subset, monkeypatch):
    """Catches terms that are not recorded per epoch, a test MSE that differs from evaluate_mse, and a
    second pass over the test images where the loss already gave the MSE."""
    import ae_helpers.training as training
    from ae_helpers.measure import evaluate_mse

    seed_everything(2)
    model = VAE(latent_dim=2)
    calls = []
    monkeypatch.setattr(training, "evaluate_mse", lambda *a, **k: calls.append(1) or evaluate_mse(*a, **k))
    history = fit(model, subset[:1000], test_images=subset[1000:1500], epochs=2, lr=1e-3,
                  loss_fn=vae_loss_terms, progress=False)
    assert calls == []                                  # the test MSE came with the loss's own pass
    assert sorted(history.terms) == ["kl", "reconstruction"] and sorted(history.test_terms) == ["kl", "reconstruction"]
    assert all(len(v) == 2 for v in [*history.terms.values(), *history.test_terms.values()])
    for e in range(2):
        assert history.epoch_losses[e] == pytest.approx(history.terms["reconstruction"][e] + history.terms["kl"][e],
                                                        rel=1e-6)
        assert history.test_losses[e] == pytest.approx(
            history.test_terms["reconstruction"][e] + history.test_terms["kl"][e], rel=1e-6)
    assert history.test_mse[-1] == pytest.approx(evaluate_mse(model, subset[1000:1500]), rel=1e-5)
    again = type(history).from_dict(history.to_dict())
    assert again.terms == history.terms and again.test_terms == history.test_terms
    broken = {**history.to_dict(), "terms": {"kl": ["a"]}}
    with pytest.raises(ValueError, match="terms"):
        type(history).from_dict(broken)
