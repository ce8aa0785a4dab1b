"""expect() and claim(): the chapters' numbers and statements, and the recorded runs behind them."""

from __future__ import annotations

import ast
import json
import math
import re
from pathlib import Path

import pytest
import torch

from ae_helpers import checks
from ae_helpers.checks import ClaimError, ExpectationError, claim, expect, expected_values

ROOT = Path(__file__).resolve().parent.parent
TABLE = {"runs": {}, "checks": {"demo.mse": {"low": 0.0377, "high": 0.0409, "mean": 0.0393, "std": 0.0003,
                                             "min": 0.0389, "max": 0.0397, "n": 9, "runs": {}}}}


@pytest.fixture
def table(monkeypatch):
    monkeypatch.delenv(checks.RECORD_ENV, raising=False)
    monkeypatch.setattr(checks, "_table", lambda: TABLE)


@pytest.fixture
def strict(table, monkeypatch):
    monkeypatch.setenv(checks.STRICT_ENV, "1")


@pytest.fixture
def reader(table, monkeypatch):
    monkeypatch.delenv(checks.STRICT_ENV, raising=False)


def test_a_value_in_its_range_passes(strict):
    expect("demo.mse", 0.0393)
    expect("demo.mse", 0.0408)
    expect("demo.mse", torch.tensor(0.0380))  # a 0-d tensor is a number too


def test_strict_a_value_outside_fails_naming_key_value_and_range(strict):
    # a model trained for 1 epoch instead of 10 ends near 0.05: far outside
    with pytest.raises(ExpectationError, match=r"demo\.mse = 0\.0497 is outside the range 0\.0377 to 0\.0409"):
        expect("demo.mse", 0.0497)
    with pytest.raises(ExpectationError, match="SPREAD.md"):
        expect("demo.mse", 0.0376)


def test_a_reader_gets_one_line_and_the_chapter_goes_on(reader, capsys):
    assert expect("demo.mse", 0.0497) is None  # nothing raised, nothing returned for a cell to display
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "demo.mse = 0.0497" in out and "0.0377 to 0.0409" in out
    assert "changed a setting" in out


def test_nan_and_non_numbers_fail(strict):
    with pytest.raises(ExpectationError):
        expect("demo.mse", math.nan)
    with pytest.raises(TypeError, match="needs a number"):
        expect("demo.mse", "0.04")
    with pytest.raises(TypeError):
        expect("demo.mse", True)


def test_an_unknown_key_says_how_to_measure_it(strict):
    with pytest.raises(KeyError, match="make spread"):
        expect("demo.unknown", 1.0)


def test_an_unknown_key_in_a_readers_session_is_one_line(reader, capsys):
    expect("demo.unknown", 1.0)
    assert capsys.readouterr().out.count("\n") == 1


def test_a_false_claim_raises_under_the_tests_and_prints_for_a_reader(table, monkeypatch, capsys):
    monkeypatch.setenv(checks.STRICT_ENV, "1")
    assert claim(2 > 1, "two beats one") is None
    assert capsys.readouterr().out == ""
    with pytest.raises(ClaimError, match="one beats two"):
        claim(1 > 2, "one beats two")
    monkeypatch.setenv(checks.STRICT_ENV, "0")  # "0" is not strict
    claim(1 > 2, "one beats two")
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "one beats two" in out
    with pytest.raises(TypeError, match="sentence"):
        claim(True, "")


def test_record_mode_appends_and_never_fails(tmp_path, monkeypatch, strict):
    record = tmp_path / "values.jsonl"
    monkeypatch.setenv(checks.RECORD_ENV, str(record))
    expect("demo.mse", 0.5)  # far outside, but recording does not check
    expect("demo.other", 2)
    claim(False, "a claim that fails")
    lines = [json.loads(line) for line in record.read_text().splitlines()]
    assert lines == [{"key": "demo.mse", "value": 0.5}, {"key": "demo.other", "value": 2.0},
                     {"claim": "a claim that fails", "holds": False}]


# --------------------------------------------------------------------------- the chapters and the real table


def _chapter_checks() -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """``({key: chapter}, {key prefix: chapter}, {claim statement: chapter})`` from the chapters' code cells.

    A literal key is taken whole; an f-string key (``expect(f"latent_size.identity_{d}", ...)``)
    by its fixed beginning, which the recorded keys must start with.
    """
    keys: dict[str, str] = {}
    prefixes: dict[str, str] = {}
    statements: dict[str, str] = {}
    for path in sorted((ROOT / "book").glob("*.ipynb")):
        nb = json.loads(path.read_text())
        for cell in nb["cells"]:
            if cell["cell_type"] != "code":
                continue
            source = "\n".join(line for line in "".join(cell["source"]).splitlines() if not line.lstrip().startswith("%"))
            for node in ast.walk(ast.parse(source)):
                if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and len(node.args) == 2):
                    continue
                first = node.args[0] if node.func.id == "expect" else node.args[1]
                if node.func.id == "expect" and isinstance(first, ast.Constant):
                    assert first.value not in keys, f"{first.value} is checked twice"
                    keys[first.value] = path.stem
                elif node.func.id == "expect" and isinstance(first, ast.JoinedStr):
                    prefixes[first.values[0].value] = path.stem
                elif node.func.id == "claim":
                    assert isinstance(first, ast.Constant), f"{path.name}: a claim's statement must be a plain string"
                    statements[first.value] = path.stem
    return keys, prefixes, statements


def recorded_runs() -> dict[str, dict]:
    """The runs the ranges come from, as ``expected.json`` holds them: ``{name: {"env": {...}, "parameters": {...}}}``."""
    return checks._table()["runs"]


def test_every_checked_number_has_a_recorded_range_and_no_entry_is_stale():
    table = expected_values()
    keys, prefixes, _ = _chapter_checks()
    assert keys, "no chapter calls expect()"
    assert sorted(set(keys) - set(table)) == [], "checks without a range: run `make spread`"
    for prefix in prefixes:
        assert any(k.startswith(prefix) for k in table), f"no range starts with {prefix!r}: run `make spread`"
    stale = [k for k in table if k not in keys and not any(k.startswith(p) for p in prefixes)]
    assert stale == [], "ranges no chapter checks: run `make spread`"


def test_every_claim_held_in_every_recorded_run():
    _, _, statements = _chapter_checks()
    recorded = checks._table().get("claims", {})
    for statement, chapter in statements.items():
        by_run = recorded.get(chapter, {}).get(statement)
        assert by_run is not None, f"{chapter}: the claim {statement!r} was never recorded: run `make spread`"
        failed = [run for run, held in by_run.items() if not held]
        assert not failed, f"{chapter}: {statement!r} failed in {failed}: mend the claim, not the range"


def test_the_runs_cover_five_seeds_and_five_numeric_environments_including_one_thread():
    runs = recorded_runs()
    seeds = {run.get("parameters", {}).get("SEED", 42) for run in runs.values()}
    environments = {json.dumps(run.get("env", {}), sort_keys=True) for run in runs.values()
                    if "SEED" not in run.get("parameters", {})}
    assert len(seeds) >= 5, f"recorded seeds: {sorted(seeds)}"
    assert len(environments) >= 5, environments
    assert any(run.get("env", {}).get("OMP_NUM_THREADS") == "1" for run in runs.values()), "no one-thread run"


def test_each_range_is_centred_on_its_runs_and_holds_every_one_of_them():
    runs = set(recorded_runs())
    for key, entry in expected_values().items():
        values = list(entry["runs"].values())
        assert set(entry["runs"]) == runs, f"{key}: recorded in {sorted(entry['runs'])}, not in every run"
        assert entry["low"] <= min(values) and max(values) <= entry["high"], key
        assert math.isclose((entry["low"] + entry["high"]) / 2, sum(values) / len(values), rel_tol=1e-9, abs_tol=1e-12), \
            f"{key}: the range is not centred on the mean of its runs"


#: A range must be narrower than the quantity it checks, or it accepts a broken result as readily as
#: a good one (a count of neighbours checked as 0 +/- 28 checks nothing).
MAX_RELATIVE_HALF_WIDTH = 0.5


def test_no_range_is_wider_than_the_number_it_checks():
    for key, entry in expected_values().items():
        half = (entry["high"] - entry["low"]) / 2
        assert half <= MAX_RELATIVE_HALF_WIDTH * abs(entry["mean"]), \
            f"{key}: {entry['mean']:.4g} +/- {half:.3g} checks nothing; check something stable instead (an order, a claim)"


#: Numbers the chapters compare with each other: each one's range must hold none of the other's recorded
#: values, so that a model no better than the next smaller one (or a score no better than the baseline
#: the text beats) fails its check.
MUST_DIFFER = [
    *[(f"latent_size.test_mse_{a}", f"latent_size.test_mse_{b}") for a, b in [(2, 5), (5, 10), (10, 20), (20, 50)]],
    ("latent_size.identity_2", "latent_size.identity_5"),
    ("latent50.agreement_2d", "latent50.agreement_tsne"),
    ("latent50.confident_dimension", "latent50.confident_digits"),
    ("latent50.confident_covariance", "latent50.confident_digits"),
    ("uses.denoise_gaussian_denoiser", "uses.denoise_gaussian_pca"),
    ("uses.denoise_mask_denoiser", "uses.denoise_mask_pca"),
    ("uses.auc_digit8_autoencoder", "uses.auc_digit8_pca"),
    ("uses.knn_autoencoder_2", "uses.knn_pca_2"),
    ("vae.test_mse.ae50", "vae.test_mse.slow50"),
    ("vae.test_mse.control50", "vae.test_mse.vae50"),
    ("vae.confident.vae.per-dimension", "vae.confident.control-no-kl.per-dimension"),
]


@pytest.mark.parametrize("a, b", MUST_DIFFER, ids=[f"{a}-vs-{b}" for a, b in MUST_DIFFER])
def test_the_ranges_of_numbers_the_text_compares_tell_them_apart(a, b):
    table = expected_values()
    if a not in table or b not in table:
        pytest.fail(f"{a} or {b} is not checked any more: update MUST_DIFFER with the chapter")
    for one, other in [(a, b), (b, a)]:
        inside = [v for v in table[other]["runs"].values() if table[one]["low"] <= v <= table[one]["high"]]
        assert not inside, f"the range of {one} accepts {other}'s recorded values {inside}: it cannot tell them apart"


def test_the_spread_table_lists_every_checked_number_and_claim():
    text = (ROOT / "tests" / "SPREAD.md").read_text()
    for key in expected_values():
        assert f"| `{key}` |" in text, f"{key} missing from tests/SPREAD.md: run `make spread`"
    for chapter, statements in checks._table().get("claims", {}).items():
        for statement in statements:
            assert re.search(rf"\| {re.escape(chapter)} \| {re.escape(statement.replace('|', '/'))} \|", text), statement
