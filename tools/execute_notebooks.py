"""Re-execute chapters top to bottom in a fresh kernel and store them clean.

    OMP_NUM_THREADS=2 python tools/execute_notebooks.py book/02_latent2d.ipynb   # one chapter
    make notebooks                                                               # every chapter

Outputs are kept; editor metadata, execution timestamps and stale outputs are dropped, and
widget state is stored so that sliders render in the built book. nbval (``make test``)
then checks that re-running gives the stored outputs.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from ae_helpers.paths import atomic_write

ROOT = Path(__file__).resolve().parent.parent
KEEP_NOTEBOOK_METADATA = ("kernelspec", "language_info", "widgets")
KEEP_CELL_METADATA = ("tags",)
# Seeded training is repeatable bit for bit only at a fixed thread count; `make test` runs
# nbval with the same value (BOOK_THREADS in the Makefile).
BOOK_THREADS = "2"


def chapters() -> list[Path]:
    """The notebooks listed in _toc.yml, in order."""
    import yaml

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [entry["file"] for entry in toc.get("chapters", [])]
    return [ROOT / f"{name}.ipynb" for name in files if (ROOT / f"{name}.ipynb").exists()]


def clean(nb: nbformat.NotebookNode) -> None:
    """Drop metadata that is noise in a diff (editor state, timings, ids of no use)."""
    nb.metadata = {k: v for k, v in nb.metadata.items() if k in KEEP_NOTEBOOK_METADATA}
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nb.metadata.get("language_info", {}).pop("version", None)
    for cell in nb.cells:
        cell.metadata = {k: v for k, v in cell.metadata.items() if k in KEEP_CELL_METADATA}


def execute(path: Path, timeout: int = 600) -> None:
    if os.environ.get("OMP_NUM_THREADS") != BOOK_THREADS:
        raise SystemExit(f"set OMP_NUM_THREADS={BOOK_THREADS} (or run `make notebooks`): the stored "
                         "outputs must come from the thread count nbval re-runs them with")
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                            store_widget_state=True, resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    clean(nb)
    atomic_write(path, lambda fh: fh.write((nbformat.writes(nb) + "\n").encode("utf-8")))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    args = parser.parse_args(argv)
    for path in args.notebooks or chapters():
        print(f"executing {path}", file=sys.stderr)
        execute(path.resolve())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
