"""tools/mutants.py: its planted bugs still match the code, and it reports what caught each one."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import mutants  # noqa: E402


def test_at_least_eight_mutants_each_matching_its_file_exactly_once():
    """Catches a mutant left behind when the code it plants a bug in moved (make mutants would report
    it as stale only after minutes of training)."""
    assert len(mutants.MUTANTS) >= 8
    assert len({m.name for m in mutants.MUTANTS}) == len(mutants.MUTANTS)
    for m in mutants.MUTANTS:
        text = (ROOT / "ae_helpers" / m.file).read_text()
        assert text.count(m.old) == 1, f"{m.name}: its text occurs {text.count(m.old)} times in {m.file}"
        assert m.old != m.new and m.chapters and all((ROOT / "book" / f"{c}.ipynb").exists() for c in m.chapters)


def test_planting_changes_only_the_copy(tmp_path):
    """Catches a mutant written into the checkout instead of a copy."""
    m = mutants.MUTANTS[0]
    before = (ROOT / "ae_helpers" / m.file).read_text()
    folder = mutants.plant(m, tmp_path)
    assert (ROOT / "ae_helpers" / m.file).read_text() == before
    planted = (folder / "ae_helpers" / m.file).read_text()
    assert m.new in planted and planted == before.replace(m.old, m.new)
    stale = mutants.Mutant("stale", m.file, "no such text", "x", m.chapters, "")
    with pytest.raises(LookupError, match="update the mutant"):
        mutants.plant(stale, tmp_path / "other")


@pytest.mark.parametrize("failure, expected", [
    ("ExpectationError: uses.knn_pca_2 = 0.99 is outside the range", "expect:uses.knn_pca_2"),
    ("ClaimError: the chapter says: 'the loop above and fit give the same loss', and this run does not show it",
     "claim:'the loop above and fit give the same loss'"),
    ("RuntimeError: mat1 and mat2 shapes cannot be multiplied", "RuntimeError in 02_latent2d.ipynb code cell 7"),
    ("Notebook cell execution failed\\nthe outputs differ", "output of 02_latent2d.ipynb code cell 7"),
    ("#x1B[31mClaimError#x1B[39m: the chapter says: 'x', and this run does not show it", "claim:'x'"),
])
def test_the_report_names_what_caught_the_mutant(tmp_path, failure, expected):
    """Catches a report that cannot tell an expect key, a claim, an error and an output mismatch apart."""
    junit = tmp_path / "junit.xml"
    junit.write_text(f"""<testsuites><testsuite><testcase classname="book.02_latent2d.ipynb" name="Cell 7">
        <failure message="failed">{failure}</failure></testcase></testsuite></testsuites>""")
    assert mutants.caught_by(junit) == expected
    junit.write_text('<testsuites><testsuite><testcase classname="a" name="b"/></testsuite></testsuites>')
    assert mutants.caught_by(junit) is None
