"""Helpers for the book *Autoencoders, hands on*: data, models, training, measuring, the
trained models of the book, latent space, plots and explorers.

Everything a chapter uses is imported from here, by name::

    from ae_helpers import load_mnist, trained_autoencoder

Each name lives in one module (CONTRIBUTING.md, "Where things live", has the map); this file
gathers the ones the chapters use, and the errors their calls raise. The rest (the model
cache, the recipes behind the ``trained_*`` calls, the drawing helpers' parts) is imported
from its module.
"""

# The one place the version is set: pyproject.toml, CITATION.cff, the chapters' install cell and
# the launch buttons all follow it (CONTRIBUTING.md, "Releasing a version").
__version__ = "0.2.0"

import types as _types

from .data import DataError, iterate_batches, load_mnist, mnist_raw_dir, read_idx
from .timing import time_batches, torchvision_loader
from .models import AutoEncoder
from .devices import pick_device
from .seeding import seed_everything
from .training import TrainingDiverged, fit, reconstruction_loss, train_epoch
from .measure import (
    anomaly_auc,
    batch_results,
    evaluate_mse,
    evaluation,
    per_digit_mse,
    per_image_mse,
    reconstruct_all,
    reconstruction_errors,
    score_separation,
)
from .latent import (
    PCABaseline,
    decode_all,
    encode_all,
    fit_pca,
    interpolate,
    populated_range,
    principal_directions,
    sample_full_covariance,
    sample_per_dimension,
    tsne_embedding,
)
from .vae import (
    VAE,
    elbo_terms,
    kl_divergence,
    kl_per_dimension,
    reconstruction_nll,
    sample_vae,
    vae_loss,
    vae_loss_terms,
)
from .judge import Classifier, classifier_loss, digit_likeness, judge_accuracy, judge_loss, predict_proba
from .uses import add_noise, knn_accuracy, mixed_noise, nearest_neighbours, unusual_inputs
from .recipes import (
    trained_autoencoder,
    trained_autoencoder_without,
    trained_bce_autoencoder,
    trained_denoiser,
    trained_judge,
    trained_vae,
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
    plot_training_curves,
    plot_tsne,
)
from .widgets import explorer_2d, explorer_nd, interpolation_explorer
from .page_explorers import (
    latent_explorer_html,
    pair_explorer_html,
    panel_grid_codes,
    preprocess_drawing,
    stored_weights_gray_error,
)
from .checks import claim, expect
from .settings import SettingError, require
from .source import show_source

#: Every name imported above (the submodules themselves are not names of the package's API).
__all__ = ["__version__", *sorted(name for name, value in globals().items()
                                  if not name.startswith("_") and not isinstance(value, _types.ModuleType))]
