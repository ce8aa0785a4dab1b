"""One version everywhere: ae_helpers.__version__ is the book's, and what names a version follows it.

pyproject.toml reads it, CITATION.cff and CHANGELOG.md state it, the chapters' first cell installs
the package from its tag ``v<version>`` (tools/install_cell.py) and the pages' launch buttons open
the chapters at that same tag (book/_ext/page_fixes.py). CONTRIBUTING.md, "Releasing a version",
is the procedure these tests keep honest.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import tomllib
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

import ae_helpers

ROOT = Path(__file__).resolve().parent.parent
VERSION = ae_helpers.__version__
TAG = f"v{VERSION}"

sys.path.insert(0, str(ROOT / "tools"))
import install_cell  # noqa: E402


def test_version_is_set_once_in_the_package():
    """Catches a second version number in pyproject.toml, or one setuptools would not find."""
    assert re.fullmatch(r"\d+\.\d+\.\d+", VERSION), VERSION
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in pyproject["project"] and "version" in pyproject["project"]["dynamic"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "ae_helpers.__version__"}
    setuptools = pytest.importorskip("setuptools.config.pyprojecttoml")
    resolved = setuptools.read_configuration(ROOT / "pyproject.toml", expand=True)
    assert resolved["project"]["version"] == VERSION


def test_citation_names_the_books_version():
    """Catches CITATION.cff left at an old version after a release, or not valid CFF 1.2.0 in its basics."""
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    assert cff["cff-version"] == "1.2.0"
    assert str(cff["version"]) == VERSION, f"CITATION.cff says {cff['version']}, ae_helpers {VERSION}"
    assert cff["title"] and cff["message"]
    assert cff["authors"] == [{"name": "The autoencoders-book authors"}], "the authors as one entity"
    assert cff["repository-code"] == install_cell.REPOSITORY
    assert cff["license"] == "MIT"


def test_changelog_has_an_entry_for_the_version():
    """Catches a release without its CHANGELOG.md entry."""
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert re.search(rf"^## \[{re.escape(VERSION)}\]", text, re.M), f"CHANGELOG.md has no '## [{VERSION}]' entry"


def test_install_cell_pins_the_books_tag():
    """Catches the chapters' first cell installing another version than the book's."""
    assert install_cell.VERSION == VERSION and install_cell.TAG == TAG
    assert install_cell.TARGET == f"ae-helpers @ git+{install_cell.REPOSITORY}@{TAG}"
    assert f"@{TAG}\"" in install_cell.cell_source()


def _launch_links(theme_options: dict, pagename: str) -> dict[str, str]:
    """The launch buttons sphinx-book-theme puts on a chapter's page, by their text."""
    launch = pytest.importorskip("sphinx_book_theme.header_buttons.launch")
    org, repo = theme_options["repository_url"].rstrip("/").split("/")[-2:]
    app = SimpleNamespace(config={"html_theme_options": theme_options},
                          env=SimpleNamespace(doc2path=lambda name: str(ROOT / f"{name}.ipynb"),
                                              metadata={pagename: {"kernelspec": {"name": "python3"}}}))
    context = {"header_buttons": [], "pagename": pagename, "sourcename": f"{pagename}.ipynb",
               "github_url": "https://github.com", "github_user": org, "github_repo": repo}
    launch.add_launch_buttons(app, pagename, "page.html", context, None)
    (group,) = context["header_buttons"]
    return {button["text"]: button["url"] for button in group["buttons"]}


def test_launch_buttons_open_the_tag_the_install_cell_pins():
    """Catches the Colab and Binder buttons opening main (or another tag) while the chapter's first
    cell installs the book's version: the configuration as Jupyter Book makes it from _config.yml,
    page_fixes' config-inited hook, then the theme's own code for the buttons."""
    pytest.importorskip("sphinx")
    config_module = pytest.importorskip("jupyter_book.config")
    spec = importlib.util.spec_from_file_location("page_fixes", ROOT / "book" / "_ext" / "page_fixes.py")
    page_fixes = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(page_fixes)

    config, _ = config_module.get_final_config(user_yaml=ROOT / "_config.yml", sourcedir=ROOT,
                                               cli_config={"latex_individualpages": False})
    assert "page_fixes" in config["extensions"]
    hooks = []
    page_fixes.setup(SimpleNamespace(connect=lambda event, hook: hooks.append((event, hook))))
    sphinx_config = SimpleNamespace(**config)
    for event, hook in hooks:
        if event == "config-inited":
            hook(None, sphinx_config)
    options = sphinx_config.html_theme_options
    assert options["repository_branch"] == TAG == install_cell.TAG
    assert options["repository_url"] == install_cell.REPOSITORY

    links = _launch_links(options, "book/01_data")
    assert links["Colab"] == (f"https://colab.research.google.com/github/ae-hands-on/autoencoders-book"
                              f"/blob/{TAG}/book/01_data.ipynb"), links
    assert links["Binder"].startswith(f"https://mybinder.org/v2/gh/ae-hands-on/autoencoders-book/{TAG}?"), links


def test_contributing_holds_the_appendix_the_chapters_link_to():
    """Catches the heading behind the chapters' link (CONTRIBUTING.md#how-the-chapters-are-checked)
    renamed, and a release procedure that forgets a step."""
    text = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    assert re.search(r"^#+ How the chapters are checked$", text, re.M)
    release = re.search(r"^## Releasing a version\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert release, "CONTRIBUTING.md has no '## Releasing a version'"
    for step in ("__version__", "CHANGELOG.md", "CITATION.cff", "python tools/install_cell.py", "git tag",
                 "git push"):
        assert step in release.group(1), f"the release procedure does not mention {step}"
