"""Showing the package's own code in a chapter: the code a reader reads is the code that runs.

A chapter that relies on a function of ``ae_helpers`` shows it where the idea is taught with
``show_source(fit_pca)``. The source is read from the installed module at that moment, so the
page cannot drift from what the chapter runs: in the rendered book and in Colab, where there
is no checkout to look things up in, the reader sees the real code.

>>> show_source(fit_pca)                       # doctest: +SKIP
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from typing import Any

__all__ = ["Source", "show_source"]


class Source:
    """Python source text that notebooks show as a highlighted code block.

    ``text/markdown`` (a fenced block, highlighted in Jupyter, Colab and the rendered book)
    with a plain-text fallback; ``str()`` is the code itself.
    """

    def __init__(self, code: str, caption: str = ""):
        self.code = code
        self.caption = caption

    def __str__(self) -> str:
        return self.code

    def __repr__(self) -> str:
        return (f"# {self.caption}\n" if self.caption else "") + self.code

    def _repr_markdown_(self) -> str:
        caption = f"{self.caption}\n\n" if self.caption else ""
        return f"{caption}```python\n{self.code}\n```"


def _without_docstring(code: str) -> str:
    """``code`` (one ``def`` or ``class``) with the docstrings of it and its methods removed."""
    tree = ast.parse(code)
    lines = code.splitlines()
    drop: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
                    and isinstance(first.value.value, str) and len(node.body) > 1:
                drop.update(range(first.lineno - 1, first.end_lineno))
    return "\n".join(line for i, line in enumerate(lines) if i not in drop)


def show_source(*objects: Any, docstring: bool = False) -> Source:
    """The source of functions, classes or methods of the installed package, to display in a notebook.

    Args:
        objects: what to show, in order (separated by a blank line).
        docstring: keep the docstrings; by default they are left out, since the chapter's
            prose explains the code around it.

    Raises ``TypeError`` for an object whose source Python cannot find (a built-in, say).
    """
    if not objects:
        raise TypeError("show_source needs at least one function or class, e.g. show_source(fit)")
    parts, places = [], []
    for obj in objects:
        try:
            code = textwrap.dedent(inspect.getsource(obj)).rstrip()
            module = inspect.getmodule(obj)
        except (TypeError, OSError) as error:
            raise TypeError(f"show_source cannot find the source of {obj!r}: pass a function, class or "
                            "method defined in Python") from error
        parts.append(code if docstring else _without_docstring(code))
        name = module.__name__ if module else "?"
        where = name.replace(".", "/") + ".py"
        if where not in places:
            places.append(where)
    caption = "From " + ", ".join(f"`{where}`" for where in places) + " (the code that runs):"
    return Source("\n\n\n".join(parts), caption)
