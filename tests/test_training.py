"""fit, History, devices and the evaluation helpers, on small slices of real MNIST."""

import json
import math

import pytest
import torch
import torch.nn.functional as F

from ae_helpers.measure import evaluate_mse
from ae_helpers.models import AutoEncoder
from ae_helpers.training import (
    History,
    TrainingDiverged,
    evaluate_terms,
    fit,
    fused_adam_works,
    make_adam,
    reconstruction_loss,
)
from ae_helpers.seeding import seed_everything


@pytest.fixture(scope="module")
def small(mnist_train_small):
    """1,000 real training images and labels."""
    return mnist_train_small[0][:1000], mnist_train_small[1][:1000]


def _trained(images, *, seed=42, epochs=2, **kw):
    seed_everything(seed)
    model = AutoEncoder(latent_dim=5)
    history = fit(model, images, epochs=epochs, seed=seed, progress=False, **kw)
    return model, history


def test_history_fields_and_loss_goes_down(small, mnist_test_small):
    """Catches a History that miscounts batches or epochs, mis-weights the last batch, or records no
    learning."""
    images, _ = small
    test_images = mnist_test_small[0][:300]
    model, history = _trained(images, epochs=3, batch_size=128, test_images=test_images)
    assert history.batches_per_epoch == 8  # ceil(1000 / 128)
    assert len(history.batch_losses) == 3 * 8
    assert len(history.epoch_losses) == len(history.test_losses) == len(history.test_mse) == 3
    assert len(history.epoch_seconds) == 3 and all(s > 0 for s in history.epoch_seconds)
    assert history.wall_seconds >= sum(history.epoch_seconds)
    assert history.source == "trained"
    # the epoch loss is the size-weighted mean of its batch losses (last batch holds 104)
    sizes = [128] * 7 + [104]
    first = sum(v * s for v, s in zip(history.batch_losses[:8], sizes)) / 1000
    assert history.epoch_losses[0] == pytest.approx(first)
    # training lowers the loss, on the training data and on unseen test images
    assert history.epoch_losses[-1] < 0.8 * history.epoch_losses[0]
    assert history.test_mse[-1] < history.test_mse[0]
    assert history.test_mse[-1] == pytest.approx(evaluate_mse(model, test_images), rel=1e-6)
    assert history.test_losses[-1] == pytest.approx(history.test_mse[-1], rel=1e-5)
    assert not model.training  # fit leaves the model ready for use


def test_untrained_model_is_worse_than_trained(small, mnist_test_small):
    """Catches a fit that does not train the model it is given."""
    test_images = mnist_test_small[0][:300]
    seed_everything(42)
    untrained = evaluate_mse(AutoEncoder(latent_dim=5), test_images)
    model, _ = _trained(small[0], epochs=2)
    assert evaluate_mse(model, test_images) < 0.5 * untrained


def test_two_seeded_runs_are_bit_identical(small):
    """Catches training that is not reproducible from its seed."""
    a, ha = _trained(small[0], epochs=2)
    b, hb = _trained(small[0], epochs=2)
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(pa, pb), name
    assert ha.batch_losses == hb.batch_losses
    c, _ = _trained(small[0], epochs=2, seed=43)
    assert not torch.equal(a.state_dict()["encoder.0.weight"], c.state_dict()["encoder.0.weight"])


def test_shuffling_changes_with_the_fit_seed_only(small):
    """Catches a fit that ignores its seed when shuffling."""
    seed_everything(0)
    m1 = AutoEncoder(latent_dim=5)
    m2 = AutoEncoder(latent_dim=5)
    m2.load_state_dict(m1.state_dict())
    h1 = fit(m1, small[0], epochs=1, seed=1, progress=False)
    h2 = fit(m2, small[0], epochs=1, seed=2, progress=False)
    assert h1.batch_losses[0] != h2.batch_losses[0]  # different batches from the same weights


def test_fit_does_not_touch_the_global_random_state(small):
    """Catches fit moving torch's global generator (a chapter's later draws would change)."""
    torch.manual_seed(5)
    model = AutoEncoder(latent_dim=2)
    state = torch.get_rng_state()
    fit(model, small[0][:300], epochs=2, progress=False)  # shuffles with its own generator
    assert torch.equal(torch.get_rng_state(), state)


def test_huge_learning_rate_stops_with_a_clear_error(small):
    """Catches a diverged run continuing with NaN weights instead of stopping with the fix."""
    seed_everything(0)
    model = AutoEncoder(latent_dim=5)
    with pytest.raises(TrainingDiverged, match=r"loss is nan at epoch 1, batch \d of 4.*learning rate.*lr=1e\+10"):
        fit(model, small[0], epochs=3, progress=False, lr=1e10)


def test_infinite_loss_stops_too(small):
    """Catches an infinite loss not treated as divergence."""
    seed_everything(0)
    model = AutoEncoder(latent_dim=5)

    def exploding(model, xb, yb):
        return F.mse_loss(model(xb), xb) * 1e39  # overflows float32 to inf

    with pytest.raises(TrainingDiverged, match=r"epoch 1, batch 1 of 4.*learning rate.*lr=1"):
        fit(model, small[0], epochs=2, progress=False, loss_fn=exploding, lr=10.0)


def test_nan_in_the_data_stops_naming_epoch_and_batch(small):
    """Catches NaN in the data surfacing as a diverged run without saying where."""
    images = small[0][:600].clone().reshape(600, -1)
    seed_everything(0)
    model = AutoEncoder(latent_dim=5)
    # batch_size 600: one batch per epoch; a NaN anywhere shows up in it
    images[123, 45] = float("nan")
    with pytest.raises(TrainingDiverged, match="epoch 1, batch 1 of 1"):
        fit(model, images, epochs=3, batch_size=600, progress=False)


def test_divergence_later_in_training_names_the_right_batch(small):
    """Catches a divergence reported at the wrong epoch or batch."""
    seed_everything(0)
    model = AutoEncoder(latent_dim=5)
    calls = {"n": 0}

    def nan_on_call_7(model, xb, yb):
        calls["n"] += 1
        loss = F.mse_loss(model(xb), xb)
        return loss * float("nan") if calls["n"] == 7 else loss

    with pytest.raises(TrainingDiverged, match="epoch 2, batch 3 of 4"):
        fit(model, small[0], epochs=3, progress=False, loss_fn=nan_on_call_7)


def test_custom_loss_with_targets_trains_a_classifier(small):
    """Catches a loss_fn or targets ignored by fit, or a classifier's history recording a reconstruction
    error."""
    images, labels = small
    seed_everything(0)
    classifier = torch.nn.Sequential(torch.nn.Linear(784, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))

    def cross_entropy(model, xb, yb):
        return F.cross_entropy(model(xb), yb)

    history = fit(classifier, images, train_targets=labels, test_images=images[:200],
                  test_targets=labels[:200], epochs=3, loss_fn=cross_entropy, progress=False)
    assert history.test_mse == []  # targets given: not a reconstruction task
    assert len(history.test_losses) == 3
    assert history.test_losses[-1] < history.test_losses[0]
    accuracy = (classifier(images[:200].reshape(200, -1)).argmax(1) == labels[:200]).float().mean()
    assert accuracy > 0.7


def test_mismatched_targets_and_bad_arguments_are_refused(small):
    """Catches fit starting on targets of another length, a zero learning rate or no images."""
    model = AutoEncoder(latent_dim=2)
    with pytest.raises(ValueError, match="1000 images but targets 5"):
        fit(model, small[0], train_targets=small[1][:5], progress=False)
    with pytest.raises(ValueError, match="lr > 0"):
        fit(model, small[0], lr=0, progress=False)
    with pytest.raises(ValueError, match="at least one image"):
        fit(model, small[0][:0], progress=False)


def test_history_round_trips_through_json(small):
    """Catches a cached history that comes back different, or a malformed one accepted."""
    _, history = _trained(small[0][:300], epochs=2)
    again = History.from_dict(json.loads(json.dumps(history.to_dict())))
    assert again == history
    assert "source" not in history.to_dict()
    assert History.from_dict(history.to_dict(), source="cache").source == "cache"
    assert again.seconds_per_epoch == pytest.approx(sum(history.epoch_seconds) / 2)  # median of two
    broken = history.to_dict()
    broken["epoch_losses"] = ["x"]
    with pytest.raises(ValueError, match="epoch_losses"):
        History.from_dict(broken)
    with pytest.raises(ValueError, match="missing"):
        History.from_dict({"batch_losses": []})
    assert math.isnan(History().seconds_per_epoch)


def test_evaluate_terms_is_the_loss_over_all_images_and_restores_mode(trained_ae_2d, mnist_test_small):
    """Catches a test loss that mis-weights an uneven last batch, ignores its targets, or leaves
    the model in eval mode (``fit`` records it as ``History.test_losses``)."""
    images = mnist_test_small[0][:500]
    model = trained_ae_2d
    with torch.no_grad():
        direct = F.mse_loss(model(images), images).item()
        to_zeros = F.mse_loss(model(images), torch.zeros_like(images)).item()
    model.train()
    try:
        assert evaluate_terms(model, images, batch_size=64)["loss"] == pytest.approx(direct, rel=1e-5)
        assert model.training
    finally:
        model.eval()
    zeros = torch.zeros(500, 784)
    assert evaluate_terms(model, images, zeros, batch_size=64)["loss"] == pytest.approx(to_zeros, rel=1e-5)


def test_reconstruction_loss_uses_targets_when_given(trained_ae_2d, mnist_test_small):
    """Catches a denoiser trained towards its noisy inputs instead of the clean targets."""
    x = mnist_test_small[0][:50].reshape(50, -1)
    with torch.no_grad():
        assert reconstruction_loss(trained_ae_2d, x, None) == F.mse_loss(trained_ae_2d(x), x)
        zeros = torch.zeros_like(x)
        assert reconstruction_loss(trained_ae_2d, x, zeros) == F.mse_loss(trained_ae_2d(x), zeros)


def test_progress_bar_shows_on_stderr(small, capsys):
    """Catches progress bars that pollute a cell's output (stdout) or show when turned off."""
    seed_everything(0)
    fit(AutoEncoder(latent_dim=2), small[0][:300], epochs=2, progress=True, desc="tiny run")
    captured = capsys.readouterr()
    assert "tiny run" in captured.err and captured.out == ""
    fit(AutoEncoder(latent_dim=2), small[0][:300], epochs=1, progress=False)
    assert capsys.readouterr().err == ""


# --------------------------------------------------------------------------- the loop itself


def test_fit_is_the_plain_loop_the_book_shows(small):
    """fit's epoch equals the loop chapter 2 prints, written out here with public PyTorch only."""
    images = small[0][:700]
    seed_everything(11)
    model = AutoEncoder(latent_dim=3)
    history = fit(model, images, epochs=2, batch_size=100, lr=0.005, seed=11, progress=False)

    seed_everything(11)
    by_hand = AutoEncoder(latent_dim=3)
    x = images.reshape(len(images), -1)
    optimizer = torch.optim.Adam(by_hand.parameters(), lr=0.005, fused=fused_adam_works("cpu") or None)
    generator = torch.Generator().manual_seed(11)
    losses = []
    for _ in range(2):
        order = torch.randperm(len(x), generator=generator)
        for start in range(0, len(x), 100):
            xb = x[order[start:start + 100]]
            loss = F.mse_loss(by_hand(xb), xb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    assert history.batch_losses == losses
    for (name, a), b in zip(model.state_dict().items(), by_hand.state_dict().values()):
        assert torch.equal(a, b), name
    assert history.epoch_losses[0] == pytest.approx(sum(losses[:7]) / 7, rel=1e-12)


def test_epoch_loss_weights_a_short_last_batch_by_its_size(small):
    """Catches an epoch loss that counts a short last batch as a full one."""
    _, history = _trained(small[0][:250], epochs=1, batch_size=100)
    a, b, c = history.batch_losses
    assert history.batches_per_epoch == 3
    assert history.epoch_losses[0] == pytest.approx((100 * a + 100 * b + 50 * c) / 250, rel=1e-12)


def test_fused_adam_probe_finds_the_cpu_kernel_and_make_adam_uses_it():
    """Catches a probe that says no where the fused kernel works (training would be slower than
    measured), a probe that raises instead of saying no, and make_adam ignoring the probe."""
    # torch 2.4, the lowest version pyproject.toml allows, brought the fused kernel to the CPU
    assert fused_adam_works("cpu") is True
    assert fused_adam_works("no-such-device") is False
    hits = fused_adam_works.cache_info().hits
    fused_adam_works("cpu")
    assert fused_adam_works.cache_info().hits == hits + 1, "probed once per device, then remembered"
    params = [torch.zeros(3, requires_grad=True)]
    adam = make_adam(params, lr=0.01)
    assert isinstance(adam, torch.optim.Adam)
    assert adam.defaults["lr"] == 0.01 and adam.defaults["fused"] is True
    params[0].grad = torch.ones(3)
    adam.step()
    assert torch.all(params[0] < 0)
