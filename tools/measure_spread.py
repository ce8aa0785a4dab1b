"""Measure how much each checked number of the book moves between machines; set its tolerance.

    OMP_NUM_THREADS=2 python tools/measure_spread.py          # every chapter (make spread)
    OMP_NUM_THREADS=2 python tools/measure_spread.py book/02_latent2d.ipynb

Each chapter is executed once per environment below, from an empty model cache each time,
with ``AE_EXPECT_RECORD`` set so that every ``expect(key, value)`` in it records its value
(:mod:`ae_helpers.checks`). The first environment is the one the stored outputs come from:
its run re-executes the chapters in place (like ``make notebooks``) and its values become the
references. The others imitate other machines: another thread count, MKL's compatible code
path, PyTorch's kernels without vector instructions, and the last two together (what CI
re-runs). A last run with another seed checks that the chapters' plain ``assert`` claims
hold for more than one seed; its values are shown, not used for tolerances. In every run but
the stored one a failing cell does not stop the chapter: the tool lists each failed claim at
the end and exits with an error, after writing the tables (a claim that fails somewhere must
be mended, not its tolerance).

Each tolerance is :data:`FACTOR` times the largest deviation from the reference seen across
the numeric environments, and never below :data:`FLOOR` of the reference (for values that
did not move at all here, but may on a CPU of another kind). The results go to
``ae_helpers/expected.json`` (read by ``expect``) and to ``tests/SPREAD.md`` (the table).
Run it alone: the chapters train models, and a second torch workload slows both.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

from execute_notebooks import BOOK_THREADS, chapters  # noqa: E402

from ae_helpers.paths import atomic_write  # noqa: E402

EXPECTED = ROOT / "ae_helpers" / "expected.json"
TABLE = ROOT / "tests" / "SPREAD.md"
#: Tolerance = FACTOR x the largest deviation seen ...
FACTOR = 4.0
#: ... and at least this fraction of the reference value.
FLOOR = 1e-3

#: (name, environment variables, seed or None). The first is the stored run.
ENVIRONMENTS = [
    ("stored (2 threads)", {"OMP_NUM_THREADS": BOOK_THREADS}, None),
    ("MKL_CBWR=COMPATIBLE", {"OMP_NUM_THREADS": BOOK_THREADS, "MKL_CBWR": "COMPATIBLE"}, None),
    ("ATEN_CPU_CAPABILITY=default", {"OMP_NUM_THREADS": BOOK_THREADS, "ATEN_CPU_CAPABILITY": "default"}, None),
    ("both (as CI)", {"OMP_NUM_THREADS": BOOK_THREADS, "MKL_CBWR": "COMPATIBLE",
                      "ATEN_CPU_CAPABILITY": "default"}, None),
    ("seed 43", {"OMP_NUM_THREADS": BOOK_THREADS}, 43),
]
#: Runs in which a chapter's cell failed (their failures are printed by execute_notebooks).
FAILED: list[str] = []
#: Variables that change numerics; cleared before each run so that only the listed ones apply.
NUMERIC_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "MKL_CBWR", "ATEN_CPU_CAPABILITY")


def run_environment(index: int, notebooks: list[Path], work: Path) -> tuple[dict[str, float], dict[str, float]]:
    """Execute ``notebooks`` in environment ``index``; returns ({key: value}, {chapter: seconds})."""
    name, variables, seed = ENVIRONMENTS[index]
    record, timings = work / f"values-{index}.jsonl", work / f"timings-{index}.json"
    env = {k: v for k, v in os.environ.items() if k not in NUMERIC_VARS}
    env.update(variables)
    env["AE_EXPECT_RECORD"] = str(record)
    env["AE_CACHE_DIR"] = tempfile.mkdtemp(prefix=f"cache-{index}-", dir=work)
    command = [sys.executable, str(ROOT / "tools" / "execute_notebooks.py"), "--timings", str(timings)]
    if index > 0:
        command += ["--out-dir", str(work / f"run-{index}"), "--allow-errors"]
        (work / f"run-{index}").mkdir()
    if seed is not None:
        command += ["--seed", str(seed)]
    print(f"== {name}: {' '.join(f'{k}={v}' for k, v in variables.items())}", file=sys.stderr, flush=True)
    done = subprocess.run(command + [str(p) for p in notebooks], env=env, cwd=ROOT)
    if done.returncode == 2 and index > 0:
        FAILED.append(name)
    elif done.returncode != 0:
        raise SystemExit(f"the run '{name}' stopped (exit {done.returncode}); see the messages above")
    values: dict[str, float] = {}
    if record.exists():
        for line in record.read_text().splitlines():
            item = json.loads(line)
            if item["key"] in values:
                raise SystemExit(f"expect key {item['key']!r} is checked twice; give each check its own key")
            values[item["key"]] = item["value"]
    return values, json.loads(timings.read_text())


def tolerance(reference: float, deviations: list[float]) -> float:
    """FACTOR x the largest deviation, at least FLOOR x |reference| (and never 0)."""
    largest = max(deviations, default=0.0)
    return max(FACTOR * largest, FLOOR * abs(reference), 1e-12)


def _fmt(x: float | None) -> str:
    return "" if x is None else f"{x:.6g}"


def write_table(table: dict[str, dict], times: list[dict[str, float]], only: list[str] | None = None) -> None:
    """Write tests/SPREAD.md from ``table`` (what expected.json holds): every key's values per
    environment, then each run's seconds per chapter. ``only`` names the chapters of a run over
    some chapters: their seconds are not the book's (each such run trains the models that earlier
    chapters would have cached)."""
    names = [name for name, _, _ in ENVIRONMENTS]
    lines = [
        "# How much the book's checked numbers move between numeric environments",
        "",
        "Written by `tools/measure_spread.py` (`make spread`); do not edit by hand. Each row is one",
        "`expect(key, value)` in a chapter. *Reference* is the stored run; the next columns are the",
        "same number re-run from an empty model cache under another environment; *largest deviation*",
        f"is over the numeric environments (not the other seed); *tolerance* = {FACTOR:g} x that, at least",
        f"{FLOOR:g} x the reference. The seed column shows how far a number moves with another seed (the",
        "chapters' claims are asserted there too, not these values).",
        "",
        "| key | " + " | ".join(names) + " | largest deviation | tolerance |",
        "|---" * (len(names) + 3) + "|",
    ]
    for key, entry in sorted(table.items()):
        seen = entry.get("seen", {names[0]: entry["value"]})  # entries written before "seen" existed
        cells = [_fmt(seen.get(n)) for n in names]
        lines.append(f"| `{key}` | " + " | ".join(cells) + f" | {entry['spread']:.3g} | {entry['tol']:.3g} |")
    heading = "Seconds per chapter in each run (empty model cache):" if only is None else (
        f"Seconds per chapter in the last run, which covered {', '.join(only)} only (empty model cache, "
        "so these chapters also trained the models that earlier chapters would have left in it):")
    lines += ["", heading, "",
              "| chapter | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    chapters_seen = sorted({c for t in times for c in t})
    for chapter in chapters_seen:
        lines.append(f"| {chapter} | " + " | ".join(f"{t[chapter]:.1f}" if chapter in t else "" for t in times) + " |")
    lines.append("| **all** | " + " | ".join(f"{sum(t.values()):.1f}" for t in times) + " |")
    atomic_write(TABLE, lambda fh: fh.write(("\n".join(lines) + "\n").encode("utf-8")))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="chapters (default: every chapter in _toc.yml)")
    args = parser.parse_args(argv)
    notebooks = [p.resolve() for p in args.notebooks] or chapters()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="spread-") as tmp:
        results = [run_environment(i, notebooks, Path(tmp)) for i in range(len(ENVIRONMENTS))]
    reference = results[0][0]
    numeric = [i for i, (_, _, seed) in enumerate(ENVIRONMENTS) if seed is None and i > 0]
    # A run over some chapters keeps the other chapters' entries; a run over all starts afresh.
    table = json.loads(EXPECTED.read_text()) if args.notebooks and EXPECTED.exists() else {}
    for key, ref in reference.items():
        missing = [ENVIRONMENTS[i][0] for i in numeric if key not in results[i][0]]
        if missing:
            print(f"{key!r} was not checked under {missing} (a cell failed before it)", file=sys.stderr)
            FAILED.extend(m for m in missing if m not in FAILED)
        deviations = [abs(results[i][0][key] - ref) for i in numeric if key in results[i][0]]
        if not all(math.isfinite(d) for d in deviations + [ref]):
            raise SystemExit(f"{key!r} is not a finite number in every environment")
        tol = tolerance(ref, deviations)
        table[key] = {"value": ref, "tol": tol, "spread": max(deviations), "envs": len(numeric) + 1,
                      "seen": {ENVIRONMENTS[i][0]: results[i][0].get(key) for i in range(len(ENVIRONMENTS))}}
    text = json.dumps(dict(sorted(table.items())), indent=1) + "\n"
    atomic_write(EXPECTED, lambda fh: fh.write(text.encode("utf-8")))
    write_table(table, [t for _, t in results], None if not args.notebooks else [p.stem for p in notebooks])
    print(f"{len(reference)} checked numbers, {len(ENVIRONMENTS)} runs, {time.perf_counter() - started:.0f} s; "
          f"wrote {EXPECTED.relative_to(ROOT)} and {TABLE.relative_to(ROOT)}", file=sys.stderr)
    if FAILED:
        print(f"claims failed in: {', '.join(FAILED)} (the FAILED lines above say which); mend them", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
