"""Plant realistic one-line bugs in ae_helpers, one at a time, and check that the chapters catch each.

    python tools/mutants.py              # every mutant (make mutants)
    python tools/mutants.py no-shuffle   # some of them, by name (make mutants MUTANTS=no-shuffle)

A check that no bug can trip checks nothing. Each :class:`Mutant` below is a change a
contributor could plausibly make: one edit in one file of the package. For each, the tool
copies ``ae_helpers`` into a temporary folder, applies the edit there (the checkout is never
touched), and runs the chapters that use the changed code under nbval in the ``stored``
variant of tools/variants.py (its thread count, strict checks) from an empty model cache, with
that copy first on ``PYTHONPATH`` so that nbval's kernels import it. nbval must fail. It stops at the first failing cell, so a caught mutant costs only
the chapters up to that cell.

One line per mutant: ``mutant <name> caught_by=<what failed>`` (the ``expect`` key, the
``claim``, or the error and cell) or ``mutant <name> MISSED``; the exit status is non-zero when
one was missed, or when a mutant's text is no longer in its file (the code moved: update the
mutant, do not drop it).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import variants  # noqa: E402


@dataclass(frozen=True)
class Mutant:
    """One planted bug: in ``ae_helpers/<file>``, the text ``old`` (present exactly once) becomes ``new``.

    ``chapters`` are the chapters that run the changed code, cheapest first (nbval stops at the
    first failure). ``why`` says what a contributor would have meant to do.
    """

    name: str
    file: str
    old: str
    new: str
    chapters: tuple[str, ...]
    why: str


ALL = ("01_data", "02_latent2d", "03_latent_size", "04_latent50", "05_uses", "06_vae", "07_playground")

MUTANTS: list[Mutant] = [
    Mutant("decoder-sigmoid-dropped", "models.py",
           "num_features], final=nn.Sigmoid())", "num_features])",
           ALL[1:], "drop the decoder's last sigmoid (say, to return logits) and forget the loss still wants pixels"),
    Mutant("pixels-0-255", "data.py",
           ".unsqueeze(1).float().div_(255.0)", ".unsqueeze(1).float()",
           ALL, "keep MNIST's bytes as they are, 0 to 255, instead of scaling them to [0, 1]"),
    Mutant("no-shuffle", "training.py",
           "order = torch.randperm(len(x), generator=generator).to(device)", "order = torch.arange(len(x), device=device)",
           ALL[1:], "visit the training images in file order, as the tutorial the book grew from did"),
    Mutant("test-set-in-train-mode", "measure.py",
           "    was_training = model.training\n    model.eval()", "    was_training = model.training\n    model.train()",
           ("06_vae", *ALL[1:5], "07_playground"), "measure the test set in training mode (a VAE then samples its codes)"),
    Mutant("pca-not-centred", "latent.py",
           "xc = x - mean.to(torch.float32)", "xc = x",
           ("03_latent_size", "05_uses"), "fit PCA to the raw pixels without subtracting the mean image"),
    Mutant("covariance-root-transposed", "latent.py",
           "return (mean + eps @ root.T).to(torch.float32)", "return (mean + eps @ root).to(torch.float32)",
           ("04_latent50", "06_vae"), "draw full-covariance samples with the transposed square root of the covariance"),
    Mutant("tsne-on-two-dimensions", "latent.py",
           "x = float_tensor(codes).numpy().astype(np.float64)", "x = float_tensor(codes)[:, :2].numpy().astype(np.float64)",
           ("04_latent50",), "run t-SNE on the first two dimensions of the codes only"),
    Mutant("denoiser-trained-on-clean-inputs", "recipes.py",
           'return {"train_images": mixed_noise(train_images, training["noises"], seed=training["noise_seed"]),',
           'return {"train_images": train_images,',
           ("05_uses",), "train the denoiser on the clean images instead of the corrupted ones"),
    Mutant("test-set-in-the-knn-index", "uses.py",
           "KNeighborsClassifier(n_neighbors=k).fit(xtr, ytr.astype(np.int64))",
           "KNeighborsClassifier(n_neighbors=k).fit(np.concatenate([xtr, xte]), np.concatenate([ytr, yte]).astype(np.int64))",
           ("05_uses",), "search the test items among the neighbours too (each finds itself)"),
    Mutant("judge-trained-on-shuffled-labels", "recipes.py",
           'return {"train_images": train_images, "train_targets": train_labels,',
           'return {"train_images": train_images, "train_targets": train_labels[torch.randperm(len(train_labels))],',
           ("03_latent_size", "04_latent50", "06_vae", "07_playground"), "pair the judge's images with shuffled labels"),
    Mutant("kl-summed-over-the-batch", "vae.py",
           "    return per_sample.mean()", "    return per_sample.sum()",
           ("06_vae", "07_playground"), "sum the KL term over the batch instead of averaging it, as the reconstruction is"),
]


def plant(mutant: Mutant, folder: Path) -> Path:
    """A copy of ae_helpers in ``folder`` with ``mutant`` applied; returns the folder to put on PYTHONPATH."""
    package = folder / "ae_helpers"
    shutil.copytree(ROOT / "ae_helpers", package, ignore=shutil.ignore_patterns("__pycache__"))
    target = package / mutant.file
    text = target.read_text()
    if text.count(mutant.old) != 1:
        raise LookupError(f"{mutant.file} holds the mutant's text {text.count(mutant.old)} times, not once: "
                          f"the code changed; update the mutant '{mutant.name}' in tools/mutants.py")
    target.write_text(text.replace(mutant.old, mutant.new))
    return folder


def caught_by(junit: Path) -> str | None:
    """What made nbval fail, from its JUnit report: the expect key, the claim, or the error and cell."""
    for case in ET.parse(junit).getroot().iter("testcase"):
        for failure in [*case.iter("failure"), *case.iter("error")]:
            text = (failure.get("message") or "") + "\n" + (failure.text or "")
            text = re.sub(r"(\x1b|#x1B)\[[0-9;]*m", "", text)  # nbval colours its tracebacks (escaped in XML)
            where = case.get("name", "?").replace("Cell", "code cell")  # nbval numbers the code cells
            chapter = case.get("classname", "?").removeprefix("book.")
            found = re.search(r"ExpectationError: (\S+) = ", text)
            if found:
                return f"expect:{found.group(1)}"
            found = re.search(r"ClaimError: the chapter says: (['\"])(.*?)\1, and this run", text)
            if found:
                return f"claim:'{found.group(2)}'"
            found = re.search(r"^(\w+(?:Error|Exception|Diverged)): (.{0,80})", text, re.M)
            if found:
                return f"{found.group(1)} in {chapter} {where}"
            return f"output of {chapter} {where}"
    return None


def run(mutant: Mutant, work: Path) -> str | None:
    """Run the mutant's chapters under nbval with the bug planted; returns what caught it, or None."""
    folder = plant(mutant, work / mutant.name)
    env = variants.environment(variants.get("stored"), folder / "cache", PYTHONPATH=str(folder))
    # nbval's kernels start in the chapters' folder, where PYTHONPATH comes before the editable install
    where = subprocess.run([sys.executable, "-c", "import ae_helpers; print(ae_helpers.__file__)"], env=env,
                           capture_output=True, text=True, cwd=ROOT / "book").stdout.strip()
    if not where.startswith(str(folder)):
        raise SystemExit(f"the kernels would import {where!r}, not the planted copy in {folder}")
    junit = folder / "junit.xml"
    subprocess.run(variants.pytest_command(sys.executable, [f"book/{c}.ipynb" for c in mutant.chapters],
                                           "-x", "-q", f"--junitxml={junit}"),
                   env=env, cwd=ROOT, capture_output=True, text=True)
    return caught_by(junit) if junit.exists() else "pytest stopped before writing its report"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", help="mutants to run (default: all)")
    args = parser.parse_args(argv)
    known = {m.name: m for m in MUTANTS}
    unknown = [n for n in args.names if n not in known]
    if unknown:
        parser.error(f"unknown mutants {unknown}; known: {', '.join(known)}")
    chosen = [known[n] for n in args.names] or MUTANTS
    missed, started, seconds = 0, time.perf_counter(), {}
    with tempfile.TemporaryDirectory(prefix="mutants-") as tmp:
        for mutant in chosen:
            t0 = time.perf_counter()
            try:
                found = run(mutant, Path(tmp))
            except LookupError as exc:
                print(f"mutant {mutant.name} STALE: {exc}", flush=True)
                missed += 1
                continue
            seconds[mutant.name] = time.perf_counter() - t0
            if found is None:
                missed += 1
                print(f"mutant {mutant.name} MISSED", flush=True)
            else:
                print(f"mutant {mutant.name} caught_by={found}", flush=True)
    print(f"{len(chosen) - missed} of {len(chosen)} mutants caught in {time.perf_counter() - started:.0f} s ("
          + ", ".join(f"{name} {s:.0f} s" for name, s in seconds.items()) + ")", flush=True)
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
