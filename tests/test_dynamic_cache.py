"""Feature cache: byte-identical rebuilds, reuse, stale-key detection, dropped clips; features equal the bank's."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from moede.align import NoFaceError
from moede.features import build_or_load, extract_clip_features, load_cache

E, D, SIZE = 3, 5, 8


class TinyBank(nn.Module):
    """Stand-in for ExpertBank: frames (B,3,H,W) -> (B, E, D)."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, E * D, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x).mean(dim=(2, 3)).view(len(x), E, D)


def _frames(row: pd.Series) -> np.ndarray:
    if row["sample_id"] == "clip_noface":
        raise NoFaceError(f"no face found in any frame of {row['path']}")
    rng = np.random.default_rng(int(row["sample_id"].split("_")[1]))
    return rng.integers(0, 256, size=(int(rng.integers(2, 6)), SIZE, SIZE, 3), dtype=np.uint8)


def _clips(folder: Path) -> pd.DataFrame:
    ids = ["clip_3", "clip_1", "clip_2", "clip_noface"]
    for i in ids:
        (folder / f"{i}.flv").write_bytes(b"x" * 10)
    return pd.DataFrame({"sample_id": ids, "path": [str(folder / f"{i}.flv") for i in ids]})


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_cache_is_byte_identical_when_rebuilt_and_reused_when_valid(tmp_path: Path) -> None:
    clips, key = _clips(tmp_path), {"checkpoints": ["aaa"], "image_size": SIZE}
    messages: list[str] = []
    first = build_or_load(clips, TinyBank(), key, tmp_path / "a" / "cremad_ffe.json", _frames, log=messages.append)
    second = build_or_load(clips.iloc[::-1], TinyBank(), key, tmp_path / "b" / "cremad_ffe.json", _frames,
                           log=messages.append)
    files_a = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert files_a == sorted(p.name for p in (tmp_path / "b").iterdir()) and len(files_a) == 2
    for name in files_a:
        assert _sha(tmp_path / "a" / name) == _sha(tmp_path / "b" / name), name
    assert not first.reused and not second.reused
    assert first.sample_ids == ["clip_1", "clip_2", "clip_3"] and "clip_noface" in first.dropped
    with torch.no_grad():
        expected = extract_clip_features(TinyBank(), _frames(clips.iloc[0]))
    np.testing.assert_array_equal(first.clip("clip_3"), expected)
    assert first.clip("clip_3").dtype == np.float16 and first.clip("clip_3").shape[1:] == (E, D)
    with pytest.raises(KeyError, match="NoFaceError"):
        first.clip("clip_noface")

    again = build_or_load(clips, TinyBank(), key, tmp_path / "a" / "cremad_ffe.json", _frames, log=messages.append)
    assert again.reused and messages[-1].startswith("reusing feature cache")


def test_changed_checkpoint_digest_invalidates_the_cache(tmp_path: Path) -> None:
    clips = _clips(tmp_path)
    path = tmp_path / "cache" / "cremad_ffe.json"
    old = build_or_load(clips, TinyBank(), {"checkpoints": ["aaa"]}, path, _frames, log=lambda m: None)
    with pytest.raises(ValueError, match="stale.*checkpoints"):
        load_cache(path, {**old.key, "checkpoints": ["bbb"]})
    messages: list[str] = []
    new = build_or_load(clips, TinyBank(), {"checkpoints": ["bbb"]}, path, _frames, log=messages.append)
    assert not new.reused and "stale" in messages[0] and "checkpoints" in messages[0]
    assert new.key["checkpoints"] == ["bbb"]
    assert len(list(path.parent.glob("*.f16"))) == 1, "the stale data file is removed"


def test_changed_clip_list_or_truncated_data_invalidates_the_cache(tmp_path: Path) -> None:
    clips, key = _clips(tmp_path), {"checkpoints": ["aaa"]}
    path = tmp_path / "cache" / "cremad_ffe.json"
    cache = build_or_load(clips, TinyBank(), key, path, _frames, log=lambda m: None)
    data = next(path.parent.glob("*.f16"))
    data.write_bytes(data.read_bytes()[:-2])
    with pytest.raises(ValueError, match="truncated"):
        load_cache(path, cache.key)
    fewer = build_or_load(clips.iloc[:2], TinyBank(), key, path, _frames, log=lambda m: None)
    assert not fewer.reused and fewer.sample_ids == ["clip_1", "clip_3"]


def test_fast_extractor_matches_the_grouped_expert_bank() -> None:
    from moede.features.extract import fast_extractor
    from moede.models.experts import ExpertBank

    torch.manual_seed(0)
    bank = ExpertBank.blank(2).freeze()
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(fast_extractor(bank)(x), bank(x), atol=1e-4, rtol=1e-4)


def test_stored_aligned_frames_are_read_back_in_any_colour_and_realigned_when_the_video_changes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    import moede.align as align
    from moede.data import demo_cremad, read_cremad
    from moede.data.colour import as_colour
    from moede.features.extract import aligned_frames_fn
    from moede.features.frames import FRAME_TOLERANCE, SUFFIX

    clips = read_cremad(demo_cremad(tmp_path / "cremad", n_actors=1, sentences=1, frames=(6, 7), size=64))
    row = clips.iloc[0]
    calls = []
    real = align.align_video
    monkeypatch.setattr(align, "align_video", lambda *a, **k: calls.append(a[0]) or real(*a, **k))
    store = tmp_path / "aligned"
    first = aligned_frames_fn(48, 4, 1, "rgb", store=store)(row)
    again = aligned_frames_fn(48, 4, 1, "rgb", store=store)(row)
    grey = aligned_frames_fn(48, 4, 1, "grey", store=store)(row)
    assert len(calls) == 1 and np.array_equal(first, again)
    assert [p.name[-len(SUFFIX):] for p in store.iterdir()] == [SUFFIX]
    assert np.array_equal(grey, as_colour(first, "grey"))  # the stored frames, converted
    raw = aligned_frames_fn(48, 4, 1, "rgb")(row).astype(int)  # no store: the raw aligned frames
    assert np.abs(raw - first).max() <= FRAME_TOLERANCE["max_abs"] and not np.array_equal(raw, first)
    aligned_frames_fn(32, 4, 1, "rgb", store=store)(row)  # another size: aligned again, stored beside
    os.utime(row["path"], ns=(1, 1))  # the video changed
    aligned_frames_fn(48, 4, 1, "rgb", store=store)(row)
    assert len(calls) == 4 and len(list(store.iterdir())) == 3
