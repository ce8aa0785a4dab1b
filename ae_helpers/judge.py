"""A digit classifier used only as a judge, and a "digit-likeness" score for generated images.

The judge is a small fully connected network trained on the MNIST training set. It never
trains the generators; it only says, for a batch of images, how many it would confidently
call a digit (:func:`digit_likeness`) and how evenly those calls spread over the ten digits.

A plain classifier is a poor judge: it calls almost any image a digit with confidence (trained
with cross-entropy alone, it gave 91% of uniform-noise images a probability above 0.9, all of
them the same digit). So the judge also learns to be unsure about images that are not digits
(:func:`judge_loss`, "outlier exposure"): for copies of the training digits with their pixels
shuffled, same ink, no shape, it is trained towards equal probabilities for the ten classes.
Uniform noise, never shown in training, then gets no confident answer at all.

The trained judge, with its recipe (5 epochs, learning rate 0.002), is
:mod:`ae_helpers.recipes`' ``trained_judge``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .measure import apply_in_batches
from .models import mlp

__all__ = [
    "Classifier",
    "classifier_loss",
    "judge_loss",
    "predict_proba",
    "judge_accuracy",
    "DigitLikeness",
    "digit_likeness",
    "OUTLIER_WEIGHT",
]

#: The weight of :func:`judge_loss`'s "unsure about non-digits" term in the book's judge.
OUTLIER_WEIGHT = 0.5


class Classifier(nn.Module):
    """A fully connected digit classifier: ``num_features -> 256 -> ReLU -> num_classes`` logits.

    Accepts images of shape ``(N, 784)`` or ``(N, 1, 28, 28)``; returns logits ``(N, num_classes)``.
    """

    def __init__(self, num_features: int = 784, hidden: Sequence[int] = (256,), num_classes: int = 10):
        super().__init__()
        hidden = tuple(int(h) for h in hidden)
        if num_features < 1 or num_classes < 2 or any(h < 1 for h in hidden):
            raise ValueError(f"sizes must be positive and num_classes at least 2: num_features="
                             f"{num_features}, hidden={hidden}, num_classes={num_classes}")
        self.num_features = int(num_features)
        self.hidden = hidden
        self.num_classes = int(num_classes)
        self.net = mlp([num_features, *hidden, num_classes])

    def config(self) -> dict:
        """The constructor arguments, enough to rebuild the model."""
        return {"num_features": self.num_features, "hidden": list(self.hidden), "num_classes": self.num_classes}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(N, num_classes)``."""
        x = x.reshape(x.shape[0], -1)
        if x.shape[1] != self.num_features:
            raise ValueError(f"the classifier expects {self.num_features} values per image, got {x.shape[1]}")
        return self.net(x)


def classifier_loss(model: nn.Module, xb: torch.Tensor, yb: torch.Tensor | None) -> torch.Tensor:
    """Cross-entropy of the logits ``model(xb)`` against the labels ``yb``: the engine's ``loss_fn``."""
    if yb is None:
        raise ValueError("the classifier needs labels: pass train_targets=labels to fit")
    return F.cross_entropy(model(xb), yb)


def judge_loss(model: nn.Module, xb: torch.Tensor, yb: torch.Tensor | None, *,
               outlier_weight: float = OUTLIER_WEIGHT) -> torch.Tensor:
    """Cross-entropy on the digits plus ``outlier_weight`` times an "unsure about non-digits" term.

    In training mode, the first half of the batch is copied with its pixels shuffled (one
    random permutation per batch, from torch's global generator, so seeded runs repeat) and the
    term is the KL divergence from the uniform distribution over classes to the model's
    prediction for those copies (zero when it says 1/10 for every class). In eval mode only
    the cross-entropy is returned, so a test loss is the plain test cross-entropy.
    """
    ce = classifier_loss(model, xb, yb)
    if not model.training or outlier_weight == 0:
        return ce
    flat = xb.reshape(xb.shape[0], -1)
    shuffled = flat[: max(1, flat.shape[0] // 2)].index_select(1, torch.randperm(flat.shape[1]).to(flat.device))
    log_p = F.log_softmax(model(shuffled), dim=1)
    to_uniform = -log_p.mean(dim=1).mean() - math.log(log_p.shape[1])
    return ce + outlier_weight * to_uniform


def predict_proba(model: nn.Module, images: torch.Tensor, *, batch_size: int = 4096) -> torch.Tensor:
    """Class probabilities ``(N, num_classes)`` (softmax), in batches, eval mode, no_grad, on CPU."""
    if len(images) == 0:
        raise ValueError("no images to classify: got an empty batch")
    logits = apply_in_batches(model, "forward", images.to(torch.float32), batch_size)
    return F.softmax(logits, dim=1)


def judge_accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of ``images`` whose most probable class is the label."""
    if len(images) != len(labels):
        raise ValueError(f"images and labels differ in length: {len(images)} and {len(labels)}")
    pred = predict_proba(model, images).argmax(1)
    return float((pred == labels.cpu()).float().mean())


@dataclass(frozen=True)
class DigitLikeness:
    """How digit-like a batch of images looks to the judge.

    Attributes:
        confident: fraction of images the judge classifies with probability >= ``threshold``.
        class_entropy: entropy, in nats, of the histogram of predicted classes (all images);
            ``log 10 = 2.303`` when the ten digits are equally represented, 0 for one digit.
        counts: how many images were predicted as each class.
        threshold: the probability threshold used for ``confident``.
        n: number of images scored.
    """

    confident: float
    class_entropy: float
    counts: tuple[int, ...]
    threshold: float
    n: int

    @property
    def confident_se(self) -> float:
        """Standard error of ``confident`` as an estimate from ``n`` independent samples,
        ``sqrt(p (1 - p) / n)``: differences of a few of these are sampling noise."""
        return math.sqrt(self.confident * (1.0 - self.confident) / self.n) if self.n else math.nan

    def line(self, name: str) -> str:
        """One line ``samples model=<name> confident=<fraction> class_entropy=<nats>``."""
        return f"samples model={name} confident={self.confident:.3f} class_entropy={self.class_entropy:.3f}"

    def to_dict(self) -> dict:
        """The fields as a plain dict."""
        return asdict(self)


def digit_likeness(judge: nn.Module, images: torch.Tensor, *, threshold: float = 0.9) -> DigitLikeness:
    """Score ``images`` (``(N, 1, 28, 28)`` or ``(N, 784)``, pixels in [0, 1]) with the judge.

    Returns the fraction classified with probability at least ``threshold`` and the entropy
    of the predicted-class histogram (see :class:`DigitLikeness`).
    """
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    proba = predict_proba(judge, images)
    top, pred = proba.max(dim=1)
    counts = torch.bincount(pred, minlength=proba.shape[1])
    p = counts[counts > 0].double() / len(pred)
    entropy = float(-(p * p.log()).sum())
    return DigitLikeness(confident=float((top >= threshold).double().mean()),
                         class_entropy=max(0.0, entropy), counts=tuple(int(c) for c in counts),
                         threshold=float(threshold), n=len(pred))
