"""Checks that travel: a chapter's numbers and claims, verified wherever the chapter runs.

A chapter's stored outputs are one run. A reader's run is another: another seed, another
setting, another CPU or PyTorch, whose last bits differ and can grow into another training
trajectory. So the chapters never ask nbval to compare trained digits. A cell that prints
them carries the ``nbval-ignore-output`` tag (the rendered book still shows the stored run's
numbers), and two calls check what the text relies on:

- :func:`expect` checks a number against the range the book's recorded runs give it;
- :func:`claim` checks a statement the prose makes ("A beats B"), which must hold in every run.

What happens when a check fails depends on who runs the chapter. Under the test suite
(``pytest --nbval``, ``make test``, CI, and the tools that store or measure the chapters) the
variable ``AE_STRICT_CHECKS=1`` is set, and a failed check raises: a bug that moves a number
out of its range, or breaks a claim, fails the build. In a reader's own session (Jupyter,
Colab, VS Code) the variable is not set, and a failed check prints one plain line saying what
moved and why that is expected after a change of setting; the chapter goes on.

The ranges live in ``expected.json`` beside this module, written by
``tools/measure_spread.py`` (``make spread``): it runs every chapter with several training
seeds and in several numeric environments, records every checked value and every claim, and
sets each range from the spread it saw (``tests/SPREAD.md`` shows the table). With
``AE_EXPECT_RECORD=<file>`` set, :func:`expect` and :func:`claim` append what they see to that
file (one JSON object a line) instead of checking: that is how the tool collects the values.

>>> expect("latent2d.test_mse", history.test_mse[-1])                 # doctest: +SKIP
>>> claim(test_mse[20] > test_mse[50], "the latent-50 model reconstructs better than the latent-20 one")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
import os
from functools import lru_cache
from importlib import resources
from numbers import Real

__all__ = ["ClaimError", "ExpectationError", "RECORD_ENV", "STRICT_ENV", "claim", "expect", "expected_values",
           "strict"]

#: Environment variable naming a file to record values and claims in instead of checking them.
RECORD_ENV = "AE_EXPECT_RECORD"
#: Environment variable that makes a failed check raise (set by the test suite and CI).
STRICT_ENV = "AE_STRICT_CHECKS"


class ExpectationError(AssertionError):
    """A chapter's number is outside the range its recorded runs give it (strict mode)."""


class ClaimError(AssertionError):
    """A statement a chapter makes does not hold in this run (strict mode)."""


def strict() -> bool:
    """Whether a failed check raises: ``AE_STRICT_CHECKS`` is set to anything but ``""`` or ``"0"``."""
    return os.environ.get(STRICT_ENV, "") not in ("", "0")


@lru_cache(maxsize=1)
def _table() -> dict:
    text = resources.files(__package__).joinpath("expected.json").read_text(encoding="utf-8")
    table = json.loads(text)
    if not isinstance(table, dict) or not isinstance(table.get("checks"), dict):
        raise ValueError("ae_helpers/expected.json must hold {'runs': ..., 'checks': ...}; regenerate it with "
                         "`make spread` (tools/measure_spread.py)")
    return table


def expected_values() -> dict[str, dict]:
    """The checked numbers: ``{key: {"low", "high", "mean", "std", "min", "max", "n", "runs"}}``."""
    return _table()["checks"]


def _record(item: dict) -> bool:
    path = os.environ.get(RECORD_ENV)
    if not path:
        return False
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(item) + "\n")
    return True


def _number(key: str, value: object) -> float:
    if isinstance(value, (bool, str, bytes)):
        raise TypeError(f"expect({key!r}, ...) needs a number, got {type(value).__name__}")
    if not isinstance(value, Real):
        try:
            value = float(value)  # a 0-d tensor or NumPy scalar
        except (TypeError, ValueError):
            raise TypeError(f"expect({key!r}, ...) needs a number, got {type(value).__name__}") from None
    return float(value)


def _say(line: str) -> None:
    print(line, flush=True)


def expect(key: str, value: float) -> None:
    """Check that ``value`` lies in the range the book's recorded runs give ``key``.

    When it does not, in strict mode (the test suite) it raises :class:`ExpectationError` naming
    the key, the value and the range; in a reader's session it prints one line saying so. It
    returns nothing, so that a cell ending with a check shows no output. Keys are
    ``"<chapter>.<name>"``.
    """
    value = _number(key, value)
    if _record({"key": key, "value": value}):
        return
    entry = expected_values().get(key)
    if entry is None:
        message = (f"no recorded range for {key!r} in ae_helpers/expected.json: run `make spread` "
                   "(tools/measure_spread.py) after adding a check")
        if strict():
            raise KeyError(message)
        _say(f"Note: {key} = {value:.4g} has no range in the book (a check added or renamed since the book's runs).")
        return
    low, high = float(entry["low"]), float(entry["high"])
    if math.isfinite(value) and low <= value <= high:
        return
    seen = f"its {entry.get('n', '?')} recorded runs gave {float(entry['min']):.4g} to {float(entry['max']):.4g}"
    if strict():
        raise ExpectationError(
            f"{key} = {value:.6g} is outside the range {low:.6g} to {high:.6g} ({seen}; see tests/SPREAD.md). "
            "Something changed the result, not just its last bits."
        )
    _say(f"Note: {key} = {value:.4g} is outside the book's range, {low:.4g} to {high:.4g} ({seen}). "
         "That is expected when you changed a setting or a seed; the text's numbers describe the book's runs, "
         "not this one.")


def claim(holds: object, statement: str) -> None:
    """Check a statement the chapter makes; ``holds`` is the comparison that proves it.

    When it does not hold, in strict mode (the test suite) it raises :class:`ClaimError` quoting
    ``statement``; in a reader's session it prints one line saying that this run does not show
    it. It returns nothing, so that a cell ending with a claim shows no output.
    """
    if not isinstance(statement, str) or not statement.strip():
        raise TypeError("claim(holds, statement) needs the statement as a sentence")
    ok = bool(holds)
    if _record({"claim": statement, "holds": ok}) or ok:
        return
    if strict():
        raise ClaimError(f"the chapter says: {statement!r}, and this run does not show it")
    _say(f"Note: the text says {statement!r}; this run does not show it. That can happen after a change "
         "of setting or seed: the text describes the book's runs.")
