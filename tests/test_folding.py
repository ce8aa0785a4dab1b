"""What only the tests need, and the answers, stay out of the reader's way wherever a chapter opens.

A chapter opens in three places: the rendered book (Sphinx reads the cell tags), JupyterLab and
Notebook 7 (``metadata.jupyter``), and Colab (``cellView: form`` with a ``#@title`` line, and
sections folded under the headings listed in ``metadata.colab.collapsed_sections``). One rule,
``fold_cells`` in tools/execute_notebooks.py, derives all three from a cell's first line; these
tests check that every stored chapter follows it, and that no check hides in a teaching cell.
"""

from __future__ import annotations

import ast
import copy
import json
import re
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
from execute_notebooks import CHECK_TITLE, SOLUTION_HEADING, SOLUTION_TITLE, fold_cells  # noqa: E402

TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())
CHAPTERS = [ROOT / f"{entry['file']}.ipynb" for entry in TOC.get("chapters", [])]


def _source(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _calls_a_check(cell: dict) -> bool:
    code = "\n".join("pass" if line.lstrip().startswith("%") else line for line in _source(cell).splitlines())
    return any(isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("expect", "claim")
               for node in ast.walk(ast.parse(code)))


@pytest.fixture(params=CHAPTERS, ids=[p.stem for p in CHAPTERS])
def chapter(request) -> tuple[Path, nbformat.NotebookNode]:
    return request.param, nbformat.read(request.param, as_version=4)


def test_every_cell_carries_the_metadata_of_its_role(chapter):
    """Catches a chapter stored without fold_cells (a check cell open in Colab, a solution open in JupyterLab)."""
    path, nb = chapter
    expected = copy.deepcopy(nb)
    fold_cells(expected)
    for i, (stored, folded) in enumerate(zip(nb.cells, expected.cells)):
        assert stored.metadata == folded.metadata, \
            f"{path.name} cell {i}: run `python tools/execute_notebooks.py --fold-only {path.relative_to(ROOT)}`"
    assert nb.metadata.get("colab") == expected.metadata.get("colab"), path.name


def test_checks_sit_in_folded_cells_of_their_own(chapter):
    """Catches an expect()/claim() in a teaching or solution cell, and a check cell the site would show."""
    path, nb = chapter
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or i == 0:
            continue
        is_check_cell = _source(cell).startswith(CHECK_TITLE)
        assert _calls_a_check(cell) == is_check_cell, (
            f"{path.name} cell {i}: " + ("a check in a cell the reader reads: move it to a cell starting "
                                         f"{CHECK_TITLE!r}" if not is_check_cell else "a check cell without a check"))
        if is_check_cell:
            assert "remove-cell" in cell.metadata.get("tags", []), f"{path.name} cell {i}"
            assert cell.metadata.get("cellView") == "form" and cell.metadata["jupyter"]["source_hidden"], path.name
            assert not [o for o in cell.get("outputs", []) if o.get("output_type") != "error"], \
                f"{path.name} cell {i}: a check cell that prints; a passing check says nothing"


def _exercises(nb: nbformat.NotebookNode) -> list[int]:
    """The numbers of the exercises listed between '## Exercises' and '## Solutions'."""
    numbers, inside = [], False
    for cell in nb.cells:
        text = _source(cell)
        if cell.cell_type != "markdown":
            continue
        if re.search(r"^## Exercises\s*$", text, re.M):
            inside = True
        if text.startswith("## Solutions"):
            break
        if inside:
            # "1. Find ..." or "**Exercise 1.** Train ..."
            numbers += [int(a or b) for a, b in re.findall(r"^(?:(\d+)\. |\*\*Exercise (\d+)\.\*\*)", text, re.M)]
    return numbers


def test_every_exercise_has_a_solution_folded_in_every_viewer(chapter):
    """Catches an answer in plain view in Colab (which ignores JupyterLab's folding) or on the site."""
    path, nb = chapter
    exercises = _exercises(nb)
    assert exercises, f"{path.name}: no numbered exercises found under '## Exercises'"
    headings = {}
    current = None
    for i, cell in enumerate(nb.cells):
        text = _source(cell)
        if cell.cell_type == "markdown":
            match = SOLUTION_HEADING.match(text)
            if match:
                current = int(match.group(1))
                headings[current] = cell
                assert "<details>" in text and "<details open" not in text, f"{path.name} cell {i}: answer not folded"
            elif re.match(r"#{1,3} ", text):
                current = None  # a heading of this level or above ends the folded section
        elif text.startswith(SOLUTION_TITLE):
            assert current is not None, f"{path.name} cell {i}: solution code outside a solution's section"
            assert text.startswith(f"{SOLUTION_TITLE} to exercise {current}"), f"{path.name} cell {i}"
            assert cell.metadata["jupyter"] == {"source_hidden": True, "outputs_hidden": True}
    assert sorted(headings) == sorted(exercises), f"{path.name}: exercises {exercises}, solutions {sorted(headings)}"
    assert nb.metadata["colab"]["collapsed_sections"] == [headings[n].id for n in sorted(headings)]
    assert all(headings[n].metadata["id"] == headings[n].id for n in headings), "Colab reads the id from metadata"


def test_fold_cells_marks_each_role_and_leaves_teaching_cells_alone():
    """The rule itself, on a small notebook: catches a role that loses its folding in one viewer."""
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("#@title Setup\nimport os"),
        nbformat.v4.new_code_cell("x = 1"),
        nbformat.v4.new_code_cell(f"{CHECK_TITLE}: this run\nclaim(x == 1, 'x is one')"),
        nbformat.v4.new_markdown_cell("### Solution to exercise 2\n\n<details>\n<summary>Show</summary>\n</details>"),
        nbformat.v4.new_code_cell(f"{SOLUTION_TITLE} to exercise 2\nprint(x)"),
    ])
    fold_cells(nb)
    install, teaching, check, heading, solution = nb.cells
    assert install.metadata == check.metadata == {"tags": ["remove-cell"], "jupyter": {"source_hidden": True},
                                                  "cellView": "form"}
    assert teaching.metadata == {}
    assert solution.metadata == {"tags": ["hide-cell"], "jupyter": {"source_hidden": True, "outputs_hidden": True},
                                 "cellView": "form"}
    assert heading.id == heading.metadata["id"] == "solution-2"
    assert nb.metadata["colab"] == {"collapsed_sections": ["solution-2"]}
    json.loads(nbformat.writes(nb))  # still a valid notebook (unique ids)
