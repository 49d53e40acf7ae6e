"""Face masks of aligned crops: the convex hull of the 68 landmarks moved into the crop by the alignment's warp, with
the forehead added (dlib's landmarks stop at the brows, while raised brows and forehead wrinkles are expression
cues: the surprise expert looks there)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from moede.align.batch import MANIFEST, text_to_landmarks
from moede.align.face import eye_centres, eye_transform

FOREHEAD = 0.8
"""The forehead's height in inter-ocular distances: the brow landmarks (17-26) raised by this much close the mask."""


def hull_mask(landmarks: np.ndarray, size: int) -> np.ndarray:
    """Boolean (size, size) mask of the convex hull of (68, 2) landmarks given in crop pixel coordinates."""
    points = np.asarray(landmarks, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2 or len(points) < 3:
        raise ValueError(f"landmarks must be an (N >= 3, 2) array, got shape {points.shape}")
    mask = np.zeros((size, size), dtype=np.uint8)
    hull = cv2.convexHull(np.round(points).astype(np.int32))
    cv2.fillConvexPoly(mask, hull, 1)
    return mask.astype(bool)


def with_forehead(landmarks: np.ndarray, forehead: float = FOREHEAD) -> np.ndarray:
    """(68, 2) landmarks of an eye-levelled face plus its brow points raised by `forehead` inter-ocular distances."""
    left, right = eye_centres(landmarks)
    brows = np.asarray(landmarks[17:27], dtype=np.float64) - [0.0, forehead * float(np.linalg.norm(right - left))]
    return np.concatenate([np.asarray(landmarks, dtype=np.float64), brows])


def crop_mask(source_landmarks: np.ndarray, size: int, forehead: float = FOREHEAD) -> np.ndarray:
    """The face mask (landmark hull with the forehead, `with_forehead`) of the crop `align_face` makes at `size`
    from a photo with these (68, 2) source landmarks."""
    matrix = eye_transform(source_landmarks, size)
    moved = cv2.transform(np.asarray(source_landmarks, dtype=np.float64)[None], matrix)[0]
    return hull_mask(with_forehead(moved, forehead), size)


def aligned_masks(crops: Sequence[str], size: int, forehead: float = FOREHEAD) -> np.ndarray:
    """Face masks (N, size, size) of aligned crops (`crop_mask`), from the landmarks in the manifest.csv beside
    each crop."""
    manifests: dict[Path, pd.Series] = {}
    masks = []
    for crop in crops:
        folder = Path(crop).parent
        if folder not in manifests:
            if not (folder / MANIFEST).is_file():
                raise FileNotFoundError(f"{folder / MANIFEST} is missing; rerun the alignment stage for {crop}")
            table = pd.read_csv(folder / MANIFEST, dtype=str, keep_default_na=False)
            manifests[folder] = table.set_index("crop")["landmarks"]
        landmarks = manifests[folder].get(str(crop), "")
        if not landmarks:
            raise ValueError(f"{folder / MANIFEST} has no landmarks for {crop}; rerun the alignment stage")
        masks.append(crop_mask(text_to_landmarks(landmarks), size, forehead))
    return np.stack(masks)
