"""Helpers for the book *Autoencoders, hands on*: data, models, training, latent space, plots.

Import what a chapter needs by name::

    from ae_helpers import load_mnist
"""

from .data import (
    DataError,
    fetch_mnist,
    iterate_batches,
    load_mnist,
    mnist_raw_dir,
    read_idx,
    time_batches,
    torchvision_loader,
)
from .models import AutoEncoder
from .paths import cache_dir, data_dir

__all__ = [
    "DataError",
    "fetch_mnist",
    "iterate_batches",
    "load_mnist",
    "mnist_raw_dir",
    "read_idx",
    "time_batches",
    "torchvision_loader",
    "AutoEncoder",
    "cache_dir",
    "data_dir",
]
__version__ = "0.1.0"
