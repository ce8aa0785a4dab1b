"""The book's trained models: what each one is (:class:`Recipe`) and the one way to get it,
trained or from the model cache (:func:`trained`).

A recipe names everything that decides a trained model: its kind (which fixes the model
class, the loss and how the data are prepared), its architecture, its training (the data it
trains and is tested on, loss, optimizer, epochs, batch size, learning rate, and what the kind
adds), its seed, and the model its training starts from, if any. :meth:`Recipe.config` is the
configuration the model cache (:mod:`ae_helpers.cache`) keys the stored model by, with the
identity of the data (:meth:`Recipe.data_identity`, MNIST's digests): a recipe that trains the
same model finds the same entry, and any change to one trains anew. :func:`trained` is also
where a model's seeds are used, both of them: the recipe's ``seed`` seeds the initial weights
(:func:`~ae_helpers.seeding.seed_everything` just before the model is built) and the order of
the batches (``fit``'s ``seed``); the cache only stores what comes out.

:data:`KINDS` describes each kind and the options its recipes take, with the book's value of
each. Every kind takes the options of :data:`SHARED_OPTIONS` (``epochs`` 10, ``batch_size``
256, ``lr`` 0.005, ``seed`` 42, ``hidden`` (128, 64)); the chapters ask for each kind with one
call, and what the kind adds or changes is:

- ``autoencoder``: ``trained_autoencoder(latent_dim)``.
- ``denoiser``: ``trained_denoiser(latent_dim=50)``; ``noises``, ``noise_seed`` (0),
  ``from_autoencoder`` (True), ``epochs`` 1.
- ``autoencoder-without``: ``trained_autoencoder_without(digits, latent_dim=10)``; ``epochs`` 3.
- ``vae``: ``trained_vae(latent_dim)``; ``beta`` (1.0), ``lr`` 0.001.
- ``autoencoder-bce``: ``trained_bce_autoencoder(latent_dim)``; ``lr`` 0.001.
- ``judge``: ``trained_judge()``; ``outlier_weight`` (0.5), ``hidden`` (256,), ``epochs`` 5,
  ``lr`` 0.002.

Each ``trained_*`` call takes its kind's options as keywords, plus ``progress`` and ``cache``
(see :func:`trained`), and is ``trained(Recipe.of(kind, ...))``. A new option for every kind
is one entry in :data:`SHARED_OPTIONS` and the line of :meth:`Recipe.of` that records it; a
new kind is one :class:`Kind` in :data:`KINDS` and, for the chapters, one short function.
Remember that whatever a recipe records is part of every key: record a new option only when
it is set, or every stored model trains again.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from functools import lru_cache, partial
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from .cache import cache_key, load_or_train
from .data import load_mnist, mnist_digest
from .judge import OUTLIER_WEIGHT, Classifier, judge_loss
from .models import AutoEncoder
from .seeding import seed_everything
from .training import History, LossFn, fit
from .uses import NOISE_KINDS, mixed_noise
from .vae import BCE_LOSS_NAME, VAE, VAE_BETA, VAE_LR, bce_autoencoder_terms, vae_loss_terms

__all__ = [
    "Recipe",
    "Kind",
    "KINDS",
    "SHARED_OPTIONS",
    "trained",
    "mnist_tensors",
    "trained_autoencoder",
    "trained_denoiser",
    "trained_autoencoder_without",
    "trained_vae",
    "trained_bce_autoencoder",
    "trained_judge",
]

#: The options every kind's recipe takes, and the book's recipe (a kind may change a value).
SHARED_OPTIONS: Mapping[str, Any] = {"epochs": 10, "batch_size": 256, "lr": 0.005, "seed": 42, "hidden": (128, 64)}

#: The noises of the book's denoiser: each training image gets one of them.
BOOK_NOISES = (("gaussian", 0.5), ("mask", 0.5))


@dataclass(frozen=True)
class Recipe:
    """What a trained model is: kind, architecture, training (data included), seed and start.

    Make one with :meth:`of`; get the model with :func:`trained`.

    Attributes:
        kind: a key of :data:`KINDS` (``"autoencoder"``, ``"vae"``, ...).
        model: the architecture, the model class's constructor arguments (its ``config()``).
        training: plain JSON data: what it trains and is tested on (``"data"``, ``"test"``,
            and e.g. the noises of a denoiser), the loss, the optimizer, epochs, batch size,
            learning rate, and the kind's own settings (``"beta"``, ...).
        seed: seeds the initial weights and the order of the batches.
        start: the recipe of the model whose weights training starts from (its configuration
            is part of this one's, so the key changes when that model does), ``"random"``
            for a kind that could start from one but does not, else ``None``.
    """

    kind: str
    model: Mapping[str, Any]
    training: Mapping[str, Any]
    seed: int
    start: Recipe | str | None = None

    @classmethod
    def of(cls, kind: str, **options: Any) -> Recipe:
        """The book's recipe for a model of ``kind``, with ``options`` changed (see :data:`KINDS`)."""
        spec = _kind(kind)
        allowed = {**SHARED_OPTIONS, **spec.defaults}
        unknown = sorted(set(options) - set(allowed) - set(spec.required))
        if unknown:
            raise TypeError(f"a {kind!r} model has no option {', '.join(map(repr, unknown))}; its options are "
                            f"{', '.join(sorted([*spec.required, *allowed]))} (the trained_* calls also take "
                            f"progress and cache)")
        missing = [name for name in spec.required if name not in options]
        if missing:
            raise TypeError(f"a {kind!r} model needs {', '.join(missing)}")
        o = {**allowed, **options}
        for name in spec.loss_options:
            if o[name] < 0:
                raise ValueError(f"{name} must be non-negative, got {o[name]}")
        training = {"data": "mnist-train", "test": "mnist-test", "loss": spec.loss, "optimizer": "adam",
                    "epochs": int(o["epochs"]), "batch_size": int(o["batch_size"]), "lr": float(o["lr"]),
                    "shuffle": True, **{name: float(o[name]) for name in spec.loss_options}, **spec.data(o)}
        model = spec.model_class(**{name: o[name] for name in spec.architecture}).config()
        start = spec.start(o) if spec.start is not None else None
        return cls(kind=kind, model=model, training=training, seed=int(o["seed"]), start=start)

    def config(self) -> dict:
        """The cache configuration: ``{"model": ..., "recipe": training (and start), "seed": ...}``."""
        recipe = copy.deepcopy(dict(self.training))
        if self.start is not None:
            recipe["start"] = self.start.config() if isinstance(self.start, Recipe) else self.start
        return {"model": copy.deepcopy(dict(self.model)), "recipe": recipe, "seed": self.seed}

    def data_identity(self) -> str:
        """The identity of the data the model trains on, part of its cache key: every kind trains
        on MNIST's files (``training["data"]`` says which part of them), so this is their
        digests in one (:func:`~ae_helpers.data.mnist_digest`)."""
        return mnist_digest()

    def key(self) -> str:
        """The model cache's key of this recipe (:func:`ae_helpers.cache.cache_key`)."""
        return cache_key(self.kind, self.config(), data=self.data_identity())


@dataclass(frozen=True)
class Kind:
    """One kind of trained model: its class, loss and data, and the options its recipes take.

    Attributes:
        model_class: builds the model from the recipe's ``model``.
        architecture: the options that are ``model_class``'s constructor arguments.
        loss: how the configuration names the loss.
        label: the progress bar's label of a recipe.
        required: options without a default (the caller names them).
        defaults: the kind's own options and the values it changes in :data:`SHARED_OPTIONS`.
        loss_fn: :func:`~ae_helpers.training.fit`'s ``loss_fn`` (``None``: mean squared error).
        loss_options: options passed on to ``loss_fn``; numbers, recorded in the training part.
        data: what the training part records about the data, from the options (it may
            replace ``"data"`` and ``"test"``, which default to MNIST's two splits).
        arrays: ``fit``'s data arguments (``train_images``, ``test_images``, and targets) from
            the training part.
        start: the recipe (or ``"random"``) that training starts from, from the options.
    """

    model_class: Callable[..., nn.Module]
    architecture: tuple[str, ...]
    loss: str
    label: Callable[[Recipe], str]
    required: tuple[str, ...] = ("latent_dim",)
    defaults: Mapping[str, Any] = field(default_factory=dict)
    loss_fn: LossFn | None = None
    loss_options: tuple[str, ...] = ()
    data: Callable[[Mapping[str, Any]], dict] = lambda options: {}
    arrays: Callable[[Mapping[str, Any]], dict] = lambda training: _images()
    start: Callable[[Mapping[str, Any]], Recipe | str] | None = None


def _kind(kind: str) -> Kind:
    if kind not in KINDS:
        raise ValueError(f"unknown kind of model {kind!r}; choose one of {', '.join(KINDS)}")
    return KINDS[kind]


def trained(recipe: Recipe, *, progress: bool = True,
            cache: str | os.PathLike | None = None) -> tuple[nn.Module, History]:
    """The model ``recipe`` describes and its history: from the cache, or trained and stored.

    On a miss: :func:`~ae_helpers.seeding.seed_everything` with the recipe's seed, the model
    built (so its initial weights come from that seed), its start model's weights loaded when
    it has one (itself loaded or trained first), then :func:`~ae_helpers.training.fit` on the
    CPU, its batches in an order drawn from the same seed, with a progress bar unless
    ``progress=False``. ``cache`` is the cache folder (default
    :func:`ae_helpers.paths.cache_dir`). The model comes back on the CPU, in eval mode;
    ``history.source`` says ``"cache"`` or ``"trained"``.
    """
    spec = _kind(recipe.kind)
    training = recipe.training
    loss_fn = spec.loss_fn
    if loss_fn is not None and spec.loss_options:
        loss_fn = partial(loss_fn, **{name: training[name] for name in spec.loss_options})

    def build(config: dict) -> nn.Module:
        return spec.model_class(**config["model"])

    def train(config: dict) -> tuple[nn.Module, History]:
        seed_everything(recipe.seed)      # the initial weights
        model = build(config)
        if isinstance(recipe.start, Recipe):
            start, _ = trained(recipe.start, progress=progress, cache=cache)
            model.load_state_dict(start.state_dict())
        history = fit(model, **spec.arrays(training), epochs=training["epochs"], batch_size=training["batch_size"],
                      lr=training["lr"], seed=recipe.seed, loss_fn=loss_fn, progress=progress, desc=spec.label(recipe))
        return model, history

    return load_or_train(recipe.kind, recipe.config(), build, train, data=recipe.data_identity(), cache=cache)


# --------------------------------------------------------------------------- data


@lru_cache(maxsize=1)
def mnist_tensors() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """MNIST as ``(train_images, train_labels, test_images, test_labels)``, read and verified
    once per process for every model trained here (``fit`` never changes them)."""
    return (*load_mnist("train"), *load_mnist("test"))


def _images() -> dict:
    train_images, _, test_images, _ = mnist_tensors()
    return {"train_images": train_images, "test_images": test_images}


def _labelled(training: Mapping[str, Any]) -> dict:
    train_images, train_labels, test_images, test_labels = mnist_tensors()
    return {"train_images": train_images, "train_targets": train_labels,
            "test_images": test_images, "test_targets": test_labels}


def _noise_list(noises: Sequence[tuple[str, float]]) -> list[list]:
    out = []
    for kind, level in noises:
        if kind not in NOISE_KINDS:
            raise ValueError(f"unknown noise kind {kind!r}; choose one of {sorted(NOISE_KINDS)}")
        out.append([str(kind), float(level)])
    if not out:
        raise ValueError("noises is empty: pass e.g. [('gaussian', 0.5), ('mask', 0.5)]")
    return out


def _noisy(training: Mapping[str, Any]) -> dict:
    """The training images corrupted by :func:`~ae_helpers.uses.mixed_noise`, the test images
    likewise (seed ``noise_seed + 1``), with the clean images as targets."""
    train_images, _, test_images, _ = mnist_tensors()
    return {"train_images": mixed_noise(train_images, training["noises"], seed=training["noise_seed"]),
            "train_targets": train_images.reshape(len(train_images), -1),
            "test_images": mixed_noise(test_images, training["noises"], seed=training["noise_seed"] + 1),
            "test_targets": test_images.reshape(len(test_images), -1)}


def _digits(digits: int | Sequence[int]) -> list[int]:
    values = [digits] if isinstance(digits, (int, np.integer)) else list(digits)
    if not values or any(isinstance(d, bool) or not 0 <= int(d) <= 9 for d in values):
        raise ValueError(f"digits must be one or more of 0-9, got {digits!r}")
    return sorted({int(d) for d in values})


def _without(training: Mapping[str, Any]) -> dict:
    """Every training and test image except those of the held-out digits."""
    train_images, train_labels, test_images, test_labels = mnist_tensors()
    held_out = torch.tensor(training["without"])
    return {"train_images": train_images[~torch.isin(train_labels, held_out)],
            "test_images": test_images[~torch.isin(test_labels, held_out)]}


def _plain_start(options: Mapping[str, Any]) -> Recipe | str:
    """The plain autoencoder of the same size and recipe (its own 10 epochs), or ``"random"``."""
    if not options["from_autoencoder"]:
        return "random"
    return Recipe.of("autoencoder", **{name: options[name] for name in ("latent_dim", "hidden", "batch_size",
                                                                         "lr", "seed")})


def _latent(label: str) -> Callable[[Recipe], str]:
    return lambda recipe: f"{label}, latent {recipe.model['latent_dim']}"


#: Every kind of trained model in the book.
KINDS: dict[str, Kind] = {
    "autoencoder": Kind(AutoEncoder, ("latent_dim", "hidden"), "mse", _latent("autoencoder")),
    "denoiser": Kind(
        AutoEncoder, ("latent_dim", "hidden"), "mse", _latent("denoiser"),
        defaults={"epochs": 1, "noises": BOOK_NOISES, "noise_seed": 0, "from_autoencoder": True},
        data=lambda o: {"data": "mnist-train-mixed-noise", "targets": "clean", "noises": _noise_list(o["noises"]),
                        "noise_seed": int(o["noise_seed"])},
        arrays=_noisy, start=_plain_start),
    "autoencoder-without": Kind(
        AutoEncoder, ("latent_dim", "hidden"), "mse",
        lambda r: f"autoencoder without {','.join(map(str, r.training['without']))}, latent {r.model['latent_dim']}",
        required=("digits", "latent_dim"), defaults={"epochs": 3},
        data=lambda o: {"data": "mnist-train-without", "test": "mnist-test-without", "without": _digits(o["digits"])},
        arrays=_without),
    "vae": Kind(VAE, ("latent_dim", "hidden"), f"{BCE_LOSS_NAME}+beta*kl", _latent("VAE"),
                defaults={"lr": VAE_LR, "beta": VAE_BETA}, loss_fn=vae_loss_terms, loss_options=("beta",)),
    "autoencoder-bce": Kind(
        AutoEncoder, ("latent_dim", "hidden"), BCE_LOSS_NAME,
        lambda r: f"control (autoencoder, BCE, lr {r.training['lr']:g}), latent {r.model['latent_dim']}",
        defaults={"lr": VAE_LR}, loss_fn=bce_autoencoder_terms),
    "judge": Kind(Classifier, ("hidden",), "cross-entropy+outlier-exposure", lambda r: "judge", required=(),
                  defaults={"hidden": (256,), "epochs": 5, "lr": 2e-3, "outlier_weight": OUTLIER_WEIGHT},
                  loss_fn=judge_loss, loss_options=("outlier_weight",), arrays=_labelled),
}


# --------------------------------------------------------------------------- the chapters' calls


def _trained(kind: str, options: dict[str, Any], **given: Any) -> tuple[Any, History]:
    """``trained(Recipe.of(kind, **given, **options))``, with ``progress`` and ``cache`` taken from ``options``."""
    progress = options.pop("progress", True)
    cache = options.pop("cache", None)
    return trained(Recipe.of(kind, **given, **options), progress=progress, cache=cache)


def trained_autoencoder(latent_dim: int, **options: Any) -> tuple[AutoEncoder, History]:
    """An autoencoder trained on MNIST with the book's recipe, and its history.

    ``options``: ``epochs`` (10), ``batch_size`` (256), ``lr`` (0.005), ``seed`` (42),
    ``hidden`` ((128, 64)), ``progress`` and ``cache`` (see :func:`trained`). Loaded from the
    cache when this recipe was trained before, otherwise trained (test MSE measured after
    every epoch) and stored. The model is on the CPU, in eval mode.

    >>> model, history = trained_autoencoder(2)          # doctest: +SKIP
    >>> history.source, round(history.test_mse[-1], 3)   # doctest: +SKIP
    ('cache', 0.04)
    """
    return _trained("autoencoder", options, latent_dim=latent_dim)


def trained_denoiser(latent_dim: int = 50, **options: Any) -> tuple[AutoEncoder, History]:
    """A denoising autoencoder: the book's model trained on corrupted images with clean targets.

    The training images are corrupted once by :func:`~ae_helpers.uses.mixed_noise` (each image
    gets one of ``noises``, seeded by ``noise_seed``), and the model learns to output the clean
    image. With ``from_autoencoder`` (the default) training starts from the weights of the
    plain autoencoder of the same size, :func:`trained_autoencoder` (10 epochs of the book's
    recipe; loaded from the cache or trained first), and ``epochs`` (1) more epochs on corrupted
    images follow; otherwise it starts from random weights. ``history.test_losses`` is the MSE
    between the model's output for the test images, corrupted the same way (seed
    ``noise_seed + 1``), and the clean test images.

    ``options``: ``noises`` (``[("gaussian", 0.5), ("mask", 0.5)]``), ``noise_seed`` (0),
    ``from_autoencoder`` (True), and those of :func:`trained_autoencoder` (``epochs`` 1).
    """
    return _trained("denoiser", options, latent_dim=latent_dim)


def trained_autoencoder_without(digits: int | Sequence[int], latent_dim: int = 10,
                                **options: Any) -> tuple[AutoEncoder, History]:
    """An autoencoder trained with the book's recipe on every training image except ``digits``.

    ``digits`` is one digit or a list of them. ``history.test_mse`` is measured on the test
    images of the remaining digits (the "normal" ones). ``options``: those of
    :func:`trained_autoencoder` (``epochs`` 3).
    """
    return _trained("autoencoder-without", options, digits=digits, latent_dim=latent_dim)


def trained_vae(latent_dim: int, **options: Any) -> tuple[VAE, History]:
    """A VAE trained on MNIST with :func:`~ae_helpers.vae.vae_loss`, and its history.

    ``history.test_losses`` is the loss per image on the test set (nats, decoded from the mean
    code) and ``history.test_mse`` the per-pixel MSE, comparable with a plain autoencoder's.
    ``options``: ``beta`` (1.0, the weight of the KL term) and those of
    :func:`trained_autoencoder`, with the learning rate :data:`~ae_helpers.vae.VAE_LR` (1e-3):
    with the plain autoencoder's 0.005 the latent-50 VAE (10 epochs, seed 42) ended with a
    higher test loss (118.6 against 112.2 nats per image) and test MSE (0.024 against 0.019).

    >>> model, history = trained_vae(2)          # doctest: +SKIP
    """
    return _trained("vae", options, latent_dim=latent_dim)


def trained_bce_autoencoder(latent_dim: int, **options: Any) -> tuple[AutoEncoder, History]:
    """The control for the VAE: the plain autoencoder trained with the VAE's loss and learning
    rate, minus the KL term.

    The network is the plain :class:`~ae_helpers.models.AutoEncoder` (whose layers are the
    VAE's mean path), the loss :func:`~ae_helpers.vae.bce_autoencoder_terms` (the VAE's
    reconstruction term, BCE summed per image) and the learning rate
    :data:`~ae_helpers.vae.VAE_LR`. It differs from the plain autoencoder only in loss and
    learning rate, and from the VAE only in the KL term and the sampled codes.
    ``history.test_mse`` is the per-pixel test MSE, comparable with both. ``options``: those of
    :func:`trained_autoencoder` (``lr`` 0.001).
    """
    return _trained("autoencoder-bce", options, latent_dim=latent_dim)


def trained_judge(**options: Any) -> tuple[Classifier, History]:
    """The judge: a :class:`~ae_helpers.judge.Classifier` trained on the MNIST training set.

    Trained with :func:`~ae_helpers.judge.judge_loss` (about 97.7% test accuracy in 5 epochs,
    a few seconds); ``history.test_losses`` holds the test cross-entropy after each epoch.
    ``options``: ``outlier_weight`` (0.5), ``hidden`` ((256,)), ``epochs`` (5), ``lr``
    (0.002), ``batch_size`` (256), ``seed`` (42), ``progress`` and ``cache``. Check it with
    ``judge_accuracy(judge, test_images, test_labels)``.
    """
    return _trained("judge", options)
