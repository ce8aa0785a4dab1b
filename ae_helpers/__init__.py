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
from .cache import CACHE_FORMAT_VERSION, load_or_train, trained_autoencoder
from .models import AutoEncoder
from .training import (
    History,
    TrainingDiverged,
    evaluate_mse,
    fit,
    per_digit_mse,
    pick_device,
    seed_everything,
)
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
    "CACHE_FORMAT_VERSION",
    "load_or_train",
    "trained_autoencoder",
    "History",
    "TrainingDiverged",
    "evaluate_mse",
    "fit",
    "per_digit_mse",
    "pick_device",
    "seed_everything",
    "cache_dir",
    "data_dir",
]
__version__ = "0.1.0"
