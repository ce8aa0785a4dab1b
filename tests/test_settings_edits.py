"""A settings cell a reader can trust: each chapter run with edited settings, as a reader would run it.

Every chapter opens with a settings cell that invites edits. An edit within what a setting's
comment allows must run the chapter to its end; an edit the chapter cannot honour must stop it
at the cell after the settings, with one line (``ae_helpers.SettingError``) naming what to change,
never with an error deep inside the chapter. The edits are injected the way papermill does
(after the cell tagged ``parameters``) and run in a reader's session: checks only print there,
since the text's numbers describe the book's runs, not an edited one.

These run after the chapters (marker ``after_chapters``), so that the edits that keep a chapter's
models load them from the run's cache instead of training them again.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
from execute_notebooks import ChapterErrors, run_with  # noqa: E402

#: chapter -> [(settings, None for "runs to the end" or the fragment of the one-line SettingError)]
EDITS: dict[str, list[tuple[dict, str | None]]] = {
    "01_data": [({"BATCH_SIZE": 100}, None),
                ({"BATCH_SIZE": 0}, "BATCH_SIZE must be a whole number"),
                ({"SEED": 1.5}, "SEED must be a whole number")],
    "02_latent2d": [({"EPOCHS": 1}, None),          # a one-epoch model: about two seconds of training
                    ({"EPOCHS": 0}, "EPOCHS must be a whole number, 1 or more"),
                    ({"LR": 0}, "LR must be a number above 0")],
    "03_latent_size": [({"LATENT_SIZES": [2, 10, 50]}, None),   # all three cached by the chapter's own run
                       ({"LATENT_SIZES": [2, 8, 32]}, "LATENT_SIZES must include 2 and 50"),
                       ({"EPOCHS": 1}, "EPOCHS must be a whole number, 2 or more")],
    "04_latent50": [({"TSNE_SEED": 1}, None),
                    ({"LATENT_DIM": 2}, "LATENT_DIM must be a whole number from 5 to 784")],
    "05_uses": [({"TEST_NOISE_SEED": 2}, None),
                ({"KNN_SIZES": [2, 8, 32]}, "KNN_SIZES must include 2, 10 and 50"),
                ({"NOISES": [["gaussian", 0.5]]}, "NOISES must name")],
    "06_vae": [({"N_SHOW": 20}, None),
               ({"N_SCORE": 50}, "N_SCORE must lie between 100 and 10,000")],
    "07_playground": [({"N_POINTS": 500}, None),
                      ({"N_POINTS": 10_000}, "N_POINTS must be a whole number from 1")],
}

CASES = [(chapter, settings, stops) for chapter, edits in EDITS.items() for settings, stops in edits]


def _settings_cell(nb: nbformat.NotebookNode) -> int:
    return next(i for i, cell in enumerate(nb.cells) if "parameters" in cell.metadata.get("tags", []))


def test_every_chapter_is_tried_with_edits_that_run_and_edits_that_stop():
    """Catches a chapter whose settings nobody tries: each needs one edit that runs and one that stops."""
    chapters = sorted(p.stem for p in (ROOT / "book").glob("*.ipynb"))
    assert sorted(EDITS) == chapters
    for chapter, edits in EDITS.items():
        assert any(stops is None for _, stops in edits), f"{chapter}: no edit that runs to the end"
        assert any(stops for _, stops in edits), f"{chapter}: no edit that must stop"


@pytest.mark.after_chapters
@pytest.mark.parametrize("chapter, settings, stops", CASES,
                         ids=[f"{c}-{'-'.join(f'{k}={v}' for k, v in s.items())}" for c, s, _ in CASES])
def test_an_edited_setting_runs_or_stops_at_once_in_one_line(chapter, settings, stops, tmp_path, monkeypatch):
    monkeypatch.delenv("AE_STRICT_CHECKS", raising=False)  # a reader's session: checks print, never stop
    path = ROOT / "book" / f"{chapter}.ipynb"
    out = tmp_path / path.name
    try:
        run_with(path, out, settings)
    except ChapterErrors as error:
        if stops is None:
            pytest.fail(f"{chapter} with {settings} should run to the end: {error.args[0]}")
        [line] = error.args[0]
        # papermill counts cells with its injected one right after the settings cell (not its error banners)
        first_after = _settings_cell(nbformat.read(path, as_version=4)) + 2
        assert f"cell {first_after}: SettingError: " in line, f"stopped elsewhere or otherwise: {line}"
        assert stops in line and "\n" not in line.split("SettingError: ", 1)[1], line
        return
    assert stops is None, f"{chapter} with {settings} ran to the end instead of stopping with {stops!r}"
