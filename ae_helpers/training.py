"""Training and evaluation: seeding, device choice, ``fit`` and test-set metrics.

``fit`` trains any model on one in-memory tensor with the book's recipe as defaults (Adam,
learning rate 0.005, batches of 256, 10 epochs, mean squared reconstruction error), shuffling
each epoch from a generator seeded by ``seed``. Batches are slices of that one tensor, which
is several times faster on a CPU than a ``DataLoader`` that converts images one by one.

Other models plug in through ``loss_fn(model, xb, yb) -> scalar tensor``: a variational
autoencoder adds its KL term there, a classifier computes cross-entropy against ``yb``
(pass ``train_targets=labels``).

>>> seed_everything(42)                                   # doctest: +SKIP
>>> model = AutoEncoder(latent_dim=2)                     # doctest: +SKIP
>>> history = fit(model, train_images, test_images=test_images)   # doctest: +SKIP
>>> history.test_mse[-1]                                  # doctest: +SKIP
0.0398...
"""

from __future__ import annotations

import math
import random
import statistics
import time
from dataclasses import asdict, dataclass, field, fields
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .models import AutoEncoder

__all__ = [
    "History",
    "LossFn",
    "TrainingDiverged",
    "evaluate_loss",
    "evaluate_mse",
    "fit",
    "per_digit_mse",
    "pick_device",
    "reconstruct",
    "reconstruction_loss",
    "seed_everything",
]

#: ``loss_fn(model, xb, yb) -> scalar tensor``; ``yb`` is ``None`` when no targets are given.
LossFn = Callable[[nn.Module, torch.Tensor, "torch.Tensor | None"], torch.Tensor]


class TrainingDiverged(RuntimeError):
    """The training loss became NaN or infinite; the message names the epoch and batch."""


# --------------------------------------------------------------------------- set-up


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


def pick_device(prefer: str | torch.device | None = None) -> torch.device:
    """The device to train on: the CPU unless asked otherwise.

    ``prefer`` is ``None`` or ``"cpu"`` (the CPU), ``"auto"`` (CUDA if present, then Apple's
    MPS, then the CPU), or ``"cuda"``/``"cuda:N"``/``"mps"`` (that device; an error if absent).
    """
    if prefer is None:
        return torch.device("cpu")
    if isinstance(prefer, torch.device):
        prefer = str(prefer)
    choice = prefer.strip().lower()
    mps_ok = hasattr(torch.backends, "mps") and torch.backends.mps.is_available()
    if choice == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if mps_ok else torch.device("cpu")
    if choice == "cpu":
        return torch.device("cpu")
    if choice.startswith("cuda"):
        if not torch.cuda.is_available():
            raise RuntimeError(f"device {prefer!r} asked for but CUDA is not available here; "
                               "use device='cpu' (or 'auto' to take a GPU only when present)")
        device = torch.device(choice)
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise RuntimeError(f"device {prefer!r} asked for but only {torch.cuda.device_count()} "
                               "CUDA device(s) exist; use 'cuda:0' or 'auto'")
        return device
    if choice == "mps":
        if not mps_ok:
            raise RuntimeError(f"device {prefer!r} asked for but Apple's MPS is not available here; "
                               "use device='cpu' (or 'auto' to take a GPU only when present)")
        return torch.device("mps")
    raise ValueError(f"unknown device {prefer!r}; use 'cpu', 'cuda', 'mps' or 'auto'")


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
        if not isinstance(data["wall_seconds"], (int, float)) or not isinstance(data["batches_per_epoch"], int):
            raise ValueError("history fields 'wall_seconds' and 'batches_per_epoch' must be numbers")
        return cls(**kwargs, wall_seconds=float(data["wall_seconds"]),
                   batches_per_epoch=int(data["batches_per_epoch"]), source=source)


# --------------------------------------------------------------------------- losses


def reconstruct(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The model's reconstruction of ``x``: ``model.reconstruct(x)`` when the model defines it
    (a VAE returning its decoded mean, say), else ``model(x)``."""
    method = getattr(model, "reconstruct", None)
    return method(x) if callable(method) else model(x)


def reconstruction_loss(model: nn.Module, xb: torch.Tensor, yb: torch.Tensor | None = None) -> torch.Tensor:
    """The default loss: mean squared error between ``model(xb)`` and ``yb`` (``xb`` when ``None``).

    With targets, this trains a denoising autoencoder: noisy inputs, clean targets.
    """
    target = xb if yb is None else yb
    return F.mse_loss(model(xb), target)


# --------------------------------------------------------------------------- evaluation


def _model_device(model: nn.Module) -> torch.device:
    for tensor in model.parameters():
        return tensor.device
    return torch.device("cpu")


def _flat(images: torch.Tensor) -> torch.Tensor:
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"images must be a torch.Tensor, got {type(images).__name__}")
    if images.ndim == 0 or images.shape[0] == 0:
        raise ValueError(f"images must hold at least one image, got shape {tuple(images.shape)}")
    return images.reshape(images.shape[0], -1)


class _EvalMode:
    """Context: eval mode and no gradients, restoring the model's previous mode afterwards."""

    def __init__(self, model: nn.Module):
        self.model = model

    def __enter__(self) -> None:
        self.was_training = self.model.training
        self.no_grad = torch.no_grad()
        self.no_grad.__enter__()
        self.model.eval()

    def __exit__(self, *exc) -> None:
        self.model.train(self.was_training)
        self.no_grad.__exit__(*exc)


def _squared_errors(model, images, batch_size, device) -> torch.Tensor:
    """Per-image sum of squared reconstruction errors, float64, on the CPU."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    flat = _flat(images)
    device = _model_device(model) if device is None else pick_device(device)
    out = torch.empty(flat.shape[0], dtype=torch.float64)
    with _EvalMode(model):
        for start in range(0, flat.shape[0], batch_size):
            xb = flat[start:start + batch_size].to(device, torch.float32)
            rec = reconstruct(model, xb).reshape(xb.shape)
            out[start:start + xb.shape[0]] = (rec - xb).double().pow_(2).sum(dim=1).cpu()
    return out


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


def evaluate_loss(model: nn.Module, images: torch.Tensor, targets: torch.Tensor | None = None, *,
                  loss_fn: LossFn | None = None, batch_size: int = 2000,
                  device: str | torch.device | None = None, flatten: bool = True) -> float:
    """Mean of ``loss_fn`` over ``images`` (weighted by batch size), in eval mode under no_grad."""
    loss_fn = reconstruction_loss if loss_fn is None else loss_fn
    data = _flat(images) if flatten else images
    device = _model_device(model) if device is None else pick_device(device)
    total = 0.0
    with _EvalMode(model):
        for start in range(0, data.shape[0], batch_size):
            xb = data[start:start + batch_size].to(device)
            yb = None if targets is None else targets[start:start + batch_size].to(device)
            total += float(loss_fn(model, xb, yb)) * xb.shape[0]
    return total / data.shape[0]


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
        loss_fn: ``loss_fn(model, xb, yb) -> scalar tensor``; default
            :func:`reconstruction_loss` (MSE, mean over pixels).
        device: ``None``/``"cpu"``, ``"auto"``, ``"cuda"`` or ``"mps"`` (see :func:`pick_device`);
            the model is moved there and stays there.
        progress: show a tqdm progress bar over the epochs.
        desc: label of the progress bar.

    The model is left in eval mode. A NaN or infinite training loss stops training with
    :class:`TrainingDiverged`, which names the epoch and the batch.

    Speed: on a CPU, torch uses every core for each operation. Run one torch workload at a
    time: a second one (another notebook's kernel training, say) on the same cores makes both
    many times slower, not twice. Results are bit-reproducible for the same seed *and* the
    same number of threads (``torch.get_num_threads()``).
    """
    started = time.perf_counter()
    if epochs < 0 or batch_size < 1 or not lr > 0:
        raise ValueError(f"need epochs >= 0, batch_size >= 1 and lr > 0; got epochs={epochs}, "
                         f"batch_size={batch_size}, lr={lr}")
    device = pick_device(device)
    loss_fn = reconstruction_loss if loss_fn is None else loss_fn
    x_train = _flat(train_images) if flatten else train_images
    _check_pair("train", x_train, train_targets)
    x_train = x_train.to(device=device, dtype=torch.float32).contiguous()
    y_train = None if train_targets is None else train_targets.to(device).contiguous()
    if test_images is not None:
        _check_pair("test", test_images, test_targets)
    n = x_train.shape[0]
    starts = list(range(0, n, batch_size))
    history = History(batches_per_epoch=len(starts))

    model.to(device)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has no trainable parameters")
    generator = torch.Generator().manual_seed(int(seed))
    on_cpu = device.type == "cpu"
    fast = _FastAutoEncoderStep.plan(model, loss_fn, x_train, y_train, params) if on_cpu else None
    optimizer = _KernelAdam(params, lr) if fast is not None and _KernelAdam.available() else _adam(params, lr, device)

    from tqdm.auto import tqdm

    bar = tqdm(range(1, epochs + 1), desc=desc or "training", unit="epoch", disable=not progress,
               leave=True)
    try:
        for epoch in bar:
            model.train()
            order = torch.randperm(n, generator=generator).to(device)
            t0 = time.perf_counter()
            if fast is not None:
                losses = _train_epoch_fast(fast, optimizer, x_train, y_train, order, batch_size)
            elif on_cpu:
                losses = _train_epoch_cpu(model, optimizer, loss_fn, x_train, y_train, order, batch_size)
            else:
                losses = _train_epoch_device(model, optimizer, loss_fn, x_train, y_train, order, batch_size)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            elapsed = time.perf_counter() - t0
            for i, value in enumerate(losses):
                if not math.isfinite(value):
                    raise _diverged(epoch, i + 1, len(starts), value, lr)
            sizes = [min(batch_size, n - s) for s in starts]
            history.batch_losses.extend(losses)
            history.epoch_losses.append(sum(v * s for v, s in zip(losses, sizes)) / n)
            history.epoch_seconds.append(elapsed)
            postfix = {"loss": f"{history.epoch_losses[-1]:.4f}"}
            if test_images is not None:
                if test_targets is None:
                    history.test_mse.append(evaluate_mse(model, test_images, device=device))
                    postfix["test_mse"] = f"{history.test_mse[-1]:.4f}"
                if test_targets is None and loss_fn is reconstruction_loss:
                    history.test_losses.append(history.test_mse[-1])  # the same number: one pass
                else:
                    history.test_losses.append(evaluate_loss(model, test_images, test_targets, loss_fn=loss_fn,
                                                             device=device, flatten=flatten))
            bar.set_postfix(postfix, refresh=False)
    finally:
        bar.close()
        model.eval()
        history.wall_seconds = time.perf_counter() - started
    return history


def _adam(params: list[torch.Tensor], lr: float, device: torch.device) -> torch.optim.Adam:
    """Adam with the fused kernel where torch has one for this device (one call per step)."""
    if device.type in ("cpu", "cuda"):
        try:
            return torch.optim.Adam(params, lr=lr, fused=True)
        except (RuntimeError, TypeError, ValueError):  # an older torch without the fused kernel
            pass
    return torch.optim.Adam(params, lr=lr, foreach=device.type != "cpu")


def _train_epoch_cpu(model, optimizer, loss_fn, x, y, order, batch_size) -> list[float]:
    """One epoch on the CPU; returns the batch losses. Stops at the first non-finite loss."""
    losses: list[float] = []
    n = x.shape[0]
    adam = _DirectAdam(optimizer)
    for start in range(0, n, batch_size):
        idx = order[start:start + batch_size]
        xb = x.index_select(0, idx)
        yb = None if y is None else y.index_select(0, idx)
        loss = loss_fn(model, xb, yb)
        value = loss.item()
        losses.append(value)
        if not math.isfinite(value):
            break  # fit raises, naming this batch
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        adam.step()
    return losses


def _train_epoch_device(model, optimizer, loss_fn, x, y, order, batch_size) -> list[float]:
    """One epoch on a GPU: losses stay on the device until the epoch ends (no sync per batch)."""
    n = x.shape[0]
    batches = (n + batch_size - 1) // batch_size
    buffer = torch.empty(batches, device=x.device, dtype=torch.float32)
    for i, start in enumerate(range(0, n, batch_size)):
        idx = order[start:start + batch_size]
        xb = x.index_select(0, idx)
        yb = None if y is None else y.index_select(0, idx)
        loss = loss_fn(model, xb, yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        buffer[i] = loss.detach()
    return buffer.cpu().tolist()


class _FastAutoEncoderStep:
    """Forward and backward pass of a plain :class:`AutoEncoder` under the default MSE loss,
    written out by hand, into work tensors made once: the aten operations autograd would run,
    in the same order and on the same operand layouts, so the gradients match autograd's (to the
    last bit in the tests here), without building and walking a graph for every batch. Two
    differences: the reported loss is a dot product of the error with itself (it may differ
    from ``mse_loss`` in the last bit), and gradients below float32's smallest normal number
    (1.2e-38) are set to 0, which keeps the matmuls off the CPU's slow denormal path.

    :meth:`plan` returns ``None`` for anything else (another model or loss, a subclass, a model
    with hooks, frozen parameters), which then trains through autograd.
    """

    def __init__(self, layers: list[tuple[torch.Tensor, torch.Tensor, bool]]):
        self.layers = layers  # (weight, bias, ReLU after this layer), first to last
        self.one = torch.ones((), dtype=torch.float32)  # the seed gradient of the scalar loss
        self.buffers: dict[int, dict] = {}
        for weight, bias, _ in layers:  # gradients are written into these, batch after batch
            weight.grad = torch.zeros_like(weight)
            bias.grad = torch.zeros_like(bias)

    @classmethod
    def plan(cls, model: nn.Module, loss_fn: LossFn, x: torch.Tensor, y: torch.Tensor | None,
             params: list[torch.Tensor]) -> "_FastAutoEncoderStep | None":
        """The hand-written step for ``model`` when it applies, else ``None``."""
        if type(model) is not AutoEncoder or loss_fn is not reconstruction_loss:
            return None
        if x.ndim != 2 or x.dtype != torch.float32 or x.shape[1] != model.num_features:
            return None
        if y is not None and (y.dtype != torch.float32 or y.shape != x.shape):
            return None
        if torch.is_grad_enabled() is False or torch.is_anomaly_enabled():
            return None
        modules = [*model.encoder, *model.decoder]
        if any(m._forward_hooks or m._forward_pre_hooks or m._backward_hooks for m in [model, *modules]):
            return None
        if not isinstance(modules[-1], nn.Sigmoid):
            return None
        layers: list[tuple[torch.Tensor, torch.Tensor, bool]] = []
        for i, module in enumerate(modules[:-1]):
            if isinstance(module, nn.Linear) and module.bias is not None:
                layers.append((module.weight, module.bias, False))
            elif isinstance(module, nn.ReLU) and layers and not layers[-1][2] and i > 0 \
                    and isinstance(modules[i - 1], nn.Linear):
                layers[-1] = (layers[-1][0], layers[-1][1], True)
            else:
                return None
        if layers[-1][2]:
            return None  # a ReLU right before the sigmoid: not the book's model
        tensors = [t for w, b, _ in layers for t in (w, b)]
        if len(tensors) != len(params) or any(a is not b for a, b in zip(tensors, params)):
            return None
        if any(t.dtype != torch.float32 or not t.requires_grad or not t.is_contiguous() for t in tensors):
            return None
        return cls(layers)

    flush = True
    tiny = torch.finfo(torch.float32).tiny

    def buffers_for(self, rows: int) -> dict:
        """Work tensors for batches of ``rows`` images, made once and reused."""
        found = self.buffers.get(rows)
        if found is None:
            sizes = [w.shape for w, _, _ in self.layers]  # (out, in)
            found = {
                "act": [torch.empty(rows, o) for o, _ in sizes],
                "grad_in": [torch.empty(rows, i) for _, i in sizes],
                "out": torch.empty(rows, sizes[-1][0]),
                "grad_out": torch.empty(rows, sizes[-1][0]),
                "batch": torch.empty(rows, sizes[0][1]),
            }
            self.buffers[rows] = found
        return found

    def __call__(self, xb: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Loss of one batch; leaves every parameter's ``.grad`` set, as ``loss.backward()`` would."""
        aten = torch.ops.aten
        buf = self.buffers_for(xb.shape[0])
        with torch.no_grad():
            inputs = []
            h = xb
            for k, (weight, bias, relu) in enumerate(self.layers):
                inputs.append(h)
                h = torch.addmm(bias, h, weight.t(), out=buf["act"][k])
                if relu:
                    torch.relu_(h)
            out = torch.sigmoid(h, out=buf["out"])
            grad = buf["grad_out"]
            # the loss and its gradient from one difference: (out - target) * 2/N is what
            # mse_loss_backward computes; the sum of squares is a dot product
            diff = torch.sub(out, target, out=grad).view(-1)
            loss = torch.dot(diff, diff).div_(diff.numel())
            grad.mul_(2.0 / diff.numel())
            aten.sigmoid_backward.grad_input(grad, out, grad_input=grad)
            if self.flush:
                # Saturated output pixels (sigmoid near 0 or 1) give gradients below float32's
                # smallest normal number; such denormals make the two matmuls that read this
                # tensor several times slower. They are 0 to within 1e-38: make them 0.
                aten.hardshrink.out(grad, self.tiny, out=grad)
            for k in range(len(self.layers) - 1, -1, -1):
                weight, bias, _ = self.layers[k]
                h = inputs[k]
                torch.mm(grad.t(), h, out=weight.grad)
                torch.sum(grad, 0, out=bias.grad)
                if k > 0:
                    grad_h = torch.mm(grad, weight, out=buf["grad_in"][k])
                    if self.layers[k - 1][2]:
                        aten.threshold_backward.grad_input(grad_h, h, 0, grad_input=grad_h)
                    grad = grad_h
        return loss


def _train_epoch_fast(step: _FastAutoEncoderStep, optimizer, x, y, order, batch_size) -> list[float]:
    """One CPU epoch through the hand-written step; the same batches and losses as
    :func:`_train_epoch_cpu` with the default loss."""
    losses: list[float] = []
    n = x.shape[0]
    adam = optimizer if isinstance(optimizer, _KernelAdam) else _DirectAdam(optimizer)
    for start in range(0, n, batch_size):
        idx = order[start:start + batch_size]
        xb = torch.index_select(x, 0, idx, out=step.buffers_for(idx.shape[0])["batch"])
        yb = xb if y is None else y.index_select(0, idx)
        loss = step(xb, yb)
        value = loss.item()
        losses.append(value)
        if not math.isfinite(value):
            break  # fit raises, naming this batch
        adam.step()
    return losses


_TINY = torch.finfo(torch.float32).tiny


def _clear_denormals(*states: list[torch.Tensor]) -> None:
    """Set values below float32's smallest normal number in Adam's state to 0, in place.

    Weights fed by pixels that are always 0 get zero gradients, so their running mean decays
    by 0.9 a step and turns denormal after about 800 steps, which makes the fused kernel a
    third slower by the last epochs. Such values move a weight by about 1e-30 * lr, far below
    its last bit, so clearing them leaves the trained weights as they were.
    """
    for state in states:
        for t in state:
            torch.ops.aten.hardshrink.out(t, _TINY, out=t)


class _KernelAdam:
    """Adam as ``torch.optim.Adam(params, lr, fused=True)`` computes it on the CPU, state kept here.

    The same state tensors (zeros, a float32 step count) and the same two calls per step
    (``_foreach_add_`` on the step counts, then the fused kernel), so the weights are
    bit-identical; what it skips is constructing a ``torch.optim.Optimizer``, whose first use
    in a process imports ``torch._dynamo`` (about 3 s, paid by every chapter that trains).
    Used only by the hand-written autoencoder step, which always provides every gradient.
    """

    betas = (0.9, 0.999)
    eps = 1e-8

    def __init__(self, params: list[torch.Tensor], lr: float):
        self.params = params
        self.lr = lr
        self.exp_avgs = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in params]
        self.exp_avg_sqs = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in params]
        self.steps = [torch.zeros((), dtype=torch.float32) for _ in params]
        self.count = 0

    @staticmethod
    def available() -> bool:
        return hasattr(torch, "_fused_adam_")

    def step(self) -> None:
        """One Adam update from the parameters' ``.grad``."""
        grads = [p.grad for p in self.params]
        torch._foreach_add_(self.steps, 1)
        torch._fused_adam_(self.params, grads, self.exp_avgs, self.exp_avg_sqs, [], self.steps, amsgrad=False,
                           lr=self.lr, beta1=self.betas[0], beta2=self.betas[1], weight_decay=0.0,
                           eps=self.eps, maximize=False, grad_scale=None, found_inf=None)
        self.count += 1
        if self.count % 32 == 0:
            _clear_denormals(self.exp_avgs, self.exp_avg_sqs)


class _DirectAdam:
    """``optimizer.step()`` of a fused CPU Adam without the Python bookkeeping around the kernel.

    The first step goes through ``optimizer.step()`` (which creates the state); later ones call
    the same fused kernel on the same state tensors directly, so the result is bit-identical.
    Falls back to ``optimizer.step()`` for any other optimizer or setting.
    """

    use_kernel = True

    def __init__(self, optimizer: torch.optim.Optimizer):
        self.optimizer = optimizer
        self.lists: tuple | None = None
        group = optimizer.param_groups[0] if len(optimizer.param_groups) == 1 else {}
        self.ok = (self.use_kernel and type(optimizer) is torch.optim.Adam and bool(group.get("fused"))
                   and not group.get("amsgrad") and not group.get("maximize") and group.get("weight_decay") == 0
                   and not group.get("differentiable") and not group.get("capturable")
                   and not group.get("decoupled_weight_decay", False) and hasattr(torch, "_fused_adam_"))

    def step(self) -> None:
        """One Adam update from the parameters' ``.grad``."""
        if not self.ok or self.lists is None:
            self.optimizer.step()
            if self.ok:
                params = self.optimizer.param_groups[0]["params"]
                states = [self.optimizer.state[p] for p in params]
                if len(states) == len(params) and all("step" in st for st in states):
                    self.lists = (params, [st["exp_avg"] for st in states],
                                  [st["exp_avg_sq"] for st in states], [st["step"] for st in states])
            return
        group = self.optimizer.param_groups[0]
        params, exp_avgs, exp_avg_sqs, steps = self.lists
        grads = [p.grad for p in params]
        if any(g is None for g in grads):
            self.optimizer.step()  # a parameter without a gradient: the optimizer knows what to do
            return
        beta1, beta2 = group["betas"]
        torch._foreach_add_(steps, 1)
        torch._fused_adam_(params, grads, exp_avgs, exp_avg_sqs, [], steps, amsgrad=False,
                           lr=group["lr"], beta1=beta1, beta2=beta2, weight_decay=group["weight_decay"],
                           eps=group["eps"], maximize=False, grad_scale=None, found_inf=None)
