"""show_source: the page shows the code that runs, read from the installed package."""

from __future__ import annotations

import inspect

import pytest

from ae_helpers import fit_pca, show_source, train_epoch
from ae_helpers.latent import PCABaseline
from ae_helpers.source import Source


def test_the_shown_code_is_the_installed_functions_code_without_its_docstring():
    """Catches a copy that drifts from the package, or a docstring that crowds the page."""
    shown = show_source(train_epoch)
    real = inspect.getsource(train_epoch)
    assert shown.code.startswith("def train_epoch(")
    assert train_epoch.__doc__.strip().splitlines()[0] not in shown.code
    body = [line for line in real.splitlines() if "optimizer.step()" in line or "loss.backward()" in line]
    assert len(body) == 2 and all(line in shown.code for line in body)
    assert show_source(train_epoch, docstring=True).code == real.rstrip()


def test_several_objects_and_methods_are_shown_in_order_with_their_file():
    shown = show_source(fit_pca, PCABaseline.mse)
    assert shown.code.index("def fit_pca(") < shown.code.index("def mse(")
    assert "`ae_helpers/latent.py`" in shown.caption
    markdown = shown._repr_markdown_()
    assert "```python\n" in markdown and markdown.endswith("\n```")
    assert repr(shown).splitlines()[0].startswith("# From `ae_helpers/latent.py`")


def test_what_has_no_python_source_is_refused_with_a_clear_error():
    with pytest.raises(TypeError, match="cannot find the source"):
        show_source(len)
    with pytest.raises(TypeError, match="at least one"):
        show_source()


def test_a_function_that_is_only_a_docstring_keeps_it():
    def documented():
        """Only this."""
    assert '"""Only this."""' in show_source(documented).code
    assert isinstance(show_source(documented), Source)
