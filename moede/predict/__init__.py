"""Apply a trained run to new faces: export a one-file model bundle, then predict emotions of videos and photos.

`from moede.predict import predict, export_bundle, load_bundle` (imported on first use, so `moede --help` stays
instant)."""

from __future__ import annotations

import importlib
from typing import Any

_PUBLIC = {"Bundle": "bundle", "BundleError": "bundle", "export_bundle": "bundle", "load_bundle": "bundle",
           "PredictError": "pipeline", "Predictor": "pipeline", "predict": "outputs"}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    """Import the public names lazily from their modules."""
    if name not in _PUBLIC:
        raise AttributeError(f"module 'moede.predict' has no attribute {name!r}")
    return getattr(importlib.import_module(f"moede.predict.{_PUBLIC[name]}"), name)
