"""tools/variants.py: the table is sound, and the runner's parts do what each variant relies on.

Nothing here builds an environment or runs a chapter (`make variant NAME=...` does); these catch,
in seconds, what would otherwise surface after minutes of installing and training.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import variants  # noqa: E402


def test_names_are_unique_and_every_field_has_a_meaning_the_runner_knows():
    """Catches a row the runner would reject only when it reaches it (a typo in ci, check or package)."""
    names = [v.name for v in variants.VARIANTS]
    assert len(names) == len(set(names))
    for v in variants.VARIANTS:
        assert set(v.ci) <= {"push", "weekly"}, v.name
        assert v.check in {"pytest", "mutants", "colab-list"}, v.name
        assert set(v.make) <= {"prereqs", "install", "vendor", "data"}, v.name
        assert v.threads.isdigit() and all(isinstance(k, str) and str(val) for k, val in v.env.items())
        if v.packages:
            assert v.packages.package in {"editable", "copy", ""}
            assert v.packages.constraints in {"", "lock", "lock-torch"} or (ROOT / v.packages.constraints).is_file()
            for path in (v.packages.requirements, v.packages.kept):
                assert not path or (ROOT / path).is_file(), f"{v.name}: no {path}"
        for test in v.tests:
            assert (ROOT / test).exists(), f"{v.name} runs {test}, which does not exist"


def test_the_environment_is_the_variants_and_nothing_left_over_from_the_caller(monkeypatch, tmp_path):
    """Catches a caller's MKL_CBWR, thread count, cache or PYTHONPATH leaking into a variant's run."""
    for name, value in {"MKL_CBWR": "AVX", "OMP_NUM_THREADS": "8", "AE_CACHE_DIR": "/elsewhere",
                        "PYTHONPATH": "/planted", "AE_EXPECT_RECORD": "/x.jsonl", "AE_STRICT_CHECKS": "0"}.items():
        monkeypatch.setenv(name, value)
    env = variants.environment(variants.get("threads-1"), tmp_path / "cache")
    assert env["OMP_NUM_THREADS"] == "1" and "MKL_CBWR" not in env and "PYTHONPATH" not in env
    assert env["AE_CACHE_DIR"] == str(tmp_path / "cache") and env["AE_STRICT_CHECKS"] == "1"
    assert "AE_EXPECT_RECORD" not in env
    foreign = variants.environment(variants.get("foreign"), None, PYTHONPATH="/mutant")
    assert foreign["MKL_CBWR"] == "COMPATIBLE" and foreign["ATEN_CPU_CAPABILITY"] == "default"
    assert foreign["OMP_NUM_THREADS"] == variants.BOOK_THREADS and foreign["PYTHONPATH"] == "/mutant"
    assert "AE_CACHE_DIR" not in foreign


def test_nbval_only_where_there_are_chapters():
    """Catches --nbval given to an environment without nbval (the widget tests' one)."""
    assert "--nbval" in variants.pytest_command("py", ["book/"])
    assert "--nbval" in variants.pytest_command("py", [])  # pytest's testpaths hold the chapters
    assert "--nbval-current-env" in variants.pytest_command("py", ["book/01_data.ipynb"])
    assert "--nbval" not in variants.pytest_command("py", ["tests/test_widgets.py"])


def test_versions_come_from_their_one_place():
    """Catches a variant that names a version of its own instead of reading Colab's file or pyproject."""
    colab = variants.pins(variants.COLAB)
    torch_colab = variants.get("torch-colab").packages.install
    assert f"torch=={colab['torch']}" in torch_colab and f"torchvision=={colab['torchvision']}" in torch_colab
    widgets = variants.get("ipywidgets7").packages.install
    assert f"ipywidgets=={colab['ipywidgets']}" in widgets and f"ipykernel=={colab['ipykernel']}" in widgets
    oldest = variants.get("torch-oldest").packages.install
    assert any(p.startswith("torch==2.") and p.endswith(".*") for p in oldest)


def test_lock_constraints_drop_exactly_what_the_variant_changes():
    """Catches the lock's pin of a package the variant replaces left in its constraints (pip then
    cannot resolve), or other pins lost (the rest would not be the lock's)."""
    lock = [line for line in variants.LOCK.read_text().splitlines() if "==" in line]
    text = variants._constraints(variants.get("ipywidgets7").packages)
    kept = [line for line in text.splitlines() if "==" in line]
    dropped = {line.partition("==")[0] for line in lock} - {line.partition("==")[0] for line in kept}
    assert {variants._norm(n) for n in dropped} == {"ipywidgets", "widgetsnbextension", "jupyterlab-widgets",
                                                   "ipykernel"}
    torch_only = variants._constraints(variants.get("reader").packages).split()
    assert [line.partition("==")[0] for line in torch_only] == ["torch", "torchvision"]


def test_a_version_pip_changed_is_named(tmp_path):
    """Catches the Colab variant passing in an environment where pip replaced one of Colab's versions."""
    import pytest as installed

    kept = tmp_path / "kept.txt"
    kept.write_text(f"pytest=={installed.__version__}\nnot-a-package-here==1.0\npytest-other==0\n")
    moved = variants.changed_pins(Path(sys.executable), kept)
    assert moved == ["not-a-package-here missing (not 1.0)", "pytest-other missing (not 0)"]


PUBLISHED = """# pip freeze of a Colab runtime
numpy==2.1.3
torch @ https://download.pytorch.org/whl/cpu/torch-2.12.0%2Bcpu-cp313-cp313-manylinux_2_28_x86_64.whl#sha256=abc
torchvision==0.26.0+cpu
ipywidgets==7.7.1
"""


def test_colabs_published_list_is_read_with_its_url_lines_and_local_labels():
    """Catches a Colab move the weekly check would miss: torch is listed as a wheel URL there."""
    assert variants.published_versions(PUBLISHED) == {"numpy": "2.1.3", "torch": "2.12.0+cpu",
                                                      "torchvision": "0.26.0+cpu", "ipywidgets": "7.7.1"}
    moved = variants.colab_moved(PUBLISHED)
    assert any(line.startswith("torch 2.12.0+cpu") for line in moved)
    assert not any(line.startswith(("numpy", "torchvision ", "ipywidgets")) for line in moved)
    assert any(line.startswith("ipykernel gone") for line in moved)


def test_the_colab_list_check_reads_a_file_and_fails_when_colab_moved(tmp_path, capsys):
    same = tmp_path / "same.txt"
    same.write_text("\n".join(f"{n}=={v}" for n, v in variants.pins(variants.COLAB).items()))
    assert variants.run_colab_list(str(same)) == 0
    moved = tmp_path / "moved.txt"
    moved.write_text(PUBLISHED)
    assert variants.run_colab_list(str(moved)) == 1
    assert "refresh requirements/colab.txt" in capsys.readouterr().out


def test_chapters_are_the_table_of_contents_in_order():
    chapters = variants.chapters()
    assert chapters[0] == "book/01_data.ipynb" and chapters == sorted(chapters) and len(chapters) >= 7


def test_a_reader_variant_gets_copies_outside_the_checkout(tmp_path):
    """Catches chapters run from book/ in a variant that stands for a reader's empty folder."""
    copies = variants._copies(variants.get("colab"), ["book/"], {}, tmp_path / "chapters")
    assert [Path(c).name for c in copies] == [Path(c).name for c in variants.chapters()]
    assert all(Path(c).parent == tmp_path / "chapters" and Path(c).exists() for c in copies)


def test_python_search_names_what_to_install():
    assert variants.find_python("%d.%d" % sys.version_info[:2]) == sys.executable
    with pytest.raises(SystemExit, match="Python 2.1 is needed"):
        variants.find_python("2.1")


def test_the_command_line_lists_and_plans(capsys):
    assert variants.main(["list"]) == 0
    listing = capsys.readouterr().out
    assert all(v.name in listing for v in variants.VARIANTS)
    assert variants.main(["matrix", "weekly"]) == 0
    jobs = json.loads(capsys.readouterr().out)
    assert {"name": "colab", "python": variants.get("colab").packages.python} in jobs
    assert variants.main(["env", "threads-1"]) == 0
    assert "OMP_NUM_THREADS=1" in capsys.readouterr().out.split()
    done = subprocess.run([sys.executable, "tools/variants.py", "run", "no-such-variant"], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode != 0 and "no-such-variant" in done.stderr
