"""The one call at the top of every notebook: its configuration from the `params` cell, every generator seeded."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from moede.config import RunConfig, seed_everything


def start_chapter(params: Mapping[str, Any]) -> RunConfig:
    """Build the notebook's RunConfig from `params` (the cell's own or papermill's) and seed Python, NumPy, torch."""
    cfg = RunConfig.from_params(params)
    seed_everything(cfg.seed)
    return cfg
