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
    text = (ROOT / "environment.yml").read_text()
    assert re.search(r"^\s*- python=3\.11\s*$", text, re.M)
    pip_section = text.split("- pip:", 1)[1].splitlines()
    assert _pins(pip_section) == _lock()
    assert any(line.strip() == "- -e ." for line in pip_section)


def test_lock_pins_what_the_book_is_tested_with():
    lock = _lock()
    assert lock["torch"] == "2.14.1" and lock["torchvision"] == "0.29.1"
    major = int(lock["jupyter-book"].split(".")[0])
    assert major == 1, "Jupyter Book 2 drops _config.yml/_toc.yml: keep 1.x"


def test_pyproject_ranges_stay_loose_for_colab():
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
