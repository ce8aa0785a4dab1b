"""The first cell of every chapter: install ae_helpers where it is missing (Colab), pinned to the book's version.

    python tools/install_cell.py           # write the cell into every chapter in book/
    python tools/install_cell.py --check   # only list the chapters whose first cell differs

This file holds the one copy of that cell (:func:`cell_source`, :data:`CELL_METADATA`); the
chapters carry it as their cell 0. Colab shows it as a form: its title and one setting,
``KEEP_MODELS_ON_DRIVE``, with the code folded; JupyterLab folds its code too, and the rendered
pages leave it out (``remove-cell``), so they open with the chapter's title.

The cell installs ``ae-helpers`` from the git tag of the book's version, ``v`` followed by
``ae_helpers.__version__``, read here from ae_helpers/__init__.py's text (this tool runs where
the package's dependencies may be missing). The launch buttons open the chapters at the same tag
(book/_ext/page_fixes.py), so a reader in Colab runs the code the chapter was written against.
A release rewrites the cell: CONTRIBUTING.md, "Releasing a version".

tests/test_notebooks.py checks that every chapter's first cell is this text with this metadata,
and runs it with an install that cannot work to check that it stops with pip's words and a
sentence saying what to do.

Writing changes the source and metadata of cell 0 only: its outputs, its execution count and every
other cell stay as stored, so no chapter needs re-executing (the cell prints nothing when
ae_helpers is installed and the setting is off).

Why not ``%pip install``: the magic prints pip's error but does not raise, so a failed install
used to surface three cells later as a ``ModuleNotFoundError``. The cell runs pip itself and
raises with pip's last lines and one sentence on what to do, which stops "Run all" right there.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

__all__ = ["REPOSITORY", "VERSION", "TAG", "TARGET", "CELL_METADATA", "DRIVE_CACHE", "FAILED", "WHAT_TO_DO",
           "NOT_IN_COLAB", "book_version", "cell_source", "chapters", "write_cells", "main"]

ROOT = Path(__file__).resolve().parent.parent
#: Where Colab installs the package from: the repository the launch buttons open (_config.yml).
REPOSITORY = "https://github.com/ae-hands-on/autoencoders-book"


def book_version(root: Path = ROOT) -> str:
    """``__version__`` as ae_helpers/__init__.py sets it, read from the text without importing the package."""
    text = (root / "ae_helpers" / "__init__.py").read_text(encoding="utf-8")
    match = re.search(r'^__version__ = "([^"]+)"$', text, re.M)
    if not match:
        raise SystemExit("ae_helpers/__init__.py sets no __version__ = \"...\" line")
    return match.group(1)


#: The book's version and the git tag a release of it carries.
VERSION = book_version()
TAG = f"v{VERSION}"
#: The requirement pip installs: the package at the book's tag.
TARGET = f"ae-helpers @ git+{REPOSITORY}@{TAG}"
#: The model cache's folder on Google Drive when KEEP_MODELS_ON_DRIVE is ticked.
DRIVE_CACHE = "/content/drive/MyDrive/autoencoders-cache"
#: Cell 0's metadata: left out of the pages, code folded in JupyterLab, shown as a form in Colab.
CELL_METADATA = {"tags": ["remove-cell"], "jupyter": {"source_hidden": True}, "cellView": "form"}

#: The error's first and last lines around pip's own (the tests look for them).
FAILED = "Installing ae_helpers failed, so this chapter cannot run. pip's last lines:"
WHAT_TO_DO = "Check that the runtime is online, then run this cell again."
#: What the cell prints where the setting is ticked outside Colab.
NOT_IN_COLAB = "KEEP_MODELS_ON_DRIVE works only in Colab; here trained models stay in the local model cache."

_TEMPLATE = """\
#@title Setup: install ae_helpers (Colab), and where to keep trained models
KEEP_MODELS_ON_DRIVE = False  #@param {{type:"boolean"}}
import importlib, importlib.util, os, subprocess, sys
if importlib.util.find_spec("ae_helpers") is None:  # Colab; a local install has it already
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "{target}"], capture_output=True, text=True)
    if pip.returncode != 0:
        said = (pip.stdout + pip.stderr).strip().splitlines()[-12:]
        raise RuntimeError("\\n".join(["{failed}",
                                      *said, "{what_to_do}"])) from None
    importlib.invalidate_caches()
if KEEP_MODELS_ON_DRIVE and "google.colab" not in sys.modules:
    print("{not_in_colab}")
elif KEEP_MODELS_ON_DRIVE:  # the model cache on Google Drive outlasts the runtime
    from google.colab import drive
    drive.mount("/content/drive")
    os.environ["AE_CACHE_DIR"] = "{drive_cache}"
"""


def cell_source(target: str = TARGET, keep_on_drive: bool = False) -> str:
    """The cell's code; ``target`` replaces the requirement pip installs (the tests pass ones that
    fail) and ``keep_on_drive`` the setting's default (the tests tick it)."""
    source = _TEMPLATE.format(target=target, drive_cache=DRIVE_CACHE, failed=FAILED, what_to_do=WHAT_TO_DO,
                              not_in_colab=NOT_IN_COLAB).rstrip("\n")
    if keep_on_drive:
        source = source.replace("KEEP_MODELS_ON_DRIVE = False", "KEEP_MODELS_ON_DRIVE = True", 1)
    return source


def chapters(root: Path = ROOT) -> list[Path]:
    """The chapters, book/*.ipynb, in file-name order."""
    return sorted((root / "book").glob("*.ipynb"))


def _source(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def write_cells(paths: list[Path], check: bool = False) -> list[Path]:
    """Put :func:`cell_source` and :data:`CELL_METADATA` into cell 0 of each chapter; returns those
    whose cell differed. With ``check`` nothing is written.
    """
    source = cell_source()
    differing = []
    for path in paths:
        nb = json.loads(path.read_text(encoding="utf-8"))
        first = nb["cells"][0]
        if first["cell_type"] != "code":
            raise SystemExit(f"{path}: cell 0 is {first['cell_type']}, not the install cell; "
                             "add a code cell tagged remove-cell at the top first")
        if _source(first) == source and first.get("metadata") == CELL_METADATA:
            continue
        differing.append(path)
        if check:
            continue
        first["source"] = source.splitlines(keepends=True)
        first["metadata"] = json.loads(json.dumps(CELL_METADATA))
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
