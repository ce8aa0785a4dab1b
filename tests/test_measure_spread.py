"""tools/measure_spread.py's bookkeeping and its range rule, with the chapter runs replaced by fixed values."""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import measure_spread  # noqa: E402
from measure_spread import Outcome  # noqa: E402

RUNS = len(measure_spread.RUNS)


def fake_runs(values: dict[str, list[float]], claims: dict[str, list[bool]], chapter: str = "a"):
    """``run_once`` replaced: run ``i`` reports ``values[key][i]`` and ``claims[statement][i]``."""
    def run_once(index, notebooks, work):
        return Outcome(values={chapter: {k: v[index] for k, v in values.items()}},
                       claims={chapter: {s: held[index] for s, held in claims.items()}},
                       seconds={chapter: 10.0 + index}, failures=[])
    return run_once


@pytest.fixture
def files(tmp_path, monkeypatch):
    expected, table = tmp_path / "expected.json", tmp_path / "SPREAD.md"
    monkeypatch.setattr(measure_spread, "EXPECTED", expected)
    monkeypatch.setattr(measure_spread, "TABLE", table)
    monkeypatch.setattr(measure_spread, "ROOT", tmp_path)
    return expected, table


def test_the_runs_are_five_seeds_and_five_numeric_environments():
    seeds = {run.parameters.get("SEED", 42) for run in measure_spread.RUNS}
    environments = {tuple(sorted(run.env.items())) for run in measure_spread.RUNS if not run.parameters}
    assert len(seeds) >= 5 and len(environments) >= 5
    assert measure_spread.RUNS[0].parameters == {}, "the first run is the stored one, with the chapters' own settings"


def test_the_range_is_centred_on_the_runs_and_wider_than_all_of_them():
    values = [1.0, 1.1, 0.9, 1.05, 0.95, 1.02, 0.98, 1.01, 0.99]
    entry = measure_spread.summarise("a", dict(zip("abcdefghi", values)))
    mean, s = statistics.fmean(values), statistics.stdev(values)
    assert entry["low"] + entry["high"] == pytest.approx(2 * mean)
    half = (entry["high"] - entry["low"]) / 2
    # a 99.9% prediction interval for n = 9 is about 5.3 standard deviations
    assert half == pytest.approx(5.04 * s * (1 + 1 / 9) ** 0.5, rel=0.01)
    assert entry["low"] < min(values) and entry["high"] > max(values)
    assert (entry["n"], entry["min"], entry["max"]) == (9, 0.9, 1.1)


def test_a_number_that_never_moved_still_gets_a_floor_and_an_outlier_is_always_covered():
    flat = measure_spread.summarise("a", {str(i): 0.5 for i in range(RUNS)})
    assert flat["high"] - flat["low"] == pytest.approx(2 * measure_spread.FLOOR * 0.5)
    assert measure_spread.half_width([1.0, 1.0, 1.0, 1.0, 2.0]) >= 0.8  # the farthest run, at least


def test_a_run_over_some_chapters_keeps_the_other_chapters(files, monkeypatch):
    expected, table = files
    monkeypatch.setattr(measure_spread, "run_once", fake_runs(
        {"a.x": [1.0 + 0.01 * i for i in range(RUNS)]}, {"x grows": [True] * RUNS}, chapter="a"))
    assert measure_spread.main([str(ROOT / "book" / "a.ipynb")]) == 0
    first = json.loads(expected.read_text())
    assert first["checks"]["a.x"]["runs"][measure_spread.RUNS[1].name] == pytest.approx(1.01)
    monkeypatch.setattr(measure_spread, "run_once", fake_runs(
        {"b.y": [3.0 + 0.001 * i for i in range(RUNS)]}, {}, chapter="b"))
    assert measure_spread.main([str(ROOT / "book" / "b.ipynb")]) == 0
    second = json.loads(expected.read_text())
    assert second["checks"]["a.x"] == first["checks"]["a.x"] and second["claims"]["a"] == first["claims"]["a"]
    assert second["checks"]["b.y"]["chapter"] == "b"
    text = table.read_text()
    assert "| `a.x` |" in text and "| `b.y` |" in text and f"| a | x grows | {RUNS} of {RUNS} |" in text


def test_a_claim_that_fails_in_one_run_fails_the_tool_but_the_tables_are_written(files, monkeypatch, capsys):
    expected, table = files
    held = [True] * RUNS
    held[-1] = False
    monkeypatch.setattr(measure_spread, "run_once", fake_runs({"a.x": [1.0] * RUNS}, {"x is one": held}))
    assert measure_spread.main([str(ROOT / "book" / "a.ipynb")]) == 1
    assert f"{measure_spread.RUNS[-1].name}" in capsys.readouterr().err
    assert json.loads(expected.read_text())["claims"]["a"]["x is one"][measure_spread.RUNS[-1].name] is False
    assert f"| a | x is one | {RUNS - 1} of {RUNS} |" in table.read_text()


def test_a_key_missing_from_a_run_is_reported(files, monkeypatch, capsys):
    def run_once(index, notebooks, work):
        values = {"a.x": 1.0} if index else {"a.x": 1.0, "a.y": 2.0}
        return Outcome({"a": values}, {}, {"a": 1.0}, [])

    monkeypatch.setattr(measure_spread, "run_once", run_once)
    assert measure_spread.main([str(ROOT / "book" / "a.ipynb")]) == 1
    assert "a.y was not checked in" in capsys.readouterr().err


def test_records_are_read_per_chapter_and_a_claim_holds_only_if_it_held_every_time(tmp_path):
    (tmp_path / "02_x.jsonl").write_text("\n".join(json.dumps(item) for item in [
        {"key": "x.a", "value": 1.5}, {"claim": "twice", "holds": True}, {"claim": "twice", "holds": False}]) + "\n")
    values, claims = measure_spread.read_records(tmp_path)
    assert values == {"02_x": {"x.a": 1.5}} and claims == {"02_x": {"twice": False}}
