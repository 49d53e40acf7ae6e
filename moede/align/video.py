"""Frame-by-frame alignment of a video (.flv, .mp4, anything OpenCV decodes) with cheap detection and box tracking.

The HOG detector dominates the cost; the shape predictor is cheap. So the detector runs on a copy whose longest side
is `detect_scale` pixels and only every `detect_every`-th frame; in between, the shape predictor runs in a box carried
over from the previous frame's landmarks (see BoxTracker). A frame whose detection fails gets the landmarks of the
nearest frame (in time) where a face was found; these frames are counted in `n_reused`.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from moede.align.face import NoFaceError, warp_face
from moede.align.landmarks import BoxTracker, detect_face, predict_landmarks

os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # FFmpeg's own decoder chatter off: read_frames reports

DETECT_SCALE = 480
"""Default longest side (pixels) of the copy the detector sees (None: full resolution). 960x720 CREMA-D frames are
detected at 480x360, where their faces (about 216 px wide at 960x720, so ~108 px) stay above dlib's 80 px HOG window;
at 320 they would be ~72 px, at the window's edge."""
DETECT_EVERY = 5
"""Default detector period in frames; the frames in between are tracked."""


class VideoReadError(OSError):
    """A video file is missing or OpenCV cannot decode any frame of it."""


@dataclass(frozen=True)
class AlignedVideo:
    """Aligned frames of one video and where their landmarks came from."""

    frames: np.ndarray  # (T, size, size, 3) uint8 RGB
    landmarks: np.ndarray  # (T, 68, 2) float32 in source-frame coordinates (reused frames: the donor's landmarks)
    detected: np.ndarray  # (T,) bool: landmarks found (or given) for this very frame
    tracked: np.ndarray  # (T,) bool: found by the shape predictor in a tracked box, without running the detector
    n_reused: int  # frames that borrowed the nearest detected frame's landmarks
    source: str  # the video file

    @property
    def n_frames(self) -> int:
        """Number of frames."""
        return int(self.frames.shape[0])


def read_frames(path: str | os.PathLike[str], max_frames: int | None = None) -> Iterator[np.ndarray]:
    """Yield the RGB frames of a video (at most `max_frames`); raise VideoReadError if it is missing or unreadable,
    and warn with both numbers when fewer frames decode than the file announces (a truncated clip)."""
    if max_frames is not None and max_frames < 1:
        raise ValueError(f"max_frames must be at least 1 (or None for every frame), not {max_frames}")
    path = Path(path)
    if not path.is_file():
        raise VideoReadError(f"video {path} does not exist")
    if path.stat().st_size == 0:
        raise VideoReadError(f"video {path} is an empty file (0 bytes); copy it again from the corpus")
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise VideoReadError(f"OpenCV cannot open video {path}; is it a video file (.flv, .mp4) and intact?")
    announced = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    count = 0
    try:
        while max_frames is None or count < max_frames:
            ok, frame = capture.read()
            if not ok:
                break
            count += 1
            yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    finally:
        capture.release()
    if count == 0:
        raise VideoReadError(f"no frame could be decoded from video {path}; the file may be corrupt or empty")
    if count < min(announced, max_frames or announced):
        warnings.warn(f"video {path} announces {announced} frames but only {count} could be decoded; the file may "
                      "be truncated (the decoded frames are used)", stacklevel=2)


def nearest_detected(detected: np.ndarray) -> np.ndarray:
    """For each frame, the index of the nearest frame with `detected` True (earlier frame on ties)."""
    hits = np.flatnonzero(detected)
    if hits.size == 0:
        raise ValueError("no detected frame to borrow from")
    frames = np.arange(detected.size)
    after = np.clip(np.searchsorted(hits, frames), 0, hits.size - 1)
    before = np.clip(after - 1, 0, hits.size - 1)
    use_before = np.abs(frames - hits[before]) <= np.abs(hits[after] - frames)
    return np.where(use_before, hits[before], hits[after])


class FrameLandmarker:
    """Landmarks frame after frame: the detector every `detect_every`-th frame (or after a miss), tracking between."""

    def __init__(self, detect_every: int = DETECT_EVERY, detect_scale: int | None = DETECT_SCALE,
                 model: str | os.PathLike[str] | None = None) -> None:
        if detect_every < 1:
            raise ValueError(f"detect_every must be >= 1, got {detect_every}")
        self.detect_every = detect_every
        self.detect_scale = detect_scale
        self.model = model
        self._tracker = BoxTracker()
        self._since_detection = 0

    def __call__(self, frame: np.ndarray) -> tuple[np.ndarray | None, bool]:
        """Return (landmarks (68, 2) or None when no face, whether they came from a tracked box)."""
        if self._tracker.active and self._since_detection < self.detect_every:
            points = predict_landmarks(frame, self._tracker.box(), self.model)
            self._tracker.update(points)
            self._since_detection += 1
            return points, True
        box = detect_face(frame, max_side=self.detect_scale)
        if box is None:
            self._tracker.reset()
            return None, False
        points = predict_landmarks(frame, box, self.model)
        self._tracker.start(box, points)
        self._since_detection = 1
        return points, False


def _given_landmarks(given: np.ndarray, index: int, path: str | os.PathLike[str]) -> np.ndarray | None:
    """Return the given landmarks of frame `index` (None for a NaN row)."""
    if index >= len(given):
        raise ValueError(f"landmarks for {path} cover {len(given)} frames but the video has more")
    return given[index] if np.isfinite(given[index]).all() else None


def align_video(path: str | os.PathLike[str], size: int = 224, landmarks: np.ndarray | None = None,
                max_frames: int | None = None, *, detect_every: int = DETECT_EVERY,
                detect_scale: int | None = DETECT_SCALE, model: str | os.PathLike[str] | None = None,
                fill: str = "black") -> AlignedVideo:
    """Align every frame of a video; given (T, 68, 2) landmarks (NaN rows = unknown) skip dlib. `detect_every=1`
    runs the detector on every frame; `detect_scale=None` detects at full resolution; `fill` as in warp_face."""
    given = None
    if landmarks is not None:
        given = np.asarray(landmarks, dtype=np.float32)
        if given.ndim != 3 or given.shape[1:] != (68, 2):
            raise ValueError(f"landmarks for {path} must have shape (T, 68, 2), got {given.shape}")
    landmarker = FrameLandmarker(detect_every, detect_scale, model)
    aligned: list[np.ndarray | None] = []
    points: list[np.ndarray] = []
    tracked: list[bool] = []
    pending: dict[int, np.ndarray] = {}  # raw frames without a face, warped once their donor frame is known
    for index, frame in enumerate(read_frames(path, max_frames)):
        if given is not None:
            found, was_tracked = _given_landmarks(given, index, path), False
        else:
            found, was_tracked = landmarker(frame)
        tracked.append(was_tracked)
        if found is None:
            pending[index] = frame
            aligned.append(None)
            points.append(np.full((68, 2), np.nan, dtype=np.float32))
        else:
            aligned.append(warp_face(frame, found, size, fill)[0])
            points.append(found)
    detected = np.array([crop is not None for crop in aligned])
    if not detected.any():
        raise NoFaceError(f"no face found in any of the {len(aligned)} frames of video {path}")
    donors = np.stack(points)[nearest_detected(detected)]
    for index, frame in pending.items():
        aligned[index] = warp_face(frame, donors[index], size, fill)[0]
    return AlignedVideo(frames=np.stack(aligned), landmarks=donors, detected=detected,
                        tracked=np.array(tracked, dtype=bool), n_reused=len(pending), source=str(path))
