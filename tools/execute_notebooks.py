"""Re-execute chapters top to bottom in a fresh kernel and store them clean, or run them with other settings.

    OMP_NUM_THREADS=2 python tools/execute_notebooks.py book/02_latent2d.ipynb   # one chapter, stored in place
    make notebooks                                                               # every chapter
    python tools/execute_notebooks.py --out-dir /tmp/run -p SEED=43              # copies, another seed
    python tools/execute_notebooks.py --prepare-only --out-dir _build/settings -p SEED=7
    python tools/execute_notebooks.py --fold-only                                # only the cells' metadata

Stored in place, outputs are kept; editor metadata, execution timestamps and stale outputs
are dropped, and widget state is stored so that sliders render in the built book. nbval
(``make test``) then checks that re-running gives the stored outputs. Chapters are executed
with strict checks (``AE_STRICT_CHECKS=1``, see :mod:`ae_helpers.checks`), so a chapter whose
numbers or claims fail is never stored.

With ``--out-dir DIR`` the chapters in book/ stay as they are and the executed copies go to
DIR. ``-p NAME=VALUE`` (repeatable) sets a chapter setting the way the notebook ecosystem does:
papermill injects the values in a cell after the chapter's cell tagged ``parameters`` (the
settings cell), so the chapter's code is never rewritten. ``--prepare-only`` injects them
without running anything, keeping the stored outputs: nbval run on such copies checks the
chapters with other settings against what the book stores (variants with settings, such as
``make variant NAME=seed-7``; tools/variants.py).
``--record-dir DIR`` makes every ``expect``/``claim`` append what it sees to
``DIR/<chapter>.jsonl`` instead of checking it (``tools/measure_spread.py`` uses this), and
``--timings FILE`` writes each chapter's seconds as JSON.
"""

from __future__ import annotations

import argparse
import ast
import copy
import html
import json
import os
import re
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from ae_helpers.checks import RECORD_ENV, STRICT_ENV
from ae_helpers.paths import atomic_write

ROOT = Path(__file__).resolve().parent.parent
KEEP_NOTEBOOK_METADATA = ("kernelspec", "language_info", "widgets", "colab")
# tags: the site (remove-cell, hide-cell) and nbval; jupyter: folded in JupyterLab and Notebook 7; cellView and
# id: folded in Colab (fold_cells); mystnb: the site's figure options (alt text).
KEEP_CELL_METADATA = ("tags", "jupyter", "cellView", "id", "mystnb")
#: The first line of a cell of checks (expect, claim): Colab shows it as the folded cell's title.
CHECK_TITLE = "#@title Checks"
#: The first line of a solution's code cell.
SOLUTION_TITLE = "#@title Solution"
#: A solution's heading; Colab folds the section under it (notebook metadata colab.collapsed_sections).
SOLUTION_HEADING = re.compile(r"### Solution to exercise (\d+)")
# Seeded training is repeatable bit for bit only at a fixed thread count, set once in tools/variants.py;
# every variant that re-runs the chapters under nbval uses the same value.
from variants import BOOK_THREADS, parse_setting  # noqa: E402


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


def _add_tag(cell: dict, tag: str) -> None:
    tags = cell.metadata.setdefault("tags", [])
    if tag not in tags:
        tags.append(tag)


def fold_cells(nb: nbformat.NotebookNode) -> None:
    """Fold what only the tests need, and the solutions, in every place a chapter opens.

    Roles come from a cell's first line, so an author marks a cell once:

    - the install cell (cell 0) and check cells (first line :data:`CHECK_TITLE`): removed from
      the site (``remove-cell``), code folded in JupyterLab and Notebook 7 (``jupyter.source_hidden``)
      and in Colab (``cellView: form``, whose ``#@title`` line is the one line shown);
    - a solution's code (first line :data:`SOLUTION_TITLE`): folded on the site (``hide-cell``),
      code and output folded in JupyterLab, code folded in Colab;
    - a solution's heading (:data:`SOLUTION_HEADING`): Colab folds the section under it, code
      and output alike, through the notebook's ``colab.collapsed_sections``.
    """
    collapsed = []
    for i, cell in enumerate(nb.cells):
        text = "".join(cell.source) if isinstance(cell.source, list) else cell.source
        first = text.split("\n", 1)[0]
        if cell.cell_type == "code" and (i == 0 or first.startswith(CHECK_TITLE)):
            _add_tag(cell, "remove-cell")
            cell.metadata["jupyter"] = {"source_hidden": True}
            cell.metadata["cellView"] = "form"
        elif cell.cell_type == "code" and first.startswith(SOLUTION_TITLE):
            _add_tag(cell, "hide-cell")
            cell.metadata["jupyter"] = {"source_hidden": True, "outputs_hidden": True}
            cell.metadata["cellView"] = "form"
        elif cell.cell_type == "markdown" and (match := SOLUTION_HEADING.match(first)):
            cell.id = cell.metadata["id"] = f"solution-{match.group(1)}"
            collapsed.append(cell.id)
    if collapsed:
        nb.metadata["colab"] = {"collapsed_sections": collapsed}
    else:
        nb.metadata.pop("colab", None)


def folded(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` with :func:`fold_cells` applied (the stored chapters must equal theirs)."""
    out = copy.deepcopy(nb)
    fold_cells(out)
    return out


def _progress_text(state: dict, model_id: str) -> str | None:
    """The text of a finished tqdm bar stored as widget ``model_id`` (an HBox of label, bar and counts), or None."""
    box = state.get(model_id, {})
    children = [state.get(c.removeprefix("IPY_MODEL_"), {}) for c in box.get("state", {}).get("children", [])]
    if box.get("model_name") != "HBoxModel" or [c.get("model_name") for c in children] != \
            ["HTMLModel", "FloatProgressModel", "HTMLModel"]:
        return None
    left, bar, right = (c["state"] for c in children)
    done = bar.get("value", 0) / bar["max"] if bar.get("max") else 0.0
    filled = min(10, round(10 * done))

    def plain(text: str) -> str:
        return html.unescape(text or "").replace("\u2007", " ")

    return f"{plain(left.get('value'))}|{'█' * filled}{' ' * (10 - filled)}|{plain(right.get('value'))}"


def finished_progress_bars(nb: nbformat.NotebookNode) -> None:
    """Give each stored progress bar the text of its last state as text/plain.

    tqdm's widget bars store the text of their first state ("0%| 0/10"), which is what viewers
    without widgets (GitHub's notebook view, a terminal) show; the widget state holds the end.
    """
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            view = output.get("data", {}).get("application/vnd.jupyter.widget-view+json")
            text = view and _progress_text(state, view.get("model_id", ""))
            if text:
                output["data"]["text/plain"] = text


def _errors(path: Path, nb: nbformat.NotebookNode) -> list[str]:
    return [f"{path.name} cell {i}: {o.get('ename')}: {o.get('evalue', '')[:300]}"
            for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
            for o in cell.get("outputs", []) if o.get("output_type") == "error"]


class ChapterErrors(Exception):
    """Cells that failed while running a chapter."""


def execute(path: Path, timeout: int = 600) -> float:
    """Run the chapter at ``path`` in a fresh kernel and store it in place, clean. Returns seconds."""
    if os.environ.get("OMP_NUM_THREADS") != BOOK_THREADS:
        raise SystemExit(f"set OMP_NUM_THREADS={BOOK_THREADS} (or run `make notebooks`): the stored "
                         "outputs must come from the thread count nbval re-runs them with")
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                            store_widget_state=True, resources={"metadata": {"path": str(path.parent)}})
    started = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - started
    finished_progress_bars(nb)
    clean(nb)
    fold_cells(nb)
    atomic_write(path, lambda fh: fh.write((nbformat.writes(nb) + "\n").encode("utf-8")))
    return seconds


def run_with(path: Path, out: Path, parameters: dict[str, object], *, prepare_only: bool = False,
             timeout: int = 600) -> float:
    """Run (or with ``prepare_only`` only parameterise) a copy of the chapter at ``out`` with papermill.

    Returns seconds; raises :class:`ChapterErrors` naming the failed cell when one fails.
    """
    import papermill

    started = time.perf_counter()
    try:
        papermill.execute_notebook(str(path), str(out), parameters=parameters, prepare_only=prepare_only,
                                   kernel_name="python3", cwd=str(path.parent), progress_bar=False,
                                   execution_timeout=timeout)
    except papermill.PapermillExecutionError as exc:
        raise ChapterErrors([f"{path.name} cell {exc.cell_index}: {exc.ename}: {str(exc.evalue)[:300]}"]) from None
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--out-dir", type=Path, help="write the executed copies here, not over the chapters")
    parser.add_argument("-p", "--set", dest="settings", action="append", type=parse_setting, default=[],
                        metavar="NAME=VALUE", help="a chapter setting, injected after the 'parameters' cell")
    parser.add_argument("--prepare-only", action="store_true",
                        help="with --out-dir: inject the settings, run nothing, keep the stored outputs")
    parser.add_argument("--record-dir", type=Path, help="record expect()/claim() in DIR/<chapter>.jsonl")
    parser.add_argument("--timings", type=Path, help="write {chapter: seconds} as JSON to this file")
    parser.add_argument("--fold-only", action="store_true",
                        help="run nothing: give the stored chapters' cells the metadata of their roles (fold_cells)")
    args = parser.parse_args(argv)
    if args.fold_only:
        for path in [p.resolve() for p in args.notebooks] or chapters():
            nb = nbformat.read(path, as_version=4)
            clean(nb)
            fold_cells(nb)
            atomic_write(path, lambda fh: fh.write((nbformat.writes(nb) + "\n").encode("utf-8")))
        return 0
    if (args.settings or args.prepare_only) and args.out_dir is None:
        parser.error("settings and --prepare-only write copies: give --out-dir")
    os.environ[STRICT_ENV] = "1"  # the kernels inherit it: a failed check fails the chapter
    if args.out_dir:
        args.out_dir.mkdir(parents=True, exist_ok=True)
    if args.record_dir:
        args.record_dir.mkdir(parents=True, exist_ok=True)
    timings, failures = {}, []
    for path in [p.resolve() for p in args.notebooks] or chapters():
        print(f"{'preparing' if args.prepare_only else 'executing'} {path}", file=sys.stderr, flush=True)
        if args.record_dir:
            os.environ[RECORD_ENV] = str(args.record_dir.resolve() / f"{path.stem}.jsonl")
        started = time.perf_counter()
        try:
            if args.out_dir is None:
                timings[path.stem] = execute(path)
            else:
                timings[path.stem] = run_with(path, args.out_dir / path.name, dict(args.settings),
                                              prepare_only=args.prepare_only)
        except ChapterErrors as exc:
            timings[path.stem] = time.perf_counter() - started
            failures += exc.args[0]
        except Exception as exc:  # nbclient's CellExecutionError and kernel deaths: name the chapter, go on
            timings[path.stem] = time.perf_counter() - started
            failures.append(f"{path.name}: {type(exc).__name__}: {str(exc).strip().splitlines()[-1][:300]}")
        print(f"  {timings[path.stem]:.1f} s", file=sys.stderr, flush=True)
    if args.timings:
        atomic_write(args.timings, lambda fh: fh.write(json.dumps(timings, indent=1).encode()))
    for line in failures:
        print(f"FAILED {line}", file=sys.stderr)
    return 2 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
