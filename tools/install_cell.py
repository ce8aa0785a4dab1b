"""The first cell of every chapter: install ae_helpers where it is missing (Colab), loudly when that fails.

    python tools/install_cell.py           # write the cell into every chapter in book/
    python tools/install_cell.py --check   # only list the chapters whose first cell differs

This file holds the one copy of that cell (:func:`cell_source`); the chapters carry it as their
cell 0, tagged ``remove-cell`` so that the rendered pages open with their title.
tests/test_notebooks.py checks that every chapter's first cell is this text, and runs it with an
install that cannot work to check that it stops with a message saying what to do.

Writing changes the source of cell 0 only: its outputs, its execution count and every other cell
stay as stored, so no chapter needs re-executing (the cell prints nothing when ae_helpers is
installed).

Why not ``%pip install``: the magic prints pip's error but does not raise, so a failed install used
to surface three cells later as a ``ModuleNotFoundError``. The cell runs pip itself, shows pip's
last lines and one sentence on what to do, and raises, which stops "Run all" right there.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

__all__ = ["REPOSITORY", "TARGET", "cell_source", "chapters", "write_cells", "main"]

ROOT = Path(__file__).resolve().parent.parent
#: Where Colab installs the package from: the repository the launch buttons open (_config.yml).
REPOSITORY = "https://github.com/ae-hands-on/autoencoders-book"
#: The requirement pip installs.
TARGET = f"ae-helpers @ git+{REPOSITORY}"

_TEMPLATE = '''\
# Colab: install the book's helper package (Colab keeps its own PyTorch).
# Where ae_helpers is already installed, as in a local checkout, this does nothing.
# Colab runs each chapter in a fresh runtime, so it retrains the models it needs: to keep them,
# mount Google Drive and set AE_CACHE_DIR to a folder there first (the introduction says how).
try:
    import ae_helpers
except ImportError:
    import importlib, subprocess, sys
    package = "{target}"
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", package],
                         capture_output=True, text=True)
    if pip.returncode != 0:
        print(*(pip.stdout + pip.stderr).splitlines()[-12:], sep="\\n")
        raise RuntimeError("Installing ae_helpers failed, so this chapter cannot run: pip's last lines, "
                           "above, say why. Check that the runtime is online and run this cell again.") from None
    importlib.invalidate_caches()
    import ae_helpers'''


def cell_source(target: str = TARGET) -> str:
    """The cell's code; ``target`` replaces the requirement pip installs (the tests pass ones that fail)."""
    return _TEMPLATE.format(target=target)


def chapters(root: Path = ROOT) -> list[Path]:
    """The chapters, book/*.ipynb, in file-name order."""
    return sorted((root / "book").glob("*.ipynb"))


def _source(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def write_cells(paths: list[Path], check: bool = False) -> list[Path]:
    """Put :func:`cell_source` into cell 0 of each chapter; returns those whose cell differed.

    With ``check`` nothing is written.
    """
    source = cell_source()
    differing = []
    for path in paths:
        nb = json.loads(path.read_text(encoding="utf-8"))
        first = nb["cells"][0]
        if first["cell_type"] != "code":
            raise SystemExit(f"{path}: cell 0 is {first['cell_type']}, not the install cell; "
                             "add a code cell tagged remove-cell at the top first")
        if _source(first) == source:
            continue
        differing.append(path)
        if check:
            continue
        first["source"] = source.splitlines(keepends=True)
        tags = first.setdefault("metadata", {}).setdefault("tags", [])
        if "remove-cell" not in tags:
            tags.append("remove-cell")
        text = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
        from ae_helpers.paths import atomic_write

        atomic_write(path, lambda fh: fh.write(text.encode("utf-8")))
    return differing


def main(argv: list[str] | None = None) -> int:
    """Write (or with --check, compare) the install cell of every chapter."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when a chapter differs")
    parser.add_argument("paths", nargs="*", type=Path, help="chapters (default: book/*.ipynb)")
    args = parser.parse_args(argv)
    differing = write_cells(args.paths or chapters(), check=args.check)
    for path in differing:
        print(f"{'differs' if args.check else 'updated'}: {path}")
    return 1 if args.check and differing else 0


if __name__ == "__main__":
    sys.exit(main())
