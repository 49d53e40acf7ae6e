"""What tests/test_distributed.py runs under torchrun (or alone) to compare 2 processes with 1:

- `train OUT`: trains a tiny static classifier and a tiny MoEDE and saves the final weights and histories;
- `cache OUT`: builds a feature cache of generated clips (tests.test_dynamic_cache's tiny bank) in OUT;
- `dfer OUT`: trains two tiny MoEDE rows on two partitions of generated clips with moede.stages.dynamic.run_models
  (run dir OUT/run) and saves their test logits;
- `moede AUDIT ARGS...`: runs `moede ARGS...` and records in AUDIT/rank<R>.json every file this rank opened for
  writing or renamed into place (Python audit hooks: open, os.rename)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

from moede.distributed import init_from_environment, run_on_main, shutdown
from moede.io import write_json
from moede.models.dfer import MoEDE
from moede.models.pretrained import IMAGENET_STATS
from moede.training.dynamic import train_dfer
from moede.training.images import FaceImageDataset
from moede.training.sampling import BalancedEpochSampler
from moede.training.static import class_weights, train_classifier


class ArrayClips:
    """Per-clip (T, E, D) features held in memory."""

    def __init__(self, clips: dict[str, np.ndarray]) -> None:
        self.clips = clips

    def clip(self, sample_id: str) -> np.ndarray:
        return self.clips[sample_id]


def train_both(seed: int) -> dict[str, object]:
    """Train the two tiny models with fixed data and seeds; return their final states and histories."""
    data = np.random.default_rng(0)
    images = torch.from_numpy(data.integers(0, 256, (40, 3, 8, 8), dtype=np.uint8))
    targets = (data.random(40) < 0.3).astype(int)
    train, dev = (FaceImageDataset(images[s], targets[s], IMAGENET_STATS) for s in (slice(0, 30), slice(30, 40)))
    torch.manual_seed(seed)
    classifier = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 2))
    static = train_classifier(classifier, train, dev, n_classes=2, epochs=2, learning_rate=1e-2, batch_size=8,
                              loss_weights=class_weights(train.targets, 2),
                              sampler=BalancedEpochSampler(train.targets, seed=seed), seed=seed)
    clips = {f"c{i}": data.normal(size=(int(data.integers(2, 7)), 8, 4)).astype(np.float32) for i in range(24)}
    labels = data.integers(0, 3, 24).tolist()
    ids = list(clips)
    torch.manual_seed(seed)
    dynamic = train_dfer(MoEDE(feature_dim=4, hidden=3, n_classes=3), ArrayClips(clips), ids[:18], labels[:18],
                         ids[18:], labels[18:], epochs=2, learning_rate=1e-2, batch_size=6, seed=seed)
    return {"static": static.model.state_dict(), "static_history": static.history.drop(columns="seconds"),
            "dynamic": dynamic.model.state_dict(),
            "dynamic_history": dynamic.history.drop(columns=["seconds", "clips_per_second"])}


def build_cache(out: Path) -> None:
    """Build tests.test_dynamic_cache's feature cache of generated clips (and an unalignable one) in `out`."""
    sys.path.insert(0, str(Path(__file__).parent))
    import pandas as pd
    from test_dynamic_cache import TinyBank, _frames

    from moede.features import build_or_load

    ids = [f"clip_{i}" for i in range(7)] + ["clip_noface"]
    clips = pd.DataFrame({"sample_id": ids, "path": [f"clips/{i}.flv" for i in ids]})  # same text in every run
    init_from_environment(timeout_s=60)
    build_or_load(clips, TinyBank(), {"checkpoints": ["aaa"]}, out / "cache" / "clips.json", _frames)
    shutdown()


class EightExperts(nn.Module):
    """Stand-in for the eight experts' bank: frames (B,3,H,W) -> (B, 8, 4)."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, 8 * 4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x).mean(dim=(2, 3)).view(len(x), 8, 4)


def train_dfer_rows(out: Path) -> None:
    """Train (run_models) two MoEDE rows on two partitions of 24 generated clips; rank 0 saves their test logits."""
    sys.path.insert(0, str(Path(__file__).parent))
    import pandas as pd
    from test_dynamic_cache import _frames

    from moede.config import RunConfig
    from moede.data.emotions import CREMAD
    from moede.features import build_or_load
    from moede.stages.dynamic import DFERFeatures, VideoModel, run_models

    ids = [f"clip_{i}" for i in range(24)]
    clips = pd.DataFrame({"sample_id": ids, "path": [f"clips/{i}.flv" for i in ids],
                          "label": [CREMAD[i % 6] for i in range(24)]})
    splits = ["train", "train", "train", "train", "dev", "test"]
    partitions = [clips.assign(split=[splits[(i // 4 + k) % 6] for i in range(24)]) for k in range(2)]
    init_from_environment(timeout_s=60)
    cache = build_or_load(clips, EightExperts(), {"bank": "ffe"}, out / "run" / "features" / "ffe.json", _frames)
    features = DFERFeatures("cremad", CREMAD, clips, partitions, {"ffe": cache}, None)
    cfg = RunConfig.for_profile("demo", run_dir=out / "run", dfer_epochs=2, clip_batch_size=8, device="cpu")
    models = {f"MoEDE {hidden}": VideoModel(f"moede_{hidden}", "ffe", lambda shape, hidden=hidden: MoEDE(
        feature_dim=shape.feature_dim, hidden=hidden, n_classes=shape.n_classes)) for hidden in (3, 5)}
    results = run_models(cfg, features, models)
    logits = {name: [p.logits for p in runs] for name, runs in results.predictions.items()}
    run_on_main(lambda: torch.save(logits, out / "logits.pt"))
    shutdown()


def _writes(mode: object, flags: object) -> bool:
    """Whether an audited open() creates or changes the file."""
    if isinstance(mode, str):
        return any(c in mode for c in "wax+")
    return isinstance(flags, int) and bool(flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT))


def audited_moede(audit: Path, argv: list[str]) -> int:
    """Run `moede argv`, recording the paths this process writes in audit/rank<RANK>.json."""
    from moede.cli import main as moede

    written: list[str] = []

    def hook(event: str, args: tuple) -> None:
        if event == "open" and isinstance(args[0], (str, os.PathLike)) and _writes(args[1], args[2]):
            written.append(os.path.abspath(args[0]))
        elif event == "os.rename":
            written.append(os.path.abspath(args[1]))

    sys.addaudithook(hook)
    code = moede(argv)
    (audit / f"rank{os.environ.get('RANK', '0')}.json").write_text(json.dumps(list(written)))
    return code


def main() -> int:
    if sys.argv[1] == "moede":
        return audited_moede(Path(sys.argv[2]), sys.argv[3:])
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["train", "cache", "dfer"])
    parser.add_argument("out", type=Path)
    parser.add_argument("--crash-rank", type=int, default=-1)
    args = parser.parse_args()
    if args.mode in ("cache", "dfer"):
        (build_cache if args.mode == "cache" else train_dfer_rows)(args.out)
        return 0
    ctx = init_from_environment(timeout_s=60)
    if ctx.rank == args.crash_rank:
        print(f"rank {ctx.rank}: crashing on purpose", file=sys.stderr)
        os._exit(3)
    result = train_both(seed=0)

    def write() -> Path:
        assert run_on_main(lambda: "nested") == "nested"  # a writer calling a stage that writes on rank 0 too
        torch.save(result, args.out / "result.pt")
        return write_json({"world_size": ctx.world_size, "writer": ctx.rank}, args.out / f"written_by_{ctx.rank}.json")

    written = run_on_main(write)
    assert Path(written).is_file(), "every rank continues only once rank 0's files exist"
    shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
