"""Measuring a model on data: its reconstruction errors and losses, and how well a score
separates unusual inputs from normal ones.

Running a model over data happens in one place, :func:`batch_results`: in batches, in eval
mode and without gradients, on the model's device, with the model's train/eval mode restored
afterwards. Everything else builds on it: :func:`apply_in_batches` (one method over a whole
set, e.g. the latent-space tools' ``encode_all``), :func:`reconstruct_all`, the errors below,
``fit``'s test loss and the judge's predictions.

A model's reconstruction of ``x`` is :func:`reconstruct` (its ``reconstruct`` method when it has
one, a VAE's decoded mean, else ``model(x)``); its error is measured three ways:

- :func:`evaluate_mse`: one number, the mean squared error over every pixel of a set (what
  ``History.test_mse`` records after each epoch);
- :func:`per_digit_mse`: the same for each digit 0-9;
- :func:`per_image_mse` and :func:`reconstruction_errors`: one error per image (an anomaly
  score), or of any images against references (denoised against clean, say).

The first two add up each image's squared errors in float32 on the model's device (``fit``
calls :func:`evaluate_mse` after every epoch, on a GPU as well, without copying the
reconstructions back); the last two work in float64 on the CPU. The two agree to float32
rounding, far below the digits the book prints.

How well a score separates unusual inputs from normal ones: :func:`anomaly_auc`,
:func:`roc_points`, and :func:`score_separation`, which bundles both with the scores (what
``plot_anomaly_scores`` draws). ROC curves and their area are scikit-learn's
(``roc_auc_score``, ``roc_curve``): it does them well and is tested far beyond what this book
could do, so they are called here rather than written again; the functions below only convert
the book's tensors and name the convention (a higher score means "more unusual").
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterator, Protocol, Sequence

import numpy as np
import torch
from torch import nn

from .devices import model_device, pick_device

if TYPE_CHECKING:
    class PCABaseline(Protocol):
        """What :func:`reconstruction_errors` needs of a linear baseline, which
        :class:`ae_helpers.latent.PCABaseline` has: described here rather than imported, since
        :mod:`ae_helpers.latent` builds on this module and the imports go one way."""

        def reconstruct(self, images: torch.Tensor | np.ndarray, k: int) -> torch.Tensor: ...

__all__ = [
    "evaluation",
    "float_tensor",
    "flat_images",
    "as_numpy",
    "batch_results",
    "apply_in_batches",
    "reconstruct",
    "reconstruct_all",
    "evaluate_mse",
    "per_digit_mse",
    "per_image_mse",
    "reconstruction_errors",
    "anomaly_auc",
    "roc_points",
    "ScoreSeparation",
    "score_separation",
]


# --------------------------------------------------------------------------- inputs


def float_tensor(x: torch.Tensor | np.ndarray | Sequence[float]) -> torch.Tensor:
    """``x`` (a tensor, an array or a list of numbers) as a CPU float32 tensor, without gradients."""
    if isinstance(x, torch.Tensor):
        return x.detach().to("cpu", torch.float32)
    return torch.as_tensor(np.asarray(x, dtype=np.float32))


def flat_images(images: torch.Tensor) -> torch.Tensor:
    """``images`` ``(N, ...)`` as ``(N, values per image)``, after checking it is a tensor of at least one image."""
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"images must be a torch.Tensor, got {type(images).__name__}")
    if images.ndim == 0 or images.shape[0] == 0:
        raise ValueError(f"images must hold at least one image, got shape {tuple(images.shape)}")
    return images.reshape(images.shape[0], -1)


def as_numpy(x: Any, dtype: type = np.float64) -> np.ndarray:
    """``x`` (a tensor, an array or a list) as a NumPy array of ``dtype``."""
    if isinstance(x, torch.Tensor):
        x = x.detach().to("cpu").numpy()
    return np.asarray(x, dtype=dtype)


# --------------------------------------------------------------------------- running a model


@contextmanager
def evaluation(model: nn.Module) -> Iterator[nn.Module]:
    """Context: ``model`` in eval mode with gradients off; its previous train/eval mode is restored."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield model
    finally:
        model.train(was_training)


def batch_results(model: nn.Module, fn: Callable[..., Any], data: torch.Tensor, *,
                  targets: torch.Tensor | None = None, batch_size: int = 2048,
                  device: str | torch.device | None = None) -> list[Any]:
    """``fn(xb)`` (or ``fn(xb, yb)`` with ``targets``) for each batch of ``data``, in order.

    The one loop that runs a model over data: under :func:`evaluation` (eval mode, no
    gradients, mode restored), each batch moved to ``device`` (default: the model's; see
    :func:`~ae_helpers.devices.pick_device`). ``targets`` are sliced like ``data``.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    where = model_device(model) if device is None else pick_device(device)
    out = []
    with evaluation(model):
        for start in range(0, len(data), batch_size):
            xb = data[start:start + batch_size].to(where)
            if targets is None:
                out.append(fn(xb))
            else:
                out.append(fn(xb, targets[start:start + batch_size].to(where)))
    return out


def apply_in_batches(model: nn.Module, fn: str | Callable[[torch.Tensor], torch.Tensor], data: torch.Tensor,
                     batch_size: int = 2048, *, device: str | torch.device | None = None) -> torch.Tensor:
    """``fn`` applied to all of ``data`` in batches (see :func:`batch_results`), as one CPU tensor.

    ``fn`` is the name of one of the model's methods (``"encode"``, ``"forward"``, ...) or a
    function of a batch.
    """
    method = getattr(model, fn) if isinstance(fn, str) else fn
    parts = [part.cpu() for part in batch_results(model, method, data, batch_size=batch_size, device=device)]
    if not parts:
        what = fn if isinstance(fn, str) else "apply the model to"
        raise ValueError(f"nothing to {what}: got an empty batch of shape {tuple(data.shape)}")
    return torch.cat(parts)


def reconstruct(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The model's reconstruction of ``x``: ``model.reconstruct(x)`` when the model defines it
    (a VAE returning its decoded mean, say), else ``model(x)``."""
    method = getattr(model, "reconstruct", None)
    return method(x) if callable(method) else model(x)


def reconstruct_all(model: nn.Module, images: torch.Tensor | np.ndarray, *, batch_size: int = 2048) -> torch.Tensor:
    """Reconstructions ``(N, 1, 28, 28)`` of ``images`` (``(N, 1, 28, 28)`` or ``(N, 784)``), in batches."""
    x = float_tensor(images)
    x = x.reshape(x.shape[0], -1)
    out = apply_in_batches(model, lambda xb: reconstruct(model, xb), x, batch_size)
    return out.reshape(len(out), 1, 28, 28)


# --------------------------------------------------------------------------- reconstruction errors


def _squared_errors(model: nn.Module, images: torch.Tensor, batch_size: int,
                    device: str | torch.device | None) -> torch.Tensor:
    """Per-image sum of squared reconstruction errors (summed in float32, returned as float64), on the CPU."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    flat = flat_images(images).to(torch.float32)

    def squared(xb: torch.Tensor) -> torch.Tensor:
        return (reconstruct(model, xb).reshape(xb.shape) - xb).pow_(2).sum(dim=1)

    parts = batch_results(model, squared, flat, batch_size=batch_size, device=device)
    return torch.cat([part.cpu() for part in parts]).to(torch.float64)


def evaluate_mse(model: nn.Module, images: torch.Tensor, *, batch_size: int = 2000,
                 device: str | torch.device | None = None) -> float:
    """Mean squared reconstruction error over all pixels of ``images`` (eval mode, no_grad,
    in batches; the model's train/eval mode is restored). ``device`` defaults to the model's."""
    errors = _squared_errors(model, images, batch_size, device)
    return float(errors.sum() / (errors.numel() * images[0].numel()))


def per_digit_mse(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, *,
                  batch_size: int = 2000, device: str | torch.device | None = None) -> torch.Tensor:
    """Mean squared reconstruction error of each digit 0-9, a float tensor of shape ``(10,)``.

    A digit with no image in ``images`` gets ``nan``.
    """
    labels = torch.as_tensor(labels).reshape(-1)
    if labels.shape[0] != images.shape[0]:
        raise ValueError(f"{images.shape[0]} images but {labels.shape[0]} labels; pass one label per image")
    if labels.numel() and (labels.min() < 0 or labels.max() > 9):
        raise ValueError("labels must be digits 0-9")
    errors = _squared_errors(model, images, batch_size, device) / images[0].numel()
    sums = torch.zeros(10, dtype=torch.float64).index_add_(0, labels.long().cpu(), errors)
    counts = torch.bincount(labels.long().cpu(), minlength=10).double()
    return (sums / counts).float()  # 0/0 -> nan for an absent digit


def per_image_mse(images: Any, references: Any) -> np.ndarray:
    """Mean squared error of each image against its reference, shape ``(N,)`` (float64).

    ``images`` and ``references`` hold the same number of images of any matching shape,
    e.g. reconstructions and the inputs (a reconstruction error per image), or denoised and
    clean images. ``per_image_mse(a, b).mean()`` is the MSE over all pixels.
    """
    a, b = as_numpy(images), as_numpy(references)
    if len(a) != len(b) or len(a) == 0:
        raise ValueError(f"need the same number (>= 1) of images and references, got {len(a)} and {len(b)}")
    a, b = a.reshape(len(a), -1), b.reshape(len(b), -1)
    if a.shape != b.shape:
        raise ValueError(f"images have {a.shape[1]} values each but references {b.shape[1]}")
    return ((a - b) ** 2).mean(axis=1)


def reconstruction_errors(model: nn.Module | PCABaseline, images: torch.Tensor, *, k: int | None = None) -> np.ndarray:
    """Each image's reconstruction error (MSE over its pixels), shape ``(N,)``: the anomaly score.

    ``model`` is an autoencoder (reconstructed with :func:`reconstruct_all`) or a linear
    baseline with ``reconstruct(images, k)``, a :class:`~ae_helpers.latent.PCABaseline`,
    which then needs ``k``, the number of components to reconstruct from.
    """
    if isinstance(model, nn.Module):
        if k is not None:
            raise ValueError("k is the number of PCA components; an autoencoder's code size is fixed")
        return per_image_mse(reconstruct_all(model, images), images)
    if not callable(getattr(model, "reconstruct", None)):
        raise TypeError(f"model must be an autoencoder (an nn.Module) or a PCA baseline (fit_pca), "
                        f"got {type(model).__name__}")
    if k is None:
        raise ValueError("a PCA baseline needs k, the number of components to reconstruct from")
    return per_image_mse(model.reconstruct(images, k), images)


# --------------------------------------------------------------------------- separating scores


def _labelled(normal_scores: Any, unusual_scores: Any) -> tuple[np.ndarray, np.ndarray]:
    normal, unusual = as_numpy(normal_scores).reshape(-1), as_numpy(unusual_scores).reshape(-1)
    if len(normal) == 0 or len(unusual) == 0:
        raise ValueError(f"need scores of both groups, got {len(normal)} normal and {len(unusual)} unusual")
    if not (np.isfinite(normal).all() and np.isfinite(unusual).all()):
        raise ValueError("scores must be finite numbers")
    labels = np.concatenate([np.zeros(len(normal)), np.ones(len(unusual))])
    return labels, np.concatenate([normal, unusual])


def anomaly_auc(normal_scores: Any, unusual_scores: Any) -> float:
    """Area under the ROC curve when a higher score should mean "unusual".

    The probability that a randomly chosen unusual input scores higher than a randomly chosen
    normal one (ties count half): 1 separates them perfectly, 0.5 is guessing, below 0.5
    the score points the wrong way. scikit-learn's ``roc_auc_score``.
    """
    from sklearn.metrics import roc_auc_score

    labels, scores = _labelled(normal_scores, unusual_scores)
    return float(roc_auc_score(labels, scores))


def roc_points(normal_scores: Any, unusual_scores: Any) -> tuple[np.ndarray, np.ndarray]:
    """The ROC curve ``(false_positive_rate, true_positive_rate)`` of the score, from (0, 0) to (1, 1).

    Each point is one threshold: flag every input scoring at least that much; the false
    positive rate is the share of normal inputs flagged, the true positive rate the share of
    unusual ones. scikit-learn's ``roc_curve`` (collinear points dropped).
    """
    from sklearn.metrics import roc_curve

    labels, scores = _labelled(normal_scores, unusual_scores)
    fpr, tpr, _ = roc_curve(labels, scores)
    return fpr, tpr


@dataclass(frozen=True, eq=False)
class ScoreSeparation:
    """How well a score separates unusual inputs from normal ones (higher meaning "more unusual").

    Attributes:
        normal: the normal inputs' scores, float64 ``(N,)``.
        unusual: the unusual inputs' scores, float64 ``(M,)``.
        fpr: the ROC curve's false positive rates (:func:`roc_points`).
        tpr: its true positive rates.
        auc: the area under it (:func:`anomaly_auc`).
    """

    normal: np.ndarray
    unusual: np.ndarray
    fpr: np.ndarray
    tpr: np.ndarray
    auc: float


def score_separation(normal_scores: Any, unusual_scores: Any) -> ScoreSeparation:
    """The scores of both groups with their ROC curve and its area, for ``plot_anomaly_scores``."""
    normal, unusual = as_numpy(normal_scores).reshape(-1), as_numpy(unusual_scores).reshape(-1)
    fpr, tpr = roc_points(normal, unusual)  # checks both groups
    return ScoreSeparation(normal=normal, unusual=unusual, fpr=fpr, tpr=tpr, auc=anomaly_auc(normal, unusual))
