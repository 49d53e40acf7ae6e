"""Sliding windows over a clip's processed frames: their frame ranges and time stamps from the frame rate."""

from __future__ import annotations

import numpy as np
import pandas as pd


def window_spans(n_frames: int, fps: float, length_s: float, stride_s: float) -> pd.DataFrame:
    """Windows of `length_s` seconds every `stride_s` seconds over `n_frames` frames at `fps` (the processed frame
    rate): columns first, stop (frame indices, stop exclusive), start_s, end_s. A clip shorter than one window gives
    one window over the whole clip; the last window is moved back to end at the last frame so no frame is left out."""
    if n_frames < 1:
        raise ValueError(f"a clip needs at least one frame, got {n_frames}")
    if not (fps > 0 and length_s > 0 and stride_s > 0):
        raise ValueError(f"fps, window length and stride must be positive, got {fps}, {length_s}, {stride_s}")
    length = min(max(1, round(length_s * fps)), n_frames)
    stride = max(1, round(stride_s * fps))
    firsts = list(range(0, n_frames - length + 1, stride))
    if firsts[-1] + length < n_frames:
        firsts.append(n_frames - length)
    first = np.asarray(firsts)
    stop = first + length
    return pd.DataFrame({"first": first, "stop": stop, "start_s": first / fps, "end_s": stop / fps})
