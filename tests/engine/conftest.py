"""Shared fixtures for the engine tests."""
import pytest
import torch


@pytest.fixture
def one_torch_thread():
    """Small tensors: more threads only add contention (and other test runs share the CPU).
    Modules opt in with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
