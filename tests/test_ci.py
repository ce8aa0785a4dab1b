"""The public workflow, Binder's folder and the install files agree with the Makefile and the README.

GitHub runs .github/workflows/ci.yml on every push and pull request; it cannot run here, so these
tests check what it would do: the README's `make test` on Python 3.11 to 3.13, the reader's install,
and a Pages job that runs only after those passed and installs only what building the pages needs.
`make test-reader` (in .ci/run) builds the reader's install for real and runs chapter 1 in it.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirements(path: Path) -> list[str]:
    return [line.split("#", 1)[0].strip() for line in path.read_text().splitlines()
            if line.split("#", 1)[0].strip()]


def _names(lines: list[str]) -> set[str]:
    return {_norm(re.split(r"[<>=!~ \[;]", line, 1)[0]) for line in lines if not line.startswith("-")}


def _lock() -> dict[str, str]:
    return {_norm(name): version for name, _, version in
            (line.partition("==") for line in _requirements(ROOT / "requirements" / "lock.txt"))}


@pytest.fixture(scope="module")
def workflow() -> dict:
    return yaml.safe_load((WORKFLOWS / "ci.yml").read_text())


def _runs(job: dict) -> list[str]:
    return [step["run"] for step in job["steps"] if "run" in step]


def _step(job: dict, run: str) -> dict:
    return next(step for step in job["steps"] if step.get("run") == run)


def _uses(job: dict) -> dict[str, dict]:
    return {step["uses"].split("@")[0]: step for step in job["steps"] if "uses" in step}


def _make_targets() -> set[str]:
    return set(re.findall(r"^([A-Za-z0-9_-]+):", (ROOT / "Makefile").read_text(), re.M))


def test_one_workflow_runs_on_every_push_and_pull_request(workflow):
    assert sorted(p.name for p in WORKFLOWS.iterdir()) == ["ci.yml"]
    on = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert "push" in on and "pull_request" in on
    assert not (on["push"] or {}).get("branches"), "every push, not only main's"
    assert workflow["permissions"] == {"contents": "read"}


def test_every_make_command_of_the_workflow_is_a_target(workflow):
    targets = _make_targets()
    for name, job in workflow["jobs"].items():
        for run in _runs(job):
            for target in re.findall(r"\bmake ([a-z0-9-]+)", run):
                assert target in targets, f"job {name} runs make {target}, which the Makefile lacks"


def test_test_job_runs_the_readmes_command_on_the_supported_pythons(workflow):
    job = workflow["jobs"]["test"]
    pythons = job["strategy"]["matrix"]["python"]
    assert {"3.11", "3.12"} <= set(pythons), "3.11 is the lock's, 3.12 Colab's"
    assert all(tuple(map(int, v.split("."))) >= (3, 11) for v in pythons), "the lock needs 3.11 or newer"
    assert job["strategy"]["fail-fast"] is False
    readme = (ROOT / "README.md").read_text()
    assert "make test   #" in readme and "make test" in _runs(job)
    setup = _uses(job)["actions/setup-python"]
    assert setup["with"]["python-version"] == "${{ matrix.python }}" and setup["with"]["cache"] == "pip"
    assert "requirements/lock.txt" in setup["with"]["cache-dependency-path"]
    # make uses the matrix's Python, not whichever python3.x the runner has on PATH first.
    assert _step(job, "make test")["env"]["PYTHON"] == "${{ steps.%s.outputs.python-path }}" % setup["id"]
    assert job["env"]["CI"] == "true", "with CI=true a missing browser fails instead of skipping"


def test_test_job_installs_torchs_cpu_build_at_the_locks_versions(workflow):
    job = workflow["jobs"]["test"]
    runs = _runs(job)
    torch_step = next(run for run in runs if CPU_INDEX in run)
    assert runs.index(torch_step) < runs.index("make test")
    assert f"--index-url {CPU_INDEX}" in torch_step, "only torch and torchvision come from PyTorch's index"
    # The versions come from the lock itself; check that the command picks exactly those two pins.
    pattern = re.search(r"grep -E '([^']+)' requirements/lock\.txt", torch_step).group(1)
    picked = [line for line in (ROOT / "requirements" / "lock.txt").read_text().splitlines()
              if re.search(pattern, line)]
    assert picked == ["torch==2.14.1", "torchvision==0.29.1"]
    assert "-m venv .venv" in torch_step, "into the .venv that make install then completes"


def test_reader_job_runs_make_test_reader_on_colabs_python(workflow):
    job = workflow["jobs"]["reader"]
    assert "make test-reader" in _runs(job)
    assert str(_uses(job)["actions/setup-python"]["with"]["python-version"]) == "3.12"
    assert _step(job, "make test-reader")["env"]["PIP_EXTRA_INDEX_URL"] == CPU_INDEX


def test_pages_publish_only_what_passed(workflow):
    jobs = workflow["jobs"]
    build, deploy = jobs["pages-build"], jobs["deploy"]
    assert set(build["needs"]) == {"test", "reader"}
    condition = build["if"]
    assert "refs/heads/main" in condition and "pull_request" in condition
    assert not re.search(r"always\(\)|failure\(\)|cancelled\(\)", condition), "would publish after a failed test"
    assert deploy["needs"] == "pages-build"
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert "actions/deploy-pages" in _uses(deploy)


def test_pages_build_installs_only_the_book_requirements(workflow):
    job = workflow["jobs"]["pages-build"]
    runs = _runs(job)
    assert "python -m pip install -r requirements/book.txt" in runs
    for run in runs:
        for heavy in ("lock.txt", "torch", "make book", "make install", "ae_helpers fetch", "environment.yml"):
            assert heavy not in run, f"the Pages job needs no {heavy!r}: {run!r}"
    # The same build command as `make book`.
    makefile = (ROOT / "Makefile").read_text()
    book_build = re.search(r"^book:.*\n\t\$\(BIN\)/(jupyter-book build .*)$", makefile, re.M).group(1)
    assert book_build in runs
    assert runs.index("touch _build/html/.nojekyll") > runs.index(book_build), \
        ".nojekyll keeps _static/, _images/ and _vendor/ published"
    upload = _uses(job)["actions/upload-pages-artifact"]["with"]
    assert upload["path"] == "_build/html" and upload["include-hidden-files"] is True
    assert {"actions/checkout", "actions/setup-python", "actions/configure-pages"} <= set(_uses(job))


def test_book_requirements_are_jupyter_book_and_what_the_extensions_import():
    lines = _requirements(ROOT / "requirements" / "book.txt")
    assert "-c lock.txt" in lines, "the lock as constraints: the book's tools at their tested versions"
    names = _names(lines)
    lock = _lock()
    assert names <= set(lock), f"not in the lock: {names - set(lock)}"
    assert "jupyter-book" in names
    imported = set()
    for module in (ROOT / "book" / "_ext").glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    assert imported - set(sys.stdlib_module_names) <= names, "book/_ext imports a package book.txt does not name"
    assert not names & {"torch", "torchvision", "ae-helpers", "pytest", "playwright"}


def test_reader_requirements_are_loose_and_leave_out_the_contributors_tools():
    lines = _requirements(ROOT / "requirements" / "reader.txt")
    assert "-e ." in lines
    assert not [line for line in lines if "==" in line], "pins would fight Colab's and a reader's own packages"
    tools = {"sphinx", "jupyter-book", "playwright", "pytest", "nbval", "coverage", "pyyaml"}
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not (_names(lines) | _names(project["dependencies"])) & tools


def test_binder_builds_the_reader_install_with_torchs_cpu_build():
    binder = ROOT / "binder"
    lines = _requirements(binder / "requirements.txt")
    lock = _lock()
    assert f"--extra-index-url {CPU_INDEX}" in lines
    assert f"torch=={lock['torch']}+cpu" in lines and f"torchvision=={lock['torchvision']}+cpu" in lines
    assert "-r ../requirements/reader.txt" in lines
    runtime = (binder / "runtime.txt").read_text().strip()
    version = tuple(map(int, re.fullmatch(r"python-(\d+)\.(\d+)", runtime).groups()))
    assert version >= (3, 11)
    post_build = binder / "postBuild"
    assert post_build.stat().st_mode & 0o111, "repo2docker runs postBuild only when it is executable"
    assert "python -m ae_helpers fetch" in post_build.read_text()


def test_ci_runs_every_check_and_the_readers_ones_after_the_suite():
    """CI is `.ci/run`: a check dropped from it (or `make test` no longer first) goes unnoticed on main."""
    steps = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()
             if line.strip().startswith("make ")]
    assert steps[0] == "make test", "the README's test command must run first: it finds the browser the rest need"
    targets = [step.split()[1] if len(step.split()) > 1 else "" for step in steps]
    for needed in ("test-foreign", "test-threads", "test-ipywidgets7", "test-reader", "test-settings", "test-torch",
                   "mutants"):
        assert needed in targets, f".ci/run no longer runs make {needed}"
    assert any(step.startswith("make test-torch TORCH=2.11") for step in steps), "Colab's torch (2.11) must be checked"
    assert len(steps) == len(set(steps)), f"a step runs twice: {steps}"


def test_the_book_build_skips_every_environment_make_creates():
    """Sphinx reads every source file under the root: the .rst files installed in a venv fail -W."""
    makefile = (ROOT / "Makefile").read_text()
    venvs = re.findall(r"^[A-Z0-9_]*VENV := (\S+)$", makefile, re.M)
    venvs += sorted(set(re.findall(r"(\.venv-[a-z]+-\*)", makefile)))  # one per version, e.g. .venv-torch-*
    assert {".venv", ".venv-ipw7", ".venv-reader"} <= set(venvs)
    excluded = yaml.safe_load((ROOT / "_config.yml").read_text())["exclude_patterns"]
    for venv in venvs:
        assert f"{venv}/*" in excluded, f"_config.yml's exclude_patterns lacks {venv}/*"
