"""The install files agree with each other: the lock, environment.yml and pyproject.toml."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _pins(lines) -> dict[str, str]:
    pins = {}
    for line in lines:
        line = re.sub(r"^\s*-\s+", "", line.split("#", 1)[0]).strip()
        if not line or line.startswith("-e"):
            continue
        name, sep, version = line.partition("==")
        assert sep, f"not an exact pin: {line!r}"
        pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    return pins


def _lock() -> dict[str, str]:
    return _pins((ROOT / "requirements" / "lock.txt").read_text().splitlines())


def test_environment_yml_names_the_lock_exactly():
    """Catches conda's environment drifting from the pinned lock."""
    text = (ROOT / "environment.yml").read_text()
    assert re.search(r"^\s*- python=3\.11\s*$", text, re.M)
    pip_section = text.split("- pip:", 1)[1].splitlines()
    assert _pins(pip_section) == _lock()
    assert any(line.strip() == "- -e ." for line in pip_section)


def test_lock_pins_what_the_book_is_tested_with():
    """Catches a lock that pins another torch, or Jupyter Book 2 (no _config.yml/_toc.yml)."""
    lock = _lock()
    assert lock["torch"] == "2.14.1" and lock["torchvision"] == "0.29.1"
    major = int(lock["jupyter-book"].split(".")[0])
    assert major == 1, "Jupyter Book 2 drops _config.yml/_toc.yml: keep 1.x"


def test_pyproject_ranges_stay_loose_for_colab():
    """Catches an exact pin that would make Colab replace its torch, or a dependency missing from the lock."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = {re.split(r"[<>=!~ \[]", d, 1)[0].lower(): d for d in project["dependencies"]}
    for name in ("torch", "torchvision"):
        assert "==" not in deps[name], f"{deps[name]} would make Colab replace its torch"
    for group in project["optional-dependencies"].values():
        for dep in group:
            assert "==" not in dep
    lock = _lock()
    for name in deps:
        assert re.sub(r"[-_.]+", "-", name) in lock, f"{name} is a dependency but not in the lock"


def test_licence_covers_code_and_prose():
    """Catches the licence file and pyproject.toml disagreeing, or the prose left unlicensed."""
    text = (ROOT / "LICENSE").read_text()
    assert "MIT License" in text and "Permission is hereby granted, free of charge" in text
    assert "CC BY 4.0" in text and "creativecommons.org/licenses/by/4.0" in text
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == {"text": "MIT"}, "pyproject's licence and LICENSE must agree"


def test_every_package_the_helpers_import_is_declared():
    """A package imported by ae_helpers but only pulled in by another one breaks when that one drops it."""
    import ast
    import sys
    from importlib.metadata import packages_distributions

    imported = set()
    for module in (ROOT / "ae_helpers").glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text(), filename=str(module))):
            if isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    third_party = imported - set(sys.stdlib_module_names) - {"ae_helpers"}
    assert {"torch", "PIL", "IPython"} <= third_party, "the scan no longer sees the helpers' imports"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {re.sub(r"[-_.]+", "-", re.split(r"[<>=!~ \[;]", d, 1)[0]).lower() for d in project["dependencies"]}
    owners = packages_distributions()
    for name in sorted(third_party):
        dists = {re.sub(r"[-_.]+", "-", d).lower() for d in owners.get(name, [])}
        assert dists, f"ae_helpers imports {name}, which no installed distribution provides"
        assert dists & declared, f"ae_helpers imports {name} ({', '.join(sorted(dists))}): declare it in pyproject.toml"
