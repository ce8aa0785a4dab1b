"""The book's time under nbval from an empty model cache, in this machine's speed measured between chapters.

The time budget (CONTRIBUTING.md, "Time") is in seconds on two cores, but on a shared machine the
same run can take a third longer in one half hour than in the next, and a disturbance can come
and go within one chapter. So the script measures the machine's speed all along: a reference
epoch (the recipe's latent-50 autoencoder, one epoch of ``fit``, median of three, in a fresh
process like a chapter's kernel) before the first chapter and after every chapter. Each chapter
runs under nbval on its own (the ``stored`` variant of tools/variants.py, its thread count and
strict checks), and its seconds are divided by the reference epoch of its time: the median of
the reference epochs just before and just after it and the median of all the measurement's
reference epochs. So a slow spell that lasts a chapter is measured against the speed of that
spell, while one that hits a single reference epoch (another process starting for a few
seconds) is outvoted. The book's time in reference epochs is the sum of its chapters'.

Run it alone (a second torch workload on the same cores slows both). The final line is, exactly::

    book_s=<s> epoch_s=<fastest>-<slowest> book_in_epochs=<sum of the chapters' reference epochs>

Usage: ``python benchmarks/book_time.py [--repeat N] [book/05_uses.ipynb ...]`` (also ``make
book-time``, with ``REPEAT=N`` and ``CHAPTERS=...``). Without chapters named, the whole book runs
in order with one model cache that starts empty, as a reader reads it; with chapters named, only
those run, each from its own empty cache, as a reader who opens it first. With ``--repeat`` the
whole measurement runs N times and the median of each ratio is reported; on the final line
``book_s`` and ``book_in_epochs`` are then medians over the N measurements and ``epoch_s`` spans
every reference epoch of all of them.

The budget (CONTRIBUTING.md, "Time"): the whole book at most 200 reference epochs, any chapter
opened alone at most 70. The script says which measured numbers are within it; it never fails on
them, since one run's timing is noise as much as a result.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import variants  # noqa: E402

VARIANT = variants.get("stored")

REFERENCE = """
import statistics, torch
from ae_helpers import AutoEncoder, fit, load_mnist, seed_everything
images = load_mnist("train")[0]
seed_everything(42)
model = AutoEncoder(latent_dim=50)
fit(model, images[:4096], epochs=1, progress=False)  # warm-up
seconds = [fit(model, images, epochs=1, seed=s, progress=False).epoch_seconds[0] for s in range(3)]
print(statistics.median(seconds))
"""


def reference_epoch() -> float:
    """Median seconds of one recipe epoch (latent 50), in a fresh process like a chapter's kernel."""
    out = subprocess.run([sys.executable, "-c", REFERENCE], check=True, capture_output=True, text=True, cwd=ROOT,
                         env=variants.environment(VARIANT, None))
    return float(out.stdout.strip().splitlines()[-1])


def run_chapter(notebook: str, junit: Path, cache: Path) -> float:
    """Seconds of ``notebook`` under nbval (the sum of its cells' times), with the model cache ``cache``."""
    command = variants.pytest_command(sys.executable, [notebook], "-q", f"--junitxml={junit}")
    done = subprocess.run(command, env=variants.environment(VARIANT, cache), cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"nbval failed on {notebook} (exit {done.returncode}): the timing of a failing book "
                         "means nothing")
    return sum(float(case.get("time", 0)) for case in ET.parse(junit).getroot().iter("testcase"))


#: The budget in reference epochs (CONTRIBUTING.md, "Time").
BOOK_BUDGET = 200
CHAPTER_BUDGET = 70


def measure_once(notebooks: list[str], alone: bool) -> tuple[dict[str, float], dict[str, float], list[float]]:
    """One measurement: seconds per chapter, reference epochs per chapter, and every reference epoch
    timed (one before the first chapter and one after each). ``alone``: each chapter from its own
    empty cache; otherwise one cache, empty at the start, for all of them."""
    references = [reference_epoch()]
    print(f"reference epoch before: {references[0]:.3f} s", flush=True)
    seconds: dict[str, float] = {}
    epochs: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, notebook in enumerate(notebooks):
            chapter = Path(notebook).stem
            cache = Path(tmp) / (f"cache-{i}" if alone else "cache")
            seconds[chapter] = run_chapter(notebook, Path(tmp) / f"junit-{i}.xml", cache)
            references.append(reference_epoch())
            print(f"{chapter}: {seconds[chapter]:.1f} s; reference epoch after it {references[-1]:.3f} s", flush=True)
    for i, chapter in enumerate(seconds):
        epochs[chapter] = seconds[chapter] / local_reference(references, i)
    return seconds, epochs, references


def local_reference(references: list[float], i: int) -> float:
    """The reference epoch for the chapter run between ``references[i]`` and ``references[i + 1]``:
    the median of those two and of the median of all of them."""
    return statistics.median([references[i], references[i + 1], statistics.median(references)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="*", help="chapters to run, each alone (default: the whole book in order)")
    parser.add_argument("--repeat", type=int, default=1, help="measure this many times and report medians")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error(f"--repeat must be 1 or more, got {args.repeat}")
    alone = bool(args.notebooks)
    notebooks = args.notebooks or variants.chapters()
    print(f"{VARIANT.threads} threads (variant {VARIANT.name}), {os.cpu_count()} CPUs", flush=True)
    runs = []
    for r in range(args.repeat):
        if args.repeat > 1:
            print(f"measurement {r + 1} of {args.repeat}", flush=True)
        runs.append(measure_once(notebooks, alone))
    seconds = {c: statistics.median(run[0][c] for run in runs) for c in runs[0][0]}
    epochs = {c: statistics.median(run[1][c] for run in runs) for c in runs[0][1]}
    for chapter in sorted(seconds):
        spread = ""
        if args.repeat > 1:
            each = sorted(run[1][chapter] for run in runs)
            spread = f" (runs: {', '.join(f'{e:.1f}' for e in each)})"
        print(f"  {chapter}: {seconds[chapter]:6.1f} s = {epochs[chapter]:5.1f} reference epochs{spread}")
    book_each = [sum(run[1].values()) for run in runs]
    book_epochs = statistics.median(book_each)
    if alone:
        for chapter in sorted(epochs):
            verdict = "within" if epochs[chapter] <= CHAPTER_BUDGET else "OVER"
            print(f"budget: {chapter} opened alone {epochs[chapter]:.1f} <= {CHAPTER_BUDGET}: {verdict}")
    else:
        if args.repeat > 1:
            print(f"the whole book in each measurement: {', '.join(f'{b:.1f}' for b in book_each)} reference epochs")
        verdict = "within" if book_epochs <= BOOK_BUDGET else "OVER"
        print(f"budget: the whole book {book_epochs:.1f} <= {BOOK_BUDGET}: {verdict}")
    total = statistics.median(sum(run[0].values()) for run in runs)
    references = [e for run in runs for e in run[2]]
    print(f"book_s={total:.1f} epoch_s={min(references):.3f}-{max(references):.3f} book_in_epochs={book_epochs:.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
