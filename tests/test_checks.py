"""expect(): the chapters' numbers against measured tolerances, and the table behind it."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
import torch

from ae_helpers import checks
from ae_helpers.checks import ExpectationError, expect, expected_values

ROOT = Path(__file__).resolve().parent.parent
TABLE = {"demo.mse": {"value": 0.0393, "tol": 0.0016, "spread": 0.0004, "envs": 5}}


@pytest.fixture
def table(monkeypatch):
    monkeypatch.delenv(checks.RECORD_ENV, raising=False)
    monkeypatch.setattr(checks, "expected_values", lambda: TABLE)


def test_a_value_within_the_tolerance_passes(table):
    expect("demo.mse", 0.0393)
    expect("demo.mse", 0.0393 + 0.0015)
    expect("demo.mse", torch.tensor(0.0380))  # a 0-d tensor is a number too


def test_a_value_outside_fails_naming_key_value_reference_and_tolerance(table):
    # a model trained for 1 epoch instead of 10 ends near 0.05: far outside
    with pytest.raises(ExpectationError, match=r"demo\.mse = 0\.0497 is outside 0\.0393 \+/- 0\.0016"):
        expect("demo.mse", 0.0497)
    with pytest.raises(ExpectationError, match="SPREAD.md"):
        expect("demo.mse", 0.0393 - 0.0017)


def test_nan_and_non_numbers_fail(table):
    with pytest.raises(ExpectationError):
        expect("demo.mse", math.nan)
    with pytest.raises(TypeError, match="needs a number"):
        expect("demo.mse", "0.04")
    with pytest.raises(TypeError):
        expect("demo.mse", True)


def test_an_unknown_key_says_how_to_measure_it(table):
    with pytest.raises(KeyError, match="make spread"):
        expect("demo.unknown", 1.0)


def test_record_mode_appends_and_never_fails(tmp_path, monkeypatch, table):
    record = tmp_path / "values.jsonl"
    monkeypatch.setenv(checks.RECORD_ENV, str(record))
    expect("demo.mse", 0.5)  # far outside, but recording does not check
    expect("demo.other", 2)
    lines = [json.loads(line) for line in record.read_text().splitlines()]
    assert lines == [{"key": "demo.mse", "value": 0.5}, {"key": "demo.other", "value": 2.0}]


# --------------------------------------------------------------------------- the real table


def _chapter_keys() -> tuple[dict[str, str], dict[str, str]]:
    """``({key: chapter}, {prefix: chapter})`` for every ``expect(...)`` in the chapters' code cells.

    A literal key is taken whole; an f-string key (``expect(f"latent_size.identity_{d}", ...)``)
    by its fixed beginning, which the measured keys must start with.
    """
    keys: dict[str, str] = {}
    prefixes: dict[str, str] = {}
    for path in sorted((ROOT / "book").glob("*.ipynb")):
        nb = json.loads(path.read_text())
        for cell in nb["cells"]:
            if cell["cell_type"] != "code":
                continue
            source = "".join(cell["source"])
            for is_f, key in re.findall(r"""expect\(\s*(f?)["']([^"'{]+)""", source):
                target = prefixes if is_f else keys
                assert key not in target, f"{key} is checked twice ({target[key]} and {path.name})"
                target[key] = path.name
    return keys, prefixes


def test_every_checked_number_has_a_measured_tolerance_and_no_entry_is_stale():
    table = expected_values()
    keys, prefixes = _chapter_keys()
    assert keys, "no chapter calls expect()"
    assert sorted(set(keys) - set(table)) == [], "checks without a reference: run `make spread`"
    for prefix in prefixes:
        assert any(k.startswith(prefix) for k in table), f"no reference starts with {prefix!r}: run `make spread`"
    stale = [k for k in table if k not in keys and not any(k.startswith(p) for p in prefixes)]
    assert stale == [], "references no chapter checks: run `make spread`"


def test_tolerances_are_positive_and_cover_the_spread_seen():
    for key, entry in expected_values().items():
        assert set(entry) >= {"value", "tol", "spread", "envs"}, key
        assert math.isfinite(entry["value"]), key
        assert entry["tol"] > 0 and entry["tol"] >= entry["spread"], key
        assert entry["envs"] >= 4, f"{key}: measured in fewer than four numeric environments"


def test_the_spread_table_lists_every_checked_number():
    text = (ROOT / "tests" / "SPREAD.md").read_text()
    for key in expected_values():
        assert f"| `{key}` |" in text, f"{key} missing from tests/SPREAD.md: run `make spread`"
