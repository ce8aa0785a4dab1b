"""ae_helpers.timing: the tutorial DataLoader of chapter 1's comparison, and the timer."""

from __future__ import annotations

import time

import pytest
import torch

from ae_helpers.timing import time_batches, torchvision_loader


def test_torchvision_loader_gives_the_same_pixels_as_load_mnist(mnist_test_small):
    """Catches a comparison that times another data set, order or scaling than the book trains on."""
    x, y = mnist_test_small
    batches = list(torchvision_loader("test", batch_size=8, limit=20))
    assert [len(b[0]) for b in batches] == [8, 8, 4]
    assert torch.equal(torch.cat([b[0] for b in batches]), x[:20])
    assert torch.equal(torch.cat([b[1] for b in batches]), y[:20])
    with pytest.raises(ValueError, match="split must be 'train' or 'test'"):
        torchvision_loader("valid")


def test_time_batches_times_every_batch_at_one_thread():
    """Catches a timer that stops early, leaves batches unread, times at another thread count
    than it says, or leaves PyTorch's thread count changed afterwards."""
    seen, threads = [], []

    def slow_batches():
        for i in range(3):
            threads.append(torch.get_num_threads())
            time.sleep(0.05)
            seen.append(i)
            yield (torch.ones(2, 2), torch.zeros(2)) if i else torch.ones(2, 2)

    before = torch.get_num_threads()
    seconds = time_batches(slow_batches())
    assert seen == [0, 1, 2] and threads == [1, 1, 1]
    assert 0.15 <= seconds < 5.0
    assert torch.get_num_threads() == before
    time_batches(iter([torch.ones(1)]), threads=None)
    assert torch.get_num_threads() == before
