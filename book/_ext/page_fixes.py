"""Work around a Sphinx 7.4 bug that writes some inline scripts twice into every page.

Extensions that call ``app.add_js_file(None, body=...)`` after the HTML builder starts
(sphinx-togglebutton at builder-inited, sphinx-thebe at env-before-read-docs) put an asset
with filename ``None`` on the builder; ``prepare_writing`` then adds the same asset again
from the registry with filename ``''``, and the two never compare equal. The page ends up
with two ``<script>const THEBE_JS_URL = ...</script>`` tags and the browser reports
"Identifier 'THEBE_JS_URL' has already been declared". Normalising the filename before
writing lets Sphinx's own de-duplication drop the copy.
"""

from __future__ import annotations

from typing import Any

from sphinx.application import Sphinx
from sphinx.builders.html._assets import _JavaScript
from sphinx.environment import BuildEnvironment

__all__ = ["setup"]


def _normalise_inline_scripts(app: Sphinx, env: BuildEnvironment) -> None:
    files = getattr(app.builder, "_js_files", None)
    if files is None:
        return
    fixed: list[_JavaScript] = []
    for js in files:
        if isinstance(js, _JavaScript) and js.filename is None:
            js = _JavaScript("", priority=js.priority, **js.attributes)
        if js not in fixed:
            fixed.append(js)
    files[:] = fixed


def setup(app: Sphinx) -> dict[str, Any]:
    """Sphinx entry point (registered through ``sphinx: local_extensions:`` in _config.yml)."""
    # env-updated comes after every extension added its scripts and before prepare_writing.
    app.connect("env-updated", _normalise_inline_scripts)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
