"""ae_helpers.devices: the device to train on (the CPU unless asked) and the device a model is on."""

from __future__ import annotations

import pytest
import torch

from ae_helpers.devices import model_device, pick_device


def _machine(monkeypatch, *, cuda: bool, mps: bool) -> None:
    """Pretend this machine has (or lacks) CUDA and Apple's MPS."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1 if cuda else 0)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)


def test_the_cpu_unless_asked_otherwise():
    """Catches a device chosen as a side effect (a GPU taken because it is there) instead of asked for."""
    assert pick_device() == torch.device("cpu")
    assert pick_device("cpu") == pick_device(" CPU ") == pick_device(torch.device("cpu")) == torch.device("cpu")


@pytest.mark.parametrize("cuda, mps, expected", [(True, True, "cuda"), (False, True, "mps"), (False, False, "cpu")])
def test_auto_prefers_cuda_then_mps_then_the_cpu(monkeypatch, cuda, mps, expected):
    """Catches "auto" passing over a GPU that is there, or picking one that is not."""
    _machine(monkeypatch, cuda=cuda, mps=mps)
    assert pick_device("auto") == torch.device(expected)


def test_an_absent_device_is_an_error_that_says_what_to_use(monkeypatch):
    """Catches a silent fall-back to the CPU when a GPU was asked for by name, and unknown names."""
    _machine(monkeypatch, cuda=False, mps=False)
    with pytest.raises(RuntimeError, match="CUDA is not available.*device='cpu'"):
        pick_device("cuda")
    with pytest.raises(RuntimeError, match="MPS is not available"):
        pick_device("mps")
    _machine(monkeypatch, cuda=True, mps=False)
    assert pick_device("cuda:0") == torch.device("cuda:0")
    with pytest.raises(RuntimeError, match="only 1 CUDA device"):
        pick_device("cuda:3")
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        pick_device("tpu")


def test_model_device_is_where_the_weights_are():
    """Catches a model measured on another device than its weights (the CPU assumed)."""
    assert model_device(torch.nn.Linear(2, 2)) == torch.device("cpu")
    assert model_device(torch.nn.Linear(2, 2, device="meta")) == torch.device("meta")
    assert model_device(torch.nn.ReLU()) == torch.device("cpu"), "no weights: the CPU"
