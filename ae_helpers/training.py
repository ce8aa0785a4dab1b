"""Training: ``fit``, its :class:`History` and the losses it minimises.

``fit`` trains any model on one in-memory tensor with the book's recipe as defaults (Adam,
learning rate 0.005, batches of 256, 10 epochs, mean squared reconstruction error), shuffling
each epoch from a generator seeded by ``seed``. Batches are slices of that one tensor, which
is several times faster on a CPU than a ``DataLoader`` that converts images one by one.

Other models plug in through ``loss_fn(model, xb, yb)``: a variational autoencoder adds its
KL term there, a classifier computes cross-entropy against ``yb`` (pass
``train_targets=labels``). A loss made of several terms returns them by name, with the total
under ``"loss"`` (:data:`LossFn`): ``fit`` then records each term per epoch, for training and
for the test images, in one pass over the test images. The test-set numbers ``fit`` records come from
:mod:`ae_helpers.measure`; the device comes from :func:`ae_helpers.devices.pick_device`. ``fit``
seeds only the order of its batches; the initial weights are seeded before the model is built,
with :func:`ae_helpers.seeding.seed_everything` (the book's models: by their recipe,
:mod:`ae_helpers.recipes`).

>>> seed_everything(42)                                   # doctest: +SKIP
>>> model = AutoEncoder(latent_dim=2)                     # doctest: +SKIP
>>> history = fit(model, train_images, test_images=test_images)   # doctest: +SKIP
>>> history.test_mse[-1]                                  # doctest: +SKIP
0.0398...
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import asdict, dataclass, field, fields
from functools import lru_cache
from typing import Callable, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from .devices import pick_device
from .measure import batch_results, evaluate_mse, flat_images

__all__ = [
    "History",
    "LossFn",
    "TrainingDiverged",
    "evaluate_terms",
    "fit",
    "loss_terms",
    "fused_adam_works",
    "make_adam",
    "reconstruction_loss",
    "train_epoch",
]

#: ``loss_fn(model, xb, yb)``, ``yb`` being ``None`` when no targets are given: a scalar tensor, or a
#: mapping of named scalar tensors with the total under ``"loss"`` and the terms it is made of (each a
#: mean over the batch's items, e.g. ``"reconstruction"`` and ``"kl"``). A term ``"mse"``, given in
#: eval mode, is the reconstruction's mean squared error: ``fit`` then takes the test MSE from it
#: instead of a second pass over the test images.
LossFn = Callable[[nn.Module, torch.Tensor, "torch.Tensor | None"], "torch.Tensor | Mapping[str, torch.Tensor]"]


class TrainingDiverged(RuntimeError):
    """The training loss became NaN or infinite; the message names the epoch and batch."""


# --------------------------------------------------------------------------- history


@dataclass
class History:
    """What happened during :func:`fit`.

    Attributes:
        batch_losses: training loss of every batch, in order (``epochs * batches_per_epoch``).
        epoch_losses: mean training loss of each epoch (the mean of that epoch's batch losses,
            weighted by batch size): the number to report as "the training loss".
        test_losses: the loss function on the test data after each epoch (eval mode, no
            gradients); empty when no test data were given.
        test_mse: mean squared reconstruction error on the test images after each epoch; filled
            when test images are given without test targets (a reconstruction task), else empty.
        epoch_seconds: training time of each epoch, without the test-set evaluation.
        terms: for a loss made of named terms (:data:`LossFn`), each term's mean over each
            epoch's batches, by name (``terms["kl"][e]``); empty otherwise.
        test_terms: the same terms on the test data after each epoch (eval mode), except
            ``"mse"``, which is ``test_mse``.
        wall_seconds: time of the whole call, evaluation included.
        batches_per_epoch: number of batches in one epoch.
        source: ``"trained"`` when this history comes from a training run in this process,
            ``"cache"`` when it was loaded with a cached model. Not stored.
    """

    batch_losses: list[float] = field(default_factory=list)
    epoch_losses: list[float] = field(default_factory=list)
    test_losses: list[float] = field(default_factory=list)
    test_mse: list[float] = field(default_factory=list)
    epoch_seconds: list[float] = field(default_factory=list)
    terms: dict[str, list[float]] = field(default_factory=dict)
    test_terms: dict[str, list[float]] = field(default_factory=dict)
    wall_seconds: float = 0.0
    batches_per_epoch: int = 0
    source: str = field(default="trained", compare=False)

    _LISTS = ("batch_losses", "epoch_losses", "test_losses", "test_mse", "epoch_seconds")

    @property
    def seconds_per_epoch(self) -> float:
        """Median training time of one epoch (``nan`` when no epoch ran)."""
        return statistics.median(self.epoch_seconds) if self.epoch_seconds else math.nan

    def to_dict(self) -> dict:
        """Plain lists, floats and ints (JSON-able, and loadable with ``weights_only=True``)."""
        out = asdict(self)
        del out["source"]
        return out

    @classmethod
    def from_dict(cls, data: dict, *, source: str = "trained") -> "History":
        """Rebuild a history from :meth:`to_dict`'s output; ``ValueError`` if it is malformed."""
        if not isinstance(data, dict):
            raise ValueError(f"a history must be a dict, got {type(data).__name__}")
        known = {f.name for f in fields(cls)} - {"source"}
        missing, extra = known - set(data), set(data) - known
        if missing or extra:
            raise ValueError(f"history fields differ: missing {sorted(missing)}, unexpected {sorted(extra)}")
        kwargs: dict = {}
        for name in cls._LISTS:
            values = data[name]
            if not isinstance(values, (list, tuple)) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in values
            ):
                raise ValueError(f"history field {name!r} must be a list of numbers")
            kwargs[name] = [float(v) for v in values]
        for name in ("terms", "test_terms"):
            table = data[name]
            if not isinstance(table, dict) or not all(
                isinstance(k, str) and isinstance(v, (list, tuple))
                and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v)
                for k, v in table.items()
            ):
                raise ValueError(f"history field {name!r} must map names to lists of numbers")
            kwargs[name] = {k: [float(x) for x in v] for k, v in table.items()}
        if not isinstance(data["wall_seconds"], (int, float)) or not isinstance(data["batches_per_epoch"], int):
            raise ValueError("history fields 'wall_seconds' and 'batches_per_epoch' must be numbers")
        return cls(**kwargs, wall_seconds=float(data["wall_seconds"]),
                   batches_per_epoch=int(data["batches_per_epoch"]), source=source)


# --------------------------------------------------------------------------- losses


def reconstruction_loss(model: nn.Module, xb: torch.Tensor, yb: torch.Tensor | None = None) -> torch.Tensor:
    """The default loss: mean squared error between ``model(xb)`` and ``yb`` (``xb`` when ``None``).

    With targets, this trains a denoising autoencoder: noisy inputs, clean targets.
    """
    target = xb if yb is None else yb
    return F.mse_loss(model(xb), target)


def loss_terms(output: "torch.Tensor | Mapping[str, torch.Tensor]") -> dict[str, torch.Tensor]:
    """A loss function's output as ``{"loss": total, **terms}`` (a lone tensor is the total)."""
    if isinstance(output, torch.Tensor):
        return {"loss": output}
    if not isinstance(output, Mapping) or "loss" not in output:
        raise TypeError("loss_fn must return a scalar tensor or a mapping with the total under 'loss', "
                        f"got {type(output).__name__}" + (f" with keys {sorted(output)}" if isinstance(output, Mapping) else ""))
    return dict(output)


def evaluate_terms(model: nn.Module, images: torch.Tensor, targets: torch.Tensor | None = None, *,
                   loss_fn: LossFn | None = None, batch_size: int = 2000,
                   device: str | torch.device | None = None, flatten: bool = True) -> dict[str, float]:
    """Mean of ``loss_fn`` and of each of its named terms over ``images``, in one pass (eval mode, no_grad).

    Returns ``{"loss": ..., **terms}``, each weighted by batch size. ``loss_fn`` defaults to
    :func:`reconstruction_loss`; the batches run through :func:`ae_helpers.measure.batch_results`.
    """
    loss_fn = reconstruction_loss if loss_fn is None else loss_fn
    data = flat_images(images) if flatten else images

    def weighted(xb: torch.Tensor, yb: torch.Tensor | None = None) -> dict[str, float]:
        return {name: float(value) * xb.shape[0] for name, value in loss_terms(loss_fn(model, xb, yb)).items()}

    totals: dict[str, float] = {}
    for part in batch_results(model, weighted, data, targets=targets, batch_size=batch_size, device=device):
        for name, value in part.items():
            totals[name] = totals.get(name, 0.0) + value
    return {name: total / data.shape[0] for name, total in totals.items()}


# --------------------------------------------------------------------------- training


def _check_pair(name: str, images: torch.Tensor, targets: torch.Tensor | None) -> None:
    if targets is not None and (not isinstance(targets, torch.Tensor) or targets.shape[0] != images.shape[0]):
        got = targets.shape[0] if isinstance(targets, torch.Tensor) else type(targets).__name__
        raise ValueError(f"{name}: {images.shape[0]} images but targets {got}; pass one target per image")


def _diverged(epoch: int, batch: int, batches: int, value: float, lr: float) -> TrainingDiverged:
    return TrainingDiverged(
        f"training diverged: the loss is {value} at epoch {epoch}, batch {batch} of {batches}; "
        f"the likely cause is a learning rate too high for this model (lr={lr:g}): "
        f"try lr={lr / 10:g}, and check the data for NaN or infinite values"
    )


def fit(
    model: nn.Module,
    train_images: torch.Tensor,
    *,
    train_targets: torch.Tensor | None = None,
    test_images: torch.Tensor | None = None,
    test_targets: torch.Tensor | None = None,
    epochs: int = 10,
    batch_size: int = 256,
    lr: float = 0.005,
    seed: int = 42,
    loss_fn: LossFn | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
    desc: str | None = None,
    flatten: bool = True,
) -> History:
    """Train ``model`` with Adam on in-memory tensors and return its :class:`History`.

    Each epoch visits the training images once in an order drawn from a ``torch.Generator``
    seeded with ``seed`` (so the order does not depend on, nor disturb, the global random
    state). Seed the model's initial weights yourself, with :func:`seed_everything`, before
    building it.

    Args:
        train_images: ``(N, ...)`` tensor; flattened once to ``(N, features)`` unless
            ``flatten=False`` (for a model that wants image-shaped input).
        train_targets: what ``loss_fn`` compares against (labels for a classifier, clean images
            for a denoising autoencoder); ``None`` for plain reconstruction.
        test_images, test_targets: evaluated after every epoch (see :class:`History`).
        loss_fn: ``loss_fn(model, xb, yb)``, a scalar tensor or named terms with the total under
            ``"loss"`` (:data:`LossFn`); default :func:`reconstruction_loss` (MSE, mean over pixels).
        device: ``None``/``"cpu"``, ``"auto"``, ``"cuda"`` or ``"mps"`` (see :func:`pick_device`);
            the model is moved there and stays there.
        progress: show a tqdm progress bar over the epochs.
        desc: label of the progress bar.

    The model is left in eval mode. A NaN or infinite training loss stops training with
    :class:`TrainingDiverged` at the end of that epoch, naming the epoch and the first bad batch.

    Speed: the loop is plain autograd; what makes it fast is where the data live (one tensor,
    batches are index lookups instead of a ``DataLoader`` converting images one by one),
    Adam's fused kernel (:func:`make_adam`) and losses read once per epoch instead of once per
    batch (``benchmarks/train_speed.py`` measures each). On a CPU, torch uses every core for each operation: run one
    torch workload at a time, since a second one on the same cores makes both many times
    slower. Results are bit-reproducible for the same seed *and* the same number of threads
    (``torch.get_num_threads()``) on the same kind of machine.
    """
    started = time.perf_counter()
    if epochs < 0 or batch_size < 1 or not lr > 0:
        raise ValueError(f"need epochs >= 0, batch_size >= 1 and lr > 0; got epochs={epochs}, "
                         f"batch_size={batch_size}, lr={lr}")
    device = pick_device(device)
    loss_fn = reconstruction_loss if loss_fn is None else loss_fn
    x = (flat_images(train_images) if flatten else train_images).to(device=device, dtype=torch.float32)
    _check_pair("train", x, train_targets)
    y = None if train_targets is None else train_targets.to(device)
    if test_images is not None:
        _check_pair("test", test_images, test_targets)
    model.to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has no trainable parameters")
    optimizer = make_adam(params, lr=lr, device=device)
    generator = torch.Generator().manual_seed(int(seed))      # the batch order, apart from the global random state
    sizes = torch.tensor([min(batch_size, len(x) - start) for start in range(0, len(x), batch_size)],
                         dtype=torch.float64)                  # the last batch is smaller
    history = History(batches_per_epoch=len(sizes))

    from tqdm.auto import tqdm

    bar = tqdm(range(1, epochs + 1), desc=desc or "training", unit="epoch", disable=not progress, leave=True)
    try:
        for epoch in bar:
            t0 = time.perf_counter()
            order = torch.randperm(len(x), generator=generator).to(device)   # a new shuffle every epoch
            losses, terms = train_epoch(model, optimizer, x, y, order, batch_size=batch_size, loss_fn=loss_fn)
            history.epoch_seconds.append(time.perf_counter() - t0)
            _record_epoch(history, losses, terms, sizes, epoch=epoch, lr=lr)
            if test_images is not None:
                _record_test(history, model, test_images, test_targets, loss_fn, device, flatten)
            postfix = {"loss": f"{history.epoch_losses[-1]:.4f}"}
            if history.test_mse:
                postfix["test_mse"] = f"{history.test_mse[-1]:.4f}"
            bar.set_postfix(postfix, refresh=False)
    finally:
        bar.close()
        model.eval()
        history.wall_seconds = time.perf_counter() - started
    return history


def train_epoch(model: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor | None,
                order: torch.Tensor, *, batch_size: int, loss_fn: LossFn
                ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """One pass over ``x`` in the given ``order``, one optimiser step per batch (``y``: targets or ``None``).

    Returns every batch's loss, and every batch's value of each named term of the loss
    (:data:`LossFn`), as tensors left where they were computed: reading them once per epoch
    instead of once per batch saves a synchronisation per step.
    """
    model.train()
    losses, terms = [], {}
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        parts = loss_terms(loss_fn(model, x[idx], None if y is None else y[idx]))
        loss = parts.pop("loss")
        optimizer.zero_grad()        # forget the previous batch's gradients
        loss.backward()              # the gradient of the loss for every weight
        optimizer.step()             # Adam's update of every weight
        losses.append(loss.detach())
        for name, value in parts.items():
            terms.setdefault(name, []).append(value.detach())
    return torch.stack(losses), {name: torch.stack(values) for name, values in sorted(terms.items())}


def _record_epoch(history: History, losses: torch.Tensor, terms: Mapping[str, torch.Tensor],
                  sizes: torch.Tensor, *, epoch: int, lr: float) -> None:
    """Store an epoch's batch losses and its means (weighted by batch size); stop on a NaN or infinite loss."""
    batch_losses = losses.to("cpu", torch.float64)  # the epoch's one sync
    bad = (~torch.isfinite(batch_losses)).nonzero()
    if len(bad):
        first = int(bad[0])
        raise _diverged(epoch, first + 1, len(sizes), float(batch_losses[first]), lr)
    n = sizes.sum()
    history.batch_losses.extend(batch_losses.tolist())
    history.epoch_losses.append(float((batch_losses * sizes).sum() / n))
    for name, values in terms.items():
        history.terms.setdefault(name, []).append(float((values.to("cpu", torch.float64) * sizes).sum() / n))


def _record_test(history: History, model: nn.Module, test_images: torch.Tensor, test_targets: torch.Tensor | None,
                 loss_fn: LossFn, device: torch.device, flatten: bool) -> None:
    """Measure the model on the test data after an epoch (eval mode, no gradients) and store it."""
    if loss_fn is reconstruction_loss and test_targets is None:
        history.test_mse.append(evaluate_mse(model, test_images, device=device))
        history.test_losses.append(history.test_mse[-1])  # the same number: one pass
        return
    # one pass gives the loss, its terms and, when the loss names it, the MSE
    measured = evaluate_terms(model, test_images, test_targets, loss_fn=loss_fn, device=device, flatten=flatten)
    history.test_losses.append(measured.pop("loss"))
    mse = measured.pop("mse", None)
    for name, value in measured.items():
        history.test_terms.setdefault(name, []).append(value)
    if test_targets is None:
        history.test_mse.append(mse if mse is not None else evaluate_mse(model, test_images, device=device))


@lru_cache(maxsize=None)
def fused_adam_works(device: str) -> bool:
    """Whether ``torch.optim.Adam(..., fused=True)`` runs on ``device`` with this torch.

    A real probe, not a version guess: one step on a two-element tensor, checked to move the
    parameter against its gradient. (The fused CPU kernel exists from torch 2.4; MPS and older
    builds may lack it.)
    """
    try:
        p = torch.zeros(2, device=device, requires_grad=True)
        p.grad = torch.ones_like(p)
        torch.optim.Adam([p], lr=0.1, fused=True).step()
        return bool((p.detach() < 0).all())
    except (RuntimeError, TypeError, ValueError, NotImplementedError):
        return False


def make_adam(params, *, lr: float, device: str | torch.device = "cpu") -> torch.optim.Adam:
    """``torch.optim.Adam(params, lr=lr)``, fused into one kernel per step where that works here.

    The fused kernel updates every parameter in one call instead of a Python loop over them;
    on the book's autoencoders it is the fastest of Adam's implementations on both CPU and GPU.
    Where :func:`fused_adam_works` says no, this is torch's default implementation.
    """
    return torch.optim.Adam(params, lr=lr, fused=fused_adam_works(str(torch.device(device))) or None)
