"""Re-execute chapters top to bottom in a fresh kernel and store them clean.

    OMP_NUM_THREADS=2 python tools/execute_notebooks.py book/02_latent2d.ipynb   # one chapter
    make notebooks                                                               # every chapter

Outputs are kept; editor metadata, execution timestamps and stale outputs are dropped, and
widget state is stored so that sliders render in the built book. nbval (``make test``)
then checks that re-running gives the stored outputs.

``--out-dir DIR`` writes the executed copies there instead (any thread count; the chapters in
book/ stay as they are), and ``--seed N`` first sets the ``SEED = ...`` line of each chapter's
settings to N: ``tools/measure_spread.py`` uses both to re-run the book in other numeric
environments. ``--timings FILE`` writes each chapter's seconds as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
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
SEED_LINE = re.compile(r"^SEED = \d+", re.M)


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


def execute(path: Path, timeout: int = 600, *, out: Path | None = None, seed: int | None = None,
            allow_errors: bool = False) -> float:
    """Run the chapter at ``path`` in a fresh kernel; store it there (or at ``out``). Returns seconds.

    With ``allow_errors`` (copies only) a failing cell does not stop the run: every error is
    printed, and :class:`ChapterErrors` is raised once the copy is written.
    """
    if out is None and os.environ.get("OMP_NUM_THREADS") != BOOK_THREADS:
        raise SystemExit(f"set OMP_NUM_THREADS={BOOK_THREADS} (or run `make notebooks`): the stored "
                         "outputs must come from the thread count nbval re-runs them with")
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            if seed is not None:
                cell.source = SEED_LINE.sub(f"SEED = {int(seed)}", cell.source)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                            allow_errors=allow_errors and out is not None,
                            store_widget_state=True, resources={"metadata": {"path": str(path.parent)}})
    started = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - started
    clean(nb)
    atomic_write(out or path, lambda fh: fh.write((nbformat.writes(nb) + "\n").encode("utf-8")))
    errors = [f"{path.name} cell {i}: {o.get('ename')}: {o.get('evalue', '')[:300]}"
              for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
              for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    if errors:
        raise ChapterErrors(errors)
    return seconds


class ChapterErrors(Exception):
    """Cells that failed in a run with ``allow_errors``."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--out-dir", type=Path, help="write the executed copies here, not over the chapters")
    parser.add_argument("--seed", type=int, help="run with SEED = N in each chapter's settings (needs --out-dir)")
    parser.add_argument("--timings", type=Path, help="write {chapter: seconds} as JSON to this file")
    parser.add_argument("--allow-errors", action="store_true",
                        help="with --out-dir: run every cell even after a failing one; list the failures, exit 2")
    args = parser.parse_args(argv)
    if args.seed is not None and args.out_dir is None:
        parser.error("--seed changes the chapters' code: use it with --out-dir")
    timings, failures = {}, []
    for path in args.notebooks or chapters():
        print(f"executing {path}", file=sys.stderr)
        out = None if args.out_dir is None else args.out_dir / path.name
        started = time.perf_counter()
        try:
            timings[path.stem] = execute(path.resolve(), out=out, seed=args.seed, allow_errors=args.allow_errors)
        except ChapterErrors as exc:
            timings[path.stem] = time.perf_counter() - started
            failures += exc.args[0]
        print(f"  {timings[path.stem]:.1f} s", file=sys.stderr)
    if args.timings:
        atomic_write(args.timings, lambda fh: fh.write(json.dumps(timings, indent=1).encode()))
    for line in failures:
        print(f"FAILED {line}", file=sys.stderr)
    return 2 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
