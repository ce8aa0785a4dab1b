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
    on_disk = sorted((ROOT / "book").glob("*.ipynb"))
    assert on_disk, "no chapters in book/"
    assert sorted(CHAPTERS) == on_disk
    assert all(path.exists() for path in CHAPTERS)


@pytest.fixture(params=CHAPTERS, ids=[p.stem for p in CHAPTERS])
def chapter(request) -> tuple[Path, dict]:
    return request.param, _load(request.param)


def test_stored_small_and_clean(chapter):
    path, nb = chapter
    assert path.stat().st_size < MAX_BYTES, f"{path.name} is {path.stat().st_size:,} bytes"
    assert set(nb["metadata"]) <= {"kernelspec", "language_info", "widgets"}, nb["metadata"].keys()
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    for cell in nb["cells"]:
        metadata = cell.get("metadata", {})
        assert set(metadata) <= {"tags", "jupyter"}, f"{path.name}: stray cell metadata {metadata}"
        if "jupyter" in metadata:  # only solutions are stored folded, input and output alike
            assert "hide-cell" in metadata.get("tags", []), f"{path.name}: a folded cell that the book does not fold"
            assert metadata["jupyter"] == {"source_hidden": True, "outputs_hidden": True}, metadata


def test_executed_top_to_bottom_without_errors(chapter):
    path, nb = chapter
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert [c["execution_count"] for c in code] == list(range(1, len(code) + 1)), \
        f"{path.name}: re-run it top to bottom in a fresh kernel (tools/execute_notebooks.py)"
    for cell in code:
        assert not [o for o in cell["outputs"] if o["output_type"] == "error"], f"{path.name}: stored error"


def test_colab_cell_installs_from_the_launch_button_repository(chapter):
    path, nb = chapter
    first = _source(nb["cells"][0])
    urls = re.findall(r"git\+(https://\S+?)\"", first)
    assert urls == [CONFIG["repository"]["url"]], f"{path.name}: first cell installs from {urls}"
    assert "import ae_helpers" in first and "except ImportError" in first
    assert "torch" not in first.replace("PyTorch", ""), "the Colab cell must not reinstall torch"
    tags = nb["cells"][0].get("metadata", {}).get("tags", [])
    assert "remove-cell" in tags, f"{path.name}: tag the Colab cell remove-cell so the page opens with its title"


def test_chapter_shape(chapter):
    path, nb = chapter
    markdown = "\n".join(_source(c) for c in nb["cells"] if c["cell_type"] == "markdown")
    assert re.search(r"^# \S", markdown, re.M), f"{path.name}: no title"
    assert "In this chapter you will learn" in markdown
    for heading in ("## Settings", "## Summary", "## Exercises"):
        assert re.search(rf"^{heading}\s*$", markdown, re.M), f"{path.name}: no '{heading}'"


def test_imports_only_from_the_package_torch_and_stdlib(chapter):
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


def _code(cell: dict) -> str:
    """The cell's Python, with IPython magics (``%pip ...``) replaced by ``pass`` so that it parses."""
    return "\n".join(line[: len(line) - len(line.lstrip())] + "pass" if line.lstrip().startswith("%") else line
                     for line in _source(cell).splitlines())


def test_checks_use_tags_and_claims_not_comments_and_asserts(chapter):
    """A reader's session must never stop on a check: chapters check with claim()/expect() (which raise only
    under the tests) instead of assert, and mark machine-dependent outputs with nbval's cell tag."""
    path, nb = chapter
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        assert "NBVAL_" not in _source(cell), f"{path.name} cell {i}: use the nbval-ignore-output tag, not a comment"
        asserts = [node for node in ast.walk(ast.parse(_code(cell))) if isinstance(node, ast.Assert)]
        assert not asserts, f"{path.name} cell {i}: a plain assert stops a reader's session; use claim(...)"


def test_settings_cell_is_tagged_parameters_and_holds_the_seed(chapter):
    """papermill and `make test-settings`/`make spread` inject settings after the cell tagged parameters."""
    path, nb = chapter
    tagged = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: {len(tagged)} cells tagged parameters"
    assigned = {t.id for node in ast.parse(_code(tagged[0])).body if isinstance(node, ast.Assign) for t in node.targets}
    assert "SEED" in assigned, f"{path.name}: the settings cell does not set SEED"
    index = nb["cells"].index(tagged[0])
    assert _source(nb["cells"][index - 1]).strip() == "## Settings"


def test_solutions_are_folded_and_come_after_every_exercise(chapter):
    """A reader meets an answer only when they ask for it: solutions sit in closed <details> blocks after the
    last exercise (Jupyter, Colab and GitHub render those folded too), their code cells folded as well."""
    path, nb = chapter
    markdown = [(i, _source(c)) for i, c in enumerate(nb["cells"]) if c["cell_type"] == "markdown"]
    assert not any(":::{dropdown}" in text for _, text in markdown), f"{path.name}: a MyST dropdown shows open in Jupyter"
    solutions_at = next(i for i, text in markdown if text.startswith("## Solutions"))
    exercises_at = next(i for i, text in markdown if "## Exercises" in text)
    assert exercises_at < solutions_at
    for i, text in markdown:
        opened, closed = text.count("<details>"), text.count("</details>")
        assert opened == closed, f"{path.name} cell {i}: unbalanced <details>"
        if opened:
            assert i > solutions_at and "<details open" not in text, f"{path.name} cell {i}"
    for i, cell in enumerate(nb["cells"]):
        if "hide-cell" in cell.get("metadata", {}).get("tags", []):
            assert i > solutions_at, f"{path.name} cell {i}: solution code before the Solutions section"


def test_no_stored_progress_bar_reads_unfinished(chapter):
    """Viewers without widgets (GitHub's notebook view) show a widget's text/plain: a bar must read finished."""
    path, nb = chapter
    for i, cell in enumerate(nb["cells"]):
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            text = "".join(data.get("text/plain", ""))
            if "application/vnd.jupyter.widget-view+json" in data and re.search(r"\|\s*\d+/\d+ \[", text):
                assert "100%|" in text, f"{path.name} cell {i}: a stored progress bar reads {text[:60]!r}"
