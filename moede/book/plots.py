"""Figures of the alignment chapter: faces and video frames before and after eye-level alignment."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from moede.align.video import AlignedVideo


def _eyes(landmarks: np.ndarray) -> np.ndarray:
    return np.stack([landmarks[36:42].mean(axis=0), landmarks[42:48].mean(axis=0)])


def _panel(ax, image: np.ndarray, landmarks: np.ndarray | None, title: str) -> None:
    ax.imshow(image)
    if landmarks is not None and np.isfinite(landmarks).all():
        ax.scatter(landmarks[:, 0], landmarks[:, 1], s=max(0.5, 3 * image.shape[0] / 300), c="#39ff14")
        eyes = _eyes(landmarks)
        ax.plot(eyes[:, 0], eyes[:, 1], "-o", color="#ff3b30", lw=1.5, ms=3)
    ax.set_xlim(0, image.shape[1])
    ax.set_ylim(image.shape[0], 0)
    ax.set_title(title, fontsize=9)
    ax.axis("off")


def alignment_figure(originals: Sequence[tuple[str, np.ndarray]], aligned: Sequence) -> Figure:
    """Top row: each input with its 68 landmarks and eye line; bottom row: the aligned crop (eyes level)."""
    from moede.align import eye_angle

    n = len(originals)
    fig = Figure(figsize=(2.6 * n, 5.4), layout="constrained")
    axes = fig.subplots(2, n, squeeze=False)
    for k, ((name, image), face) in enumerate(zip(originals, aligned)):
        before = eye_angle(face.source_landmarks)
        _panel(axes[0, k], image, face.source_landmarks, f"{name}\neye line {before:+.1f}°")
        _panel(axes[1, k], face.image, face.landmarks,
               f"aligned {face.image.shape[0]}px, {eye_angle(face.landmarks):+.1f}°")
    fig.suptitle("Before (top) and after (bottom) eye-level alignment", fontsize=11)
    return fig


def video_alignment_figure(raw_frames: np.ndarray, video: AlignedVideo, n: int = 6) -> Figure:
    """Evenly spaced frames of a video: raw with landmarks (top) and aligned (bottom); reused frames are marked."""
    picks = np.linspace(0, video.n_frames - 1, num=min(n, video.n_frames)).round().astype(int)
    fig = Figure(figsize=(2.2 * len(picks), 4.8), layout="constrained")
    axes = fig.subplots(2, len(picks), squeeze=False)
    for k, index in enumerate(picks):
        how = "detected" if video.detected[index] else "reused"
        _panel(axes[0, k], raw_frames[index], video.landmarks[index], f"frame {index} ({how})")
        _panel(axes[1, k], video.frames[index], None, "aligned")
    fig.suptitle(f"{video.n_frames} frames, {video.n_reused} reused the nearest detected landmarks", fontsize=11)
    return fig
