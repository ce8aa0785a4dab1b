"""Putting the codes to work: denoising, spotting the unusual, finding neighbours.

Three uses of an autoencoder, each measured against a baseline on the same data:

- **Denoising**: :func:`add_noise` corrupts images (Gaussian noise or masked pixels),
  :func:`trained_denoiser` is an autoencoder trained on corrupted inputs with clean targets.
- **Spotting the unusual**: :func:`trained_autoencoder_without` never sees some digits;
  :func:`unusual_inputs` makes inputs that are no digit (noise, inverted or rotated digits).
  Scoring them (reconstruction errors) and saying how well a score separates the unusual
  from the normal (ROC, AUC) is measuring: :mod:`ae_helpers.measure`.
- **Finding neighbours**: :func:`nearest_neighbours` and :func:`knn_accuracy` in any
  representation (codes, PCA coordinates, raw pixels).

Nearest-neighbour search and k-NN classification are scikit-learn's (``NearestNeighbors``,
``KNeighborsClassifier``): it does them well and is tested far beyond what this book could
do, so they are called here rather than written again. The functions below only convert
the book's tensors and name the conventions (which distance, how the vote is taken).

The models go through the model cache (:func:`ae_helpers.cache.trained_on_mnist`) like every
other model of the book, each kind with its own configuration.
"""

from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from .cache import autoencoder_config, mnist_tensors, trained_autoencoder, trained_on_mnist
from .measure import as_numpy
from .models import AutoEncoder
from .training import History

__all__ = [
    "NOISE_KINDS",
    "UNUSUAL_KINDS",
    "add_noise",
    "mixed_noise",
    "unusual_inputs",
    "denoiser_config",
    "trained_denoiser",
    "autoencoder_without_config",
    "trained_autoencoder_without",
    "nearest_neighbours",
    "knn_accuracy",
]

#: The kinds of corruption :func:`add_noise` knows, and what their level means.
NOISE_KINDS = {
    "gaussian": "Gaussian noise with this standard deviation added to every pixel, then clipped to [0, 1]",
    "mask": "each pixel set to 0 (blank) with this probability",
}

#: The kinds of non-digit input :func:`unusual_inputs` makes from digits.
UNUSUAL_KINDS = {
    "noise": "uniform random pixels in [0, 1] (one image per input image, the digit is ignored)",
    "inverted": "1 - pixel: white digits on black",
    "rotated90": "the digit turned a quarter turn anticlockwise",
    "rotated180": "the digit turned upside down",
}


def _generator(seed: int | torch.Generator) -> torch.Generator:
    if isinstance(seed, torch.Generator):
        return seed
    return torch.Generator().manual_seed(int(seed))


def _images(images: torch.Tensor) -> torch.Tensor:
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"images must be a torch.Tensor, got {type(images).__name__}")
    if images.ndim < 2 or images.shape[0] == 0:
        raise ValueError(f"images must have shape (N, ...) with N >= 1, got {tuple(images.shape)}")
    return images.detach().to("cpu", torch.float32)


def add_noise(images: torch.Tensor, kind: str, level: float, *, seed: int | torch.Generator = 0) -> torch.Tensor:
    """A corrupted copy of ``images`` (any shape ``(N, ...)``, pixels in [0, 1]).

    ``kind`` is ``"gaussian"`` (``level`` is the standard deviation; the result is clipped to
    [0, 1], so it stays a valid image) or ``"mask"`` (``level`` is the probability that a
    pixel is blanked to 0). ``seed`` (an integer or a ``torch.Generator``) fixes the noise;
    the global random state is not touched.

    >>> noisy = add_noise(test_images, "gaussian", 0.5)   # doctest: +SKIP
    """
    x = _images(images)
    if kind not in NOISE_KINDS:
        raise ValueError(f"unknown noise kind {kind!r}; choose one of {sorted(NOISE_KINDS)}")
    level = float(level)
    g = _generator(seed)
    if kind == "gaussian":
        if level < 0:
            raise ValueError(f"the standard deviation must be >= 0, got {level}")
        return (x + level * torch.randn(x.shape, generator=g)).clamp_(0.0, 1.0)
    if not 0.0 <= level <= 1.0:
        raise ValueError(f"the masked fraction must be between 0 and 1, got {level}")
    keep = torch.rand(x.shape, generator=g) >= level
    return x * keep


def mixed_noise(images: torch.Tensor, noises: Sequence[tuple[str, float]], *,
                seed: int | torch.Generator = 0) -> torch.Tensor:
    """A corrupted copy of ``images`` where each image gets one of ``noises``, in equal shares.

    ``noises`` is a list of ``(kind, level)`` pairs (see :func:`add_noise`); a seeded random
    permutation decides which image gets which. One model trained on the result learns to
    undo every kind in the list.
    """
    x = _images(images)
    if not noises:
        raise ValueError("noises is empty: pass e.g. [('gaussian', 0.5), ('mask', 0.5)]")
    g = _generator(seed)
    order = torch.randperm(len(x), generator=g)
    out = torch.empty_like(x)
    for share, (kind, level) in zip(torch.tensor_split(order, len(noises)), noises):
        out[share] = add_noise(x[share], kind, level, seed=g)
    return out


def unusual_inputs(images: torch.Tensor, kind: str, *, seed: int = 0) -> torch.Tensor:
    """Inputs that are no digit, made from ``images`` ``(N, 1, 28, 28)``: see :data:`UNUSUAL_KINDS`."""
    x = _images(images)
    if x.ndim != 4 or x.shape[1:] != (1, 28, 28):
        raise ValueError(f"images must have shape (N, 1, 28, 28), got {tuple(x.shape)}")
    if kind == "noise":
        return torch.rand(x.shape, generator=_generator(seed))
    if kind == "inverted":
        return 1.0 - x
    if kind == "rotated90":
        return torch.rot90(x, 1, dims=(2, 3)).contiguous()
    if kind == "rotated180":
        return torch.rot90(x, 2, dims=(2, 3)).contiguous()
    raise ValueError(f"unknown kind {kind!r}; choose one of {sorted(UNUSUAL_KINDS)}")


# --------------------------------------------------------------------------- cached models


def _noise_list(noises: Sequence[tuple[str, float]]) -> list[list]:
    out = []
    for kind, level in noises:
        if kind not in NOISE_KINDS:
            raise ValueError(f"unknown noise kind {kind!r}; choose one of {sorted(NOISE_KINDS)}")
        out.append([str(kind), float(level)])
    if not out:
        raise ValueError("noises is empty: pass e.g. [('gaussian', 0.5), ('mask', 0.5)]")
    return out


def denoiser_config(latent_dim: int = 50, *, noises: Sequence[tuple[str, float]] = (("gaussian", 0.5), ("mask", 0.5)),
                    noise_seed: int = 0, epochs: int = 1, from_autoencoder: bool = True, batch_size: int = 256,
                    lr: float = 0.005, seed: int = 42, hidden: Sequence[int] = (128, 64)) -> dict:
    """The cache configuration of a denoising autoencoder (see :func:`trained_denoiser`).

    With ``from_autoencoder``, ``recipe["start"]`` is the configuration of the plain
    autoencoder it starts from (so the key changes when that model does), else ``"random"``.
    """
    config = autoencoder_config(latent_dim, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, hidden=hidden)
    start = autoencoder_config(latent_dim, batch_size=batch_size, lr=lr, seed=seed, hidden=hidden) \
        if from_autoencoder else "random"
    config["recipe"].update({"data": "mnist-train-mixed-noise", "targets": "clean",
                             "noises": _noise_list(noises), "noise_seed": int(noise_seed), "start": start})
    return config


def trained_denoiser(
    latent_dim: int = 50,
    *,
    noises: Sequence[tuple[str, float]] = (("gaussian", 0.5), ("mask", 0.5)),
    noise_seed: int = 0,
    epochs: int = 1,
    from_autoencoder: bool = True,
    batch_size: int = 256,
    lr: float = 0.005,
    seed: int = 42,
    hidden: Sequence[int] = (128, 64),
    progress: bool = True,
    cache: str | os.PathLike | None = None,
) -> tuple[AutoEncoder, History]:
    """A denoising autoencoder: the book's model trained on corrupted images with clean targets.

    The training images are corrupted once by :func:`mixed_noise` (each image gets one of
    ``noises``, seeded by ``noise_seed``), and the model learns to output the clean image.
    With ``from_autoencoder`` (the default) training starts from the weights of the plain
    autoencoder of the same size, :func:`~ae_helpers.cache.trained_autoencoder` (10 epochs of
    the book's recipe; loaded from the cache or trained first), and ``epochs`` more epochs on
    corrupted images follow; otherwise it starts from random weights.
    ``history.test_losses`` is the MSE between the model's output for the test images,
    corrupted the same way (seed ``noise_seed + 1``), and the clean test images. Cached like
    :func:`~ae_helpers.cache.trained_autoencoder`; the model is on the CPU, in eval mode.
    """
    config = denoiser_config(latent_dim, noises=noises, noise_seed=noise_seed, epochs=epochs,
                             from_autoencoder=from_autoencoder, batch_size=batch_size, lr=lr, seed=seed,
                             hidden=hidden)
    recipe = config["recipe"]

    def start_from_autoencoder(model: nn.Module) -> None:
        start, _ = trained_autoencoder(latent_dim, batch_size=batch_size, lr=lr, seed=seed, hidden=hidden,
                                       progress=progress, cache=cache)
        model.load_state_dict(start.state_dict())

    def noisy_mnist() -> dict:
        train_images, _, test_images, _ = mnist_tensors()
        return {"train_images": mixed_noise(train_images, recipe["noises"], seed=recipe["noise_seed"]),
                "train_targets": train_images.reshape(len(train_images), -1),
                "test_images": mixed_noise(test_images, recipe["noises"], seed=recipe["noise_seed"] + 1),
                "test_targets": test_images.reshape(len(test_images), -1)}

    return trained_on_mnist("denoiser", AutoEncoder, config, data=noisy_mnist,  # type: ignore[return-value]
                            init=start_from_autoencoder if from_autoencoder else None,
                            progress=progress, desc=f"denoiser, latent {latent_dim}", cache=cache)


def _digits(digits: int | Sequence[int]) -> list[int]:
    values = [digits] if isinstance(digits, (int, np.integer)) else list(digits)
    if not values or any(isinstance(d, bool) or not 0 <= int(d) <= 9 for d in values):
        raise ValueError(f"digits must be one or more of 0-9, got {digits!r}")
    return sorted({int(d) for d in values})


def autoencoder_without_config(digits: int | Sequence[int], latent_dim: int = 10, *, epochs: int = 3,
                               batch_size: int = 256, lr: float = 0.005, seed: int = 42,
                               hidden: Sequence[int] = (128, 64)) -> dict:
    """The cache configuration of an autoencoder trained without ``digits`` (see
    :func:`trained_autoencoder_without`)."""
    config = autoencoder_config(latent_dim, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, hidden=hidden)
    config["recipe"].update({"data": "mnist-train-without", "test": "mnist-test-without",
                             "without": _digits(digits)})
    return config


def trained_autoencoder_without(
    digits: int | Sequence[int],
    latent_dim: int = 10,
    *,
    epochs: int = 3,
    batch_size: int = 256,
    lr: float = 0.005,
    seed: int = 42,
    hidden: Sequence[int] = (128, 64),
    progress: bool = True,
    cache: str | os.PathLike | None = None,
) -> tuple[AutoEncoder, History]:
    """An autoencoder trained with the book's recipe on every training image except ``digits``.

    ``digits`` is one digit or a list of them. ``history.test_mse`` is measured on the test
    images of the remaining digits (the "normal" ones). Cached like
    :func:`~ae_helpers.cache.trained_autoencoder`; the model is on the CPU, in eval mode.
    """
    config = autoencoder_without_config(digits, latent_dim, epochs=epochs, batch_size=batch_size, lr=lr,
                                        seed=seed, hidden=hidden)
    held_out = torch.tensor(config["recipe"]["without"])

    def mnist_without() -> dict:
        train_images, train_labels, test_images, test_labels = mnist_tensors()
        return {"train_images": train_images[~torch.isin(train_labels, held_out)],
                "test_images": test_images[~torch.isin(test_labels, held_out)]}

    return trained_on_mnist("autoencoder-without", AutoEncoder, config, data=mnist_without,  # type: ignore[return-value]
                            progress=progress, cache=cache,
                            desc=f"autoencoder without {','.join(map(str, held_out.tolist()))}, latent {latent_dim}")


# --------------------------------------------------------------------------- neighbours


def _features(x: Any, name: str) -> np.ndarray:
    f = as_numpy(x, np.float32)  # float32: what the codes and pixels are, and twice as fast as float64
    if f.ndim < 2 or len(f) == 0:
        raise ValueError(f"{name} must have shape (N, ...) with N >= 1, got {f.shape}")
    return f.reshape(len(f), -1)


def nearest_neighbours(reference: Any, queries: Any, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Euclidean distances and indices ``(Q, k)`` of each query's ``k`` nearest rows of ``reference``.

    ``reference`` ``(N, ...)`` and ``queries`` ``(Q, ...)`` are flattened to vectors (codes,
    PCA coordinates or pixels). Nearest first; exact (scikit-learn's ``NearestNeighbors``,
    brute force).
    """
    from sklearn.neighbors import NearestNeighbors

    ref, q = _features(reference, "reference"), _features(queries, "queries")
    if ref.shape[1] != q.shape[1]:
        raise ValueError(f"reference vectors have {ref.shape[1]} values, queries {q.shape[1]}")
    if not 1 <= k <= len(ref):
        raise ValueError(f"k must be between 1 and {len(ref)} (the reference size), got {k}")
    distances, indices = NearestNeighbors(n_neighbors=k, algorithm="brute").fit(ref).kneighbors(q)
    return distances, indices


def knn_accuracy(train_features: Any, train_labels: Any, test_features: Any, test_labels: Any, *,
                 k: int = 5) -> float:
    """Share of test items whose ``k`` nearest training items (Euclidean) vote for the right label.

    A majority vote among the ``k`` neighbours (scikit-learn's ``KNeighborsClassifier``, its
    default tie-breaking); features are flattened to vectors and used as they are, unscaled.
    """
    from sklearn.neighbors import KNeighborsClassifier

    xtr, xte = _features(train_features, "train_features"), _features(test_features, "test_features")
    ytr, yte = as_numpy(train_labels).reshape(-1), as_numpy(test_labels).reshape(-1)
    if len(ytr) != len(xtr) or len(yte) != len(xte):
        raise ValueError(f"need one label per item: {len(xtr)} train items with {len(ytr)} labels, "
                         f"{len(xte)} test items with {len(yte)} labels")
    if xtr.shape[1] != xte.shape[1]:
        raise ValueError(f"train vectors have {xtr.shape[1]} values, test vectors {xte.shape[1]}")
    if not 1 <= k <= len(xtr):
        raise ValueError(f"k must be between 1 and {len(xtr)} (the training size), got {k}")
    classifier = KNeighborsClassifier(n_neighbors=k).fit(xtr, ytr.astype(np.int64))
    return float((classifier.predict(xte) == yte.astype(np.int64)).mean())
