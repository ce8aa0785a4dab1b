"""tools/measure_spread.py's bookkeeping, with the chapter runs replaced by fixed values."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import measure_spread  # noqa: E402


def fake_runs(values_by_env: list[dict[str, float]], chapters: list[str]):
    def run_environment(index, notebooks, work):
        return values_by_env[index], {chapter: 10.0 + index for chapter in chapters}
    return run_environment


@pytest.fixture
def files(tmp_path, monkeypatch):
    expected, table = tmp_path / "expected.json", tmp_path / "SPREAD.md"
    monkeypatch.setattr(measure_spread, "EXPECTED", expected)
    monkeypatch.setattr(measure_spread, "TABLE", table)
    monkeypatch.setattr(measure_spread, "FAILED", [])
    monkeypatch.setattr(measure_spread, "ROOT", tmp_path)
    return expected, table


def test_a_run_over_some_chapters_keeps_the_others_values_per_environment(files, monkeypatch):
    expected, table = files
    envs = len(measure_spread.ENVIRONMENTS)
    # first a run over every chapter: two keys, one of which will not be re-measured
    monkeypatch.setattr(measure_spread, "run_environment", fake_runs(
        [{"a.x": 1.0 + 0.01 * i, "b.y": 2.0 - 0.02 * i} for i in range(envs)], ["a", "b"]))
    assert measure_spread.main([]) == 0
    first = json.loads(expected.read_text())
    assert first["a.x"]["seen"]["MKL_CBWR=COMPATIBLE"] == pytest.approx(1.01)
    # then a run over chapter b only, with other values
    monkeypatch.setattr(measure_spread, "run_environment", fake_runs(
        [{"b.y": 3.0 + 0.001 * i} for i in range(envs)], ["b"]))
    assert measure_spread.main([str(ROOT / "book" / "b.ipynb")]) == 0
    second = json.loads(expected.read_text())
    assert second["a.x"] == first["a.x"]                      # untouched
    assert second["b.y"]["value"] == 3.0 and second["b.y"]["tol"] == pytest.approx(0.012)
    text = table.read_text()
    row_a = next(line for line in text.splitlines() if line.startswith("| `a.x`"))
    assert "1.01 | 1.02 | 1.03" in row_a, row_a               # the earlier run's columns survive
    assert "covered b only" in text and "| b | 10.0 |" in text


def test_a_failed_claim_is_reported_and_the_tables_still_written(files, monkeypatch):
    expected, table = files
    envs = len(measure_spread.ENVIRONMENTS)

    def run_environment(index, notebooks, work):
        if index == envs - 1:
            measure_spread.FAILED.append(measure_spread.ENVIRONMENTS[index][0])
        return {"a.x": 1.0}, {"a": 1.0}

    monkeypatch.setattr(measure_spread, "run_environment", run_environment)
    assert measure_spread.main([]) == 1
    assert json.loads(expected.read_text())["a.x"]["tol"] == pytest.approx(1e-3)  # the floor
    assert table.exists()
