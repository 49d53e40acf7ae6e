"""What colour the experts see: RGB, or grey replicated to three channels when the static training photos were grey.

The real stand-in for AffectNet (../shared's facial_expressions) is greyscale while video (CREMA-D) is colour; a
model sees at prediction time what it saw in training when video frames and photos are converted the same way.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

COLOURS: tuple[str, ...] = ("rgb", "grey")
GREY_TOLERANCE = 2
"""Largest channel difference (of 255) of a pixel that still counts as grey (JPEG's chroma rounding)."""


def is_grey(image: np.ndarray) -> bool:
    """Whether an (H, W) or (H, W, 3) uint8 image is greyscale (its three channels agree within GREY_TOLERANCE)."""
    if image.ndim == 2 or image.shape[-1] == 1:
        return True
    channels = image[..., :3].astype(np.int16)
    return bool(np.abs(channels - channels[..., :1]).max() <= GREY_TOLERANCE)


def corpus_colour(paths: Sequence[str], n: int = 64, seed: int = 0) -> str:
    """'grey' when most of up to `n` images of `paths` (a seeded sample) are greyscale, else 'rgb' (../shared's
    facial_expressions: about 85% grey photos)."""
    if not len(paths):
        raise ValueError("no image to tell the corpus' colour from")
    chosen = np.random.default_rng(seed).choice(len(paths), size=min(n, len(paths)), replace=False)
    images = [cv2.imread(str(paths[int(index)]), cv2.IMREAD_UNCHANGED) for index in chosen]
    grey = [is_grey(image) for image in images if image is not None]
    return "grey" if grey and sum(grey) > len(grey) / 2 else "rgb"


def as_colour(frames: np.ndarray, colour: str) -> np.ndarray:
    """Frames (..., H, W, 3) uint8 RGB as the experts see them: unchanged for 'rgb', grey in three channels for
    'grey' (ITU-R 601 luma, as OpenCV reads a colour file in greyscale)."""
    if colour not in COLOURS:
        raise ValueError(f"colour must be one of {', '.join(COLOURS)}, not {colour!r}")
    if colour == "rgb":
        return frames
    luma = np.tensordot(frames.astype(np.float32), np.array([0.299, 0.587, 0.114], dtype=np.float32), axes=1)
    grey = np.clip(np.rint(luma), 0, 255).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=-1)
