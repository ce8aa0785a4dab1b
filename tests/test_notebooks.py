"""The chapters as files: stored cleanly, executed top to bottom, shaped like chapters.

nbval (``pytest --nbval``) re-runs them; these checks catch what it does not: stray
metadata, cells run out of order, a Colab cell pointing somewhere else than the launch
buttons, pinned to another version than the book's or differing from its one copy
(tools/install_cell.py), a Colab cell that fails quietly, a chapter missing its summary.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
CHAPTERS = [ROOT / f"{entry['file']}.ipynb" for entry in TOC.get("chapters", [])]
MAX_BYTES = 1_500_000
ALLOWED_IMPORTS = {"ae_helpers", "torch"} | set(sys.stdlib_module_names)

sys.path.insert(0, str(ROOT / "tools"))
import install_cell  # noqa: E402


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
    assert set(nb["metadata"]) <= {"kernelspec", "language_info", "widgets", "colab"}, nb["metadata"].keys()
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    for cell in nb["cells"][1:]:  # cell 0's metadata is the install cell's (tools/install_cell.py), checked below
        metadata = cell.get("metadata", {})
        # what each key is for: tools/execute_notebooks.py (KEEP_CELL_METADATA); tests/test_folding.py checks the folding
        assert set(metadata) <= {"tags", "jupyter", "cellView", "id", "mystnb"}, f"{path.name}: stray cell metadata {metadata}"
        if "jupyter" in metadata:  # folded in JupyterLab: solutions and checks, which the site folds or removes
            assert {"hide-cell", "remove-cell"} & set(metadata.get("tags", [])), \
                f"{path.name}: a folded cell that the book does not fold"


def test_executed_top_to_bottom_without_errors(chapter):
    """Catches chapters stored run out of order or with an error."""
    path, nb = chapter
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert [c["execution_count"] for c in code] == list(range(1, len(code) + 1)), \
        f"{path.name}: re-run it top to bottom in a fresh kernel (tools/execute_notebooks.py)"
    for cell in code:
        assert not [o for o in cell["outputs"] if o["output_type"] == "error"], f"{path.name}: stored error"


def test_colab_cell_installs_the_books_version_from_the_launch_button_repository(chapter):
    """Catches a Colab cell that installs from elsewhere or another version than the book's, installs
    over a package already there, reinstalls torch, or shows in the page."""
    import ae_helpers

    path, nb = chapter
    first = _source(nb["cells"][0])
    pins = re.findall(r"ae-helpers @ git\+(https://\S+?)@v([^\s\"]+)\"", first)
    assert pins == [(CONFIG["repository"]["url"], ae_helpers.__version__)], \
        f"{path.name}: first cell installs {pins}, not the book's v{ae_helpers.__version__}"
    assert 'importlib.util.find_spec("ae_helpers") is None' in first, "install only where ae_helpers is missing"
    assert "torch" not in first.replace("PyTorch", ""), "the Colab cell must not reinstall torch"
    tags = nb["cells"][0].get("metadata", {}).get("tags", [])
    assert "remove-cell" in tags, f"{path.name}: tag the Colab cell remove-cell so the page opens with its title"


def test_colab_cell_is_the_one_copy_in_tools(chapter):
    """Catches a chapter whose first cell, or its metadata (the form view in Colab, folded in
    JupyterLab, left out of the page), is not tools/install_cell.py's, or was stored ticked."""
    path, nb = chapter
    assert _source(nb["cells"][0]) == install_cell.cell_source(), \
        f"{path.name}: its first cell differs from tools/install_cell.py; run python tools/install_cell.py"
    assert nb["cells"][0].get("metadata") == install_cell.CELL_METADATA, \
        f"{path.name}: cell 0's metadata differs from tools/install_cell.py; run python tools/install_cell.py"
    assert install_cell.REPOSITORY == CONFIG["repository"]["url"]
    # Stored as the chapters were executed: the cell prints nothing where ae_helpers is installed.
    assert nb["cells"][0]["outputs"] == []


def test_install_cell_is_a_colab_form_pinned_to_the_packages_version():
    """Catches the cell losing its form (title, the Drive setting as a checkbox), shipping the setting
    ticked, or installing another version than the one ae_helpers/__init__.py sets."""
    import ae_helpers

    lines = install_cell.cell_source().splitlines()
    assert lines[0].startswith("#@title Setup: "), lines[0]
    assert lines[1] == 'KEEP_MODELS_ON_DRIVE = False  #@param {type:"boolean"}', lines[1]
    assert install_cell.VERSION == ae_helpers.__version__
    assert install_cell.TARGET.endswith(f"@v{ae_helpers.__version__}")
    assert len(lines) <= 16, "the first cell stays short"


# --- the Colab cell run for real: in a Python environment without ae_helpers -------------------------

@pytest.fixture(scope="module")
def bare_python(tmp_path_factory) -> Path:
    """A fresh virtual environment (with pip, without ae_helpers): where the Colab cell must install."""
    venv = tmp_path_factory.mktemp("bare") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=300)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    assert python.exists()
    return python


def _run(python: Path, code: str, cwd: Path) -> subprocess.CompletedProcess:
    # Neither PYTHONPATH nor the checkout as the current folder: the tests reach the checkout's
    # ae_helpers through both, and here the cell must not find it.
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PYTHONHOME"}}
    return subprocess.run([str(python), "-c", code], capture_output=True, text=True, env=env, cwd=cwd, timeout=300)


def _run_cell(python: Path, target: str, cwd: Path, after: str = "") -> subprocess.CompletedProcess:
    return _run(python, install_cell.cell_source(target) + "\n" + after, cwd)


def test_colab_cell_stops_with_a_clear_message_when_the_install_fails(bare_python, tmp_path):
    check = _run(bare_python, "import ae_helpers", tmp_path)
    assert check.returncode != 0 and "ModuleNotFoundError" in check.stderr, "ae_helpers must be missing here"
    nowhere = (tmp_path / "no-such-checkout").as_uri()
    result = _run_cell(bare_python, f"ae-helpers @ {nowhere}", tmp_path, after="print('the chapter went on')")
    assert result.returncode != 0, "a failed install must raise, so that Run all stops at the first cell"
    assert "the chapter went on" not in result.stdout
    # The error is the whole message: what failed, pip's own last lines (at most 12, naming what it
    # could not install), and one sentence on what to do, last.
    lines = result.stderr.strip().splitlines()
    start = lines.index(f"RuntimeError: {install_cell.FAILED}")
    assert lines[-1] == install_cell.WHAT_TO_DO, result.stderr
    said = lines[start + 1:-1]
    assert 0 < len(said) <= 12 and "no-such-checkout" in "\n".join(said), result.stderr
    assert "ModuleNotFoundError" not in result.stderr


def _tiny_wheel(folder: Path) -> Path:
    """A stand-in ae_helpers wheel, installable without a network."""
    files = {
        "ae_helpers/__init__.py": 'WHERE = "installed by the cell"\n',
        "ae_helpers-0.0.1.dist-info/METADATA": "Metadata-Version: 2.1\nName: ae-helpers\nVersion: 0.0.1\n",
        "ae_helpers-0.0.1.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for name, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(text.encode())}")
    files["ae_helpers-0.0.1.dist-info/RECORD"] = "\n".join([*record, "ae_helpers-0.0.1.dist-info/RECORD,,"]) + "\n"
    wheel = folder / "ae_helpers-0.0.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return wheel


def test_colab_cell_installs_and_imports_in_the_same_run(bare_python, tmp_path):
    wheel = _tiny_wheel(tmp_path)
    result = _run_cell(bare_python, f"ae-helpers @ {wheel.as_uri()}", tmp_path,
                       after="import ae_helpers\nprint(ae_helpers.WHERE)")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "installed by the cell", "the cell itself prints nothing when all goes well"


def _run_installed(code: str, *paths: Path) -> subprocess.CompletedProcess:
    """``code`` in this Python, where ae_helpers is installed (the checkout on the path), with ``paths`` first."""
    path = [*map(str, paths), str(ROOT), os.environ.get("PYTHONPATH")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, path))}
    env.pop("AE_CACHE_DIR", None)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)


def test_colab_cell_does_nothing_where_ae_helpers_is_installed():
    result = _run_installed(install_cell.cell_source("ae-helpers @ file:///nowhere/at/all"))
    assert result.returncode == 0 and result.stdout == "", result.stdout + result.stderr


def test_install_cell_keep_on_drive_outside_colab_says_so_in_one_line():
    """Catches the ticked setting failing with an ImportError, or moving the cache, where there is no Colab."""
    code = install_cell.cell_source("ae-helpers @ file:///nowhere/at/all", keep_on_drive=True)
    result = _run_installed(code + "\nprint(os.environ.get('AE_CACHE_DIR'))")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [install_cell.NOT_IN_COLAB, "None"], result.stdout


def test_install_cell_keep_on_drive_in_colab_mounts_drive_and_moves_the_cache(tmp_path):
    """Catches the ticked setting not mounting Drive, or not pointing the model cache there (a stand-in
    google.colab, imported first as Colab's kernel does)."""
    colab = tmp_path / "google" / "colab"
    colab.mkdir(parents=True)
    (tmp_path / "google" / "__init__.py").write_text("")
    (colab / "__init__.py").write_text("")
    (colab / "drive.py").write_text("def mount(where):\n    print('mounted', where)\n")
    code = install_cell.cell_source("ae-helpers @ file:///nowhere/at/all", keep_on_drive=True)
    result = _run_installed("import google.colab\n" + code + "\nprint(os.environ['AE_CACHE_DIR'])", tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["mounted /content/drive", install_cell.DRIVE_CACHE], result.stdout
    assert install_cell.DRIVE_CACHE == "/content/drive/MyDrive/autoencoders-cache"


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


def test_a_model_two_chapters_name_alike_is_asked_for_alike():
    """Catches one chapter changing a shared model's recipe (chapter 6's five-epoch 2-D VAE, which
    chapter 7 calls "chapter 6's") while the other keeps the old one: the later chapter would then
    train and show another model instead of loading that one from the cache."""
    calls: dict[tuple[str, str], dict[str, set[str]]] = {}
    for path in CHAPTERS:
        for cell in _load(path)["cells"]:
            if cell["cell_type"] != "code":
                continue
            for node in ast.walk(ast.parse(_code(cell))):
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                        and node.func.id.startswith("trained_")
                        and all(isinstance(a, ast.Constant) for a in node.args)):  # a literal model, not a loop's
                    model = (node.func.id, ast.unparse(node.args[0]) if node.args else "")
                    calls.setdefault(model, {}).setdefault(path.name, set()).add(ast.unparse(node))
    shared = {model: by_chapter for model, by_chapter in calls.items() if len(by_chapter) > 1}
    assert ("trained_vae", "2") in shared and ("trained_judge", "") in shared, sorted(calls)
    for model, by_chapter in shared.items():  # a chapter may add variants (another lr), but must ask for the shared one
        assert set.intersection(*by_chapter.values()), f"{model[0]}({model[1]}...) asked for differently: {by_chapter}"


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
