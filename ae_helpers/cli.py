"""The command line: ``python -m ae_helpers <command>``.

Commands:

``fetch``
    put verified MNIST files in place (see :func:`ae_helpers.data.fetch_mnist`).
``sweep``
    train (or load from the model cache) the autoencoders with latent sizes 2, 5, 10, 20 and
    50 and print one line per size: test MSE, seconds per epoch and where the model came from.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["main", "build_parser"]


def _cmd_fetch(args: argparse.Namespace) -> int:
    from .data import fetch_mnist

    report = fetch_mnist(args.root, source=args.source, from_dir=args.from_dir)
    for line in report.tried:
        print(f"skipped {line}")
    for line in report.lines():
        print(line)
    return 0


SWEEP_LATENTS = (2, 5, 10, 20, 50)


def _cmd_sweep(args: argparse.Namespace) -> int:
    from .recipes import trained_autoencoder
    from .data import load_mnist
    from .measure import evaluate_mse

    test_images = load_mnist("test")[0]
    for latent in args.latent:
        model, history = trained_autoencoder(latent, seed=args.seed, progress=args.progress)
        test_mse = evaluate_mse(model, test_images)
        print(f"latent={latent} test_mse={test_mse:.5f} epoch_s={history.seconds_per_epoch:.3f} "
              f"source={history.source}", flush=True)
    return 0


def build_parser() -> argparse.ArgumentParser:
    from .data import SOURCES

    parser = argparse.ArgumentParser(prog="python -m ae_helpers", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    fetch = sub.add_parser("fetch", help="fetch and verify MNIST")
    fetch.add_argument("--root", type=Path, default=None,
                       help="data folder (default: $AE_DATA_DIR or data/ in the project)")
    fetch.add_argument("--source", choices=SOURCES, default="auto",
                       help="where to get the files (default: auto, trying each in turn)")
    fetch.add_argument("--from", dest="from_dir", type=Path, default=None,
                       help="folder holding the four MNIST files, for --source dir")
    fetch.set_defaults(func=_cmd_fetch)

    sweep = sub.add_parser("sweep", help="train or load the autoencoders of the latent-size sweep")
    sweep.add_argument("--latent", type=int, nargs="+", default=list(SWEEP_LATENTS),
                       help="latent sizes (default: 2 5 10 20 50)")
    sweep.add_argument("--seed", type=int, default=42, help="seed of the recipe (default: 42)")
    sweep.add_argument("--progress", action="store_true", help="show training progress bars (on stderr)")
    sweep.set_defaults(func=_cmd_sweep)
    return parser


def main(argv: list[str] | None = None) -> int:
    from .data import DataError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (DataError, ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
