"""ae_helpers.recipes: what each trained model is, its cache key, and the one way it is trained.

The pins below are the configurations (and keys) the chapters' calls produced before the
recipes became one type: every model a reader has in their cache was stored under them. A
change that moves one makes every reader train that model again, so it must be deliberate:
if it is (a new CACHE_FORMAT_VERSION, say), update the pin in the same commit.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from ae_helpers import data, recipes
from ae_helpers.cache import cache_path
from ae_helpers.judge import Classifier
from ae_helpers.measure import evaluate_mse, per_image_mse, reconstruct_all
from ae_helpers.models import AutoEncoder
from ae_helpers.recipes import KINDS, Recipe, trained_autoencoder, trained_autoencoder_without
from ae_helpers.recipes import trained_bce_autoencoder, trained_denoiser, trained_judge, trained_vae
from ae_helpers.uses import add_noise
from ae_helpers.vae import VAE

AE = {"hidden": [128, 64], "num_features": 784}
BCE = "bce-logits-sum:relu-log-sigmoid-abs"
PLAIN_50 = {"model": {**AE, "latent_dim": 50}, "seed": 42,
            "recipe": {"data": "mnist-train", "test": "mnist-test", "loss": "mse", "optimizer": "adam",
                       "epochs": 10, "batch_size": 256, "lr": 0.005, "shuffle": True}}

# (the chapter's call, its kind, the configuration it produced, its key at 2 threads). The keys moved once
# since the pins were taken, on purpose: CACHE_FORMAT_VERSION 3, whose histories keep the loss terms.
BOOK_CALLS = {
    "chapter 2: trained_autoencoder(2, epochs=10, batch_size=256, lr=0.005, seed=42)": (
        lambda: trained_autoencoder(2, epochs=10, batch_size=256, lr=0.005, seed=42), "autoencoder",
        {"model": {"hidden": [128, 64], "latent_dim": 2, "num_features": 784}, "seed": 42,
         "recipe": {"batch_size": 256, "data": "mnist-train", "epochs": 10, "loss": "mse", "lr": 0.005,
                    "optimizer": "adam", "shuffle": True, "test": "mnist-test"}},
        "e7122a75f67a170a69d3"),
    "chapter 5: trained_denoiser(50, noises=NOISES, epochs=1, seed=42)": (
        lambda: trained_denoiser(50, noises=[("gaussian", 0.5), ("mask", 0.5)], epochs=1, seed=42), "denoiser",
        {"model": {"hidden": [128, 64], "latent_dim": 50, "num_features": 784}, "seed": 42,
         "recipe": {"batch_size": 256, "data": "mnist-train-mixed-noise", "epochs": 1, "loss": "mse", "lr": 0.005,
                    "noise_seed": 0, "noises": [["gaussian", 0.5], ["mask", 0.5]], "optimizer": "adam",
                    "shuffle": True, "start": PLAIN_50, "targets": "clean", "test": "mnist-test"}},
        "3fcb9f7a3ecb8130c145"),
    "chapter 5: trained_autoencoder_without(8, 10, epochs=2, seed=42)": (
        lambda: trained_autoencoder_without(8, 10, epochs=2, seed=42), "autoencoder-without",
        {"model": {"hidden": [128, 64], "latent_dim": 10, "num_features": 784}, "seed": 42,
         "recipe": {"batch_size": 256, "data": "mnist-train-without", "epochs": 2, "loss": "mse", "lr": 0.005,
                    "optimizer": "adam", "shuffle": True, "test": "mnist-test-without", "without": [8]}},
        "9d49fbfaf43f6f6c0b99"),
    "chapter 6: trained_vae(50, seed=42)": (
        lambda: trained_vae(50, seed=42), "vae",
        {"model": {"hidden": [128, 64], "latent_dim": 50, "num_features": 784}, "seed": 42,
         "recipe": {"batch_size": 256, "beta": 1.0, "data": "mnist-train", "epochs": 10,
                    "loss": f"{BCE}+beta*kl", "lr": 0.001, "optimizer": "adam", "shuffle": True,
                    "test": "mnist-test"}},
        "db391bd8fea7b7b14536"),
    "chapter 6: trained_bce_autoencoder(50, seed=42)": (
        lambda: trained_bce_autoencoder(50, seed=42), "autoencoder-bce",
        {"model": {"hidden": [128, 64], "latent_dim": 50, "num_features": 784}, "seed": 42,
         "recipe": {"batch_size": 256, "data": "mnist-train", "epochs": 10, "loss": BCE, "lr": 0.001,
                    "optimizer": "adam", "shuffle": True, "test": "mnist-test"}},
        "af5334c7466374f5d18f"),
    "chapters 3, 4, 6: trained_judge()": (
        lambda: trained_judge(), "judge",
        {"model": {"hidden": [256], "num_classes": 10, "num_features": 784}, "seed": 42,
         "recipe": {"batch_size": 256, "data": "mnist-train", "epochs": 5, "loss": "cross-entropy+outlier-exposure",
                    "lr": 0.002, "optimizer": "adam", "outlier_weight": 0.5, "shuffle": True, "test": "mnist-test"}},
        "a85c7f48d0aa5b77e394"),
    "the VAE chapter's plain autoencoder at the VAE's rate: trained_autoencoder(50, lr=0.001, seed=42)": (
        lambda: trained_autoencoder(50, lr=0.001, seed=42), "autoencoder",
        {"model": {"hidden": [128, 64], "latent_dim": 50, "num_features": 784}, "seed": 42,
         "recipe": {"batch_size": 256, "data": "mnist-train", "epochs": 10, "loss": "mse", "lr": 0.001,
                    "optimizer": "adam", "shuffle": True, "test": "mnist-test"}},
        "2a19528be9324f8bd89b"),
}


@pytest.fixture
def recipe_of_call(monkeypatch):
    """Make the chapters' calls return the recipe they would train, instead of training it."""
    monkeypatch.setattr(recipes, "trained", lambda recipe, **call: recipe)
    return lambda call: call()


@pytest.fixture
def two_threads():
    """The key covers the thread count; the pins were taken at the book's 2 threads."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("call", list(BOOK_CALLS))
def test_the_chapters_calls_keep_the_cache_keys_of_the_stored_models(call, recipe_of_call, two_threads):
    """Catches a refactoring or a new option that silently changes a configuration, which would
    make every reader's cached model of that kind unreachable (and retrained)."""
    make, kind, config, key = BOOK_CALLS[call]
    recipe = recipe_of_call(make)
    assert recipe.kind == kind
    assert recipe.config() == config
    assert recipe.key() == key, "the configuration is unchanged, so the kind, the data digest or the format moved"


def test_every_kind_has_a_pinned_book_call():
    """Catches a new kind added without pinning its configuration above."""
    pinned = {kind for _, kind, _, _ in BOOK_CALLS.values()}
    assert pinned == set(KINDS)


def test_a_recipe_is_frozen_and_its_config_is_a_copy():
    """Catches a recipe that could be changed after its key was taken (the key would then lie)."""
    recipe = Recipe.of("vae", latent_dim=2)
    with pytest.raises(AttributeError):
        recipe.seed = 1  # type: ignore[misc]
    config = recipe.config()
    config["recipe"]["lr"] = 1.0
    config["model"]["latent_dim"] = 9
    assert recipe.config()["recipe"]["lr"] == 0.001 and recipe.config()["model"]["latent_dim"] == 2


def test_unknown_or_missing_options_are_refused_by_name():
    """Catches a typo (``epoch=``) silently training the default recipe instead of the one asked for."""
    with pytest.raises(TypeError, match=r"'autoencoder' model has no option 'epoch'; its options are .*epochs"):
        trained_autoencoder(2, epoch=3)
    with pytest.raises(TypeError, match="'judge' model has no option 'beta'"):
        trained_judge(beta=1.0)
    with pytest.raises(TypeError, match="'autoencoder-without' model needs digits"):
        Recipe.of("autoencoder-without", latent_dim=10)
    with pytest.raises(ValueError, match="unknown kind of model 'gan'"):
        Recipe.of("gan", latent_dim=2)
    with pytest.raises(ValueError, match="beta must be non-negative, got -1.0"):
        trained_vae(2, beta=-1.0)
    with pytest.raises(ValueError, match="outlier_weight must be non-negative"):
        trained_judge(outlier_weight=-1.0)
    with pytest.raises(ValueError, match="unknown noise kind 'blur'"):
        trained_denoiser(10, noises=[("blur", 1.0)])
    with pytest.raises(ValueError, match="digits must be one or more of 0-9"):
        trained_autoencoder_without(10)
    with pytest.raises(ValueError, match="digits must be one or more of 0-9"):
        trained_autoencoder_without([])


def test_the_key_covers_the_mnist_files(monkeypatch):
    """Catches a model trained on other MNIST files (another digest) taken for the book's: the recipe, not
    the cache, names the data."""
    recipe = Recipe.of("autoencoder", latent_dim=2)
    key = recipe.key()
    monkeypatch.setitem(data.MNIST_SHA256, "t10k-labels-idx1-ubyte", "0" * 64)
    assert recipe.key() != key


def test_options_that_change_the_model_change_the_key():
    """Catches an option that is accepted but left out of the configuration (two models, one entry)."""
    base = Recipe.of("denoiser", latent_dim=50)
    for changed in ({"noise_seed": 1}, {"noises": [("mask", 0.5)]}, {"from_autoencoder": False}, {"epochs": 2},
                    {"lr": 0.001}, {"batch_size": 128}, {"seed": 1}, {"hidden": (64, 32)}):
        assert Recipe.of("denoiser", latent_dim=50, **changed).key() != base.key(), changed
    assert Recipe.of("denoiser", latent_dim=50, from_autoencoder=False).config()["recipe"]["start"] == "random"
    vae = Recipe.of("vae", latent_dim=2)
    assert Recipe.of("vae", latent_dim=2, beta=0.5).key() != vae.key()
    # an int and a one-element list hold out the same digit: one model
    assert Recipe.of("autoencoder-without", digits=8, latent_dim=10).key() == \
        Recipe.of("autoencoder-without", digits=[8], latent_dim=10).key()


# --------------------------------------------------------------------------- training through the cache
# On 4,000 training and 1,000 test images (the small_mnist fixture): the wiring, in seconds.


def test_trained_autoencoder_trains_once_then_loads_the_same_model(small_mnist, tmp_path):
    """Catches a cache miss on the second call, a model built from other options than it was
    trained with, and a stored model other than the one returned."""
    model, history = trained_autoencoder(4, epochs=2, hidden=(32, 16), progress=False, cache=tmp_path)
    assert isinstance(model, AutoEncoder) and model.latent_dim == 4 and model.hidden == (32, 16)
    assert history.batches_per_epoch == 16 and len(history.test_mse) == 2 and history.source == "trained"
    assert not model.training
    again, cached = trained_autoencoder(4, epochs=2, hidden=(32, 16), progress=False, cache=tmp_path)
    assert cached.source == "cache" and cached == history
    assert all(torch.equal(v, again.state_dict()[k]) for k, v in model.state_dict().items())
    recipe = Recipe.of("autoencoder", latent_dim=4, epochs=2, hidden=(32, 16))
    assert [p.name for p in tmp_path.iterdir()] == [
        cache_path("autoencoder", recipe.config(), tmp_path, data=recipe.data_identity()).name]
    _, other = trained_autoencoder(4, epochs=2, hidden=(32, 16), seed=1, progress=False, cache=tmp_path)
    assert other.source == "trained"


def test_a_recipe_seeds_its_model_whatever_the_random_state(small_mnist, tmp_path):
    """Catches a model whose initial weights or batch order are not seeded by its recipe: trained again
    from an empty cache, after other random draws, it would differ; with another seed it must."""
    def weights(folder, **options):
        torch.manual_seed(len(str(folder)))  # some other random state before each training
        torch.rand(100)
        model, history = trained_autoencoder(4, epochs=1, hidden=(32, 16), progress=False, cache=folder, **options)
        assert history.source == "trained"
        return model.state_dict()

    first, again = weights(tmp_path / "a"), weights(tmp_path / "second")
    assert all(torch.equal(v, again[k]) for k, v in first.items())
    other = weights(tmp_path / "c", seed=1)
    assert not torch.equal(first["encoder.0.weight"], other["encoder.0.weight"])


def test_trained_denoiser_learns_to_remove_noise(small_mnist, tmp_path):
    """Catches a denoiser trained on clean inputs (or towards noisy targets): it would not denoise."""
    _, (xte, _) = small_mnist
    model, history = trained_denoiser(10, epochs=2, from_autoencoder=False, progress=False, cache=tmp_path)
    assert history.source == "trained" and len(history.test_losses) == 2
    assert [p.name.split("-")[0] for p in tmp_path.glob("*.pt")] == ["denoiser"], "no plain autoencoder needed"
    noisy = add_noise(xte, "gaussian", 0.5, seed=1)
    noisy_mse = per_image_mse(noisy, xte).mean()
    denoised_mse = per_image_mse(reconstruct_all(model, noisy), xte).mean()
    assert denoised_mse < 0.6 * noisy_mse, (denoised_mse, noisy_mse)
    again, cached = trained_denoiser(10, epochs=2, from_autoencoder=False, progress=False, cache=tmp_path)
    assert cached.source == "cache" and cached.test_losses == history.test_losses
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))


def test_trained_denoiser_starts_from_the_plain_autoencoder(small_mnist, tmp_path):
    """Catches a denoiser that starts from random weights, or from another model than the cached
    plain autoencoder its configuration names."""
    _, (xte, _) = small_mnist
    unchanged, _ = trained_denoiser(10, epochs=0, progress=False, cache=tmp_path)
    plain, plain_history = trained_autoencoder(10, progress=False, cache=tmp_path)
    assert plain_history.source == "cache", "the denoiser trained (and stored) the plain autoencoder first"
    assert all(torch.equal(a, b) for a, b in zip(unchanged.state_dict().values(), plain.state_dict().values()))
    model, _ = trained_denoiser(10, epochs=3, progress=False, cache=tmp_path)
    noisy = add_noise(xte, "mask", 0.5, seed=1)
    plain_mse = per_image_mse(reconstruct_all(plain, noisy), xte).mean()
    assert per_image_mse(reconstruct_all(model, noisy), xte).mean() < 0.8 * plain_mse, \
        "a few epochs on noisy inputs make the plain autoencoder a better denoiser"


def test_trained_autoencoder_without_never_sees_the_digit(small_mnist, tmp_path, monkeypatch):
    """Catches the held-out digit leaking into the training or the test images."""
    (xtr, ytr), (xte, yte) = small_mnist
    seen = []
    real_fit = recipes.fit

    def spy(model, train_images, **kwargs):
        seen.append((train_images, kwargs["test_images"]))
        return real_fit(model, train_images, **kwargs)

    monkeypatch.setattr(recipes, "fit", spy)
    _, history = trained_autoencoder_without(8, epochs=2, progress=False, cache=tmp_path)
    (train_seen, test_seen), = seen
    assert len(train_seen) == int((ytr != 8).sum()) and len(test_seen) == int((yte != 8).sum())
    assert history.source == "trained" and len(history.test_mse) == 2
    _, cached = trained_autoencoder_without([8], epochs=2, progress=False, cache=tmp_path)
    assert cached.source == "cache" and len(seen) == 1, "an int and a one-element list are the same model"
    trained_autoencoder_without([8, 3], epochs=2, progress=False, cache=tmp_path)
    assert len(seen) == 2 and len(seen[1][0]) == int(((ytr != 8) & (ytr != 3)).sum())


def test_trained_vae_uses_its_loss_and_beta(small_mnist, tmp_path, monkeypatch):
    """Catches a VAE trained with the plain autoencoder's loss, or with another beta than its key says."""
    _, (xte, _) = small_mnist
    betas = []
    real_loss = recipes.KINDS["vae"].loss_fn

    def spy(model, xb, yb=None, *, beta):
        betas.append(beta)
        return real_loss(model, xb, yb, beta=beta)

    monkeypatch.setitem(recipes.KINDS, "vae", dataclasses.replace(recipes.KINDS["vae"], loss_fn=spy))
    model, history = trained_vae(2, epochs=1, beta=0.5, progress=False, cache=tmp_path)
    assert isinstance(model, VAE) and history.source == "trained" and set(betas) == {0.5}
    assert len(list(tmp_path.glob("vae-*.pt"))) == 1
    assert len(history.test_mse) == 1 and history.test_losses[0] > 50, "nats per image, not a per-pixel MSE"
    assert history.test_mse[0] == pytest.approx(evaluate_mse(model, xte), rel=1e-6)
    again, cached = trained_vae(2, epochs=1, beta=0.5, progress=False, cache=tmp_path)
    assert cached.source == "cache"
    assert all(torch.equal(v, again.state_dict()[k]) for k, v in model.state_dict().items())


def test_trained_bce_autoencoder_is_a_plain_autoencoder_with_the_vaes_loss(small_mnist, tmp_path):
    """Catches the control trained with MSE (its test loss would be a per-pixel error) or as a VAE."""
    _, (xte, _) = small_mnist
    model, history = trained_bce_autoencoder(3, epochs=2, progress=False, cache=tmp_path)
    assert type(model) is AutoEncoder and history.source == "trained"
    assert len(list(tmp_path.glob("autoencoder-bce-*.pt"))) == 1
    assert history.test_losses[-1] < history.test_losses[0] and history.test_losses[-1] > 50
    assert history.test_mse[-1] == pytest.approx(evaluate_mse(model, xte), rel=1e-6)
    _, cached = trained_bce_autoencoder(3, epochs=2, progress=False, cache=tmp_path)
    assert cached.source == "cache"


def test_trained_judge_learns_the_labels(small_mnist, tmp_path):
    """Catches a judge trained without its labels (as a reconstruction task) or not stored."""
    model, history = trained_judge(epochs=2, progress=False, cache=tmp_path)
    assert isinstance(model, Classifier) and history.source == "trained"
    assert len(history.test_losses) == 2 and not history.test_mse, "a classifier, not a reconstruction"
    assert history.test_losses[-1] < 0.7, "test cross-entropy well below chance's log(10) = 2.3"
    assert len(list(tmp_path.glob("judge-*.pt"))) == 1
    again, cached = trained_judge(epochs=2, progress=False, cache=tmp_path)
    assert cached.source == "cache"
    assert all(torch.equal(v, again.state_dict()[k]) for k, v in model.state_dict().items())
