"""Run the chapters under nbval with another PyTorch than the lock's, from an empty model cache.

    python tools/other_torch.py 2.11.0          # Colab's torch (make test-torch)
    python tools/other_torch.py 2.4.1           # the oldest that pyproject.toml admits

Builds ``.venv-torch-<version>`` (ignored by git) with that torch and its torchvision, plus
what running a chapter under nbval needs, every other package at the version
``requirements/lock.txt`` pins, and this checkout's ``ae_helpers`` (editable, no
dependencies); then runs ``pytest --nbval book/`` there with strict checks, two threads and a
new, empty model cache. The environment is kept, so a second run only tests. Other versions
of torch are not on this machine's disk: the first run downloads them from PyPI (a CUDA build
of several GB; the chapters still run on the CPU).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements" / "lock.txt"

#: torch -> the torchvision released with it (https://github.com/pytorch/vision#installation).
TORCHVISION = {
    "2.4.0": "0.19.0", "2.4.1": "0.19.1", "2.5.0": "0.20.0", "2.5.1": "0.20.1", "2.6.0": "0.21.0",
    "2.7.0": "0.22.0", "2.7.1": "0.22.1", "2.8.0": "0.23.0", "2.9.0": "0.24.0", "2.9.1": "0.24.1",
    "2.10.0": "0.25.0", "2.11.0": "0.26.0", "2.12.0": "0.27.0", "2.12.1": "0.27.1", "2.13.0": "0.28.0",
    "2.14.0": "0.29.0", "2.14.1": "0.29.1",
}
#: What running the chapters under nbval needs (pyproject's dependencies, the kernel and the test tools).
NEEDS = ["numpy", "matplotlib", "ipywidgets", "tqdm", "openTSNE", "scikit-learn", "ipython", "pillow",
         "ipykernel", "pytest", "nbval", "pyyaml"]


def constraints(path: Path) -> Path:
    """The lock without torch and torchvision, written to ``path`` (pip's ``-c`` file)."""
    keep = [line for line in LOCK.read_text().splitlines()
            if not re.match(r"^\s*(torch|torchvision)\s*==", line, re.I)]
    path.write_text("\n".join(keep) + "\n")
    return path


def build(version: str, venv: Path) -> Path:
    """The environment for ``version``, created or completed; returns its python."""
    if version not in TORCHVISION:
        raise SystemExit(f"no torchvision known for torch {version}; known: {', '.join(TORCHVISION)} "
                         "(add the pair to TORCHVISION in tools/other_torch.py)")
    python = venv / "bin" / "python"
    stamp = venv / ".installed"
    if stamp.exists() and stamp.read_text() == LOCK.read_text():
        return python
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    with tempfile.TemporaryDirectory() as tmp:
        pins = constraints(Path(tmp) / "constraints.txt")
        subprocess.run([str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q", "-c", str(pins),
                        f"torch=={version}", f"torchvision=={TORCHVISION[version]}", *NEEDS], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q", "--no-deps",
                    "-e", str(ROOT)], check=True)
    stamp.write_text(LOCK.read_text())
    return python


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("version", help="a torch release, e.g. 2.11.0")
    parser.add_argument("chapters", nargs="*", default=["book/"], help="notebooks or folders (default: book/)")
    args = parser.parse_args(argv)
    python = build(args.version, ROOT / f".venv-torch-{args.version}")
    found = subprocess.run([str(python), "-c", "import torch, torchvision; print(torch.__version__, "
                            "torchvision.__version__)"], check=True, capture_output=True, text=True).stdout.split()
    if not found or found[0].split("+")[0] != args.version:
        raise SystemExit(f"the environment holds torch {found[:1]}, not {args.version}")
    print(f"torch {found[0]}, torchvision {found[1]}: the chapters under nbval from an empty model cache", flush=True)
    with tempfile.TemporaryDirectory(prefix="torch-cache-") as cache:
        env = dict(os.environ, AE_CACHE_DIR=cache, AE_STRICT_CHECKS="1", OMP_NUM_THREADS="2")
        done = subprocess.run([str(python), "-m", "pytest", "--nbval", "-q", "-p", "no:cacheprovider", *args.chapters],
                              cwd=ROOT, env=env)
    return done.returncode


if __name__ == "__main__":
    raise SystemExit(main())
