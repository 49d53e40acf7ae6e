"""The one call at the top of every notebook: its configuration from the parameter variables, every generator
seeded."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from moede.book.parameters import notebook_settings
from moede.config import RunConfig, seed_everything
from moede.stages.preflight import refuse_demo_data


def start_chapter(namespace: Mapping[str, Any]) -> RunConfig:
    """Build the notebook's RunConfig from its `globals()` (the parameters cell's variables and papermill's), refusing
    a name that is not a setting and the paper's settings on generated demo data (unless allow_demo_data), and seed
    Python, NumPy, torch."""
    cfg = RunConfig.from_params(notebook_settings(namespace))
    refuse_demo_data(cfg)
    seed_everything(cfg.seed)
    return cfg
