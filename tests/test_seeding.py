"""seed_everything: one call seeds every generator a chapter's code draws from."""

import random

import numpy as np
import pytest
import torch

from ae_helpers.seeding import seed_everything


def test_seed_everything_seeds_all_generators():
    """Catches a generator left unseeded (Python's, NumPy's or torch's)."""
    seed_everything(7)
    a = (random.random(), np.random.rand(), torch.rand(1).item())
    seed_everything(7)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == a
    seed_everything(np.int64(7))
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == a
    for bad in (1.5, True, "7"):
        with pytest.raises(TypeError, match="integer"):
            seed_everything(bad)
