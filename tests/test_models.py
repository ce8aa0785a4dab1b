"""AutoEncoder: shapes, the range of decoded pixels, the wrong-size errors, the config round trip."""

import pytest
import torch

from ae_helpers.models import AutoEncoder, mlp


@pytest.mark.parametrize("latent", [2, 5, 50])
def test_shapes_follow_the_recipe(latent):
    """Catches layer sizes other than the book's recipe, or outputs of another shape than the input."""
    torch.manual_seed(0)
    model = AutoEncoder(latent_dim=latent)
    images = torch.rand(7, 1, 28, 28)
    codes = model.encode(images)
    assert codes.shape == (7, latent)
    assert model.encode(images.reshape(7, 784)).shape == (7, latent)
    pixels = model.decode(codes)
    assert pixels.shape == (7, 784)
    assert model(images).shape == images.shape
    assert model(images.reshape(7, 784)).shape == (7, 784)
    sizes = [m.out_features for m in model.encoder if isinstance(m, torch.nn.Linear)]
    assert sizes == [128, 64, latent]
    sizes = [m.out_features for m in model.decoder if isinstance(m, torch.nn.Linear)]
    assert sizes == [64, 128, 784]


def test_decoded_pixels_lie_in_unit_interval():
    """Catches decoded pixels outside [0, 1] (no final sigmoid)."""
    torch.manual_seed(0)
    model = AutoEncoder(latent_dim=2)
    pixels = model.decode(torch.randn(100, 2) * 50)
    assert pixels.min() >= 0 and pixels.max() <= 1


def test_decode_wrong_size_names_both_sizes():
    """Catches codes of the wrong size failing deep inside a matrix product."""
    model = AutoEncoder(latent_dim=5)
    with pytest.raises(ValueError, match=r"size 5.*\(3, 2\)"):
        model.decode(torch.zeros(3, 2))


def test_encode_wrong_size_is_a_clear_error():
    """Catches images of the wrong size failing deep inside a matrix product."""
    model = AutoEncoder(latent_dim=5)
    with pytest.raises(ValueError, match="784 values per image, got 100"):
        model.encode(torch.zeros(3, 100))


def test_bad_sizes_are_refused():
    """Catches an autoencoder with an empty bottleneck being built."""
    with pytest.raises(ValueError, match="latent_dim=0"):
        AutoEncoder(latent_dim=0)


def test_config_rebuilds_the_same_architecture():
    """Catches a config that rebuilds another architecture (cached weights would not load)."""
    model = AutoEncoder(latent_dim=10, hidden=(32, 16))
    again = AutoEncoder(**model.config())
    assert {k: v.shape for k, v in model.state_dict().items()} == {
        k: v.shape for k, v in again.state_dict().items()}


def test_mlp_puts_relu_between_layers_only():
    """Catches a ReLU after the last layer (it would clip the code or the logits)."""
    net = mlp([4, 3, 2], final=torch.nn.Sigmoid())
    kinds = [type(m).__name__ for m in net]
    assert kinds == ["Linear", "ReLU", "Linear", "Sigmoid"]
