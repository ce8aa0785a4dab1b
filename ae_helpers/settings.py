"""A chapter's settings cell, checked before anything runs on it.

Every chapter opens with a settings cell that invites edits. A value the chapter cannot honour
stops the chapter at the cell after it, with one line that names the setting and what to
change, instead of a bare ``KeyError`` four cells later:

>>> require(50 in LATENT_SIZES, "LATENT_SIZES must include 50: the chapter compares every size with it")  # doctest: +SKIP
SettingError: LATENT_SIZES must include 50: the chapter compares every size with it
"""

from __future__ import annotations

__all__ = ["SettingError", "require"]


class SettingError(ValueError):
    """A chapter setting the chapter cannot work with. Jupyter shows it as its one line, without a traceback."""

    def _render_traceback_(self) -> list[str]:  # IPython shows this instead of the traceback
        return [f"SettingError: {self}"]


def require(holds: bool, message: str) -> None:
    """Stop with :class:`SettingError` (``message``: the setting, and what to change) unless ``holds``."""
    if not holds:
        raise SettingError(message)
