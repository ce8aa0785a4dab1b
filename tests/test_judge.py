"""Tests for the judge (digit classifier) and the digit-likeness score."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from ae_helpers.data import load_mnist
from ae_helpers.judge import (
    Classifier,
    DigitLikeness,
    classifier_loss,
    digit_likeness,
    judge_accuracy,
    judge_loss,
    predict_proba,
)
from ae_helpers.recipes import trained_judge
from ae_helpers.seeding import seed_everything
from ae_helpers.training import fit


class _Lookup(nn.Module):
    """A fake judge: the first pixel times 10 is the class it predicts, with logit ``scale``."""

    def __init__(self, scale: float):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(float(scale)), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k = torch.round(x.reshape(x.shape[0], -1)[:, 0] * 10).long()
        return self.scale * nn.functional.one_hot(k, 10).float()


def _images_of_classes(classes: list[int]) -> torch.Tensor:
    x = torch.zeros(len(classes), 1, 28, 28)
    x[:, 0, 0, 0] = torch.tensor(classes, dtype=torch.float32) / 10
    return x


@pytest.fixture(scope="module")
def judge() -> Classifier:
    """The book's judge, from the test run's own model cache (conftest.py at the root; trained
    there first if missing, in seconds, and shared with chapters 3, 4 and 6 under nbval)."""
    model, _ = trained_judge(progress=False)
    return model


@pytest.fixture(scope="module")
def test_set() -> tuple[torch.Tensor, torch.Tensor]:
    """All 10,000 MNIST test images and their labels."""
    return load_mnist("test")


def test_entropy_and_confidence_on_known_predictions():
    """Catches a digit-likeness score that miscounts confident calls or computes the class entropy wrongly."""
    balanced = _images_of_classes([k for k in range(10) for _ in range(7)])
    score = digit_likeness(_Lookup(20.0), balanced)
    assert score.confident == 1.0
    assert score.class_entropy == pytest.approx(math.log(10), abs=1e-12)
    assert score.counts == (7,) * 10 and score.n == 70
    one_class = digit_likeness(_Lookup(20.0), _images_of_classes([3] * 12))
    assert one_class.class_entropy == 0.0 and math.copysign(1, one_class.class_entropy) == 1
    two = digit_likeness(_Lookup(20.0), _images_of_classes([1, 1, 8, 8]))
    assert two.class_entropy == pytest.approx(math.log(2))
    # logit 1 over 9 zeros: top probability e / (e + 9) = 0.23, below the 0.9 threshold
    unsure = digit_likeness(_Lookup(1.0), balanced)
    assert unsure.confident == 0.0 and unsure.class_entropy == pytest.approx(math.log(10))
    assert digit_likeness(_Lookup(1.0), balanced, threshold=0.2).confident == 1.0
    assert unsure.line("vae") == "samples model=vae confident=0.000 class_entropy=2.303"
    with pytest.raises(ValueError, match="threshold"):
        digit_likeness(_Lookup(1.0), balanced, threshold=0.0)


def test_confident_se_is_the_binomial_standard_error():
    """Catches a standard error that does not match the real spread of the fraction."""
    score = DigitLikeness(confident=0.25, class_entropy=0.0, counts=(100,) + (0,) * 9, threshold=0.9, n=100)
    assert score.confident_se == pytest.approx(math.sqrt(0.25 * 0.75 / 100))
    assert DigitLikeness(1.0, 0.0, (4,) + (0,) * 9, 0.9, 4).confident_se == 0.0
    # it matches the spread of the fraction over many independent batches
    g = torch.Generator().manual_seed(0)
    fractions = (torch.rand(4000, 400, generator=g) < 0.3).double().mean(1)
    one = DigitLikeness(float(fractions[0]), 0.0, (400,) + (0,) * 9, 0.9, 400)
    assert float(fractions.std()) == pytest.approx(one.confident_se, rel=0.05)


def test_classifier_shapes_and_errors():
    """Catches a classifier that mis-shapes its input or output, or probabilities that do not sum to 1."""
    model = Classifier()
    assert model(torch.rand(4, 1, 28, 28)).shape == (4, 10)
    assert model(torch.rand(4, 784)).shape == (4, 10)
    with pytest.raises(ValueError, match="784 values per image, got 100"):
        model(torch.rand(2, 100))
    with pytest.raises(ValueError, match="train_targets"):
        classifier_loss(model, torch.rand(2, 784), None)
    assert Classifier(**model.config()).config() == model.config()
    probs = predict_proba(model, torch.rand(5, 784))
    assert probs.shape == (5, 10) and torch.allclose(probs.sum(1), torch.ones(5))
    with pytest.raises(ValueError, match="differ in length"):
        judge_accuracy(model, torch.rand(3, 784), torch.zeros(2, dtype=torch.long))


def test_judge_loss_adds_the_outlier_term_only_in_training():
    """Catches the outlier term missing in training or leaking into the test loss."""
    torch.manual_seed(0)
    model = Classifier()
    xb, yb = torch.rand(8, 784), torch.randint(0, 10, (8,))
    model.eval()
    assert torch.equal(judge_loss(model, xb, yb), classifier_loss(model, xb, yb))
    model.train()
    with torch.no_grad():
        assert float(judge_loss(model, xb, yb)) > float(classifier_loss(model, xb, yb))
        assert torch.equal(judge_loss(model, xb, yb, outlier_weight=0.0), classifier_loss(model, xb, yb))


def test_training_lowers_the_classification_loss_on_real_digits():
    """Catches a judge loss that does not train a classifier."""
    x, y = load_mnist("train")
    x, y = x[:2000], y[:2000]
    seed_everything(0)
    model = Classifier()
    history = fit(model, x, train_targets=y, epochs=5, lr=1e-3, batch_size=128, loss_fn=judge_loss,
                  progress=False)
    assert history.epoch_losses[-1] < 0.5 * history.epoch_losses[0]
    assert judge_accuracy(model, x, y) > 0.9


def test_the_judge_reaches_97_percent_on_the_test_set(judge, test_set):
    """Catches a judge too weak to tell the chapters' digits apart."""
    images, labels = test_set
    assert judge_accuracy(judge, images, labels) >= 0.97


def test_score_is_one_for_confidently_right_digits_and_low_for_noise(judge, test_set):
    """Catches a judge that is confident about noise, or not about clear digits."""
    images, labels = test_set
    probs = predict_proba(judge, images)
    top, pred = probs.max(1)
    good = (pred == labels) & (top >= 0.9)
    assert good.float().mean() > 0.9
    # 100 confidently right images of each digit
    picked = torch.cat([torch.nonzero(good & (labels == d)).flatten()[:100] for d in range(10)])
    score = digit_likeness(judge, images[picked])
    assert isinstance(score, DigitLikeness)
    assert score.confident == 1.0
    assert score.class_entropy == pytest.approx(math.log(10))
    noise = digit_likeness(judge, torch.rand(1000, 1, 28, 28, generator=torch.Generator().manual_seed(0)))
    assert noise.confident < 0.05
    assert noise.class_entropy < 1.0
