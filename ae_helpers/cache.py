"""A cache of trained models, so that a chapter reuses what another chapter trained.

:func:`load_or_train` returns ``(model, history)`` for a kind of model, its configuration and the
data it trains on: loaded from the cache when a matching entry exists, otherwise trained by
the caller and stored. It is a plain store: it knows nothing about MNIST, seeds or the book's
models. :mod:`ae_helpers.recipes` says what each of the book's models is, names its data,
seeds it, and trains it through here.

An entry is one file ``<kind>-<key>.pt`` in :func:`ae_helpers.paths.cache_dir` holding plain
tensors, dicts, lists and numbers only: the state dict, the configuration and the history.
The key is a hash of everything that changes the result: the kind, the configuration
(architecture, recipe, seed), the identity of the data as the caller gives it, the number of
CPU threads PyTorch trains with (seeded training repeats bit for bit only at the same count)
and :data:`CACHE_FORMAT_VERSION`.
Entries are written atomically (a temporary file, then a rename) and read with
``torch.load(..., weights_only=True)``; an entry that cannot be read or does not match its
configuration is reported with a warning, deleted and retrained, never used.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import warnings
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from .paths import atomic_write, cache_dir
from .training import History

__all__ = [
    "CACHE_FORMAT_VERSION",
    "cache_key",
    "cache_path",
    "load_or_train",
]

#: Bump when the layout of an entry or the training code changes what an entry means.
CACHE_FORMAT_VERSION = 3  # 2: fit became one plain autograd loop (other last bits than 1); 3: histories keep loss terms


def _normalise(config: dict) -> dict:
    """The configuration as plain JSON data (tuples become lists); ``TypeError`` if it is not."""
    try:
        return json.loads(json.dumps(config, sort_keys=True, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise TypeError(f"a cache configuration must be plain JSON data (dicts, lists, str, "
                        f"int, float, bool): {exc}") from exc


def _check_data(data: str) -> str:
    if not isinstance(data, str) or not data:
        raise TypeError(f"data must name the data the model trains on (a digest, say) in a non-empty str, "
                        f"got {data!r}")
    return data


def cache_key(kind: str, config: dict, *, data: str) -> str:
    """The hex key of an entry: a hash of kind, configuration, data identity, thread count and format."""
    blob = json.dumps({"kind": kind, "config": _normalise(config), "data": _check_data(data),
                       "threads": torch.get_num_threads(), "format": CACHE_FORMAT_VERSION}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def _folder(cache: str | os.PathLike | None) -> Path:
    return Path(cache) if cache is not None else cache_dir()


def cache_path(kind: str, config: dict, cache: str | os.PathLike | None = None, *, data: str) -> Path:
    """Where the entry for ``kind``, ``config`` and ``data`` lives (it may not exist yet)."""
    if not kind or not all(c.isalnum() or c in "-_" for c in kind):
        raise ValueError(f"kind must be a short name of letters, digits, '-' or '_', got {kind!r}")
    return _folder(cache) / f"{kind}-{cache_key(kind, config, data=data)}.pt"


# --------------------------------------------------------------------------- entries


class _BadEntry(Exception):
    """An entry that must not be used; the message says why."""


def _read_entry(path: Path, kind: str, config: dict, build: Callable[[dict], nn.Module]):
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # any unreadable file: truncated, not a zip, unsafe pickle, ...
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        raise _BadEntry(f"unreadable ({type(exc).__name__}: {first})") from exc
    if not isinstance(payload, dict):
        raise _BadEntry(f"not a cache entry (a {type(payload).__name__}, expected a dict)")
    expected_keys = {"format", "kind", "config", "state_dict", "history"}
    if set(payload) != expected_keys:
        raise _BadEntry(f"not a cache entry (fields {sorted(payload)})")
    if payload["format"] != CACHE_FORMAT_VERSION:
        raise _BadEntry(f"stale (format {payload['format']!r}, expected {CACHE_FORMAT_VERSION})")
    if payload["kind"] != kind:
        raise _BadEntry(f"stale (kind {payload['kind']!r}, expected {kind!r})")
    if payload["config"] != config:
        raise _BadEntry(f"stale (configuration {payload['config']!r} differs from {config!r})")
    state = payload["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise _BadEntry("damaged (the state dict is not a dict of tensors)")
    model = build(copy.deepcopy(config))
    wanted = model.state_dict()
    if set(state) != set(wanted):
        raise _BadEntry(f"stale (state dict keys {sorted(state)} differ from the model's {sorted(wanted)})")
    for name, tensor in wanted.items():
        if state[name].shape != tensor.shape or state[name].dtype != tensor.dtype:
            raise _BadEntry(f"stale ({name}: stored {tuple(state[name].shape)} {state[name].dtype}, "
                            f"model has {tuple(tensor.shape)} {tensor.dtype})")
        if state[name].is_floating_point() and not torch.isfinite(state[name]).all():
            raise _BadEntry(f"damaged ({name} holds NaN or infinite values)")
    model.load_state_dict(state, strict=True)
    try:
        history = History.from_dict(payload["history"], source="cache")
    except ValueError as exc:
        raise _BadEntry(f"damaged (history: {exc})") from exc
    return model, history


def _write_entry(path: Path, kind: str, config: dict, model: nn.Module, history: History) -> None:
    """Save the entry atomically (:func:`~ae_helpers.paths.atomic_write`)."""
    payload = {
        "format": CACHE_FORMAT_VERSION,
        "kind": kind,
        "config": config,
        "state_dict": {k: v.detach().to("cpu").clone() for k, v in model.state_dict().items()},
        "history": history.to_dict(),
    }
    atomic_write(path, lambda fh: torch.save(payload, fh))


def load_or_train(
    kind: str,
    config: dict,
    build: Callable[[dict], nn.Module],
    train: Callable[[dict], tuple[nn.Module, History]],
    *,
    data: str,
    cache: str | os.PathLike | None = None,
) -> tuple[nn.Module, History]:
    """Return ``(model, history)`` for ``kind``, ``config`` and ``data``: from the cache, or trained.

    Args:
        kind: a short name of the kind of model (``"autoencoder"``, ``"vae"``, ...).
        config: plain JSON data describing everything that changes the result: architecture,
            recipe and seed. It is stored with the entry, and an entry whose stored
            configuration differs is not used.
        build: ``build(config) -> model``, a model of the configuration's architecture, into
            which a stored entry's weights are loaded.
        train: ``train(config) -> (model, history)``, called on a miss: the model trained, and
            its history (for example from :func:`~ae_helpers.training.fit`). Making it
            reproducible, by seeding the initial weights before building the model, is the
            caller's (:func:`ae_helpers.recipes.trained` does).
        data: the identity of the data the model trains on, as the caller names it (a digest
            of the files, say): part of the key, so that a model trained on other data is
            never found for these.
        cache: the folder (default :func:`ae_helpers.paths.cache_dir`).

    Both callbacks get a copy of ``config`` as stored (tuples become lists). The model comes
    back on the CPU in eval mode; ``history.source`` says ``"cache"`` or ``"trained"``.
    """
    config = _normalise(config)
    path = cache_path(kind, config, cache, data=data)
    if path.exists():
        try:
            model, history = _read_entry(path, kind, config, build)
            return model.to("cpu").eval(), history
        except _BadEntry as exc:
            warnings.warn(f"model cache entry {path} is {exc}; deleting it and training again",
                          RuntimeWarning, stacklevel=2)
            path.unlink(missing_ok=True)
    trained = train(copy.deepcopy(config))
    if not (isinstance(trained, tuple) and len(trained) == 2 and isinstance(trained[0], nn.Module)
            and isinstance(trained[1], History)):
        got = (f"({', '.join(type(part).__name__ for part in trained)})" if isinstance(trained, tuple)
               else type(trained).__name__)
        raise TypeError(f"train must return (model, History), got {got}")
    model, history = trained
    model.to("cpu").eval()
    history.source = "trained"
    _write_entry(path, kind, config, model, history)
    return model, history
