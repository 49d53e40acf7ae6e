"""Wall time of one expert epoch (MobileNetV2, 2 classes, balanced epoch) with 1 and with N processes under torchrun.

Two ways of using N processes: 'data parallel' (one expert, each global batch split between the processes: DDP, what
the SFER, the fusions and the DFER models do) and 'one expert per process' (N experts, each process trains its own
alone: what `moede train experts` does), against one process doing the same work. The CPU cores are split evenly
between the processes (OMP threads = cores / N), so the ratio measures the parallel scheme, not extra cores.
Usage: python benchmarks/bench_distributed.py [--processes 1 2] [--cores 2] [--images 256] [--size 64] [--batch 32]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd


def _expert_epoch(images: int, size: int, batch: int, seed: int) -> float:
    """Train one randomly initialised 2-class MobileNetV2 expert for one balanced epoch; return its seconds."""
    import torch
    import torchvision

    from moede.models.mobilenet import replace_head
    from moede.models.pretrained import IMAGENET_STATS
    from moede.training.images import FaceImageDataset
    from moede.training.sampling import BalancedEpochSampler
    from moede.training.static import train_classifier

    generator = torch.Generator().manual_seed(seed)
    pixels = torch.randint(0, 256, (images + 16, 3, size, size), dtype=torch.uint8, generator=generator)
    targets = (torch.arange(images + 16) % 4 == 0).long()
    train = FaceImageDataset(pixels[:images], targets[:images], IMAGENET_STATS)
    dev = FaceImageDataset(pixels[images:], targets[images:], IMAGENET_STATS)
    torch.manual_seed(seed)
    model = replace_head(torchvision.models.mobilenet_v2(weights=None), 2)
    result = train_classifier(model, train, dev, n_classes=2, epochs=1, batch_size=batch,
                              sampler=BalancedEpochSampler(train.targets, seed=seed), seed=seed, desc="bench")
    return float(result.history["seconds"].iloc[0])


def worker(mode: str, images: int, size: int, batch: int, out: Path) -> None:
    """Run under torchrun (or alone): time the mode's work on this rank; rank 0 writes the seconds to `out`."""
    import time

    from moede.distributed import barrier, init_from_environment, share_out, shutdown

    ctx = init_from_environment()
    barrier()
    start = time.perf_counter()
    if mode == "data parallel":
        _expert_epoch(images, size, batch, seed=0)
    else:  # as many experts as processes (at least 2), dealt out one per process
        experts = range(max(2, ctx.world_size))
        share_out([lambda seed=seed: _expert_epoch(images, size, batch, seed) for seed in experts])
    barrier()
    if ctx.is_main:
        out.write_text(json.dumps(time.perf_counter() - start))
    shutdown()


def measure(mode: str, processes: int, cores: int, args: argparse.Namespace) -> float:
    """Launch the worker in `processes` processes (torchrun when more than one); return its wall seconds."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "seconds.json"
        env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
        env.update(OMP_NUM_THREADS=str(max(1, cores // processes)), PYTHONPATH=str(Path(__file__).parents[1]))
        launcher = ([sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}"]
                    if processes > 1 else [sys.executable])
        subprocess.run([*launcher, __file__, "--worker", mode, "--images", str(args.images), "--size",
                        str(args.size), "--batch", str(args.batch), "--out", str(out)], env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return json.loads(out.read_text())


def main() -> None:
    """Parse arguments, time each mode with each number of processes and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 1, help="CPU cores to split between processes")
    parser.add_argument("--images", type=int, default=256, help="training images of the expert")
    parser.add_argument("--size", type=int, default=64, help="image side in pixels")
    parser.add_argument("--batch", type=int, default=32, help="global batch size")
    parser.add_argument("--worker", choices=["data parallel", "one expert per process"], help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.images, args.size, args.batch, args.out)
        return
    rows = []
    for mode in ("data parallel", "one expert per process"):
        base = None
        for processes in args.processes:
            seconds = measure(mode, processes, args.cores, args)
            base = seconds if base is None else base
            rows.append({"mode": mode, "processes": processes, "threads/process": max(1, args.cores // processes),
                         "seconds": round(seconds, 2), "speed-up vs first": round(base / seconds, 2)})
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
