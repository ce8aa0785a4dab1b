"""require and SettingError: a settings cell the chapter cannot honour stops in one line."""

from __future__ import annotations

import pytest

from ae_helpers import SettingError, require


def test_require_passes_silently_and_stops_with_the_message():
    require(True, "never shown")
    with pytest.raises(SettingError, match="LATENT_SIZES must include 50"):
        require(False, "LATENT_SIZES must include 50")


def test_jupyter_shows_one_line_instead_of_a_traceback():
    """IPython prints ``_render_traceback_()`` in place of the traceback: catches a reader facing frames of helper code."""
    try:
        require(False, "EPOCHS must be at least 1; e.g. EPOCHS = 10")
    except SettingError as error:
        assert error._render_traceback_() == ["SettingError: EPOCHS must be at least 1; e.g. EPOCHS = 10"]
    assert issubclass(SettingError, ValueError)
