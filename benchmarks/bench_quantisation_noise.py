"""How much the int8 rounding of the shipped ImageNet weights can move the SFER, after the demo's training.

The shipped MobileNetV2 is a post-training-quantised TFLite file: every convolution weight was rounded to a whole
number of its channel's step, so the float weights the paper most likely started from differ from the dequantised
ones by up to half a step each. Those float weights are not available offline, so this trains the demo's SFER
(`moede.stages.static.train_sfer_stage`, the demo profile's settings, the run's aligned faces) from the dequantised
weights and from the same weights with uniform noise of one step's width (+-half a step, a different rounding) added
to every convolution, one run per noise draw, and prints the development F1-macro and accuracy of each.
Each start gets its own run folder under --out (its frozen-block activations differ); the noised starts are handed to
the stage as the converted-weights cache of their own cache folder. Nothing of the book's run is written.
Usage: python benchmarks/bench_quantisation_noise.py [--run-dir runs/demo] [--out runs/quantisation_noise]
       [--draws 2] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torchvision

from moede.config import RunConfig
from moede.models.pretrained import CONVERTER_VERSION, SHIPPED_TFLITE, Initialisation
from moede.models.tflite_convert import _conv_bn_pairs, read_tflite_convolutions
from moede.stages.static import prepare_static, train_sfer_stage


def jittered_state(state: dict[str, torch.Tensor], seed: int) -> tuple[dict[str, torch.Tensor], float]:
    """The converted state with each convolution weight moved by U(-step/2, step/2) of its int8 step (the file's
    scales); also the noise's RMS relative to the weights' RMS."""
    model = torchvision.models.mobilenet_v2(weights=None)
    model.load_state_dict(state)
    generator = torch.Generator().manual_seed(seed)
    noise_sq = weight_sq = 0.0
    with torch.no_grad():
        for (conv, _), folded in zip(_conv_bn_pairs(model), read_tflite_convolutions(SHIPPED_TFLITE)):
            noise = (torch.rand(conv.weight.shape, generator=generator) - 0.5) * torch.from_numpy(folded.step)
            conv.weight.add_(noise)
            noise_sq += float((noise ** 2).sum())
            weight_sq += float((conv.weight ** 2).sum())
    return {k: v.detach().clone() for k, v in model.state_dict().items()}, float(np.sqrt(noise_sq / weight_sq))


def start_folder(out: Path, name: str, aligned: Path) -> Path:
    """A run folder for one start whose aligned faces are the book run's (linked, read only)."""
    run = out / name
    (run / "aligned").mkdir(parents=True, exist_ok=True)
    link = run / "aligned" / "static"
    if not link.exists():
        link.symlink_to(aligned.resolve(), target_is_directory=True)
    return run


def sfer_scores(cfg: RunConfig) -> dict[str, float]:
    """Train the SFER of `cfg` (or reuse it) and return its development scores and kept epoch."""
    train_sfer_stage(cfg, prepare_static(cfg))
    metrics = json.loads((cfg.run_dir / "results" / "sfer" / "metrics.json").read_text())
    return {"dev F1-macro": metrics["dev"]["f1_macro"], "dev accuracy": metrics["dev"]["accuracy"],
            "best epoch": metrics["best_epoch"], "seconds": metrics["seconds"]}


def main() -> None:
    """Print and write (out/quantisation_noise.csv) the SFER's scores from each start."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", type=Path, default=Path("runs/demo"))
    parser.add_argument("--out", type=Path, default=Path("runs/quantisation_noise"))
    parser.add_argument("--draws", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    base = RunConfig.for_profile("demo")
    init = Initialisation("imagenet", SHIPPED_TFLITE, base.cache_dir)
    rows = []
    cfg = base.with_(run_dir=start_folder(args.out, "dequantised", args.run_dir / "aligned" / "static"))
    rows.append({"start": "dequantised int8 weights (the book's)", "noise RMS / weight RMS": 0.0, **sfer_scores(cfg)})
    for draw in range(1, args.draws + 1):
        state, relative = jittered_state(init.state_dict(), seed=draw)
        cache = args.out / f"noise_{draw}" / "cache"
        cache.mkdir(parents=True, exist_ok=True)
        torch.save(state, cache / f"mobilenet_v2_imagenet_{init.sha256[:16]}_v{CONVERTER_VERSION}.pt")
        cfg = base.with_(run_dir=start_folder(args.out, f"noise_{draw}", args.run_dir / "aligned" / "static"),
                         cache_dir=cache)
        rows.append({"start": f"+ U(-step/2, step/2), draw {draw}", "noise RMS / weight RMS": relative,
                     **sfer_scores(cfg)})
    table = pd.DataFrame(rows).set_index("start").round(3)
    table["F1-macro change"] = (table["dev F1-macro"] - table["dev F1-macro"].iloc[0]).round(2)
    table.to_csv(args.out / "quantisation_noise.csv")
    print(table.to_string())


if __name__ == "__main__":
    main()
