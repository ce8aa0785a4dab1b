"""Timing how fast batches arrive: the book's in-memory batches against the usual ``DataLoader``.

Chapter 1 shows why the book slices batches out of one tensor
(:func:`ae_helpers.data.iterate_batches`) instead of loading MNIST the way most tutorials do:
:func:`torchvision_loader` builds that tutorial pipeline, and :func:`time_batches` times any
iterable of batches, side by side on the same machine. ``benchmarks/train_speed.py`` times
whole epochs with the same loader. Nothing here trains the book's models.
"""

from __future__ import annotations

import os
import time
from typing import Iterable

import torch

from .data import SPLITS, fetch_mnist
from .paths import data_dir

__all__ = ["torchvision_loader", "time_batches"]


def torchvision_loader(
    split: str = "train",
    batch_size: int = 256,
    *,
    root: str | os.PathLike | None = None,
    limit: int | None = None,
) -> torch.utils.data.DataLoader:
    """MNIST the way most tutorials load it: torchvision's dataset, ``ToTensor`` and a ``DataLoader``.

    Every batch is built image by image (decode to PIL, convert, scale, stack), which is
    what makes it slow next to :func:`~ae_helpers.data.iterate_batches`. ``limit`` keeps the
    first ``limit`` images, for quick timings. The files must already be fetched.
    """
    from torchvision import datasets, transforms  # imported here: only this comparison needs it

    if split not in SPLITS:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    fetch_mnist(root, source="present")
    dataset = datasets.MNIST(root=str(root if root is not None else data_dir()), train=split == "train",
                             download=False, transform=transforms.ToTensor())
    if limit is not None:
        dataset = torch.utils.data.Subset(dataset, range(min(limit, len(dataset))))
    return torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False)


def time_batches(batches: Iterable, *, threads: int | None = 1) -> float:
    """Seconds taken to produce every batch of an iterable (each batch is read once, summed).

    Accepts batches of images or ``(images, labels)`` pairs, as ``iterate_batches`` and
    a ``DataLoader`` yield them. Only for comparisons made on the same machine, side by side.

    ``threads`` sets PyTorch's thread count while timing (restored afterwards; ``None``
    leaves it alone). One thread is the fair default: a ``DataLoader`` builds its batches
    image by image in one thread anyway, and tiny multi-threaded tensor operations can be
    tens of times slower when another program is busy on the same cores.
    """
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        start = time.perf_counter()
        total = 0.0
        for batch in batches:
            images = batch[0] if isinstance(batch, (tuple, list)) else batch
            total += float(images.sum())
        return time.perf_counter() - start
    finally:
        torch.set_num_threads(previous)
