"""The variational autoencoder: the book's backbone with a mean and a log-variance head.

The model (:class:`VAE`) keeps the plain autoencoder's interface, so every latent-space tool
that calls ``.encode`` / ``.decode`` works on it unchanged: the code of an image is the mean
of its Gaussian. The loss (:func:`vae_loss`) plugs into the training engine as ``loss_fn``.

The reconstruction term is the binary cross-entropy **summed over the 784 pixels** of each
image (pixels in [0, 1] read as Bernoulli probabilities), averaged over the batch; the KL term
is summed over the latent dimensions, averaged over the batch, and weighted by ``beta``. Both
terms are then in nats per image and balance as the evidence lower bound says. With a
per-pixel *mean* reconstruction error instead, the reconstruction term would shrink 784-fold
against the KL term, and the cheapest solution would be to ignore the input and draw the
average digit.

Also here: sampling new images (:func:`sample_vae`), the ELBO's two terms on a test set
(:func:`elbo_terms`), and the loss of the control, a plain autoencoder trained with the VAE's
reconstruction term (:func:`bce_autoencoder_terms`). The trained VAE and control, with their
recipes, are :mod:`ae_helpers.recipes`' ``trained_vae`` and ``trained_bce_autoencoder``.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .latent import decode_all
from .measure import batch_results
from .models import AutoEncoder, check_codes, flatten_images, mlp

__all__ = [
    "VAE",
    "kl_divergence",
    "vae_loss",
    "vae_loss_terms",
    "kl_per_dimension",
    "reconstruction_nll",
    "sample_vae",
    "VAE_LR",
    "VAE_BETA",
    "BCE_LOSS_NAME",
    "elbo_terms",
    "bce_autoencoder_terms",
]

#: The learning rate the book uses for VAEs, chosen by measurement: with the plain
#: autoencoder's 0.005 the latent-50 VAE (10 epochs, seed 42) ended with a worse test loss
#: and test MSE (see ``trained_vae``); its gradients are noisier, as each step samples codes.
VAE_LR = 1e-3
#: The default weight of the KL term (1.0 is the standard VAE).
VAE_BETA = 1.0
#: How the cache configurations name the reconstruction term: binary cross-entropy from the
#: logits, summed over pixels, in :func:`reconstruction_nll`'s form (which gives other last bits
#: than ``F.binary_cross_entropy_with_logits``, so models trained with that have another key).
BCE_LOSS_NAME = "bce-logits-sum:relu-log-sigmoid-abs"


class VAE(nn.Module):
    """A fully connected variational autoencoder with the book's backbone.

    Encoder ``num_features -> 128 -> ReLU -> 64 -> ReLU``, then two linear heads giving the
    mean and the log-variance of a diagonal Gaussian over the ``latent_dim`` code; the decoder
    is the plain autoencoder's (``latent -> 64 -> ReLU -> 128 -> ReLU -> num_features ->
    Sigmoid``).

    ``model(x)`` is a reconstruction with the same shape as ``x``: decoded from a random draw
    of the code (the reparameterisation trick) in training mode, and from the mean in eval
    mode, so evaluation is deterministic and ``model(x)`` can be compared with a plain
    autoencoder's output. The draw uses torch's global generator, so ``seed_everything``
    makes training bit-reproducible on CPU.

    Args:
        num_features: pixels per image (784 for 28 x 28).
        latent_dim: size of the code.
        hidden: sizes of the hidden layers of the encoder; the decoder uses them reversed.
    """

    def __init__(self, num_features: int = 784, latent_dim: int = 2, hidden: Sequence[int] = (128, 64)):
        super().__init__()
        hidden = tuple(int(h) for h in hidden)
        if latent_dim < 1 or num_features < 1 or not hidden or any(h < 1 for h in hidden):
            raise ValueError(f"sizes must be positive (and at least one hidden layer): num_features="
                             f"{num_features}, latent_dim={latent_dim}, hidden={hidden}")
        self.num_features = int(num_features)
        self.latent_dim = int(latent_dim)
        self.hidden = hidden
        self.encoder = nn.Sequential(*mlp([num_features, *hidden]), nn.ReLU())
        self.mean_head = nn.Linear(hidden[-1], latent_dim)
        self.logvar_head = nn.Linear(hidden[-1], latent_dim)
        self.decoder = mlp([latent_dim, *reversed(hidden), num_features], final=nn.Sigmoid())

    def config(self) -> dict:
        """The constructor arguments, enough to rebuild the model."""
        return {"num_features": self.num_features, "latent_dim": self.latent_dim, "hidden": list(self.hidden)}

    def encode_distribution(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance, each ``(N, latent_dim)``, of the code of each image."""
        h = self.encoder(flatten_images(x, self.num_features))
        return self.mean_head(h), self.logvar_head(h)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The code of each image, ``(N, latent_dim)``: the mean of its Gaussian."""
        return self.mean_head(self.encoder(flatten_images(x, self.num_features)))

    @staticmethod
    def reparameterize(mu: torch.Tensor, logvar: torch.Tensor,
                       generator: torch.Generator | None = None) -> torch.Tensor:
        """A draw ``mu + exp(logvar / 2) * eps`` with ``eps ~ N(0, I)``, differentiable in mu and logvar.

        ``eps`` comes from ``generator`` when given, otherwise from torch's global generator.
        """
        eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype, device=mu.device)
        return mu + torch.exp(0.5 * logvar) * eps

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Pixels of shape ``(N, num_features)``, in [0, 1], for codes of shape ``(N, latent_dim)``."""
        return self.decoder(check_codes(z, self.latent_dim))

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        """The decoder's output before its final sigmoid, ``(N, num_features)`` (for the loss)."""
        return self.decoder[:-1](check_codes(z, self.latent_dim))

    def forward_parts(self, x: torch.Tensor, generator: torch.Generator | None = None
                      ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(reconstruction (N, num_features), mu, logvar)``; the code is sampled in training mode only."""
        mu, logvar = self.encode_distribution(x)
        z = self.reparameterize(mu, logvar, generator) if self.training else mu
        return self.decode(z), mu, logvar

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruction of ``x`` with the same shape (sampled code in training mode, mean in eval mode)."""
        return self.forward_parts(x)[0].reshape(x.shape)

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruction of ``x`` decoded from the mean code, in any mode (what test MSE measures)."""
        return self.decode(self.encode(x)).reshape(x.shape)


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)) in nats, summed over dimensions and averaged over the batch.

    Zero exactly when ``mu = 0`` and ``logvar = 0``, positive otherwise.
    """
    if mu.shape != logvar.shape or mu.ndim != 2:
        raise ValueError(f"mu and logvar must both have shape (N, d), got {tuple(mu.shape)} and "
                         f"{tuple(logvar.shape)}")
    per_sample = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=1)
    return per_sample.mean()


def reconstruction_nll(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy summed over pixels, averaged over images (nats per image).

    Takes the decoder's logits ``z`` (``model.decode_logits(z)``, before the sigmoid) and
    computes, per pixel, ``-x log sigmoid(z) - (1 - x) log(1 - sigmoid(z))`` in the form
    ``max(z, 0) - x z - log sigmoid(|z|)``. That is safe for any ``z``: ``sigmoid(|z|)`` lies in
    [0.5, 1], so no logarithm is ever taken of a number that has rounded to 0, as
    ``log(1 - sigmoid(z))`` would be once the sigmoid rounds to 1. Value and gradient agree with
    ``F.binary_cross_entropy_with_logits`` to float32 rounding (see the tests): for ``|z|``
    above about 17 the last term is smaller than float32 can tell from 0 next to 1, an error
    under 6e-8 nats per pixel, and at a logit of exactly 0 the gradient follows ``relu`` and
    ``abs``, which count 0 as neither side (``-x`` instead of ``0.5 - x`` for that pixel).

    Why not call ``F.binary_cross_entropy_with_logits``: on the CPU it goes through ``log1p``,
    which measured about 8 times slower than ``log`` on the same tensor in the torch builds we
    use. This form takes about 0.8 ms instead of 1.3 ms per batch of 256 images (forward and
    backward), which saves about 0.1 s of every VAE epoch, one of 1.1 to 1.5 s on two cores
    (``benchmarks/train_speed.py`` times a VAE epoch both ways; the machine's noise is of the
    same size, so look at several rounds).
    """
    x = x.reshape(x.shape[0], -1)
    z = logits.reshape(x.shape)
    return (F.relu(z) - x * z - torch.log(torch.sigmoid(z.abs()))).sum() / x.shape[0]


def vae_loss_terms(model: VAE, xb: torch.Tensor, yb: torch.Tensor | None = None, *,
                   beta: float = VAE_BETA) -> dict[str, torch.Tensor]:
    """The negative ELBO per image and its terms, in nats: ``{"loss", "reconstruction", "kl"}``.

    ``loss = reconstruction + beta * kl``. The reconstruction term is :func:`reconstruction_nll`
    (BCE summed over pixels), decoded from a sampled code in training mode and from the mean in
    eval mode; ``kl`` is :func:`kl_divergence`. In eval mode the terms also hold ``"mse"``, the
    mean squared error of the decoded mean, so that ``fit`` measures a test epoch in one pass.
    This is the VAE's ``loss_fn`` for :func:`~ae_helpers.training.fit` (``yb`` is ignored).
    """
    if beta < 0:
        raise ValueError(f"beta must be non-negative, got {beta}")
    mu, logvar = model.encode_distribution(xb)
    z = model.reparameterize(mu, logvar) if model.training else mu
    logits = model.decode_logits(z)
    reconstruction, kl = reconstruction_nll(logits, xb), kl_divergence(mu, logvar)
    terms = {"loss": reconstruction + beta * kl, "reconstruction": reconstruction, "kl": kl}
    if not model.training:
        terms["mse"] = F.mse_loss(torch.sigmoid(logits), xb.reshape(logits.shape))
    return terms


def vae_loss(model: VAE, xb: torch.Tensor, yb: torch.Tensor | None = None, *,
             beta: float = VAE_BETA) -> torch.Tensor:
    """The negative evidence lower bound per image: ``reconstruction + beta * KL``, in nats.

    The total of :func:`vae_loss_terms`; ``yb`` is ignored. The reconstruction term is
    :func:`reconstruction_nll` (BCE summed over pixels), decoded from a sampled code in training
    mode and from the mean in eval mode.
    """
    return vae_loss_terms(model, xb, yb, beta=beta)["loss"]


@torch.no_grad()
def kl_per_dimension(model: VAE, images: torch.Tensor, *, batch_size: int = 2048) -> torch.Tensor:
    """Each latent dimension's share of the KL term on ``images``: a ``(latent_dim,)`` tensor, nats per image.

    Dimension ``j`` gets the mean over the images of ``0.5 * (mu_j**2 + sigma_j**2 - log sigma_j**2 - 1)``;
    the shares add up to :func:`kl_divergence`. A dimension whose share is near 0 leaves every
    image's cloud at the prior: it carries nothing about the image (an inactive unit).
    """
    if len(images) == 0:
        raise ValueError("no images: got an empty batch")

    def per_dimension(xb: torch.Tensor) -> torch.Tensor:
        mu, logvar = model.encode_distribution(flatten_images(xb, model.num_features).to(torch.float32))
        return (0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)).double().sum(dim=0).cpu()

    total = sum(batch_results(model, per_dimension, images, batch_size=batch_size))
    return (total / len(images)).float()


def sample_vae(model: VAE, n: int, *, seed: int = 0, batch_size: int = 2048) -> torch.Tensor:
    """``n`` new images ``(n, 1, 28, 28)``: codes drawn from N(0, I) with ``seed``, then decoded.

    Runs in eval mode under ``no_grad`` (the model's mode is restored); the result is on CPU.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    g = torch.Generator().manual_seed(int(seed))
    z = torch.randn(n, model.latent_dim, generator=g)
    return decode_all(model, z, batch_size=batch_size)


def elbo_terms(model: VAE, images: torch.Tensor, *, seed: int = 0, batch_size: int = 2048
               ) -> tuple[float, float]:
    """``(reconstruction, kl)``: the two terms of the negative ELBO on ``images``, nats per image.

    The reconstruction term decodes **one sampled code** per image (seeded with ``seed``), as
    the loss does in training and as pytorch/examples' VAE reports its test loss; their sum is
    then comparable with that reference. (``history.test_losses`` decodes the mean code
    instead, which gives a slightly lower reconstruction term.) The batches run through
    :func:`ae_helpers.measure.batch_results` (no gradients; the model's mode is restored).
    """
    if len(images) == 0:
        raise ValueError("no images: got an empty batch")
    g = torch.Generator().manual_seed(int(seed))

    def terms(xb: torch.Tensor) -> tuple[float, float]:
        xb = flatten_images(xb, model.num_features).to(torch.float32)
        mu, logvar = model.encode_distribution(xb)
        z = model.reparameterize(mu, logvar, g)
        return (float(reconstruction_nll(model.decode_logits(z), xb)) * len(xb),
                float(kl_divergence(mu, logvar)) * len(xb))

    rec = kl = 0.0
    for batch_rec, batch_kl in batch_results(model, terms, images, batch_size=batch_size):
        rec += batch_rec
        kl += batch_kl
    return rec / len(images), kl / len(images)


# --------------------------------------------------------------------------- the control


def bce_autoencoder_terms(model: AutoEncoder, xb: torch.Tensor, yb: torch.Tensor | None = None
                          ) -> dict[str, torch.Tensor]:
    """The control's loss as ``fit``'s named terms: ``{"loss"}``, and in eval mode ``"mse"`` too.

    ``loss`` is a plain autoencoder's loss written like the VAE's reconstruction term, with no KL
    term: binary cross-entropy summed over pixels, averaged over images
    (:func:`reconstruction_nll`), computed from the decoder's output before its sigmoid. ``mse``
    is the mean squared error of the reconstruction, so that ``fit`` measures a test epoch in one
    pass. ``yb`` is ignored.
    """
    logits = model.decoder[:-1](model.encode(xb))  # the decoder without its final sigmoid
    terms = {"loss": reconstruction_nll(logits, xb)}
    if not model.training:
        terms["mse"] = F.mse_loss(torch.sigmoid(logits), xb.reshape(logits.shape))
    return terms
