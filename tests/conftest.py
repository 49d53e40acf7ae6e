"""Shared fixtures: the optional ../shared/data folder and small real media shipped inside installed packages."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from moede.sources import shared_data_root

torch.set_num_threads(2)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Return ../shared/data, or skip the test with the reason when it is absent (a fresh clone has none)."""
    root = shared_data_root()
    if root is None:
        pytest.skip("../shared/data is absent (set MOEDE_SHARED_DATA to point at it); real-data test skipped")
    return root
