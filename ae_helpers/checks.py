"""Checks that travel: a chapter's numbers, verified on whatever machine re-runs it.

A chapter's stored outputs are one machine's run. Seeded training repeats bit for bit only on
the same kind of CPU, BLAS code path, thread count and torch version, so on a reader's laptop
or in Colab the third or fourth decimal of a loss differs. The chapters therefore never ask
nbval to compare such digits. A cell that prints them is marked ``# NBVAL_IGNORE_OUTPUT``
(the rendered book still shows the stored run's numbers), and the numbers the prose relies on
go through :func:`expect`, which fails when a value leaves the tolerance measured for it.

The references and tolerances live in ``expected.json`` beside this module, written by
``tools/measure_spread.py``: it runs the chapters under several numeric environments (thread
counts, ``MKL_CBWR``, ``ATEN_CPU_CAPABILITY``), records every checked value, and sets each
tolerance to a few times the largest deviation seen (``tests/SPREAD.md`` has the table).
Claims that must hold for any seed (an ordering, a comparison) are plain ``assert``
statements in the chapter.

With ``AE_EXPECT_RECORD=<file>`` set, :func:`expect` appends each value to that file (one
JSON object a line) instead of checking it: that is how the tool collects the values.

>>> expect("latent2d.test_mse", history.test_mse[-1])   # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
import os
from functools import lru_cache
from importlib import resources
from numbers import Real

__all__ = ["ExpectationError", "expect", "expected_values", "RECORD_ENV"]

#: Environment variable naming a file to record values in instead of checking them.
RECORD_ENV = "AE_EXPECT_RECORD"


class ExpectationError(AssertionError):
    """A chapter's number is outside the tolerance measured for it."""


@lru_cache(maxsize=1)
def expected_values() -> dict[str, dict]:
    """The table of references: ``{key: {"value", "tol", "spread", "envs"}}`` from ``expected.json``."""
    text = resources.files(__package__).joinpath("expected.json").read_text(encoding="utf-8")
    table = json.loads(text)
    if not isinstance(table, dict):
        raise ValueError("ae_helpers/expected.json must hold one JSON object; regenerate it with "
                         "tools/measure_spread.py")
    return table


def expect(key: str, value: float) -> None:
    """Check that ``value`` is within the measured tolerance of the stored run's value for ``key``.

    Raises :class:`ExpectationError` naming the key, the value, the reference and the tolerance
    when it is not (or when the value is not a finite number). Keys are ``"<chapter>.<name>"``.
    """
    if isinstance(value, (bool, str, bytes)):
        raise TypeError(f"expect({key!r}, ...) needs a number, got {type(value).__name__}")
    if not isinstance(value, Real):
        try:
            value = float(value)  # a 0-d tensor or NumPy scalar
        except (TypeError, ValueError):
            raise TypeError(f"expect({key!r}, ...) needs a number, got {type(value).__name__}") from None
    value = float(value)
    record = os.environ.get(RECORD_ENV)
    if record:
        with open(record, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"key": key, "value": value}) + "\n")
        return
    entry = expected_values().get(key)
    if entry is None:
        raise KeyError(f"no reference for {key!r} in ae_helpers/expected.json: run "
                       "`make spread` (tools/measure_spread.py) after adding a check")
    ref, tol = float(entry["value"]), float(entry["tol"])
    if not math.isfinite(value) or abs(value - ref) > tol:
        raise ExpectationError(
            f"{key} = {value:.6g} is outside {ref:.6g} +/- {tol:.3g} (the largest deviation seen across "
            f"{entry.get('envs', '?')} numeric environments was {float(entry.get('spread', math.nan)):.3g}; "
            "see tests/SPREAD.md). Something changed the result, not just its last bits."
        )
