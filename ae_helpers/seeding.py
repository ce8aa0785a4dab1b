"""Seeding: one call that seeds every random number generator a chapter's code draws from.

Where the book's trained models take their seeds is :mod:`ae_helpers.recipes`: a recipe's
``seed`` seeds the initial weights (:func:`seed_everything` just before the model is built)
and the order of the batches (``fit(..., seed=...)``, a generator of its own). A chapter that
builds a model by hand calls :func:`seed_everything` itself before building it.

>>> seed_everything(42)                      # doctest: +SKIP
>>> model = AutoEncoder(latent_dim=2)        # the same initial weights on every run
"""

from __future__ import annotations

import random

import numpy as np
import torch

__all__ = ["seed_everything"]


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy and torch (CPU and every GPU) with ``seed``.

    Also asks cuDNN for deterministic kernels. On a CPU, two runs that call this with the same
    seed, build the same model and train it the same way give bit-identical weights (with the
    same number of threads).
    """
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"seed must be an integer, got {seed!r}")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # seeds the CPU and all CUDA/MPS generators
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
