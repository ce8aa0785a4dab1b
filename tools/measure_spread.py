"""Run every chapter with several seeds and in several numeric environments; set each check's range.

    python tools/measure_spread.py          # every chapter (make spread)
    python tools/measure_spread.py book/02_latent2d.ipynb

A reader's run is not the book's run: another seed, another setting, another CPU or PyTorch
gives another training trajectory. This tool stands in for those readers. Its runs,
:data:`RUNS`, are the variants of tools/variants.py that have a ``spread`` column, in the
table's order; each executes the chapters with the variant's variables and settings from an
empty model cache, with every ``expect(key, value)`` and ``claim(holds, statement)`` recording
what it sees (:mod:`ae_helpers.checks`). The first run is the one the book stores: it
re-executes the chapters in place (like ``make notebooks``). The others run copies: four with
the stored seed in other numeric environments (MKL's compatible code path, PyTorch's kernels
without vector instructions, both together, and one thread), and four with other training
seeds (``SEED`` set through the chapters' ``parameters`` cell by papermill). That is five seeds
and five numeric environments.

For every checked number the tool records each run's value, their mean, standard deviation,
minimum and maximum, and the range ``expect`` accepts (``ae_helpers/expected.json``, shown in
``tests/SPREAD.md``). The range is centred on the mean of the runs, not on the stored one, and
reaches :func:`half_width`: a 99.9% prediction interval for one more run from the same spread
(Student's t with n - 1 degrees of freedom, times the standard deviation, times sqrt(1 + 1/n)),
and never less than the farthest recorded run nor :data:`FLOOR` of the mean. Every claim must
hold in every run; the table lists in how many it held, and the tool fails when one did not
(mend the claim or the sentence behind it, never the range). A number whose range comes out
wider than the effect the chapter talks about checks nothing: ``tests/test_checks.py`` holds
the ranges that must stay apart.

The cost (about nine runs of the book) is printed at the end. Run it alone: the chapters train
models, and a second torch workload on the same cores slows both many times.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import variants  # noqa: E402
from execute_notebooks import chapters  # noqa: E402

from ae_helpers.paths import atomic_write  # noqa: E402

EXPECTED = ROOT / "ae_helpers" / "expected.json"
TABLE = ROOT / "tests" / "SPREAD.md"
#: The share of future runs (from the recorded runs' spread) the range should hold.
COVERAGE = 0.999
#: The range's half-width is at least this fraction of the mean (numbers that did not move here).
FLOOR = 1e-3


@dataclass(frozen=True)
class Run:
    """One way of running the chapters: its name (its column in the tables), the environment variables
    that change numerics, the chapter settings papermill injects (empty: the chapters as stored), and
    the variant of tools/variants.py it is."""

    name: str
    env: dict = field(default_factory=dict)
    parameters: dict = field(default_factory=dict)
    variant: str = "stored"


#: The first run is the stored one.
RUNS = [Run(v.spread, v.variables(), dict(v.settings), v.name) for v in variants.spread_runs()]


@dataclass
class Outcome:
    """What one run saw: ``values[chapter][key]``, ``claims[chapter][statement]`` (held every time
    it was checked), seconds per chapter and the cells that failed."""

    values: dict[str, dict[str, float]]
    claims: dict[str, dict[str, bool]]
    seconds: dict[str, float]
    failures: list[str]


def read_records(folder: Path) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, bool]]]:
    """The values and claims recorded in ``folder/<chapter>.jsonl``."""
    values: dict[str, dict[str, float]] = {}
    claims: dict[str, dict[str, bool]] = {}
    for path in sorted(folder.glob("*.jsonl")):
        chapter = path.stem
        for line in path.read_text().splitlines():
            item = json.loads(line)
            if "key" in item:
                if item["key"] in values.setdefault(chapter, {}):
                    raise SystemExit(f"expect key {item['key']!r} is checked twice in {chapter}; give each "
                                     "check its own key")
                values[chapter][item["key"]] = float(item["value"])
            else:
                seen = claims.setdefault(chapter, {})
                seen[item["claim"]] = seen.get(item["claim"], True) and bool(item["holds"])
    return values, claims


def run_once(index: int, notebooks: list[Path], work: Path) -> Outcome:
    """Execute ``notebooks`` as :data:`RUNS` ``[index]`` says, from an empty model cache."""
    run = RUNS[index]
    folder = work / f"run-{index}"
    folder.mkdir()
    env = variants.environment(variants.get(run.variant), folder / "cache")
    command = [sys.executable, str(ROOT / "tools" / "execute_notebooks.py"), "--timings", str(folder / "timings.json"),
               "--record-dir", str(folder / "records")]
    if index > 0:  # copies; the first run stores the chapters in place
        command += ["--out-dir", str(folder / "notebooks")]
        command += [arg for name, value in run.parameters.items() for arg in ("-p", f"{name}={value!r}")]
    print(f"== {run.name}: {' '.join(f'{k}={v}' for k, v in run.env.items())} "
          f"{' '.join(f'{k}={v}' for k, v in run.parameters.items())}", file=sys.stderr, flush=True)
    done = subprocess.run(command + [str(p) for p in notebooks], env=env, cwd=ROOT, capture_output=True, text=True)
    sys.stderr.write(done.stderr)
    if done.returncode not in (0, 2):
        raise SystemExit(f"the run '{run.name}' stopped (exit {done.returncode}); see the messages above")
    values, claims = read_records(folder / "records") if (folder / "records").exists() else ({}, {})
    failures = [line.removeprefix("FAILED ") for line in done.stderr.splitlines() if line.startswith("FAILED ")]
    return Outcome(values, claims, json.loads((folder / "timings.json").read_text()), failures)


def half_width(values: list[float]) -> float:
    """Half the width of the accepted range around the mean of ``values`` (see the module docstring)."""
    from scipy.stats import t

    n, mean = len(values), statistics.fmean(values)
    farthest = max(abs(v - mean) for v in values)
    floor = max(FLOOR * abs(mean), 1e-12)
    if n < 2:
        return max(floor, farthest)
    s = statistics.stdev(values)
    predicted = float(t.ppf(0.5 + COVERAGE / 2, n - 1)) * s * math.sqrt(1 + 1 / n)
    return max(predicted, farthest, floor)


def summarise(chapter: str, runs_seen: dict[str, float]) -> dict:
    """The expected.json entry of one key from its value in each run (by run name)."""
    values = list(runs_seen.values())
    mean = statistics.fmean(values)
    half = half_width(values)
    return {"chapter": chapter, "low": mean - half, "high": mean + half, "mean": mean,
            "std": statistics.stdev(values) if len(values) > 1 else 0.0, "min": min(values), "max": max(values),
            "n": len(values), "runs": runs_seen}


def _fmt(x: float | None) -> str:
    return "" if x is None else f"{x:.4g}"


def write_table(table: dict, claims: dict[str, dict[str, dict[str, bool]]], seconds: dict[str, dict[str, float]],
                cost: float) -> None:
    """tests/SPREAD.md: every key's value per run, its statistics and range; every claim and in how many
    runs it held; each run's seconds per chapter."""
    names = [run.name for run in RUNS]
    lines = [
        "# How the book's checked numbers and claims move between runs",
        "",
        "Written by `tools/measure_spread.py` (`make spread`); do not edit by hand. Each run executes",
        "every chapter from an empty model cache: the stored run, the same seed in four other numeric",
        "environments, and four other training seeds. Each row is one `expect(key, value)`; *range* is",
        f"what `expect` accepts: the mean of the runs plus or minus a {COVERAGE:.1%} prediction interval",
        "for one more run (Student's t), never narrower than the farthest run.",
        "",
        "| key | " + " | ".join(names) + " | mean | std | min | max | range |",
        "|---" * (len(names) + 6) + "|",
    ]
    for key, entry in sorted(table["checks"].items()):
        cells = [_fmt(entry["runs"].get(n)) for n in names]
        lines.append(f"| `{key}` | " + " | ".join(cells) + f" | {_fmt(entry['mean'])} | {_fmt(entry['std'])} | "
                     f"{_fmt(entry['min'])} | {_fmt(entry['max'])} | {_fmt(entry['low'])} to {_fmt(entry['high'])} |")
    lines += ["", "Claims (`claim(holds, statement)`), and in how many runs each held:", "",
              "| chapter | claim | held in |", "|---|---|---|"]
    for chapter, statements in sorted(claims.items()):
        for statement, by_run in sorted(statements.items()):
            held = sum(by_run.values())
            lines.append(f"| {chapter} | {statement.replace('|', '/')} | {held} of {len(by_run)} |")
    lines += ["", "Seconds per chapter in each run (the whole book in one run from an empty model cache; a chapter "
              "re-measured alone trains the models earlier chapters would have cached):", "",
              "| chapter | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    chapters = sorted({c for per_run in seconds.values() for c in per_run})
    for chapter in chapters:
        lines.append(f"| {chapter} | " + " | ".join(
            f"{seconds[n][chapter]:.1f}" if chapter in seconds.get(n, {}) else "" for n in names) + " |")
    lines.append("| **all** | " + " | ".join(f"{sum(seconds.get(n, {}).values()):.1f}" for n in names) + " |")
    lines += ["", f"The last `make spread` took {cost / 60:.0f} minutes."]
    atomic_write(TABLE, lambda fh: fh.write(("\n".join(lines) + "\n").encode("utf-8")))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="chapters (default: every chapter in _toc.yml)")
    args = parser.parse_args(argv)
    notebooks = [p.resolve() for p in args.notebooks] or chapters()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="spread-") as tmp:
        outcomes = [run_once(i, notebooks, Path(tmp)) for i in range(len(RUNS))]
    problems = [f"{RUNS[i].name}: {line}" for i, o in enumerate(outcomes) for line in o.failures]
    # A run over some chapters keeps the other chapters' entries; a run over all starts afresh.
    old = json.loads(EXPECTED.read_text()) if args.notebooks and EXPECTED.exists() else {}
    ran = {p.stem for p in notebooks}
    table = {"runs": {run.name: {"env": run.env, "parameters": run.parameters} for run in RUNS},
             "checks": {k: v for k, v in old.get("checks", {}).items() if v.get("chapter") not in ran}}
    claims = {c: v for c, v in old.get("claims", {}).items() if c not in ran}
    for chapter in sorted(ran):
        keys = sorted({k for o in outcomes for k in o.values.get(chapter, {})})
        for key in keys:
            seen = {RUNS[i].name: o.values[chapter][key] for i, o in enumerate(outcomes) if key in o.values.get(chapter, {})}
            missing = [RUNS[i].name for i, o in enumerate(outcomes) if key not in o.values.get(chapter, {})]
            if missing:
                problems.append(f"{key} was not checked in {', '.join(missing)} (a cell failed before it)")
            if not all(math.isfinite(v) for v in seen.values()):
                problems.append(f"{key} is not a finite number in every run: {seen}")
                continue
            table["checks"][key] = summarise(chapter, seen)
        statements = sorted({s for o in outcomes for s in o.claims.get(chapter, {})})
        if statements:
            claims[chapter] = {s: {RUNS[i].name: o.claims.get(chapter, {}).get(s, False) for i, o in enumerate(outcomes)}
                               for s in statements}
            for s, by_run in claims[chapter].items():
                failed = [name for name, held in by_run.items() if not held]
                if failed:
                    problems.append(f"{chapter}: the claim {s!r} did not hold (or was not reached) in {', '.join(failed)}")
    table["claims"] = claims
    seconds = {name: {c: t for c, t in per_run.items() if c not in ran}
               for name, per_run in old.get("seconds", {}).items()}
    for run, outcome in zip(RUNS, outcomes):
        seconds.setdefault(run.name, {}).update(outcome.seconds)
    table["seconds"] = seconds
    text = json.dumps(table, indent=1, sort_keys=True) + "\n"
    atomic_write(EXPECTED, lambda fh: fh.write(text.encode("utf-8")))
    cost = time.perf_counter() - started
    write_table(table, claims, seconds, cost)
    print(f"{len(table['checks'])} checked numbers, {sum(len(v) for v in claims.values())} claims, {len(RUNS)} runs, "
          f"{cost:.0f} s; wrote {EXPECTED.relative_to(ROOT)} and {TABLE.relative_to(ROOT)}", file=sys.stderr)
    for line in problems:
        print(f"PROBLEM {line}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
