"""Benchmark DFER training: clips/s on cached expert features vs recomputing the features every epoch, and
(with --sweep) the end-to-end seconds of the Table 5 + Table 7 sweep on a profile.

    python benchmarks/bench_dfer.py          # extraction speed, cached vs recomputed, sweep estimate (no data)
    python benchmarks/bench_dfer.py --sweep --profile demo --set dfer_epochs=2 --set partitions=1

Without --sweep it needs no data: random 64x64 "aligned" clips, a bank of eight randomly initialised MobileNetV2
experts (moede.models.ExpertBank), the full-size MoEDE (8 x LSTM 1280->256, LSTM_mix 2048->256), and random
features shaped like the demo corpus for the sweep estimate.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from moede.config import PROFILES
from moede.features import build_or_load
from moede.models.dfer import MoEDE
from moede.models.experts import ExpertBank
from expert_paths import OnlineFeatures


def cached_vs_recomputed(n_clips: int, frames: int, size: int, epochs: int) -> pd.DataFrame:
    """Time MoEDE training epochs on cached features and on features recomputed by the expert bank each epoch."""
    from moede.training.dynamic import train_dfer

    rng = np.random.default_rng(0)
    clips = {f"clip{i:03d}": rng.integers(0, 256, (frames, size, size, 3), dtype=np.uint8) for i in range(n_clips)}
    ids, labels = sorted(clips), [i % 6 for i in range(n_clips)]
    torch.manual_seed(0)
    bank = ExpertBank.blank(8).freeze()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        table = pd.DataFrame({"sample_id": ids, "path": [str(Path(tmp) / f"{i}.mp4") for i in ids]})
        start = time.perf_counter()
        cache = build_or_load(table, bank, {"bench": 1}, Path(tmp) / "features.json",
                              lambda row: clips[row["sample_id"]], log=lambda m: None)
        build = time.perf_counter() - start
        rows.append({"what": "build the feature cache (once)", "seconds": build, "clips_per_second": n_clips / build})
        for name, source in (("train on cached features", cache),
                             ("train, recomputing features every epoch", OnlineFeatures(clips, bank))):
            torch.manual_seed(0)
            start = time.perf_counter()
            result = train_dfer(MoEDE(n_classes=6), source, ids, labels, ids[:4], labels[:4], epochs=epochs,
                                batch_size=16, desc=name)
            seconds = time.perf_counter() - start
            rows.append({"what": name, "seconds": seconds / epochs,
                         "clips_per_second": float(result.history["clips_per_second"].mean())})
    frame = pd.DataFrame(rows)
    frame.attrs["setup"] = f"{n_clips} clips x {frames} frames at {size}x{size}, {epochs} epoch(s), " \
                           f"{torch.get_num_threads()} thread(s)"
    return frame


@torch.inference_mode()
def extraction_speed(size: int, batch: int = 32, repeats: int = 3) -> pd.DataFrame:
    """Milliseconds per frame for eight experts' features: the grouped ExpertBank vs SequentialExperts (what the
    feature cache uses: the experts one after another, channels_last)."""
    from moede.features.extract import fast_extractor

    torch.manual_seed(0)
    bank = ExpertBank.blank(8).freeze()
    fast = fast_extractor(bank)
    x = torch.randn(batch, 3, size, size)
    rows = []
    for name, module in (("grouped ExpertBank", bank), ("SequentialExperts, channels_last", fast)):
        module(x)
        start = time.perf_counter()
        for _ in range(repeats):
            module(x)
        rows.append({"extractor": name, "ms_per_frame": 1000 * (time.perf_counter() - start) / repeats / batch})
    return pd.DataFrame(rows)


class RandomFeatures:
    """Random cached-like features: (T, E, 1280) float16 per clip id."""

    def __init__(self, lengths: dict[str, int], n_experts: int) -> None:
        rng = np.random.default_rng(0)
        self.data = {k: rng.normal(size=(t, n_experts, 1280)).astype(np.float16) for k, t in lengths.items()}

    def clip(self, sample_id: str) -> np.ndarray:
        return self.data[sample_id]


def sweep_estimate(n_train: int, n_dev: int, frames: tuple[int, int], partitions: int, epochs: int) -> pd.DataFrame:
    """Seconds per epoch of each Table 5 / Table 7 model kind on random features shaped like a profile's clips
    (n_train training and n_dev development clips of frames[0]..frames[1] frames), and the sweep extrapolated to
    `partitions` x `epochs` (4 MoEDE + 1 SFE for Table 5, 8 seven-expert MoEDE for Table 7)."""
    from moede.models.dfer import SingleExtractorLSTM
    from moede.training.dynamic import train_dfer

    rng = np.random.default_rng(0)
    lengths = {f"c{i:04d}": int(rng.integers(frames[0], frames[1] + 1)) for i in range(n_train + n_dev)}
    ids, labels = sorted(lengths), [i % 6 for i in range(n_train + n_dev)]
    kinds = {"MoEDE (8 experts)": (8, lambda: MoEDE(n_classes=6), 4),
             "MoEDE (7 experts, ablation)": (8, lambda: MoEDE(n_classes=6, experts_kept=range(7)), 8),
             "SFE": (1, lambda: SingleExtractorLSTM(n_classes=6), 1)}
    rows = []
    for name, (n_experts, make, count) in kinds.items():
        source = RandomFeatures(lengths, n_experts)
        torch.manual_seed(0)
        result = train_dfer(make(), source, ids[:n_train], labels[:n_train], ids[n_train:], labels[n_train:],
                            epochs=1, batch_size=16, desc=name)
        seconds = float(result.history["seconds"].iloc[0])
        rows.append({"model": name, "epoch_seconds": seconds, "models_in_sweep": count,
                     "sweep_seconds": seconds * count * partitions * epochs})
    frame = pd.DataFrame(rows)
    frame.attrs["setup"] = (f"{n_train} train + {n_dev} dev clips of {frames[0]}-{frames[1]} frames, "
                            f"{partitions} partitions x {epochs} epochs, {torch.get_num_threads()} thread(s)")
    return frame


def _value(text: str) -> object:
    """Parse a --set value: JSON (numbers, null, true/false) when it parses, else the string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def sweep(profile: str, run_dir: Path | None, overrides: dict[str, str]) -> dict[str, float]:
    """End-to-end seconds of run_table5 + run_ablation (features, training, tables) on `profile`."""
    from moede.config import RunConfig
    from moede.stages.dynamic import cremad_features, run_ablation, run_table5

    cfg = RunConfig.for_profile(profile, run_dir=run_dir, **{k: _value(v) for k, v in overrides.items()})
    times = {}
    start = time.perf_counter()
    features = cremad_features(cfg)
    times["features (static stages if missing, alignment, caches)"] = time.perf_counter() - start
    tick = time.perf_counter()
    run_table5(cfg, features)
    times["Table 5 (5 models x partitions)"] = time.perf_counter() - tick
    tick = time.perf_counter()
    run_ablation(cfg, features)
    times["Table 7 (8 ablated models x partitions)"] = time.perf_counter() - tick
    times["total"] = time.perf_counter() - start
    print(f"profile {profile}, run dir {cfg.run_dir}, {cfg.partitions} partitions, {cfg.dfer_epochs} epochs, "
          f"{torch.get_num_threads()} thread(s)")
    return times


def main() -> None:
    """Run the benchmark and print its tables."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    demo = PROFILES["demo"]
    parser.add_argument("--clips", type=int, default=32)
    parser.add_argument("--frames", type=int, default=demo["max_frames"])
    parser.add_argument("--size", type=int, default=demo["image_size"])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--train-clips", type=int, default=173, help="estimate: training clips (demo: ~173)")
    parser.add_argument("--dev-clips", type=int, default=34)
    parser.add_argument("--min-frames", type=int, default=6, help="demo clips: 16-40 frames, every 3rd kept")
    parser.add_argument("--max-frames", type=int, default=demo["max_frames"])
    parser.add_argument("--partitions", type=int, default=demo["partitions"])
    parser.add_argument("--dfer-epochs", type=int, default=demo["dfer_epochs"])
    parser.add_argument("--sweep", action="store_true", help="also time the real Table 5 + 7 sweep")
    parser.add_argument("--profile", default="demo")
    parser.add_argument("--run-dir", type=Path, default=None)
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", help="RunConfig override")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    speed = extraction_speed(args.size)
    print(f"eight experts' features at {args.size}x{args.size}, batch 32, {torch.get_num_threads()} thread(s):")
    print(speed.to_string(index=False, float_format=lambda v: f"{v:.1f}"))
    frame = cached_vs_recomputed(args.clips, args.frames, args.size, args.epochs)
    print(f"DFER training throughput ({frame.attrs['setup']}):")
    print(frame.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    speedup = frame["clips_per_second"].iloc[1] / frame["clips_per_second"].iloc[2]
    print(f"cached features train {speedup:.1f}x faster than recomputing them every epoch")
    estimate = sweep_estimate(args.train_clips, args.dev_clips, (args.min_frames, args.max_frames),
                              args.partitions, args.dfer_epochs)
    print(f"Table 5 + 7 sweep estimate ({estimate.attrs['setup']}; dev evaluation not included):")
    print(estimate.to_string(index=False, float_format=lambda v: f"{v:.1f}"))
    print(f"estimated sweep: {estimate['sweep_seconds'].sum() / 60:.1f} min")
    if args.sweep:
        times = sweep(args.profile, args.run_dir, dict(item.split("=", 1) for item in args.set))
        for what, seconds in times.items():
            print(f"{what:>60}: {seconds:8.1f} s")


if __name__ == "__main__":
    main()
