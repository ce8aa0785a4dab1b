"""Helpers for the book *Autoencoders, hands on*: data, models, training, measuring, the
trained models of the book, latent space, plots and explorers.

Import what a chapter needs by name::

    from ae_helpers import load_mnist, trained_autoencoder

Each name lives in one module (README.md, "Where things live", has the map); this file only
gathers the public ones.
"""

# The one place the version is set: pyproject.toml, CITATION.cff, the chapters' install cell and
# the launch buttons all follow it (CONTRIBUTING.md, "Releasing a version").
__version__ = "0.2.0"

from .data import (
    DataError,
    fetch_mnist,
    iterate_batches,
    load_mnist,
    mnist_raw_dir,
    read_idx,
)
from .timing import time_batches, torchvision_loader
from .cache import CACHE_FORMAT_VERSION, load_or_train
from .models import AutoEncoder
from .devices import pick_device
from .training import History, TrainingDiverged, fit, train_epoch
from .seeding import seed_everything
from .measure import (
    ScoreSeparation,
    anomaly_auc,
    evaluate_mse,
    per_digit_mse,
    per_image_mse,
    reconstruct_all,
    reconstruction_errors,
    roc_points,
    score_separation,
)
from .paths import cache_dir, data_dir
from .latent import (
    PCABaseline,
    decode_all,
    encode_all,
    fit_pca,
    interpolate,
    interpolate_codes,
    populated_range,
    principal_directions,
    sample_full_covariance,
    sample_per_dimension,
    tsne_embedding,
)
from .plotting import (
    plot_anomaly_scores,
    plot_decoded_points,
    plot_denoising,
    plot_digit_grid,
    plot_digit_grids,
    plot_direction_sweep,
    plot_interpolation,
    plot_kl_per_dimension,
    plot_latent_scatter,
    plot_loss_terms,
    plot_manifold,
    plot_model_comparison,
    plot_mse_vs_latent,
    plot_neighbours,
    plot_reconstructions,
    plot_samples,
    plot_tsne,
)
from .widgets import decode_point, explorer_2d, explorer_nd, interpolation_explorer, point_from_directions
from .page_explorers import latent_explorer_html, pair_explorer_html, panel_grid_codes, preprocess_drawing, stored_weights_gray_error
from .vae import VAE, elbo_terms, kl_divergence, kl_per_dimension, sample_vae, vae_loss, vae_loss_terms
from .checks import claim, expect
from .settings import SettingError, require
from .source import show_source
from .judge import Classifier, DigitLikeness, digit_likeness, judge_accuracy
from .uses import (
    NOISE_KINDS,
    UNUSUAL_KINDS,
    add_noise,
    knn_accuracy,
    mixed_noise,
    nearest_neighbours,
    unusual_inputs,
)
from .recipes import (
    Recipe,
    trained,
    trained_autoencoder,
    trained_autoencoder_without,
    trained_bce_autoencoder,
    trained_denoiser,
    trained_judge,
    trained_vae,
)

__all__ = [
    "__version__",
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
    "PCABaseline",
    "decode_all",
    "encode_all",
    "fit_pca",
    "interpolate",
    "interpolate_codes",
    "populated_range",
    "principal_directions",
    "reconstruct_all",
    "sample_full_covariance",
    "sample_per_dimension",
    "tsne_embedding",
    "plot_anomaly_scores",
    "plot_decoded_points",
    "plot_denoising",
    "plot_digit_grid",
    "plot_digit_grids",
    "plot_direction_sweep",
    "plot_interpolation",
    "plot_latent_scatter",
    "plot_manifold",
    "plot_model_comparison",
    "plot_mse_vs_latent",
    "plot_neighbours",
    "plot_reconstructions",
    "plot_samples",
    "plot_tsne",
    "plot_loss_terms",
    "plot_kl_per_dimension",
    "decode_point",
    "explorer_2d",
    "explorer_nd",
    "interpolation_explorer",
    "point_from_directions",
    "latent_explorer_html",
    "pair_explorer_html",
    "panel_grid_codes",
    "preprocess_drawing",
    "stored_weights_gray_error",
    "VAE",
    "kl_divergence",
    "sample_vae",
    "trained_vae",
    "vae_loss",
    "vae_loss_terms",
    "kl_per_dimension",
    "elbo_terms",
    "trained_bce_autoencoder",
    "claim",
    "expect",
    "SettingError",
    "require",
    "show_source",
    "train_epoch",
    "Classifier",
    "DigitLikeness",
    "digit_likeness",
    "judge_accuracy",
    "trained_judge",
    "NOISE_KINDS",
    "UNUSUAL_KINDS",
    "add_noise",
    "anomaly_auc",
    "knn_accuracy",
    "mixed_noise",
    "nearest_neighbours",
    "per_image_mse",
    "reconstruction_errors",
    "roc_points",
    "trained_autoencoder_without",
    "trained_denoiser",
    "unusual_inputs",
    "ScoreSeparation",
    "score_separation",
    "Recipe",
    "trained",
]
