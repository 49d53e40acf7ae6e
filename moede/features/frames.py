"""Compact stored clip frames: a clip's aligned uint8 RGB frames as JPEG images (quality 95, full-resolution
colour) in one .npz file.

Raw frames cost 150 KB per 224-px frame, these 16.5 KB (10.6 KB at 160 px; benchmarks/bench_frames.py over the 78
real CREMA-D clips of ../shared). Lossless codecs stay above 30 KB at 224 px (PNG about 50 KB; lossless WebP about
32 KB and 70 ms a frame to encode, three times the alignment). The expert features of decoded frames differ
from those of the raw frames by about as much as a 1-pixel shift of the face: per-frame cosine similarity of
ImageNet MobileNetV2 features >= FEATURE_COSINE_TOLERANCE (FRAME_TOLERANCE states the pixel differences).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import cv2
import numpy as np

from moede.io import atomic_path

JPEG_QUALITY = 95
JPEG_OPTIONS = [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY,  # full-resolution colour: 4:2:0 doubles the largest error
                cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444]
FRAMES_FORMAT = f"jpeg-q{JPEG_QUALITY}-444-npz/1"
"""What stored frames are: part of their file name's digest and of the feature caches' key, so that frames or
features made from another format (e.g. the raw .npy frames of earlier versions) are never read as these."""
SUFFIX = ".frames.npz"
FRAME_TOLERANCE = {"max_abs": 32, "mean_abs": 2.0}
"""Largest and mean absolute difference (0-255) between a decoded and a raw aligned frame (measured on the real
CREMA-D faces: at most 16 and 0.76 at 224 px, 23 and 0.92 at 160 px; drawn demo faces at 48 px: 12 and 1.4)."""
FEATURE_COSINE_TOLERANCE = {"min": 0.97, "mean": 0.985}
"""Per-frame cosine similarity of ImageNet MobileNetV2 features from decoded vs raw frames (measured on the real
CREMA-D faces: min 0.975 and mean 0.990 at 224 px, 0.990 and 0.996 at 160 px; a 1-pixel shift of the raw frames
gives min 0.985 and mean 0.994, noise of +-1 grey level 0.93 and 0.97)."""
UNREADABLE = (OSError, ValueError, KeyError, zipfile.BadZipFile)


def encode_frames(frames: np.ndarray) -> dict[str, np.ndarray]:
    """The arrays a stored-frames file holds for frames (T, H, W, 3) uint8 RGB: the JPEG bytes back to back, each
    frame's end offset and the frames' shape."""
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"expected aligned frames (T, H, W, 3) uint8, got {frames.shape} {frames.dtype}")
    encoded = []
    for frame in frames:
        ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), JPEG_OPTIONS)
        if not ok:
            raise ValueError(f"OpenCV could not JPEG-encode an aligned frame of shape {frame.shape}")
        encoded.append(jpeg.ravel())
    data = np.concatenate(encoded) if encoded else np.zeros(0, np.uint8)
    ends = np.cumsum([len(e) for e in encoded], dtype=np.int64)
    return {"data": data, "ends": ends, "shape": np.array(frames.shape, dtype=np.int64)}


def decode_frames(stored: dict[str, np.ndarray]) -> np.ndarray:
    """The frames (T, H, W, 3) uint8 RGB of encode_frames' arrays."""
    shape, data = tuple(int(n) for n in stored["shape"]), stored["data"]
    frames = np.empty(shape, dtype=np.uint8)
    for index, (start, end) in enumerate(zip(np.r_[0, stored["ends"][:-1]], stored["ends"])):
        bgr = cv2.imdecode(data[start:end], cv2.IMREAD_COLOR)
        if bgr is None or bgr.shape != shape[1:]:
            raise ValueError(f"stored frame {index} does not decode to {shape[1:]}")
        frames[index] = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    return frames


def save_frames(path: str | Path, frames: np.ndarray) -> np.ndarray:
    """Store aligned frames (T, H, W, 3) uint8 RGB at `path` (an .npz of JPEG images), atomically; return them as
    load_frames will read them back."""
    arrays = encode_frames(frames)
    with atomic_path(path, arrays["data"].nbytes) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, **arrays)
    return decode_frames(arrays)


def load_frames(path: str | Path) -> np.ndarray:
    """The aligned frames (T, H, W, 3) uint8 RGB stored at `path` by save_frames; ValueError naming the file if it
    is not such a file."""
    try:
        with np.load(path, allow_pickle=False) as stored:
            return decode_frames({key: stored[key] for key in ("data", "ends", "shape")})
    except UNREADABLE as error:
        raise ValueError(f"{path} is not a stored-frames file ({error}); delete it to align the clip again") from None
