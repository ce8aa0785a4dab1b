"""Seconds per training epoch: the source's pipeline against ``ae_helpers.fit``, side by side.

The source's pipeline is torchvision's MNIST dataset with ``transforms.ToTensor()`` read
through a ``DataLoader(batch_size=256, shuffle=False)``, its autoencoder (the same
architecture as :class:`ae_helpers.models.AutoEncoder`), Adam with lr 0.005 and MSE. Ours is
:func:`ae_helpers.training.fit` on the whole training set held in one tensor. To show what
fit's choices are worth, it is also timed with one thing changed at a time: with torch's
default (unfused) Adam instead of the fused kernel, and with denormal numbers flushed to zero
(``torch.set_flush_denormal``, which fit does not use because it measured no faster). A VAE
epoch is timed twice as well: with the package's cross-entropy
(``ae_helpers.vae.reconstruction_nll``) and with ``F.binary_cross_entropy_with_logits``, which
it replaces because of that speed. All variants of a kind train the same model from the same
seed; their epochs are interleaved in one process, together with a dense float32 matmul that
measures what this machine can do, so that a change in load hits all alike. Medians over the
rounds are reported.

The work of one epoch is counted from the model's linear layers: per image, the forward pass
(2 x inputs x outputs FLOPs per layer), the weight gradient (the same again) and the input
gradient (the same again, for every layer but the first, whose input needs no gradient).
Element-wise operations (ReLU, sigmoid, the loss, Adam) are not counted.

Run it alone: a second torch workload on the same cores makes both many times slower, and
the numbers mean nothing. The final line is, exactly::

    ratio=<ours/source, per epoch> utilisation=<achieved GFLOP/s / matmul GFLOP/s> ours_s=<s> source_s=<s>

Usage: ``python benchmarks/train_speed.py [--latent 50] [--rounds 5] [--epochs 2]`` (also ``make bench``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from contextlib import contextmanager, nullcontext
from unittest import mock

import torch
import torch.nn.functional as F
from torch import nn

from ae_helpers.data import load_mnist
from ae_helpers.models import AutoEncoder
from ae_helpers.timing import torchvision_loader
from ae_helpers import training, vae
from ae_helpers.seeding import seed_everything
from ae_helpers.training import fit


class SourceAutoEncoder(nn.Module):
    """The source's model, written the way the source writes it."""

    def __init__(self, latent_dim: int):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, latent_dim))
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, 64), nn.ReLU(), nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 784),
            nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


def source_epoch(model: nn.Module, optimizer: torch.optim.Optimizer, loader) -> float:
    """One epoch of the source's training loop; returns its seconds."""
    criterion = nn.MSELoss()
    start = time.perf_counter()
    for img, _ in loader:
        img = img.view(img.size(0), -1)
        output = model(img)
        loss = criterion(output, img)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return time.perf_counter() - start


@contextmanager
def denormals_flushed():
    """CPU arithmetic treating denormal floats as zero (a public switch fit does not use)."""
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(False)


def default_adam(params, *, lr, device="cpu"):
    return torch.optim.Adam(params, lr=lr)


VARIANTS = {
    # fit as it is, and fit with one thing changed: the numbers that decide what fit does
    "fit": nullcontext,
    "fit with denormals flushed": denormals_flushed,
    "fit with torch's default Adam": lambda: mock.patch.object(training, "make_adam", default_adam),
}


def bce_with_logits_nll(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """The VAE's reconstruction term through torch's fused loss (what the package replaced)."""
    x = x.reshape(x.shape[0], -1)
    return F.binary_cross_entropy_with_logits(logits.reshape(x.shape), x, reduction="sum") / x.shape[0]


VAE_VARIANTS = {
    "the package's cross-entropy": nullcontext,
    "F.binary_cross_entropy_with_logits": lambda: mock.patch.object(vae, "reconstruction_nll", bce_with_logits_nll),
}


def vae_epoch(name: str, model: nn.Module, images: torch.Tensor, *, seed: int) -> float:
    """Seconds of one epoch of ``fit`` on a VAE with its loss (``VAE_VARIANTS``)."""
    with VAE_VARIANTS[name]():
        return fit(model, images, epochs=1, lr=vae.VAE_LR, loss_fn=vae.vae_loss, seed=seed,
                   progress=False).epoch_seconds[0]


def fit_variant(name: str, model: nn.Module, images: torch.Tensor, *, epochs: int, seed: int) -> list[float]:
    """Seconds of each epoch of ``fit``, as it is or with one change (``VARIANTS``)."""
    with VARIANTS[name]():
        return fit(model, images, epochs=epochs, seed=seed, progress=False).epoch_seconds


def matmul_gflops(n: int = 2048, repeats: int = 3) -> float:
    """GFLOP/s of a dense ``n x n`` float32 matmul (median of ``repeats``), on the current threads."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    out = torch.empty(n, n)
    torch.mm(a, b, out=out)  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b, out=out)
        times.append(time.perf_counter() - start)
    return 2 * n**3 / statistics.median(times) / 1e9


def epoch_gflop(model: nn.Module, images: int) -> float:
    """Matmul GFLOP of one training epoch (forward and backward) for ``images`` images."""
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    per_image = 0
    for i, layer in enumerate(linears):
        mac = layer.in_features * layer.out_features
        per_image += 2 * mac + 2 * mac + (2 * mac if i > 0 else 0)  # forward, weight grad, input grad
    return per_image * images / 1e9


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--latent", type=int, default=50, help="latent size (default 50)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of the interleaved runs (default 5)")
    parser.add_argument("--epochs", type=int, default=2,
                        help="epochs of each fit run per round (default 2); the source runs one")
    args = parser.parse_args(argv)

    images = load_mnist("train")[0]
    loader = torchvision_loader("train", batch_size=256)
    n = len(images)

    seed_everything(42)
    source_model = SourceAutoEncoder(args.latent)
    source_opt = torch.optim.Adam(source_model.parameters(), lr=0.005)
    models = {}
    for name in VARIANTS:
        seed_everything(42)
        models[name] = AutoEncoder(latent_dim=args.latent)
    vaes = {}
    for name in VAE_VARIANTS:
        seed_everything(42)
        vaes[name] = vae.VAE(latent_dim=args.latent)
    gflop = epoch_gflop(models["fit"], n)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs, "
          f"load average {load:.2f} at start")
    print(f"model: 784-128-64-{args.latent} and back; {gflop:.1f} GFLOP per epoch of {n} images "
          f"(forward + backward matmuls)")

    # warm-up, not timed: allocator, MKL kernels, the optimizer's first step, the loader
    for name, model in models.items():
        fit_variant(name, model, images[:2048], epochs=1, seed=0)
    for name, model in vaes.items():
        vae_epoch(name, model, images[:2048], seed=0)
    for i, (img, _) in enumerate(loader):
        if i == 8:
            break
    matmul_gflops()

    src, rates = [], []
    times: dict[str, list[float]] = {name: [] for name in VARIANTS}
    vae_times: dict[str, list[float]] = {name: [] for name in VAE_VARIANTS}
    for r in range(args.rounds):
        rates.append(matmul_gflops())
        src.append(source_epoch(source_model, source_opt, loader))
        for name, model in models.items():
            times[name].extend(fit_variant(name, model, images, epochs=args.epochs, seed=42 + r))
        for name, model in vaes.items():
            vae_times[name].append(vae_epoch(name, model, images, seed=42 + r))
        print(f"round {r + 1}: matmul {rates[-1]:.0f} GFLOP/s, source {src[-1]:.3f} s, "
              + ", ".join(f"{name} {statistics.median(t[-args.epochs:]):.3f} s" for name, t in times.items())
              + "; VAE " + ", ".join(f"{name} {t[-1]:.3f} s" for name, t in vae_times.items()))

    rate, source_s = statistics.median(rates), statistics.median(src)
    ours_s = statistics.median(times["fit"])
    achieved = gflop / ours_s
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"medians: matmul {rate:.0f} GFLOP/s, fit {achieved:.0f} GFLOP/s achieved ({ours_s:.3f} s per epoch); "
          f"load average {load:.2f} at end")
    for name in list(VARIANTS)[1:]:
        other = statistics.median(times[name])
        print(f"  {name}: {other:.3f} s per epoch, {other / ours_s:.2f}x fit's time")
    vae_s = {name: statistics.median(t) for name, t in vae_times.items()}
    ours_vae, theirs_vae = vae_s.values()
    print(f"VAE epoch: {ours_vae:.3f} s with {list(VAE_VARIANTS)[0]}, {theirs_vae:.3f} s with "
          f"{list(VAE_VARIANTS)[1]} ({theirs_vae / ours_vae:.2f}x)")
    print(f"ratio={ours_s / source_s:.3f} utilisation={achieved / rate:.2f} ours_s={ours_s:.3f} "
          f"source_s={source_s:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
