"""Face boxes and 68 landmarks with dlib: largest-face detection (optionally on a downscaled copy) and box tracking."""

from __future__ import annotations

import os
from collections.abc import Sequence

import cv2
import dlib
import numpy as np

from moede.align.models import face_detector, shape_predictor

Box = tuple[float, float, float, float]  # (x, y, w, h) in pixels, as in the data frames' `box` column


def as_rgb(image: np.ndarray) -> np.ndarray:
    """Return a contiguous (H, W, 3) uint8 RGB view of an RGB, RGBA or grayscale (H, W) / (H, W, 1) uint8 image."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got dtype {image.dtype}; convert with skimage.util.img_as_ubyte")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    if image.ndim == 3 and image.shape[2] == 4:
        return np.ascontiguousarray(image[:, :, :3])
    if image.ndim == 3 and image.shape[2] == 3:
        return np.ascontiguousarray(image)
    raise ValueError(f"expected an image of shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), got {image.shape}")


def box_to_rect(box: Box | Sequence[float]) -> dlib.rectangle:
    """Convert an (x, y, w, h) box to a dlib rectangle."""
    x, y, w, h = (float(v) for v in box)
    if not (w > 0 and h > 0):
        raise ValueError(f"face box must have positive width and height, got {tuple(box)}")
    return dlib.rectangle(round(x), round(y), round(x + w) - 1, round(y + h) - 1)  # dlib's right/bottom are inclusive


def rect_to_box(rect: dlib.rectangle) -> Box:
    """Convert a dlib rectangle to an (x, y, w, h) box."""
    return float(rect.left()), float(rect.top()), float(rect.width()), float(rect.height())


def detect_face(image: np.ndarray, max_side: int | None = None) -> Box | None:
    """Return the largest confident frontal face box in an RGB image (None if none), detecting on a copy whose longest
    side is at most `max_side` (None: full resolution); if no face is found, it retries once with 2x upsampling."""
    scale = 1.0
    small = image
    if max_side is not None and max(image.shape[:2]) > max_side:
        scale = max_side / max(image.shape[:2])
        size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
        small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    detector = face_detector()
    for upsample in (0, 1):
        rects, scores, _ = detector.run(small, upsample, 0.0)
        if len(rects):
            x, y, w, h = rect_to_box(largest_confident(list(rects), list(scores)))
            return x / scale, y / scale, w / scale, h / scale
    return None


def largest_confident(rects: list[dlib.rectangle], scores: list[float]) -> dlib.rectangle:
    """The largest detection among those scoring at least half the best score (weak, larger false positives lose)."""
    best = max(scores)
    return max((r for r, s in zip(rects, scores) if s >= best / 2), key=lambda r: r.area())


def predict_landmarks(image: np.ndarray, box: Box | Sequence[float],
                      model: str | os.PathLike[str] | None = None) -> np.ndarray:
    """Return the (68, 2) float32 dlib landmarks of the face inside `box` (x, y, w, h) of an RGB image."""
    shape = shape_predictor(model)(image, box_to_rect(box))
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)


class BoxTracker:
    """Carry a detector-like box from frame to frame by following the landmarks predicted in the previous frame.

    At a detection the box is stored relative to the landmarks' centroid and spread; later frames rebuild the box
    from the latest landmarks, so the shape predictor sees boxes like the detector's without running the detector.
    """

    def __init__(self) -> None:
        self._relation: np.ndarray | None = None
        self._landmarks: np.ndarray | None = None

    @staticmethod
    def _frame(landmarks: np.ndarray) -> tuple[np.ndarray, float]:
        centre = landmarks.mean(axis=0)
        spread = float(np.sqrt(((landmarks - centre) ** 2).sum(axis=1).mean()))
        return centre, max(spread, 1e-6)

    def start(self, box: Box, landmarks: np.ndarray) -> None:
        """Remember a detector box and the landmarks predicted in it."""
        centre, spread = self._frame(landmarks)
        x, y, w, h = box
        self._relation = np.array([(x + w / 2 - centre[0]) / spread, (y + h / 2 - centre[1]) / spread,
                                   w / spread, h / spread])
        self._landmarks = landmarks

    def update(self, landmarks: np.ndarray) -> None:
        """Follow the landmarks predicted in the latest frame."""
        self._landmarks = landmarks

    def reset(self) -> None:
        """Forget the tracked face (after a failed detection)."""
        self._relation = None
        self._landmarks = None

    @property
    def active(self) -> bool:
        """Whether a face is being tracked."""
        return self._relation is not None

    def box(self) -> Box:
        """Return the box for the next frame, derived from the latest landmarks."""
        if self._relation is None or self._landmarks is None:
            raise RuntimeError("BoxTracker.box() called before start()")
        centre, spread = self._frame(self._landmarks)
        dx, dy, w, h = self._relation * spread
        return centre[0] + dx - w / 2, centre[1] + dy - h / 2, w, h
