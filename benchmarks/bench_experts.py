"""Frames per second of the eight experts' feature extraction on CPU: one batched pass vs one expert at a time.

Methods: 'sequential' (eight MobileNetV2 feature extractors in turn), 'torch.func vmap' (stack_module_state +
functional_call + vmap), 'grouped conv' (ExpertBank: all experts stacked into grouped convolutions), the same
with channels-last memory format (ExpertBank's default: the FTFE trains through it on GPUs, in turn on CPUs) and
SequentialExperts (moede.features.extract.fast_extractor: the experts in turn in channels-last memory format, the
path of every frozen feature the book computes). Every batched result is checked against the sequential one
(max |diff| < 1e-4).
With --train it times instead what the demo's static training runs on cached activations of blocks 0-13 (160-px
faces: block 13 gives 96 x 10 x 10): one Adam step of blocks 14-18 and the head of one MobileNetV2 (the SFER and every
expert: moede.training.frozen.FromBlock) in the default and the channels-last memory format; one step of the eight
experts' blocks 14-18 (the FTFE: FusionFromBlock) as ExpertBank's grouped convolutions and in turn; and blocks 0-13 on
64 faces (the frozen activations) in both formats.
Usage: python benchmarks/bench_experts.py [--threads 2] [--batch 16] [--sizes 64 224] [--repeats 3]
       python benchmarks/bench_experts.py --train [--threads 2] [--batch 32] [--repeats 3]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import pandas as pd
import torch
import torchvision

from moede.features.extract import fast_extractor
from moede.models.experts import ExpertBank
from moede.models.mobilenet import replace_head
from expert_paths import extract_features_sequential, extract_features_vmap
from timing import best_seconds


@torch.no_grad()
def _experts(n: int) -> list[torch.nn.Module]:
    """n random 2-class MobileNetV2 experts in eval mode, batch-norm statistics calibrated on random images.

    Without calibration the activations of a randomly initialised network in eval mode shrink into denormal
    floats, which CPUs process many times slower than normal ones; calibrated statistics keep them realistic.
    """
    torch.manual_seed(0)
    experts = []
    for _ in range(n):
        model = replace_head(torchvision.models.mobilenet_v2(weights=None), 2)
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.momentum = None  # cumulative average over the calibration batches
        model.train()
        for _ in range(2):
            model(torch.randn(8, 3, 64, 64))
        experts.append(model.eval())
    return experts


@torch.no_grad()
def benchmark(sizes: list[int], batch: int, repeats: int, n_experts: int = 8) -> pd.DataFrame:
    """Time each method at each image size; return frames/s and the max deviation from the sequential result."""
    experts = _experts(n_experts)
    bank = ExpertBank(experts, channels_last=False).freeze()
    bank_cl = ExpertBank(experts, channels_last=True).freeze()
    fast = fast_extractor(bank_cl)
    rows = []
    for size in sizes:
        x = torch.randn(batch, 3, size, size)
        methods = {
            "sequential": lambda: extract_features_sequential(experts, x),
            "torch.func vmap": lambda: extract_features_vmap(experts, x),
            "grouped conv": lambda: bank(x),
            "grouped conv, channels_last (ExpertBank default)": lambda: bank_cl(x),
            "SequentialExperts (fast_extractor: frozen features)": lambda: fast(x),
        }
        reference = methods["sequential"]()
        deviation = {name: float((run() - reference).abs().max()) for name, run in methods.items()}  # warm-up too
        best = {name: float("inf") for name in methods}
        for _ in range(repeats):  # the methods take turns, so that a load change on a shared machine hits them all
            for name, run in methods.items():
                best[name] = min(best[name], best_seconds(run, 1, warm_up=False))
        rows += [{"image size": size, "method": name, "frames/s": batch / best[name], "ms/batch": 1000 * best[name],
                  "max |diff|": deviation[name]} for name in methods]
    return pd.DataFrame(rows)


def train_benchmark(batch: int, repeats: int, start: int = 14, size: int = 160) -> pd.DataFrame:
    """Seconds per training step (or per batch of frozen activations) of the ways above; the best of `repeats`."""
    from moede.training.frozen import FromBlock

    torch.manual_seed(0)
    side = size // 16
    activations, targets = torch.randn(batch, 96, side, side), torch.randint(0, 2, (batch,))
    experts = _experts(8)

    def step(module: torch.nn.Module, loss: Callable[[], torch.Tensor]) -> Callable[[], None]:
        optimizer = torch.optim.Adam([p for p in module.parameters() if p.requires_grad], 1e-4)

        def run() -> None:
            optimizer.zero_grad()
            loss().backward()
            optimizer.step()
        return run

    rows = []
    for layout in ("default", "channels-last"):
        model = replace_head(torchvision.models.mobilenet_v2(weights=None), 2)
        view = FromBlock(model, start).train()  # trains channels-last (moede's way)
        if layout == "default":  # the same blocks on activations and weights in the default format
            view.finish()
            view = lambda x, m=model: m.classifier(m.features[start:](x).mean(dim=(2, 3)))  # noqa: E731
        rows.append(("one MobileNetV2 from block 14 (SFER, experts)", layout,
                     step(model, lambda v=view: torch.nn.functional.cross_entropy(v(activations), targets))))
    for grouped in (True, False):
        bank = ExpertBank(experts, grouped=grouped).train()
        rows.append(("8 experts from block 14 (FTFE)", "grouped" if grouped else "in turn",
                     step(bank, lambda b=bank: b.forward_from(activations, start).square().mean())))
    images = torch.randn(64, 3, size, size)
    for layout, memory in (("default", torch.contiguous_format), ("channels-last", torch.channels_last)):
        blocks = experts[0].features[:start].to(memory_format=memory)
        rows.append(("blocks 0-13 on 64 faces (frozen activations)", layout,
                     lambda b=blocks, m=memory: torch.no_grad()(b)(images.contiguous(memory_format=m))))
    best = [float("inf")] * len(rows)
    for _ in range(repeats):  # the ways take turns, so that a load change on a shared machine hits them all
        for i, (_, _, run) in enumerate(rows):
            best[i] = min(best[i], best_seconds(run, 1))
    return pd.DataFrame([{"what": what, "way": way, "s/step": seconds}
                         for (what, way, _), seconds in zip(rows, best)])


def main() -> None:
    """Parse arguments, run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 224])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--train", action="store_true", help="time the static training's steps instead")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.train:
        batch = 32 if args.batch == parser.get_default("batch") else args.batch
        print(f"training steps at 160 px, batch {batch}, CPU, torch threads {args.threads}, torch {torch.__version__}")
        print(train_benchmark(batch, args.repeats).to_string(index=False, float_format=lambda v: f"{v:.3g}"))
        return
    table = benchmark(args.sizes, args.batch, args.repeats)
    print(f"8 MobileNetV2 experts, batch {args.batch}, CPU, torch threads {args.threads}, torch {torch.__version__}")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    if (table["max |diff|"] > 1e-4).any():
        raise SystemExit("a batched method deviates from the sequential result by more than 1e-4")


if __name__ == "__main__":
    main()
