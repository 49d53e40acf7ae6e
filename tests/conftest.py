"""Shared fixtures: the optional ../shared/data folder and small real media shipped inside installed packages."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
import torch

import moede.stages.resolve as resolve
from moede.data.emotions import AFFECTNET
from moede.sources import shared_data_root

torch.set_num_threads(2)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Return ../shared/data, or skip the test with the reason when it is absent (a fresh clone has none)."""
    root = shared_data_root()
    if root is None:
        pytest.skip("../shared/data is absent (set MOEDE_SHARED_DATA to point at it); real-data test skipped")
    return root


@pytest.fixture
def tiny_static_demo(monkeypatch: pytest.MonkeyPatch) -> None:
    """The static demo corpus at 3 training and 1 validation faces per emotion, 64x64 pixels."""
    monkeypatch.setattr(resolve, "demo_static", functools.partial(
        resolve.demo_static, per_class={e: 3 for e in AFFECTNET}, dev_per_class=1, size=64))
