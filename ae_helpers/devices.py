"""Where a model runs: the device to train on (an explicit choice, the CPU by default) and the
device a model's weights are on.

Both training (:mod:`ae_helpers.training`) and measuring (:mod:`ae_helpers.measure`) take a
``device`` argument; this module is the one place it is understood.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["pick_device", "model_device"]


def pick_device(prefer: str | torch.device | None = None) -> torch.device:
    """The device to train on: the CPU unless asked otherwise.

    ``prefer`` is ``None`` or ``"cpu"`` (the CPU), ``"auto"`` (CUDA if present, then Apple's
    MPS, then the CPU), or ``"cuda"``/``"cuda:N"``/``"mps"`` (that device; an error if absent).
    """
    if prefer is None:
        return torch.device("cpu")
    if isinstance(prefer, torch.device):
        prefer = str(prefer)
    choice = prefer.strip().lower()
    mps_ok = hasattr(torch.backends, "mps") and torch.backends.mps.is_available()
    if choice == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if mps_ok else torch.device("cpu")
    if choice == "cpu":
        return torch.device("cpu")
    if choice.startswith("cuda"):
        if not torch.cuda.is_available():
            raise RuntimeError(f"device {prefer!r} asked for but CUDA is not available here; "
                               "use device='cpu' (or 'auto' to take a GPU only when present)")
        device = torch.device(choice)
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise RuntimeError(f"device {prefer!r} asked for but only {torch.cuda.device_count()} "
                               "CUDA device(s) exist; use 'cuda:0' or 'auto'")
        return device
    if choice == "mps":
        if not mps_ok:
            raise RuntimeError(f"device {prefer!r} asked for but Apple's MPS is not available here; "
                               "use device='cpu' (or 'auto' to take a GPU only when present)")
        return torch.device("mps")
    raise ValueError(f"unknown device {prefer!r}; use 'cpu', 'cuda', 'mps' or 'auto'")


def model_device(model: nn.Module) -> torch.device:
    """The device of ``model``'s first parameter (the CPU for a model without parameters)."""
    for tensor in model.parameters():
        return tensor.device
    return torch.device("cpu")
