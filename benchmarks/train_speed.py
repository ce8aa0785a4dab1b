"""Seconds per training epoch: the source's pipeline against ``ae_helpers.fit``, side by side.

The source's pipeline is torchvision's MNIST dataset with ``transforms.ToTensor()`` read
through a ``DataLoader(batch_size=256, shuffle=False)``, its autoencoder (the same
architecture as :class:`ae_helpers.models.AutoEncoder`), Adam with lr 0.005 and MSE. Ours is
:func:`ae_helpers.training.fit` on the whole training set held in one tensor (which takes its
hand-written forward and backward pass for this model and loss). For reference, ``fit`` is
also timed through its general autograd path (the same loss under another name), the road
every other model and loss takes. All train the same model from the same seed; their epochs
are interleaved in one process, together with a dense float32 matmul that measures what this
machine can do, so that a change in load hits all alike. Medians over the rounds are reported.

The work of one epoch is counted from the model's linear layers: per image, the forward pass
(2 x inputs x outputs FLOPs per layer), the weight gradient (the same again) and the input
gradient (the same again, for every layer but the first, whose input needs no gradient).
Element-wise operations (ReLU, sigmoid, the loss, Adam) are not counted.

Run it alone: a second torch workload on the same cores makes both many times slower, and
the numbers mean nothing. The final line is, exactly::

    ratio=<ours/source, per epoch> utilisation=<achieved GFLOP/s / matmul GFLOP/s> ours_s=<s> source_s=<s>

Usage: ``python benchmarks/train_speed.py [--latent 50] [--rounds 5]`` (also ``make bench``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch
from torch import nn

from ae_helpers.data import load_mnist, torchvision_loader
from ae_helpers.models import AutoEncoder
from ae_helpers.training import fit, reconstruction_loss, seed_everything


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


def autograd_loss(model: nn.Module, xb: torch.Tensor, yb: torch.Tensor | None) -> torch.Tensor:
    """The default loss under another name: ``fit`` then trains through autograd."""
    return reconstruction_loss(model, xb, yb)


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
    parser.add_argument("--rounds", type=int, default=5, help="timed epochs of each pipeline (default 5)")
    args = parser.parse_args(argv)

    images = load_mnist("train")[0]
    loader = torchvision_loader("train", batch_size=256)
    n = len(images)

    seed_everything(42)
    source_model = SourceAutoEncoder(args.latent)
    seed_everything(42)
    ours = AutoEncoder(latent_dim=args.latent)
    seed_everything(42)
    general = AutoEncoder(latent_dim=args.latent)
    source_opt = torch.optim.Adam(source_model.parameters(), lr=0.005)
    gflop = epoch_gflop(ours, n)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs, "
          f"load average {load:.2f} at start")
    print(f"model: 784-128-64-{args.latent} and back; {gflop:.1f} GFLOP per epoch of {n} images "
          f"(forward + backward matmuls)")

    # warm-up, not timed: allocator, MKL kernels, the loader's worker-free path
    fit(ours, images[:2048], epochs=1, progress=False)
    fit(general, images[:2048], epochs=1, progress=False, loss_fn=autograd_loss)
    for i, (img, _) in enumerate(loader):
        if i == 8:
            break
    matmul_gflops()

    src, mine, gen, rates = [], [], [], []
    for r in range(args.rounds):
        rates.append(matmul_gflops())
        src.append(source_epoch(source_model, source_opt, loader))
        mine.append(fit(ours, images, epochs=1, seed=42 + r, progress=False).epoch_seconds[0])
        gen.append(fit(general, images, epochs=1, seed=42 + r, progress=False,
                       loss_fn=autograd_loss).epoch_seconds[0])
        print(f"round {r + 1}: matmul {rates[-1]:.0f} GFLOP/s, source {src[-1]:.3f} s, ours {mine[-1]:.3f} s, "
              f"ours through autograd {gen[-1]:.3f} s")

    rate, source_s, ours_s, general_s = (statistics.median(v) for v in (rates, src, mine, gen))
    achieved = gflop / ours_s
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"medians: matmul {rate:.0f} GFLOP/s, ours {achieved:.0f} GFLOP/s achieved "
          f"({ours_s:.3f} s per epoch; {general_s:.3f} s through autograd); load average {load:.2f} at end")
    print(f"ratio={ours_s / source_s:.3f} utilisation={achieved / rate:.2f} ours_s={ours_s:.3f} "
          f"source_s={source_s:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
