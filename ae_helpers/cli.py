"""The command line: ``python -m ae_helpers <command>``.

Commands:

``fetch``
    put verified MNIST files in place (see :func:`ae_helpers.data.fetch_mnist`).
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

    return parser


def main(argv: list[str] | None = None) -> int:
    from .data import DataError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (DataError, ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
