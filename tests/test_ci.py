"""CI runs what tools/variants.py says it runs, and the install files hold what they promise.

GitHub runs .github/workflows/ci.yml; it cannot run here, so these tests check what would break
there without a sound: a step that could not run, a variant CI would skip, an environment the book
build would read, a Pages job that publishes what did not pass. `.ci/run` runs the same table here.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
sys.path.insert(0, str(ROOT / "tools"))

import variants  # noqa: E402


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


def _uses(job: dict) -> dict[str, dict]:
    return {step["uses"].split("@")[0]: step for step in job["steps"] if "uses" in step}


def _make_targets() -> set[str]:
    rules = re.findall(r"^([A-Za-z0-9_ -]+):(?!=)", (ROOT / "Makefile").read_text(), re.M)
    return {target for rule in rules for target in rule.split()}


def test_one_workflow_on_every_push_and_pull_request_and_weekly(workflow):
    """Catches a workflow that runs only on main, or a schedule GitHub would not run (five cron fields)."""
    assert sorted(p.name for p in WORKFLOWS.iterdir()) == ["ci.yml"]
    on = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert "push" in on and "pull_request" in on
    assert not (on["push"] or {}).get("branches"), "every push, not only main's"
    crons = [entry["cron"] for entry in on["schedule"]]
    assert crons and all(len(cron.split()) == 5 for cron in crons)
    assert workflow["permissions"] == {"contents": "read"}


def test_every_make_command_of_the_workflow_and_of_ci_run_is_a_target(workflow):
    targets = _make_targets()
    commands = [run for job in workflow["jobs"].values() for run in _runs(job)]
    commands.append((ROOT / ".ci" / "run").read_text())
    for text in commands:
        for target in re.findall(r"\bmake ([a-z0-9-]+)", text):
            assert target in targets, f"make {target} is run by CI, but the Makefile lacks it"


def test_the_plan_gives_each_event_its_variants(workflow):
    """Catches the weekly run running the push set (or nothing), and a plan the variant job cannot read."""
    step = next(s for s in workflow["jobs"]["plan"]["steps"] if "run" in s)
    for event, expected in (("schedule", "weekly"), ("push", "push"), ("pull_request", "push")):
        # GitHub's `a == b && x || y`, evaluated for this event
        command = re.sub(r"\$\{\{\s*github\.event_name == '(\w+)' && '(\w+)' \|\| '(\w+)'\s*\}\}",
                         lambda m: m.group(2) if m.group(1) == event else m.group(3), step["run"])
        assert "${{" not in command, f"an expression the test cannot evaluate: {command}"
        args = re.search(r"python3 (tools/variants\.py matrix \w+)", command).group(1).split()
        jobs = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout
        names = {job["name"] for job in yaml.safe_load(jobs)}
        assert names == {v.name for v in variants.on(expected)}, event
    assert step["id"] == "plan" and "$GITHUB_OUTPUT" in step["run"]
    output = workflow["jobs"]["plan"]["outputs"]
    matrix = workflow["jobs"]["variant"]["strategy"]["matrix"]["include"]
    (key,) = output
    assert matrix == "${{ fromJSON(needs.plan.outputs.%s) }}" % key


def test_the_variant_job_runs_each_variant_on_its_python(workflow):
    """Catches a job that installs one Python and makes the variant with another (make uses PYTHON)."""
    job = workflow["jobs"]["variant"]
    assert job["needs"] == "plan" and job["strategy"]["fail-fast"] is False
    setup = _uses(job)["actions/setup-python"]
    assert setup["with"]["python-version"] == "${{ matrix.python }}"
    step = next(s for s in job["steps"] if s.get("run", "").startswith("make variant"))
    assert step["run"] == "make variant NAME=${{ matrix.name }}"
    assert step["env"]["PYTHON"] == "${{ steps.%s.outputs.python-path }}" % setup["id"]
    assert job["env"]["CI"] == "true", "with CI=true a missing browser fails instead of skipping"


def test_ci_runs_the_readmes_command_colab_and_the_other_checks():
    """Catches a check dropped from CI: make test first (it finds the browser the rest need), Colab on
    every push and every week, and every check .ci/run ran before the variants had a table."""
    push = [v.name for v in variants.on("push")]
    assert push[0] == "stored"
    assert {"stored", "foreign", "threads-1", "seed-7", "torch-colab", "ipywidgets7", "reader", "colab",
            "mutants"} <= set(push)
    assert {"colab", "colab-list"} <= {v.name for v in variants.on("weekly")}
    assert "make ci" in (ROOT / ".ci" / "run").read_text().split("\n")
    env = {k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MAKELEVEL", "PYTHON"}}
    dry = subprocess.run(["make", "-n", "ci", "test", f"PYTHON={sys.executable}"], cwd=ROOT, capture_output=True,
                         text=True, check=True, env=env).stdout.splitlines()
    assert dry == [f"{sys.executable} tools/variants.py run --ci push", f"{sys.executable} tools/variants.py run stored"]
    assert variants.get("stored").tests == (), "make test runs pytest's testpaths: unit, chapter and browser tests"
    # Before anything long, make test (and so CI) checks for the browser and npm the browser tests need.
    assert variants.get("stored").make[0] == "prereqs"
    assert re.search(r"^prereqs:\n\t@\$\(PYTHON\) tools/browsers.py --need browser npm$",
                     (ROOT / "Makefile").read_text(), re.M)


def test_every_job_gets_a_python_the_variant_can_use():
    """Catches a matrix that gives Colab's variant a Python other than Colab's (its environment needs it)."""
    jobs = yaml.safe_load(subprocess.run([sys.executable, "tools/variants.py", "matrix", "push"], cwd=ROOT,
                                         capture_output=True, text=True, check=True).stdout)
    for job in jobs:
        variant = variants.get(job["name"])
        if variant.packages and variant.packages.python:
            assert job["python"] == variant.packages.python
    assert {job["python"] for job in jobs if job["name"] == "stored"} == {"3.11", "3.12", "3.13"}


def test_pages_publish_only_what_passed(workflow):
    jobs = workflow["jobs"]
    build, deploy = jobs["pages-build"], jobs["deploy"]
    assert build["needs"] == "variant" or build["needs"] == ["variant"]
    condition = build["if"]
    assert "refs/heads/main" in condition and "github.event_name == 'push'" in condition
    assert "schedule" not in condition and "pull_request" not in condition
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


def test_the_package_admits_every_colab_version():
    """Catches a lower bound raised above Colab's version: the first cell's pip would then replace
    Colab's torch (or numpy, ...) at once, long before the Colab variant's build would say so."""
    colab = variants.pins(variants.COLAB)
    assert {"torch", "torchvision", "ipywidgets", "ipykernel", "ipython", "numpy", "matplotlib",
            "scikit-learn"} <= set(colab)
    for dep in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]:
        req = Requirement(dep)
        if _norm(req.name) in colab:
            assert req.specifier.contains(colab[_norm(req.name)], prereleases=True), \
                f"pyproject.toml's {dep} excludes Colab's {req.name} {colab[_norm(req.name)]}"


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


def test_the_book_build_and_git_skip_every_environment_a_variant_makes():
    """Sphinx reads every source file under the root: the .rst files installed in a venv fail -W; and
    git must not offer several GB of environment for a commit."""
    from sphinx.util.matching import Matcher

    excluded = Matcher(yaml.safe_load((ROOT / "_config.yml").read_text())["exclude_patterns"])
    for variant in variants.VARIANTS:
        folder = variants.venv(variant).relative_to(ROOT)
        assert excluded(f"{folder}/lib"), f"_config.yml's exclude_patterns lets the book build read {folder}/"
        ignored = subprocess.run(["git", "check-ignore", "-q", f"{folder}/bin/python"], cwd=ROOT)
        assert ignored.returncode == 0, f".gitignore does not ignore {folder}/"


def _code(path: Path) -> str:
    """The file's text without comments, and for Python without docstrings (usage examples may name
    the value)."""
    lines = path.read_text().splitlines()
    if path.suffix == ".py":
        for node in ast.walk(ast.parse("\n".join(lines))):
            body = getattr(node, "body", None)
            if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                    and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
                for i in range(body[0].lineno - 1, body[0].end_lineno):
                    lines[i] = ""
    return "\n".join(re.sub(r"(^|\s)#.*$", "", line) for line in lines)


def test_the_thread_count_is_set_in_one_place():
    """Catches a second copy of the chapters' thread count, which would drift from tools/variants.py."""
    files = [ROOT / "Makefile", ROOT / ".ci" / "run", WORKFLOWS / "ci.yml", ROOT / "conftest.py",
             *(ROOT / "tools").glob("*.py"), *(ROOT / "benchmarks").glob("*.py")]
    for path in files:
        if path.name == "variants.py":
            continue
        text = _code(path)
        assert not re.search(r"OMP_NUM_THREADS[\"']?\s*[:=,]\s*\(?[\"']?\d", text), f"{path.name} sets a thread count"
        assert not re.search(r"BOOK_THREADS\s*:?=\s*[\"']?\d", text), f"{path.name} sets BOOK_THREADS"
