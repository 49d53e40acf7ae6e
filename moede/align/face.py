"""Eye-level alignment of one face: a similarity warp putting both eye centres at fixed output positions.

The paper (Section IV.B) detects the face and 68 landmarks with dlib, rotates the image so the eyes are parallel with
the x-axis at a consistent location, and crops the facial region from the landmarks (no size stated). Here the crop
window is anchored on the landmarks' eye centres: the image-left eye (landmarks 36-41) goes to EYE_POSITIONS[0] and
the image-right eye (42-47) to EYE_POSITIONS[1], as fractions of the output size. With the inter-ocular distance at
0.30 of the side, the landmark hull of a frontal face (brows about 0.4 inter-ocular distances above the eye line,
chin about 1.8 below, jaw about 1.15 to each side; measured on real photos) spans roughly 0.23-0.90 vertically and
0.15-0.85 horizontally, so the whole face is kept with a little context.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from collections.abc import Sequence

import cv2
import numpy as np

from moede.align.landmarks import Box, as_rgb, detect_face, predict_landmarks

EYE_POSITIONS: tuple[tuple[float, float], tuple[float, float]] = ((0.35, 0.35), (0.65, 0.35))
"""(x, y) of the image-left and image-right eye centres in the aligned output, as fractions of its side."""

FILLS: tuple[str, ...] = ("black", "replicate", "reflect", "mean")
"""How `warp_face` fills the crop's pixels that fall outside the source image: black (OpenCV's constant 0, the
original behaviour), the nearest edge pixel repeated, the image mirrored at its edge, or the image's mean colour."""

LEFT_EYE = slice(36, 42)
RIGHT_EYE = slice(42, 48)


class NoFaceError(ValueError):
    """No face was found where one was expected."""


@dataclass(frozen=True)
class AlignedFace:
    """An aligned face crop and how it was obtained."""

    image: np.ndarray  # (size, size, 3) uint8 RGB
    landmarks: np.ndarray  # (68, 2) float32 in output coordinates
    matrix: np.ndarray  # (2, 3) float64 affine map from source to output pixel coordinates
    detected: bool  # True when landmarks were found by dlib here, False when they were given
    source_landmarks: np.ndarray  # (68, 2) float32 in source-image coordinates


def eye_centres(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the image-left (mean of 36-41) and image-right (mean of 42-47) eye centres of (68, 2) landmarks."""
    landmarks = np.asarray(landmarks, dtype=np.float64)
    if landmarks.shape != (68, 2):
        raise ValueError(f"expected (68, 2) dlib landmarks, got shape {landmarks.shape}")
    return landmarks[LEFT_EYE].mean(axis=0), landmarks[RIGHT_EYE].mean(axis=0)


def eye_angle(landmarks: np.ndarray) -> float:
    """Return the angle in degrees of the line from the left to the right eye centre (0 = horizontal)."""
    left, right = eye_centres(landmarks)
    return math.degrees(math.atan2(right[1] - left[1], right[0] - left[0]))


def eye_transform(landmarks: np.ndarray, size: int) -> np.ndarray:
    """Return the (2, 3) similarity matrix moving the eye centres of `landmarks` to EYE_POSITIONS (size x size)."""
    left, right = eye_centres(landmarks)
    distance = float(np.linalg.norm(right - left))
    if not distance > 1e-3 or not np.isfinite(distance):
        raise ValueError("eye centres coincide or are not finite; the landmarks do not describe a face")
    (lx, ly), (rx, ry) = EYE_POSITIONS
    target_left = np.array([lx, ly]) * size
    target_right = np.array([rx, ry]) * size
    scale = float(np.linalg.norm(target_right - target_left)) / distance
    # Rotating by the eye-line angle about the eye midpoint levels the eyes; then translate the midpoint into place.
    centre = (left + right) / 2
    matrix = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), eye_angle(landmarks), scale)
    matrix[:, 2] += (target_left + target_right) / 2 - centre
    return matrix


def _border(image: np.ndarray, fill: str) -> dict[str, object]:
    """cv2.warpAffine's border arguments for a FILLS value."""
    if fill == "black":
        return {"borderMode": cv2.BORDER_CONSTANT, "borderValue": 0}
    if fill == "replicate":
        return {"borderMode": cv2.BORDER_REPLICATE}
    if fill == "reflect":
        return {"borderMode": cv2.BORDER_REFLECT_101}
    if fill == "mean":
        return {"borderMode": cv2.BORDER_CONSTANT,
                "borderValue": tuple(float(v) for v in image.reshape(-1, image.shape[-1]).mean(axis=0))}
    raise ValueError(f"unknown alignment fill {fill!r}; choose one of {FILLS}")


def warp_face(image: np.ndarray, landmarks: np.ndarray, size: int,
              fill: str = "black") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Warp an RGB image so the eyes sit at EYE_POSITIONS, filling outside the image as `fill` (FILLS) says;
    return (crop, output landmarks, matrix)."""
    matrix = eye_transform(landmarks, size)
    crop = cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, **_border(image, fill))
    moved = cv2.transform(np.asarray(landmarks, dtype=np.float64)[None], matrix)[0].astype(np.float32)
    return crop, moved, matrix


def find_landmarks(image: np.ndarray, box: Box | Sequence[float] | None = None, detect_scale: int | None = None,
                   model: str | os.PathLike[str] | None = None) -> np.ndarray | None:
    """Return (68, 2) landmarks of the face in `box`, or of the largest detected face (None when none is found)."""
    if box is None:
        box = detect_face(image, max_side=detect_scale)
        if box is None:
            return None
    return predict_landmarks(image, box, model)


def align_face(image: np.ndarray, landmarks: np.ndarray | None = None, box: Box | Sequence[float] | None = None,
               size: int = 224, *, source: str | os.PathLike[str] | None = None, detect_scale: int | None = None,
               model: str | os.PathLike[str] | None = None, fill: str = "black") -> AlignedFace:
    """Align one face: given landmarks skip dlib; a given box (x, y, w, h) skips only detection; else detect the
    largest face. `source` names the file in errors; `detect_scale` caps the detector's input side (None: full);
    `fill` (FILLS) paints the crop outside the photo."""
    if size < 8:
        raise ValueError(f"output size must be at least 8 pixels, got {size}")
    rgb = as_rgb(image)
    detected = landmarks is None
    if landmarks is None:
        landmarks = find_landmarks(rgb, box, detect_scale, model)
        if landmarks is None:
            where = f" in {source}" if source is not None else ""
            raise NoFaceError(f"no face detected{where} (image {rgb.shape[1]}x{rgb.shape[0]}); "
                              "pass landmarks or a face box to skip detection")
    landmarks = np.asarray(landmarks, dtype=np.float32)
    if landmarks.shape != (68, 2) or not np.isfinite(landmarks).all():
        where = f" for {source}" if source is not None else ""
        raise ValueError(f"landmarks{where} must be a finite (68, 2) array in dlib's order, "
                         f"got shape {landmarks.shape}")
    crop, moved, matrix = warp_face(rgb, landmarks, size, fill)
    return AlignedFace(image=crop, landmarks=moved, matrix=matrix, detected=detected, source_landmarks=landmarks)
