"""The book's autoencoder, and the pieces the other models share.

:class:`AutoEncoder` is the fully connected autoencoder every chapter trains; :func:`mlp`,
:func:`flatten_images` and :func:`check_codes` are the layers and input checks it shares with
the VAE (:mod:`ae_helpers.vae`) and the judge (:mod:`ae_helpers.judge`). How a model is
trained is :mod:`ae_helpers.training`; what each trained model of the book is,
:mod:`ae_helpers.recipes`.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

__all__ = ["AutoEncoder", "mlp", "flatten_images", "check_codes"]


def mlp(sizes: Sequence[int], *, final: nn.Module | None = None) -> nn.Sequential:
    """Fully connected layers ``sizes[0] -> sizes[1] -> ...`` with ReLU between them.

    ``final`` (for example ``nn.Sigmoid()``) is appended after the last linear layer.
    """
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    if final is not None:
        layers.append(final)
    return nn.Sequential(*layers)


def flatten_images(x: torch.Tensor, num_features: int) -> torch.Tensor:
    """``x`` as ``(N, num_features)``, from ``(N, num_features)`` or ``(N, 1, 28, 28)``-like input.

    Raises a ``ValueError`` stating both sizes when an image does not hold ``num_features`` values.
    """
    x = x.reshape(x.shape[0], -1)
    if x.shape[1] != num_features:
        raise ValueError(f"encode expects {num_features} values per image, got {x.shape[1]}")
    return x


def check_codes(z: torch.Tensor, latent_dim: int) -> torch.Tensor:
    """``z`` itself, after checking it is a batch of codes of shape ``(N, latent_dim)``.

    Raises a ``ValueError`` stating the expected and the given shape otherwise.
    """
    if z.ndim != 2 or z.shape[1] != latent_dim:
        raise ValueError(f"decode expects codes of size {latent_dim} (shape (N, {latent_dim})), "
                         f"got shape {tuple(z.shape)}")
    return z


class AutoEncoder(nn.Module):
    """A fully connected autoencoder.

    The encoder maps ``num_features`` pixels through the ``hidden`` sizes to ``latent_dim``
    numbers (the code); the decoder mirrors it and ends in a sigmoid, so decoded pixels lie in
    [0, 1]. The defaults are the book's recipe: 784 -> 128 -> 64 -> latent -> 64 -> 128 -> 784.

    Args:
        num_features: pixels per image (784 for 28 x 28).
        latent_dim: size of the code, the bottleneck.
        hidden: sizes of the hidden layers of the encoder; the decoder uses them reversed.
    """

    def __init__(self, num_features: int = 784, latent_dim: int = 2, hidden: Sequence[int] = (128, 64)):
        super().__init__()
        if latent_dim < 1 or num_features < 1 or any(h < 1 for h in hidden):
            raise ValueError(f"sizes must be positive: num_features={num_features}, "
                             f"latent_dim={latent_dim}, hidden={tuple(hidden)}")
        self.num_features = num_features
        self.latent_dim = latent_dim
        self.hidden = tuple(hidden)
        self.encoder = mlp([num_features, *self.hidden, latent_dim])
        self.decoder = mlp([latent_dim, *reversed(self.hidden), num_features], final=nn.Sigmoid())

    def config(self) -> dict:
        """The constructor arguments, enough to rebuild the model."""
        return {"num_features": self.num_features, "latent_dim": self.latent_dim, "hidden": list(self.hidden)}

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Codes of shape ``(N, latent_dim)`` for images of shape ``(N, 784)`` or ``(N, 1, 28, 28)``."""
        return self.encoder(flatten_images(x, self.num_features))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Pixels of shape ``(N, num_features)``, in [0, 1], for codes of shape ``(N, latent_dim)``."""
        return self.decoder(check_codes(z, self.latent_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruction of ``x``, with the same shape as ``x``."""
        return self.decode(self.encode(x)).reshape(x.shape)
