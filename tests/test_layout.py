"""The package's layout: which module may import which, public PyTorch only, and a map that
tells a newcomer where each thing lives (CONTRIBUTING.md's "Where things live").

Read from the source with ``ast``; nothing is imported but the package itself.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

import ae_helpers

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = Path(ae_helpers.__file__).parent
MODULES = {p.stem: p for p in sorted(PACKAGE.glob("*.py"))}
#: Modules that draw what they are given (figures, the kernel's widgets, the explorers that run in the page).
DRAWING = {"plotting", "widgets", "page_explorers"}
#: Modules that compute the numbers the chapters report.
MEASURING = {"measure", "uses"}


def _is_type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def _package_imports(path: Path) -> list[tuple[str, list[str]]]:
    """``(module, names)`` of every ``from .module import names`` that runs (type-only imports skipped)."""
    found: list[tuple[str, list[str]]] = []

    def visit(node: ast.AST) -> None:
        if _is_type_checking(node):
            return
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module is None:
                found.extend((alias.name, []) for alias in node.names)
            else:
                found.append((node.module.split(".")[0], [alias.name for alias in node.names]))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return found


def _every_package_import(path: Path) -> set[str]:
    """The modules of the package that ``path`` imports anywhere: at the top, inside a function, or for
    type checking only."""
    return {(node.module or alias.name).split(".")[0]
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.ImportFrom) and node.level == 1 for alias in node.names}


def test_imports_go_one_way():
    """Catches two modules that import each other, directly or round a longer circle, even for a type
    hint only: neither can then be read, tested or moved without the other."""
    graph = {name: _every_package_import(path) & set(MODULES)
             for name, path in MODULES.items() if name not in ("__init__", "__main__")}
    circles: list[str] = []

    def visit(name: str, path: list[str]) -> None:
        for other in sorted(graph.get(name, ())):
            if other in path:
                circles.append(" -> ".join([*path[path.index(other):], other]))
            elif other in graph:
                visit(other, [*path, other])

    for name in graph:
        visit(name, [name])
    assert circles == []


def test_no_private_name_crosses_a_module_boundary():
    """Catches ``from .x import _y``: a module leaning on another's internals, which then cannot
    change them without breaking it (make the name public, or move the code)."""
    offences = [f"{name}.py: from .{module} import {n}" for name, path in MODULES.items()
                for module, names in _package_imports(path) for n in names if n.startswith("_")]
    assert offences == []


def test_computing_modules_never_import_drawing_modules():
    """Catches a number that can only be had by importing matplotlib, ipywidgets or the explorer."""
    offences = [f"{name}.py imports {module}" for name, path in MODULES.items()
                if name not in DRAWING and name != "__init__"
                for module, _ in _package_imports(path) if module in DRAWING]
    assert offences == []


def test_drawing_modules_do_not_measure():
    """Catches a figure that computes what it shows (an AUC, an error): the chapter or
    ae_helpers.measure computes it, the figure takes it."""
    offences = [f"{name}.py imports {module}" for name in DRAWING
                for module, _ in _package_imports(MODULES[name]) if module in MEASURING]
    assert offences == []


def test_the_package_uses_public_pytorch_only():
    """Catches private torch names (torch._..., torch.ops.aten) and optimizer internals, which
    change without notice between the PyTorch versions the book supports."""
    for path in MODULES.values():
        text = path.read_text(encoding="utf-8")
        for pattern in (r"torch\._\w", r"torch\.ops\b", r"\.state\[", r"\._forward_hooks", r"_foreach_"):
            assert not re.search(pattern, text), f"{path.name}: private PyTorch use matching {pattern!r}"


def _where_things_live() -> str:
    contributing = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    match = re.search(r"^### Where things live\n(.*?)(?=^#)", contributing, re.M | re.S)
    assert match, "CONTRIBUTING.md has no '### Where things live'"
    return match.group(1)


@pytest.mark.parametrize("path", [*MODULES.values(), *sorted((ROOT / "tools").glob("*.py")),
                                  *sorted((ROOT / "benchmarks").glob("*.py"))],
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_module_says_what_it_holds_and_the_contributing_map_names_it(path):
    """Catches a module a newcomer cannot place: no docstring, or missing from CONTRIBUTING.md's map."""
    assert ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))), f"{path.name} has no docstring"
    if path.name in ("__init__.py", "__main__.py"):
        return
    rel = path.relative_to(ROOT).as_posix()
    assert f"`{rel}`" in _where_things_live(), f"CONTRIBUTING.md's 'Where things live' does not name {rel}"


def _chapter_imports() -> list[tuple[str, str, str]]:
    """``(chapter, module, name)`` for every ``from ae_helpers... import name`` in the chapters' code."""
    found = []
    for chapter in sorted((ROOT / "book").glob("*.ipynb")):
        for cell in json.loads(chapter.read_text(encoding="utf-8"))["cells"]:
            if cell["cell_type"] != "code":
                continue
            source = "".join(cell["source"])
            # IPython's %magic and !shell lines are no Python: read them as "pass"
            source = re.sub(r"^(\s*)[%!].*$", r"\1pass", source, flags=re.M)
            for node in ast.walk(ast.parse(source)):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("ae_helpers"):
                    found += [(chapter.name, node.module, a.name) for a in node.names]
    return found


def test_every_name_a_chapter_imports_exists():
    """Catches a chapter broken by a moved or renamed helper, before nbval re-runs it."""
    missing = [f"{chapter}: {module}.{name}" for chapter, module, name in _chapter_imports()
               if not hasattr(__import__(module, fromlist=["_"]), name)]
    assert missing == []


#: Names ``ae_helpers`` exports that no chapter imports: the version, the errors the chapters' calls
#: raise (a reader may catch them), and the device choice CONTRIBUTING.md shows readers.
READERS_NAMES = {"__version__", "DataError", "SettingError", "TrainingDiverged", "pick_device"}


def test_the_package_exports_what_the_chapters_import_and_no_more():
    """Catches a name a chapter must import from a submodule (the chapters have one place to import
    from: ``ae_helpers``), and a name exported for no chapter (drop it from ``__init__.py``; it stays
    importable from its module)."""
    imported = {name for _, _, name in _chapter_imports()}
    assert sorted(imported - set(ae_helpers.__all__)) == [], "add these to ae_helpers/__init__.py"
    assert sorted(set(ae_helpers.__all__) - imported - READERS_NAMES) == [], "no chapter imports these"


def test_the_packages_public_names_all_exist():
    """Catches a name left in ``ae_helpers.__all__`` after its helper moved (``from ae_helpers import *``
    fails)."""
    assert [name for name in ae_helpers.__all__ if not hasattr(ae_helpers, name)] == []
    assert len(set(ae_helpers.__all__)) == len(ae_helpers.__all__)
