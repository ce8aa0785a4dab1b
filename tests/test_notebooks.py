"""The chapters as files: stored cleanly, executed top to bottom, shaped like chapters.

nbval (``pytest --nbval``) re-runs them; these checks catch what it does not: stray
metadata, cells run out of order, a Colab cell pointing somewhere else than the launch
buttons, a chapter missing its summary.
"""

from __future__ import annotations

import ast
import json
import re
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
CHAPTERS = [ROOT / f"{entry['file']}.ipynb" for entry in TOC.get("chapters", [])]
MAX_BYTES = 1_500_000
ALLOWED_IMPORTS = {"ae_helpers", "torch"} | set(sys.stdlib_module_names)


def _load(path: Path) -> dict:
    return json.loads(path.read_text())


def _source(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def test_toc_lists_every_chapter_and_nothing_missing():
    """Catches a chapter missing from the table of contents, or listed but absent."""
    on_disk = sorted((ROOT / "book").glob("*.ipynb"))
    assert on_disk, "no chapters in book/"
    assert sorted(CHAPTERS) == on_disk
    assert all(path.exists() for path in CHAPTERS)


@pytest.fixture(params=CHAPTERS, ids=[p.stem for p in CHAPTERS])
def chapter(request) -> tuple[Path, dict]:
    return request.param, _load(request.param)


def test_stored_small_and_clean(chapter):
    """Catches chapters stored with stray metadata or grown past their size budget."""
    path, nb = chapter
    assert path.stat().st_size < MAX_BYTES, f"{path.name} is {path.stat().st_size:,} bytes"
    assert set(nb["metadata"]) <= {"kernelspec", "language_info", "widgets"}, nb["metadata"].keys()
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    for cell in nb["cells"]:
        assert set(cell.get("metadata", {})) <= {"tags"}, f"{path.name}: stray cell metadata {cell['metadata']}"


def test_executed_top_to_bottom_without_errors(chapter):
    """Catches chapters stored run out of order or with an error."""
    path, nb = chapter
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert [c["execution_count"] for c in code] == list(range(1, len(code) + 1)), \
        f"{path.name}: re-run it top to bottom in a fresh kernel (tools/execute_notebooks.py)"
    for cell in code:
        assert not [o for o in cell["outputs"] if o["output_type"] == "error"], f"{path.name}: stored error"


def test_colab_cell_installs_from_the_launch_button_repository(chapter):
    """Catches a Colab cell that installs from elsewhere, reinstalls torch, or shows in the page."""
    path, nb = chapter
    first = _source(nb["cells"][0])
    urls = re.findall(r"git\+(https://\S+?)\"", first)
    assert urls == [CONFIG["repository"]["url"]], f"{path.name}: first cell installs from {urls}"
    assert "import ae_helpers" in first and "except ImportError" in first
    assert "torch" not in first.replace("PyTorch", ""), "the Colab cell must not reinstall torch"
    tags = nb["cells"][0].get("metadata", {}).get("tags", [])
    assert "remove-cell" in tags, f"{path.name}: tag the Colab cell remove-cell so the page opens with its title"


def test_chapter_shape(chapter):
    """Catches a chapter without its title, goals, settings, summary or exercises."""
    path, nb = chapter
    markdown = "\n".join(_source(c) for c in nb["cells"] if c["cell_type"] == "markdown")
    assert re.search(r"^# \S", markdown, re.M), f"{path.name}: no title"
    assert "In this chapter you will learn" in markdown
    for heading in ("## Settings", "## Summary", "## Exercises"):
        assert re.search(rf"^{heading}\s*$", markdown, re.M), f"{path.name}: no '{heading}'"


def test_imports_only_from_the_package_torch_and_stdlib(chapter):
    """Catches a chapter that needs a package the reader has not installed."""
    path, nb = chapter
    for cell in nb["cells"][1:]:
        if cell["cell_type"] != "code":
            continue
        source = "\n".join(line for line in _source(cell).splitlines() if not line.lstrip().startswith("%"))
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert name.split(".")[0] in ALLOWED_IMPORTS, f"{path.name}: imports {name}"


def test_ignored_outputs_say_why(chapter):
    """Catches an output excluded from nbval's comparison without a reason."""
    path, nb = chapter
    for cell in nb["cells"]:
        lines = _source(cell).splitlines()
        for i, line in enumerate(lines):
            if line.strip() == "# NBVAL_IGNORE_OUTPUT":
                reason = lines[i + 1].strip() if i + 1 < len(lines) else ""
                assert reason.startswith("#") and len(reason) > 20, \
                    f"{path.name}: NBVAL_IGNORE_OUTPUT without a comment saying why"
