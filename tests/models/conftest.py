"""Fixtures shared by the model tests."""
from __future__ import annotations

import pytest
import torch


@pytest.fixture
def images():
    return torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
