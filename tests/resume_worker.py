"""What tests/test_resume.py runs (alone, or under torchrun with `ddp`) and kills at random moments: tiny trainings
that write epoch checkpoints, whose final weights and histories go to OUT/result.pt.

- `stages OUT`: the SFER stage on the tiny drawn-face demo (32 px), one expert (happy: balanced sampler) from it and
  a tiny MoEDE on generated clip features, in run dir OUT/run;
- `ddp OUT`: `tiny_classifier` (also tests/test_resume.py's) and a tiny MoEDE trained by all ranks together (DDP);
- `--kill-in-write N`: the process kills itself (SIGKILL) half-way through writing its N-th epoch checkpoint."""

from __future__ import annotations

import argparse
import functools
import os
import signal
import sys
from pathlib import Path

import numpy as np
import torch

import moede.training.resume as resume_module
from moede.distributed import init_from_environment, run_on_main, shutdown
from moede.io import atomic_path
from moede.models.dfer import MoEDE
from moede.training.dynamic import train_dfer
from moede.training.outcomes import TrainResult
from moede.training.resume import EpochCheckpoint

sys.path.insert(0, str(Path(__file__).parent))
from ddp_worker import ArrayClips  # noqa: E402

EPOCHS = 4
MADE: list[EpochCheckpoint] = []  # the epoch checkpoints trained here, removed once result.pt holds the models


def _checkpoint(final: Path, key: object, label: str) -> EpochCheckpoint:
    """The epoch checkpoint beside `final`, removed by `main` once the results are saved (as moede.training.reuse
    removes a stage's after writing its model)."""
    MADE.append(EpochCheckpoint.beside(final, key, label))
    return MADE[-1]
TIMING = ["seconds", "clips_per_second"]  # the history's timing columns: never equal between two runs


def _clips() -> tuple[ArrayClips, list[str], list[int]]:
    """24 generated clips of (2-6 frames, 8 experts, 4 features) and their 3-class labels."""
    data = np.random.default_rng(0)
    clips = {f"c{i}": data.normal(size=(int(data.integers(2, 7)), 8, 4)).astype(np.float32) for i in range(24)}
    return ArrayClips(clips), list(clips), data.integers(0, 3, 24).tolist()


def _dfer(run_dir: Path) -> dict[str, object]:
    """A tiny MoEDE trained with dropout-free LSTMs on the generated clips, resuming from run_dir."""
    source, ids, labels = _clips()
    torch.manual_seed(0)
    result = train_dfer(MoEDE(feature_dim=4, hidden=3, n_classes=3), source, ids[:18], labels[:18], ids[18:],
                        labels[18:], epochs=EPOCHS, learning_rate=1e-2, batch_size=6, seed=0,
                        resume=_checkpoint(run_dir / "dfer.pt", {"dfer": EPOCHS}, "tiny MoEDE"))
    return {"dfer": result.model.state_dict(), "dfer_history": result.history.drop(columns=TIMING)}


def stages(out: Path) -> dict[str, object]:
    """The SFER stage, one expert and a tiny MoEDE (see the module's docstring)."""
    import moede.stages.resolve as resolve
    from moede.config import RunConfig, seed_everything
    from moede.data.emotions import AFFECTNET
    from moede.stages.static import _datasets, _split_paths, _train_expert, prepare_static, train_sfer_stage

    resolve.demo_static = functools.partial(resolve.demo_static, per_class=dict.fromkeys(AFFECTNET, 3),
                                            dev_per_class=1, size=64)
    cfg = RunConfig.for_profile("demo", run_dir=out / "run", static_corpus="demo", init="random", image_size=32,
                                sfer_epochs=EPOCHS, expert_epochs=EPOCHS, batch_size=8, augment=True, trainable_from=0,
                                device="cpu")
    frame = prepare_static(cfg)
    sfer = train_sfer_stage(cfg, frame)
    seed_everything(cfg.seed)  # as the stage's job does before each training: the new head must not depend on
    # whether the SFER was trained in this process or reused from an earlier one
    expert = _train_expert(cfg, sfer.model, *_datasets(frame, cfg), _split_paths(frame), AFFECTNET.index("happy"),
                           "happy", _checkpoint(cfg.run_dir / "expert.pt", {"expert": EPOCHS}, "happy"))
    return {"sfer": sfer.model.state_dict(), "sfer_history": sfer.history.drop(columns="seconds"),
            "expert": expert.model.state_dict(), "expert_history": expert.history.drop(columns="seconds"),
            **_dfer(cfg.run_dir)}


def tiny_classifier(resume: EpochCheckpoint, epochs: int = EPOCHS,
                    stateful: dict[str, object] | None = None) -> TrainResult:
    """A tiny classifier (dropout on) trained on augmented 8-px images with the balanced sampler, resuming from (and
    writing) `resume`; `stateful`: more objects to save with it."""
    from torch import nn

    from moede.models.pretrained import IMAGENET_STATS
    from moede.training.images import FaceImageDataset
    from moede.training.sampling import BalancedEpochSampler
    from moede.training.static import class_weights, train_classifier

    data = np.random.default_rng(0)
    images = torch.from_numpy(data.integers(0, 256, (40, 3, 8, 8), dtype=np.uint8))
    targets = (data.random(40) < 0.3).astype(int)
    train, dev = (FaceImageDataset(images[s], targets[s], IMAGENET_STATS, augment=True)
                  for s in (slice(0, 30), slice(30, 40)))
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Dropout(0.3), nn.Linear(3 * 8 * 8, 2))
    return train_classifier(model, train, dev, n_classes=2, epochs=epochs, learning_rate=1e-2, batch_size=8,
                            loss_weights=class_weights(train.targets, 2), sampler=BalancedEpochSampler(train.targets),
                            resume=resume, stateful=stateful)


def ddp(out: Path) -> dict[str, object]:
    """The tiny classifier and a tiny MoEDE, each trained by every rank together."""
    static = tiny_classifier(_checkpoint(out / "run" / "static.pt", {"static": 1}, "classifier"))
    return {"static": static.model.state_dict(), "static_history": static.history.drop(columns="seconds"),
            **_dfer(out / "run")}


def _killed_in_write(n: int) -> None:
    """Make the n-th epoch checkpoint write half its bytes, then SIGKILL this process (as a crash mid-write)."""
    calls = [0]
    write_bytes = resume_module.write_bytes

    def half_then_kill(data: bytes, target: Path) -> Path:
        calls[0] += 1
        if calls[0] < n:
            return write_bytes(data, target)
        with atomic_path(target) as tmp:
            tmp.write_bytes(data[:len(data) // 2])
            os.kill(os.getpid(), signal.SIGKILL)
        return target

    resume_module.write_bytes = half_then_kill


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["stages", "ddp"])
    parser.add_argument("out", type=Path)
    parser.add_argument("--kill-in-write", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.kill_in_write:
        _killed_in_write(args.kill_in_write)
    init_from_environment(timeout_s=60)
    result = stages(args.out) if args.mode == "stages" else ddp(args.out)
    run_on_main(lambda: torch.save(result, args.out / "result.pt"))
    for checkpoint in MADE:
        checkpoint.remove()
    shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
