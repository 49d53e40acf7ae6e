"""The one call at the top of every notebook: its configuration from the `params` cell, every generator seeded."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from moede.config import RunConfig, seed_everything
from moede.data.preflight import refuse_demo_data


def start_chapter(params: Mapping[str, Any]) -> RunConfig:
    """Build the notebook's RunConfig from `params` (the cell's own or papermill's), refuse the paper's settings on
    generated demo data (unless allow_demo_data) and seed Python, NumPy, torch."""
    cfg = RunConfig.from_params(params)
    refuse_demo_data(cfg)
    seed_everything(cfg.seed)
    return cfg
