"""The model cache, a plain store: hit, miss, corrupt and stale entries, keys, and atomic saves."""

import os
import warnings

import pytest
import torch
from torch import nn

from ae_helpers import cache as cache_mod
from ae_helpers.cache import CACHE_FORMAT_VERSION, cache_key, cache_path, load_or_train
from ae_helpers.models import AutoEncoder
from ae_helpers.seeding import seed_everything
from ae_helpers.training import History, fit

#: The identity the tests give their data (the book's recipes give MNIST's digests).
DATA = "first-512-training-images"


@pytest.fixture(autouse=True)
def cache_folder(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("AE_CACHE_DIR", str(folder))
    return folder


@pytest.fixture
def tiny(mnist_train_small):
    """A tiny training problem through load_or_train, seeded by its caller as a recipe is; counts how
    often it trains."""
    images = mnist_train_small[0][:512]
    calls = {"train": 0}
    config = {"model": {"latent_dim": 3, "hidden": [16, 8]}, "recipe": {"epochs": 1, "lr": 0.005}, "seed": 3}

    def build(cfg):
        return AutoEncoder(latent_dim=cfg["model"]["latent_dim"], hidden=cfg["model"]["hidden"])

    def train(cfg):
        calls["train"] += 1
        seed_everything(cfg["seed"])
        model = build(cfg)
        return model, fit(model, images, epochs=1, seed=cfg["seed"], progress=False)

    def run(cfg=config):
        return load_or_train("tiny-ae", cfg, build, train, data=DATA)

    run.calls, run.config = calls, config
    return run


def _files(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_miss_then_hit_gives_the_same_model(tiny, cache_folder):
    """Catches a second call that trains again, warns, or returns other weights than were stored."""
    model, history = tiny()
    assert tiny.calls["train"] == 1 and history.source == "trained"
    path = cache_path("tiny-ae", tiny.config, data=DATA)
    assert path.parent == cache_folder and _files(cache_folder) == [path.name]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a hit warns about nothing
        again, cached = tiny()
    assert tiny.calls["train"] == 1 and cached.source == "cache"
    assert cached == history  # the stored history comes back
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, again.state_dict()[name]), name
    assert not again.training and next(again.parameters()).device.type == "cpu"
    assert not model.training


def test_entry_holds_plain_data_only(tiny):
    """Catches an entry that needs full unpickling (objects instead of tensors and plain data)."""
    tiny()
    payload = torch.load(cache_path("tiny-ae", tiny.config, data=DATA), weights_only=True)
    assert set(payload) == {"format", "kind", "config", "state_dict", "history"}
    assert payload["format"] == CACHE_FORMAT_VERSION and payload["kind"] == "tiny-ae"
    assert payload["config"] == tiny.config
    assert all(isinstance(v, torch.Tensor) for v in payload["state_dict"].values())


def test_the_store_leaves_the_random_state_to_its_caller():
    """Catches a cache that seeds, or draws from, the global random generators itself: the seeds are the
    recipe's (ae_helpers.recipes), and what a chapter draws next must not depend on the store."""
    def draw_after(step):
        torch.manual_seed(5)
        step()
        return torch.rand(3)

    def store():  # nothing in build or train draws a random number
        return load_or_train("plain", {"seed": 1}, lambda cfg: nn.Identity(),
                             lambda cfg: (nn.Identity(), History()), data=DATA)

    expected = draw_after(lambda: None)
    assert torch.equal(draw_after(store), expected)  # a miss
    assert store()[1].source == "cache"
    assert torch.equal(draw_after(store), expected)  # a hit


def test_key_covers_kind_config_seed_data_and_format(tiny, monkeypatch):
    """Catches a key that ignores something that changes the model, or changes with the spelling of the
    same configuration."""
    base = tiny.config
    key = cache_key("tiny-ae", base, data=DATA)
    assert cache_key("tiny-ae", dict(base), data=DATA) == key
    assert cache_key("other", base, data=DATA) != key
    assert cache_key("tiny-ae", {**base, "seed": 4}, data=DATA) != key
    assert cache_key("tiny-ae", {**base, "recipe": {"epochs": 2, "lr": 0.005}}, data=DATA) != key
    assert cache_key("tiny-ae", {**base, "model": {"latent_dim": 3, "hidden": [16, 9]}}, data=DATA) != key
    # tuples and lists describe the same configuration
    assert cache_key("tiny-ae", {**base, "model": {"latent_dim": 3, "hidden": (16, 8)}}, data=DATA) == key
    assert cache_key("tiny-ae", base, data="other-images") != key
    monkeypatch.setattr(cache_mod, "CACHE_FORMAT_VERSION", CACHE_FORMAT_VERSION + 1)
    assert cache_key("tiny-ae", base, data=DATA) != key
    monkeypatch.setattr(cache_mod, "CACHE_FORMAT_VERSION", CACHE_FORMAT_VERSION)
    assert cache_key("tiny-ae", base, data=DATA) == key


def test_key_covers_the_thread_count(tiny):
    """Catches a model trained at another thread count (other last bits) taken for this one."""
    threads = torch.get_num_threads()
    key = cache_key("tiny-ae", tiny.config, data=DATA)
    try:
        torch.set_num_threads(threads + 1)
        assert cache_key("tiny-ae", tiny.config, data=DATA) != key
    finally:
        torch.set_num_threads(threads)
    assert cache_key("tiny-ae", tiny.config, data=DATA) == key


def test_a_different_config_is_a_miss(tiny):
    """Catches a model of another configuration returned from the cache."""
    tiny()
    other = {**tiny.config, "seed": 4}
    _, history = tiny(other)
    assert tiny.calls["train"] == 2 and history.source == "trained"


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_corrupt_entry_is_reported_deleted_and_retrained(tiny, cache_folder, damage):
    """Catches a damaged entry that crashes the chapter, is used, or is left on disk."""
    model, _ = tiny()
    path = cache_path("tiny-ae", tiny.config, data=DATA)
    data = path.read_bytes()
    path.write_bytes({"truncate": data[: len(data) // 2], "garbage": b"not a model" * 50, "empty": b""}[damage])
    with pytest.warns(RuntimeWarning, match=rf"{path.name}.*unreadable.*deleting it and training again"):
        again, history = tiny()
    assert tiny.calls["train"] == 2 and history.source == "trained"
    assert torch.equal(again.state_dict()["encoder.0.weight"], model.state_dict()["encoder.0.weight"])
    assert _files(cache_folder) == [path.name]  # rewritten, and healthy again
    _, history = tiny()
    assert history.source == "cache"


def _rewrite(path, **changes):
    payload = torch.load(path, weights_only=True)
    payload.update(changes)
    torch.save(payload, path)


def test_stale_config_in_entry_is_not_used(tiny):
    """Catches an entry whose stored configuration differs from its key's being used."""
    tiny()
    path = cache_path("tiny-ae", tiny.config, data=DATA)
    _rewrite(path, config={**tiny.config, "seed": 99})
    with pytest.warns(RuntimeWarning, match="stale.*configuration"):
        _, history = tiny()
    assert history.source == "trained" and tiny.calls["train"] == 2


def test_stale_format_version_is_not_used(tiny):
    """Catches an entry of an older format being used."""
    tiny()
    _rewrite(cache_path("tiny-ae", tiny.config, data=DATA), format=CACHE_FORMAT_VERSION - 1)
    with pytest.warns(RuntimeWarning, match="stale.*format"):
        _, history = tiny()
    assert history.source == "trained"


def test_state_dict_that_does_not_fit_the_model_is_not_used(tiny):
    """Catches weights of another shape, or missing weights, loaded into the model."""
    tiny()
    path = cache_path("tiny-ae", tiny.config, data=DATA)
    state = torch.load(path, weights_only=True)["state_dict"]
    state["encoder.0.weight"] = torch.zeros(17, 784)
    _rewrite(path, state_dict=state)
    with pytest.warns(RuntimeWarning, match=r"stale.*encoder\.0\.weight.*\(17, 784\)"):
        _, history = tiny()
    assert history.source == "trained"
    del state["encoder.0.weight"]
    _rewrite(path, state_dict=state)
    with pytest.warns(RuntimeWarning, match="stale.*keys"):
        tiny()


def test_nan_weights_and_broken_history_are_not_used(tiny):
    """Catches NaN weights or a malformed history returned from the cache."""
    tiny()
    path = cache_path("tiny-ae", tiny.config, data=DATA)
    payload = torch.load(path, weights_only=True)
    state = dict(payload["state_dict"])
    state["decoder.0.bias"] = torch.full_like(state["decoder.0.bias"], float("nan"))
    _rewrite(path, state_dict=state)
    with pytest.warns(RuntimeWarning, match="damaged.*NaN"):
        tiny()
    _rewrite(path, history={"epoch_losses": [1.0]})
    with pytest.warns(RuntimeWarning, match="damaged.*history"):
        _, history = tiny()
    assert history.source == "trained" and tiny.calls["train"] == 3


def test_unsafe_pickle_is_refused(tiny):
    """Catches a cache file that runs code when loaded being accepted."""
    tiny()
    path = cache_path("tiny-ae", tiny.config, data=DATA)
    torch.save({"format": CACHE_FORMAT_VERSION, "object": nn.Linear(2, 2)}, path)  # needs full unpickling
    with pytest.warns(RuntimeWarning, match="unreadable"):
        _, history = tiny()
    assert history.source == "trained"


def test_interrupted_save_leaves_nothing_behind(tiny, cache_folder, monkeypatch):
    """Catches a half-written entry or a temporary file left after an interrupted save."""
    real_save = torch.save

    def save_half_then_fail(obj, f, *args, **kwargs):
        real_save(obj, f, *args, **kwargs)
        f.truncate(100)  # a half-written file on disk...
        raise KeyboardInterrupt  # ...then the reader presses stop

    monkeypatch.setattr(torch, "save", save_half_then_fail)
    with pytest.raises(KeyboardInterrupt):
        tiny()
    assert _files(cache_folder) == []  # no entry, no temporary file
    monkeypatch.setattr(torch, "save", real_save)

    def failing_replace(src, dst):
        raise OSError("disk full")

    real_replace = os.replace
    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        tiny()
    assert _files(cache_folder) == []
    monkeypatch.setattr(os, "replace", real_replace)
    _, history = tiny()  # and the next call trains and stores normally
    assert history.source == "trained" and len(_files(cache_folder)) == 1


def test_config_and_data_must_be_plain(tiny):
    """Catches a configuration that cannot be hashed reproducibly, data without an identity, a kind that
    escapes the folder, or a train callback that does not hand back a model and its history."""
    with pytest.raises(TypeError, match="plain JSON"):
        tiny({"seed": 1, "model": object()})
    for data in (None, "", b"digest"):
        with pytest.raises(TypeError, match="data must name the data"):
            cache_key("tiny-ae", tiny.config, data=data)
    with pytest.raises(ValueError, match="kind"):
        cache_path("../escape", {"seed": 1}, data=DATA)
    with pytest.raises(TypeError, match=r"train must return \(model, History\)"):
        load_or_train("bad", {"seed": 1}, lambda cfg: nn.Identity(), lambda cfg: History(), data=DATA)
