"""Putting the codes to work: denoising, spotting the unusual, finding neighbours.

Three uses of an autoencoder, each measured against a baseline on the same data:

- **Denoising**: :func:`add_noise` and :func:`mixed_noise` corrupt images (Gaussian noise or
  masked pixels); the denoiser trained on them is one of the book's recipes
  (``trained_denoiser`` in :mod:`ae_helpers.recipes`).
- **Spotting the unusual**: :func:`unusual_inputs` makes inputs that are no digit (noise,
  inverted or rotated digits); the models that never see some digits are
  ``trained_autoencoder_without`` (:mod:`ae_helpers.recipes`).
  Scoring them (reconstruction errors) and saying how well a score separates the unusual
  from the normal (ROC, AUC) is measuring: :mod:`ae_helpers.measure`.
- **Finding neighbours**: :func:`nearest_neighbours` and :func:`knn_accuracy` in any
  representation (codes, PCA coordinates, raw pixels).

Nearest-neighbour search and k-NN classification are scikit-learn's (``NearestNeighbors``,
``KNeighborsClassifier``): it does them well and is tested far beyond what this book could
do, so they are called here rather than written again. The functions below only convert
the book's tensors and name the conventions (which distance, how the vote is taken).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch

from .measure import as_numpy

__all__ = [
    "NOISE_KINDS",
    "UNUSUAL_KINDS",
    "add_noise",
    "mixed_noise",
    "unusual_inputs",
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
