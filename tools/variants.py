"""Every way the chapters are checked, in one table, and the one command that runs them.

    python tools/variants.py list                     # the table (which variants CI runs, and when)
    python tools/variants.py run foreign              # one variant (make variant NAME=foreign)
    python tools/variants.py run colab book/01_data.ipynb        # some chapters only
    python tools/variants.py run seed-7 --set SEED=8  # a variant with other chapter settings
    python tools/variants.py run --ci push            # every variant CI runs on a push (make ci, .ci/run)
    python tools/variants.py matrix push              # the same as JSON, for the GitHub workflow's jobs
    python tools/variants.py env stored               # the variant's variables, for `env $(...) command`

A reader's run is not the run the book stores: another CPU, another number of threads, another
PyTorch or ipywidgets, another seed, Colab. A *variant* is one of those, written down once in
:data:`VARIANTS`: its environment variables, its chapter settings (injected by papermill after
each chapter's cell tagged ``parameters``), its thread count, its Python and packages (the
checkout's ``.venv``, or an environment of its own in ``.venv-<name>``, built on first use and
rebuilt when what it is made from changes), what it runs (the chapters under nbval by default),
and when CI runs it. Every run has a model cache of its own that starts empty
(``_build/variants/<name>/cache``), so every model the chapters use is trained in the variant
itself, and strict checks (``AE_STRICT_CHECKS=1``): a number out of its range or a broken claim
fails the chapter.

The Makefile (``make test``, ``make variant``, ``make ci``), ``.ci/run``, the GitHub workflow,
``make spread`` (tools/measure_spread.py), ``make mutants`` (tools/mutants.py) and ``make
book-time`` (benchmarks/book_time.py) all take their variants, variables and commands from here.
Adding a variant is adding a row. This module uses the standard library only, so that any
Python 3.11 or newer can run it, and the thread count the chapters were stored with,
:data:`BOOK_THREADS`, is set here and nowhere else.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements" / "lock.txt"
COLAB = ROOT / "requirements" / "colab.txt"
#: Where every run keeps its model cache and its copies of the chapters.
WORK = ROOT / "_build" / "variants"

#: Seeded training repeats bit for bit only at a fixed number of threads: the chapters' stored outputs
#: were computed with this many, so nbval re-runs them the same way on any machine.
BOOK_THREADS = "2"
#: Variables that change what a run computes or where it keeps things; cleared before every run so
#: that only the variant's own apply.
CLEARED = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "MKL_CBWR", "ATEN_CPU_CAPABILITY", "AE_CACHE_DIR",
           "AE_EXPECT_RECORD", "AE_STRICT_CHECKS", "PYTHONPATH")
#: Colab's package list (what `python -m pip freeze` gives in a fresh runtime), as Google publishes it.
COLAB_LIST = "https://raw.githubusercontent.com/googlecolab/backend-info/main/pip-freeze.txt"
#: The Python the workflow runs a variant on when the variant names none (the lock's).
DEFAULT_PYTHON = "3.11"


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(path: Path) -> dict[str, str]:
    """``{normalised name: version}`` of the ``name==version`` lines of a requirements file."""
    found = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        name, sep, version = line.partition("==")
        if sep:
            found[_norm(name)] = version.strip()
    return found


def colab_pins(*names: str) -> tuple[str, ...]:
    """``name==version`` for each of ``names`` at Colab's version (requirements/colab.txt)."""
    versions = pins(COLAB)
    return tuple(f"{name}=={versions[_norm(name)]}" for name in names)


def oldest_pins(*names: str) -> tuple[str, ...]:
    """``name==X.Y.*`` for each of ``names`` at the lower bound pyproject.toml admits (``name>=X.Y``)."""
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    bounds = {_norm(m.group(1)): m.group(2) for dep in deps if (m := re.match(r"([\w.-]+)\s*>=\s*([\d.]+)", dep))}
    return tuple(f"{name}=={bounds[_norm(name)]}.*" for name in names)


@dataclass(frozen=True)
class Packages:
    """An environment of a variant's own, in ``.venv-<variant>``: made from these, and made again
    from scratch whenever one of them (or a file it names, or pyproject.toml) changes."""

    #: "3.13": that Python, found on PATH or under pyenv; "": the Python that runs this tool (make's).
    python: str = ""
    #: A requirements file installed as it is (``pip install -r``).
    requirements: str = ""
    #: Requirement strings installed with it.
    install: tuple[str, ...] = ()
    #: pip's constraints: "lock" (requirements/lock.txt less the pins in ``unpinned``), "lock-torch"
    #: (the lock's torch and torchvision only), a requirements file, or "" for none.
    constraints: str = ""
    unpinned: tuple[str, ...] = ()
    #: How ae_helpers goes in: "editable" (the checkout itself, ``-e``), "copy" (``pip install <checkout>``,
    #: as the chapters' first cell installs it from the repository, refreshed before every run), or ""
    #: (the requirements file installs it).
    package: str = "editable"
    #: What only the check needs (pytest, nbval), installed after the environment's size is measured.
    tools: tuple[str, ...] = ()
    #: A requirements file whose every pin must still hold once everything is installed.
    kept: str = ""


@dataclass(frozen=True)
class Variant:
    """One way of running the chapters (see the module docstring)."""

    name: str
    what: str
    #: Environment variables that change numerics.
    env: dict = field(default_factory=dict)
    #: Chapter settings, injected by papermill after each chapter's cell tagged "parameters".
    settings: dict = field(default_factory=dict)
    threads: str = BOOK_THREADS
    #: None: the checkout's .venv, which `make install` makes (with MNIST); ``make`` are the targets run first.
    packages: Packages | None = None
    make: tuple[str, ...] = ("install",)
    #: "pytest": pytest over ``tests`` (--nbval for chapters); "mutants": tools/mutants.py;
    #: "colab-list": requirements/colab.txt against the list Colab publishes now.
    check: str = "pytest"
    #: What pytest runs; () is pytest's own testpaths (the unit tests, every chapter, the browser tests).
    tests: tuple[str, ...] = ("book/",)
    pytest_args: tuple[str, ...] = ()
    #: The chapters copied into an empty folder outside the checkout and run there, as a reader would.
    outside: bool = False
    #: When CI runs it: "push" (every push and pull request, and .ci/run), "weekly" (GitHub's schedule).
    ci: tuple[str, ...] = ()
    #: The Pythons the GitHub workflow runs it on, one job each (default: its own, else DEFAULT_PYTHON).
    pythons: tuple[str, ...] = ()
    #: Its column in `make spread` (tests/SPREAD.md, ae_helpers/expected.json); "" when spread leaves it out.
    spread: str = ""

    def variables(self) -> dict[str, str]:
        """The variables the variant sets (besides the model cache, the data folder and strict checks)."""
        return {**{k: str(v) for k, v in self.env.items()}, "OMP_NUM_THREADS": self.threads}


_FOREIGN = {"MKL_CBWR": "COMPATIBLE", "ATEN_CPU_CAPABILITY": "default"}

#: Every variant. Order matters twice: `run --ci push` runs them in this order (`stored`, which is
#: `make test`, first: it finds the browser the rest need), and `make spread` stores the first of its
#: runs (`stored`) in place and compares the others with it.
VARIANTS: list[Variant] = [
    Variant("stored", "the book as stored: `make test` (unit tests, every chapter under nbval, the browser tests)",
            make=("prereqs", "install", "vendor"), tests=(), ci=("push",),
            pythons=("3.11", "3.12", "3.13"), spread="stored: seed 42, 2 threads"),
    Variant("mkl-compatible", "MKL's compatible code path", env={"MKL_CBWR": "COMPATIBLE"},
            spread="MKL_CBWR=COMPATIBLE"),
    Variant("aten-default", "PyTorch's kernels without vector instructions", env={"ATEN_CPU_CAPABILITY": "default"},
            spread="ATEN_CPU_CAPABILITY=default"),
    Variant("foreign", "a machine unlike the one that stored the outputs: both of the above", env=_FOREIGN,
            ci=("push",), spread="both (as CI)"),
    Variant("threads-1", "one thread, as on a machine with another number of cores", threads="1",
            ci=("push",), spread="1 thread"),
    Variant("seed-7", "a training seed the book never recorded, as a reader who edits the settings cell",
            settings={"SEED": 7}, ci=("push",)),
    *(Variant(f"seed-{seed}", f"training seed {seed}", settings={"SEED": seed}, spread=f"seed {seed}")
      for seed in (43, 44, 45, 46)),
    Variant("torch-colab", "Colab's torch and torchvision, the lock's versions of everything else",
            packages=Packages(install=(*colab_pins("torch", "torchvision"), "ipykernel", "pytest", "nbval", "pyyaml"),
                              constraints="lock", unpinned=("torch", "torchvision")),
            ci=("push",)),
    Variant("torch-oldest", "the oldest torch and torchvision pyproject.toml admits, the lock's everything else",
            packages=Packages(install=(*oldest_pins("torch", "torchvision"), "ipykernel", "pytest", "nbval", "pyyaml"),
                              constraints="lock", unpinned=("torch", "torchvision"))),
    Variant("ipywidgets7", "the widget tests on Colab's ipywidgets 7 and ipykernel, the lock's everything else",
            packages=Packages(install=(*colab_pins("ipywidgets", "ipykernel"), "pytest"), constraints="lock",
                              unpinned=("ipywidgets", "widgetsnbextension", "jupyterlab-widgets", "ipykernel")),
            tests=("tests/test_widgets.py",),
            pytest_args=("-W", "ignore:The `ipykernel.comm.Comm` class has been deprecated:DeprecationWarning"),
            ci=("push",)),
    Variant("reader", "the reader's install (requirements/reader.txt, newest versions but the lock's torch), "
            "chapter 1", packages=Packages(requirements="requirements/reader.txt", constraints="lock-torch",
                                           package="", tools=("pytest>=7", "nbval>=0.11")),
            tests=("book/01_data.ipynb",), ci=("push", "weekly")),
    Variant("colab", "Colab: its Python and its versions (requirements/colab.txt), the package pip-installed "
            "from the checkout, the chapters in an empty folder",
            packages=Packages(python="3.13", requirements="requirements/colab.txt", constraints="requirements/colab.txt",
                              package="copy", tools=("pytest", "nbval"), kept="requirements/colab.txt"),
            outside=True, ci=("push", "weekly")),
    Variant("colab-list", "requirements/colab.txt against the package list Colab publishes now (needs the network)",
            make=(), check="colab-list", tests=(), ci=("weekly",)),
    Variant("mutants", "realistic bugs planted in ae_helpers one at a time: a chapter must fail on each "
            "(tools/mutants.py)", check="mutants", tests=(), ci=("push",)),
]


def get(name: str) -> Variant:
    for variant in VARIANTS:
        if variant.name == name:
            return variant
    raise SystemExit(f"no variant {name!r}; known: {', '.join(v.name for v in VARIANTS)}")


def on(event: str) -> list[Variant]:
    """The variants CI runs on ``event`` ("push" or "weekly"), in table order."""
    return [v for v in VARIANTS if event in v.ci]


def spread_runs() -> list[Variant]:
    """`make spread`'s runs, in table order (the first, stored, is the one it stores)."""
    return [v for v in VARIANTS if v.spread]


def chapters() -> list[str]:
    """The chapters listed in _toc.yml, in order, relative to the checkout (``book/01_data.ipynb``)."""
    names = re.findall(r"^\s*-\s*file:\s*(book/\S+)\s*$", (ROOT / "_toc.yml").read_text(), re.M)
    return [f"{name}.ipynb" for name in names if (ROOT / f"{name}.ipynb").exists()]


def environment(variant: Variant, cache: Path | None, **extra: str) -> dict[str, str]:
    """The process environment of a run of ``variant``: the caller's, less :data:`CLEARED`, plus the
    variant's variables, strict checks, the checkout's MNIST, the model cache ``cache`` and ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in CLEARED}
    env.update(variant.variables())
    env["AE_STRICT_CHECKS"] = "1"
    env["AE_DATA_DIR"] = os.environ.get("AE_DATA_DIR") or str(ROOT / "data")
    if cache is not None:
        env["AE_CACHE_DIR"] = str(cache)
    env.update(extra)
    return env


def pytest_command(python: str | Path, tests: list[str] | tuple[str, ...], *args: str) -> list[str]:
    """pytest over ``tests``; with nbval (in the kernel of ``python``'s own environment) when they hold chapters."""
    nbval = not tests or any(t.endswith(".ipynb") or not t.endswith(".py") for t in tests)
    return [str(python), "-m", "pytest", "-p", "no:cacheprovider",
            *(["--nbval", "--nbval-current-env"] if nbval else []), *args, *tests]


# ---------------------------------------------------------------------------------------------------------
# Environments


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def find_python(version: str) -> str:
    """A Python ``version`` ("3.13"): this one, ``python3.13`` on PATH, or pyenv's newest 3.13.x."""
    if not version or "%d.%d" % sys.version_info[:2] == version:
        return sys.executable
    candidates = [shutil.which(f"python{version}")]
    candidates += sorted(Path.home().glob(f".pyenv/versions/{version}.*/bin/python{version}"), reverse=True)
    for candidate in filter(None, candidates):
        done = subprocess.run([str(candidate), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                              capture_output=True, text=True)
        if done.returncode == 0 and done.stdout.strip() == version:
            return str(candidate)
    raise SystemExit(f"Python {version} is needed and none was found (python{version} on PATH, or under "
                     "~/.pyenv/versions): install it (pyenv install, your package manager, or python.org)")


def venv(variant: Variant) -> Path:
    return ROOT / f".venv-{variant.name}" if variant.packages else ROOT / ".venv"


def _constraints(packages: Packages) -> str:
    """The text of the constraints file for ``packages`` ("" for none)."""
    if packages.constraints == "lock":
        drop = {_norm(n) for n in packages.unpinned}
        return "\n".join(line for line in LOCK.read_text().splitlines()
                         if _norm(line.partition("==")[0].strip()) not in drop) + "\n"
    if packages.constraints == "lock-torch":
        return "\n".join(line for line in LOCK.read_text().splitlines() if re.match(r"torch(vision)?==", line)) + "\n"
    if packages.constraints:
        return (ROOT / packages.constraints).read_text()
    return ""


def _stamp(packages: Packages, python: str) -> str:
    """What the environment is made from, as one digest: the recipe, the files it reads, pyproject.toml,
    and the Python's version."""
    version = subprocess.run([python, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    parts = [json.dumps(asdict(packages), sort_keys=True), _constraints(packages), version,
             (ROOT / "pyproject.toml").read_text()]
    parts += [(ROOT / p).read_text() for p in (packages.requirements, packages.kept) if p]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def _pip(python: Path, *args: str) -> None:
    subprocess.run([str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q", *args],
                   check=True, cwd=ROOT)


def build(variant: Variant) -> Path:
    """The variant's own environment, made (again) when its stamp is missing or stale; returns its python."""
    packages = variant.packages
    folder = venv(variant)
    python = folder / "bin" / "python"
    base = find_python(packages.python)
    stamp = _stamp(packages, base)
    if (folder / ".installed").exists() and (folder / ".installed").read_text() == stamp and python.exists():
        return python
    _say(f"variant {variant.name}: making {folder.name} with {base} (first time, or what it is made from changed)")
    started = time.perf_counter()
    shutil.rmtree(folder, ignore_errors=True)
    subprocess.run([base, "-m", "venv", str(folder)], check=True)
    constraints = _constraints(packages)
    pinned = []
    if constraints:
        (folder / "constraints.txt").write_text(constraints)
        pinned = ["-c", str(folder / "constraints.txt")]
    first = [*(["-r", str(ROOT / packages.requirements)] if packages.requirements else []), *packages.install]
    first += {"editable": ["-e", str(ROOT)], "copy": [str(ROOT)], "": []}[packages.package]
    _pip(python, *pinned, *first)
    size = subprocess.run(["du", "-sh", str(folder)], capture_output=True, text=True).stdout.split("\t")[0]
    _say(f"variant {variant.name}: the environment takes {size}")
    if packages.tools:
        _pip(python, *pinned, *packages.tools)
    (folder / ".installed").write_text(stamp)
    _say(f"variant {variant.name}: {folder.name} made in {time.perf_counter() - started:.0f} s")
    return python


def changed_pins(python: Path, kept: Path) -> list[str]:
    """The pins of ``kept`` that the environment of ``python`` does not hold (a local label such as
    +cpu does not count)."""
    script = ("import importlib.metadata as m, json, sys\n"
              "found = {}\n"
              "for name in json.loads(sys.argv[1]):\n"
              "    try: found[name] = m.version(name)\n"
              "    except m.PackageNotFoundError: found[name] = None\n"
              "print(json.dumps(found))")
    wanted = pins(kept)
    found = json.loads(subprocess.run([str(python), "-c", script, json.dumps(list(wanted))], check=True,
                                      capture_output=True, text=True).stdout)
    return [f"{name} {found[name] or 'missing'} (not {version})" for name, version in wanted.items()
            if (found[name] or "").split("+")[0] != version]


def prepare(variant: Variant) -> Path:
    """Make the variant's environment ready (and, for a copied package, install the checkout's code
    afresh); returns its python."""
    if variant.packages is None:
        if variant.make:
            subprocess.run(["make", "--no-print-directory", *variant.make], cwd=ROOT, check=True)
        return venv(variant) / "bin" / "python"
    python = build(variant)
    if variant.packages.package == "copy":
        # The checkout's code as it is now; its dependencies were resolved when the environment was made.
        _pip(python, "--no-deps", "--force-reinstall", str(ROOT))
    if variant.packages.kept:
        moved = changed_pins(python, ROOT / variant.packages.kept)
        if moved:
            raise SystemExit(f"variant {variant.name}: pip changed versions that {variant.packages.kept} pins: "
                             f"{'; '.join(moved)}. The package's ranges (pyproject.toml) must admit them.")
    if variant.check == "pytest":
        subprocess.run([str(python), "-m", "ae_helpers", "fetch"], check=True, cwd=ROOT,
                       env=environment(variant, None))
    return python


# ---------------------------------------------------------------------------------------------------------
# Checks


def _copies(variant: Variant, tests: list[str], settings: dict, folder: Path) -> list[str]:
    """The chapters among ``tests`` copied into ``folder`` (with ``settings`` injected by papermill);
    returns what pytest should run instead."""
    chosen = []
    for test in tests or ["book/"]:
        chosen += chapters() if test.rstrip("/") == "book" else [test]
    folder.mkdir(parents=True)
    if settings:
        subprocess.run(["make", "--no-print-directory", "install"], cwd=ROOT, check=True)
        subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "tools/execute_notebooks.py", "--prepare-only",
                        "--out-dir", str(folder), *[a for k, v in settings.items() for a in ("-p", f"{k}={v!r}")],
                        *[t for t in chosen if t.endswith(".ipynb")]], cwd=ROOT, check=True)
    else:
        for t in chosen:
            if t.endswith(".ipynb"):
                shutil.copy2(ROOT / t, folder / Path(t).name)
    return [str(folder / Path(t).name) if t.endswith(".ipynb") else t for t in chosen]


def run_pytest(variant: Variant, python: Path, tests: list[str], settings: dict) -> int:
    """pytest (nbval over the chapters) in the variant, from an empty model cache of the run's own."""
    work = Path(tempfile.mkdtemp(prefix=f"ae-{variant.name}-")) if variant.outside else WORK / variant.name
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    tests = tests or list(variant.tests)
    cwd = ROOT
    if variant.outside or settings:
        tests = _copies(variant, tests, settings, work / "chapters")
    if variant.outside:
        cwd = work / "chapters"
        found = subprocess.run([str(python), "-c", "import ae_helpers; print(ae_helpers.__file__)"], cwd=cwd,
                               capture_output=True, text=True, check=True).stdout.strip()
        if not Path(found).is_relative_to(venv(variant)):
            raise SystemExit(f"variant {variant.name}: the kernels would import {found}, not the copy installed "
                             f"in {venv(variant).name}")
        _say(f"variant {variant.name}: the chapters in {cwd}, ae_helpers from {found}")
    command = pytest_command(python, tests, *variant.pytest_args)
    env = environment(variant, work / "cache")
    _say(f"variant {variant.name}: {' '.join(f'{k}={v}' for k, v in variant.variables().items())} "
         f"{' '.join(f'{k}={v}' for k, v in settings.items())} {' '.join(command[1:])}")
    done = subprocess.run(command, cwd=cwd, env=env)
    if variant.outside and done.returncode == 0:
        shutil.rmtree(work, ignore_errors=True)
    return done.returncode


def published_versions(text: str) -> dict[str, str]:
    """``{normalised name: version}`` from a ``pip freeze`` listing, including ``name @ <wheel URL>`` lines."""
    found = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if m := re.match(r"([A-Za-z0-9_.-]+)\s*===?\s*(\S+)", line):
            found[_norm(m.group(1))] = m.group(2)
        elif m := re.match(r"([A-Za-z0-9_.-]+)\s*@\s*(\S+)", line):
            wheel = urllib.parse.unquote(m.group(2).split("#")[0].rsplit("/", 1)[-1])
            if wheel.endswith(".whl"):
                found[_norm(m.group(1))] = wheel.split("-")[1]
    return found


def colab_moved(text: str) -> list[str]:
    """The pins of requirements/colab.txt that the listing ``text`` no longer holds."""
    now = published_versions(text)
    return [f"{name} {now.get(name, 'gone')} (requirements/colab.txt: {version})"
            for name, version in pins(COLAB).items() if now.get(name, "").split("+")[0] != version]


def run_colab_list(source: str = COLAB_LIST) -> int:
    """Compare requirements/colab.txt with Colab's package list (a URL or a file); 1 when Colab moved."""
    if re.match(r"https?://", source):
        with urllib.request.urlopen(source, timeout=60) as response:
            text = response.read().decode("utf-8")
    else:
        text = Path(source).read_text()
    moved = colab_moved(text)
    for line in moved:
        print(f"colab moved: {line}", flush=True)
    print(f"{source}: {'Colab moved; refresh requirements/colab.txt (CONTRIBUTING.md, Colab)' if moved else 'Colab still has the versions of requirements/colab.txt'}",
          flush=True)
    return 1 if moved else 0


def run(variant: Variant, args: list[str], settings: dict) -> int:
    """Run one variant: make its environment ready, then its check. Returns the check's exit status."""
    settings = {**variant.settings, **settings}
    if variant.check == "colab-list":
        return run_colab_list(*args[:1])
    python = prepare(variant)
    if variant.check == "mutants":
        return subprocess.run([str(python), "tools/mutants.py", *args], cwd=ROOT).returncode
    return run_pytest(variant, python, args, settings)


def parse_setting(text: str) -> tuple[str, object]:
    """``"SEED=7"`` -> ``("SEED", 7)``: the value as a Python literal when it is one, else a string."""
    import ast

    name, sep, value = text.partition("=")
    if not sep or not name.isidentifier():
        raise argparse.ArgumentTypeError(f"a setting is NAME=VALUE, e.g. SEED=7; got {text!r}")
    try:
        return name, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return name, value


def describe(variant: Variant) -> str:
    where = ".venv" if variant.packages is None else f".venv-{variant.name}"
    if variant.packages and variant.packages.python:
        where += f" (Python {variant.packages.python})"
    variables = " ".join(f"{k}={v}" for k, v in variant.variables().items())
    settings = " ".join(f"{k}={v}" for k, v in variant.settings.items())
    runs = {"pytest": " ".join(variant.tests) or "make test's tests", "mutants": "tools/mutants.py",
            "colab-list": COLAB_LIST}[variant.check]
    if variant.check == "colab-list":
        variables, where = "", "-"
    return (f"{variant.name:15} {', '.join(variant.ci) or 'by hand':12} {variant.what}\n"
            f"{'':15} {variables} {settings}; {where}; runs {runs}"
            f"{'; in an empty folder' if variant.outside else ''}{'; spread: ' + variant.spread if variant.spread else ''}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="the table")
    p_run = sub.add_parser("run", help="run variants (each from an empty model cache)")
    p_run.add_argument("args", nargs="*", help="variant names, then chapters or tests (or mutants' names) for them")
    p_run.add_argument("--ci", choices=["push", "weekly"], help="every variant CI runs on this event")
    p_run.add_argument("--set", dest="settings", action="append", type=parse_setting, default=[], metavar="NAME=VALUE",
                       help="a chapter setting, injected after the 'parameters' cell")
    p_matrix = sub.add_parser("matrix", help="the GitHub workflow's jobs for an event, as JSON")
    p_matrix.add_argument("event", choices=["push", "weekly"])
    p_env = sub.add_parser("env", help="the variant's variables, NAME=VALUE each")
    p_env.add_argument("name")
    sub.add_parser("threads", help="the thread count the chapters are stored with")
    args = parser.parse_args(argv)

    if args.command == "list":
        print("Every run: an empty model cache of its own, strict checks, the checkout's MNIST.")
        for variant in VARIANTS:
            print(describe(variant))
        return 0
    if args.command == "threads":
        print(BOOK_THREADS)
        return 0
    if args.command == "env":
        print(" ".join(f"{k}={v}" for k, v in {**get(args.name).variables(), "AE_STRICT_CHECKS": "1"}.items()))
        return 0
    if args.command == "matrix":
        jobs = [{"name": v.name, "python": python} for v in on(args.event)
                for python in (v.pythons or [(v.packages and v.packages.python) or DEFAULT_PYTHON])]
        print(json.dumps(jobs))
        return 0

    # Variant names first, then what they run (chapters, tests, mutants' names).
    known = {v.name for v in VARIANTS}
    count = next((i for i, a in enumerate(args.args) if a not in known), len(args.args))
    chosen, rest = [get(a) for a in args.args[:count]], args.args[count:]
    if args.ci:
        chosen = on(args.ci)
    if not chosen:
        parser.error(f"no variant named {rest[0]!r}; known: {', '.join(sorted(known))} (or give --ci push|weekly)"
                     if rest else f"name a variant ({', '.join(sorted(known))}) or give --ci push|weekly")
    results = []
    for variant in chosen:
        started = time.perf_counter()
        try:
            status = run(variant, rest, dict(args.settings))
        except SystemExit as exc:
            _say(str(exc))
            status = 1
        except subprocess.CalledProcessError as exc:
            _say(f"variant {variant.name}: {exc}")
            status = 1
        seconds = time.perf_counter() - started
        results.append((variant.name, status, seconds))
        print(f"variant {variant.name}: {'passed' if status == 0 else f'FAILED (exit {status})'} in {seconds:.0f} s",
              flush=True)
    if len(results) > 1:
        total = sum(s for _, _, s in results)
        print(f"{sum(1 for _, status, _ in results if status == 0)} of {len(results)} variants passed in "
              f"{total / 60:.1f} min: " + ", ".join(f"{n} {'ok' if st == 0 else 'FAILED'} {s:.0f} s"
                                                      for n, st, s in results), flush=True)
    return 0 if all(status == 0 for _, status, _ in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
