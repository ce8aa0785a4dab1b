"""The book's time under nbval from an empty model cache, beside this machine's speed at the time.

The time budget (README, "Time") is in seconds on two cores, but on a shared machine the same
run can take a third longer in one half hour than in the next. This script measures both in
one command: a reference epoch (the recipe's latent-50 autoencoder, one epoch of ``fit``,
median of three) just before and just after the chapters run, and each chapter's seconds under
nbval from an empty model cache. Dividing the book's seconds by the reference epoch gives a
number that moves much less with the machine's speed than the seconds do.

Run it alone (a second torch workload on the same cores slows both). The final line is, exactly::

    book_s=<s> epoch_s=<before>/<after> book_in_epochs=<book_s / mean epoch_s>

Usage: ``OMP_NUM_THREADS=2 python benchmarks/book_time.py [--repeat N] [book/05_uses.ipynb ...]``
(also ``make book-time``, with ``REPEAT=N``); with chapters named, only those run, each from its
own empty cache, as a reader who opens it first, between reference epochs of its own (the
machine's speed can change within minutes). With ``--repeat`` the whole measurement runs N
times and the median of each ratio is reported; on the final line ``book_s`` and
``book_in_epochs`` are then medians over the N measurements and ``epoch_s`` is the last one's.

The budget (README, "Time"): the whole book at most 200 reference epochs, any chapter opened
alone at most 70. The script says which measured numbers are within it; it never fails on
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
    out = subprocess.run([sys.executable, "-c", REFERENCE], check=True, capture_output=True, text=True, cwd=ROOT)
    return float(out.stdout.strip().splitlines()[-1])


def run_chapters(notebooks: list[str], junit: Path) -> dict[str, float]:
    """Run ``notebooks`` under nbval from an empty model cache (made beside ``junit``, in the
    caller's temporary folder, so that it goes with it); seconds per chapter."""
    env = dict(os.environ, AE_CACHE_DIR=tempfile.mkdtemp(prefix="cache-", dir=junit.parent))
    command = [sys.executable, "-m", "pytest", "--nbval", "-q", "-p", "no:cacheprovider",
               f"--junitxml={junit}", *notebooks]
    done = subprocess.run(command, env=env, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"nbval failed (exit {done.returncode}): the timing of a failing book means nothing")
    seconds: dict[str, float] = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        # nbval names a cell's test "book.01_data.ipynb" (classname) / "Cell 3" (name)
        chapter = case.get("classname", "").removesuffix(".ipynb").rsplit(".", 1)[-1]
        seconds[chapter] = seconds.get(chapter, 0.0) + float(case.get("time", 0))
    return seconds


#: The budget in reference epochs (README, "Time").
BOOK_BUDGET = 200
CHAPTER_BUDGET = 70


def measure_once(notebooks: list[str]) -> tuple[dict[str, float], dict[str, float], float, float]:
    """One measurement: seconds per chapter, reference epochs per chapter, and the first and last
    reference epoch. Chapters named run alone, each between a reference epoch before and after."""
    before = reference_epoch()
    print(f"reference epoch before: {before:.3f} s", flush=True)
    seconds: dict[str, float] = {}
    epochs: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        if notebooks:
            last = before
            for i, notebook in enumerate(notebooks):
                alone = run_chapters([notebook], Path(tmp) / f"junit-{i}.xml")
                now = reference_epoch()
                print(f"reference epoch after {Path(notebook).stem}: {now:.3f} s", flush=True)
                for chapter, s in alone.items():
                    seconds[chapter] = s
                    epochs[chapter] = s / statistics.mean([last, now])
                last = now
            after = last
        else:
            seconds = run_chapters(["book/"], Path(tmp) / "junit.xml")
            after = reference_epoch()
            print(f"reference epoch after: {after:.3f} s", flush=True)
            epochs = {chapter: s / statistics.mean([before, after]) for chapter, s in seconds.items()}
    return seconds, epochs, before, after


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="*", help="chapters to run, each alone (default: the whole book at once)")
    parser.add_argument("--repeat", type=int, default=1, help="measure this many times and report medians")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error(f"--repeat must be 1 or more, got {args.repeat}")
    print(f"{os.environ.get('OMP_NUM_THREADS', 'all')} threads (OMP_NUM_THREADS), {os.cpu_count()} CPUs", flush=True)
    runs = []
    for r in range(args.repeat):
        if args.repeat > 1:
            print(f"measurement {r + 1} of {args.repeat}", flush=True)
        runs.append(measure_once(args.notebooks))
    seconds = {c: statistics.median(run[0][c] for run in runs) for c in runs[0][0]}
    epochs = {c: statistics.median(run[1][c] for run in runs) for c in runs[0][1]}
    for chapter in sorted(seconds):
        spread = ""
        if args.repeat > 1:
            each = sorted(run[1][chapter] for run in runs)
            spread = f" (runs: {', '.join(f'{e:.1f}' for e in each)})"
        print(f"  {chapter}: {seconds[chapter]:6.1f} s = {epochs[chapter]:5.1f} reference epochs{spread}")
    book_epochs = statistics.median(sum(run[1].values()) for run in runs)
    if args.notebooks:
        for chapter in sorted(epochs):
            verdict = "within" if epochs[chapter] <= CHAPTER_BUDGET else "OVER"
            print(f"budget: {chapter} opened alone {epochs[chapter]:.1f} <= {CHAPTER_BUDGET}: {verdict}")
    else:
        verdict = "within" if book_epochs <= BOOK_BUDGET else "OVER"
        print(f"budget: the whole book {book_epochs:.1f} <= {BOOK_BUDGET}: {verdict}")
    total = statistics.median(sum(run[0].values()) for run in runs)
    before, after = runs[-1][2], runs[-1][3]
    print(f"book_s={total:.1f} epoch_s={before:.3f}/{after:.3f} book_in_epochs={book_epochs:.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
