"""Run configuration: the `demo` and `full` profiles, dataset paths, epochs, device and seed of one run."""

from __future__ import annotations

import os
import random
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

PROFILES: dict[str, dict[str, Any]] = {
    # The embedded default: the whole book on a 2-core CPU in minutes. 48x48 faces (FER2013's size), few epochs and
    # no augmentation (MobileNetV2 from random initialisation does not fit augmented faces in a few epochs), video
    # at 10 fps (every 3rd frame, at most 12), 2 speaker-independent partitions instead of 5 (the ablation on 1),
    # DFER inputs standardised with the training clips' statistics (raw features of experts trained from random
    # initialisation do not train the LSTMs in 5 epochs; the paper, with ImageNet-initialised experts, uses them raw).
    "demo": dict(image_size=48, sfer_epochs=4, expert_epochs=2, fusion_epochs=1, dfer_epochs=5, augment=False,
                 standardize_features=True, batch_size=32, clip_batch_size=16, partitions=2, ablation_partitions=1,
                 max_frames=12, frame_step=3),
    # The paper's settings (Section IV.B): 224x224 faces, 60 SFER epochs, 20 expert epochs, 20 DFER epochs.
    "full": dict(image_size=224, sfer_epochs=60, expert_epochs=20, fusion_epochs=20, dfer_epochs=20,
                 augment=True, standardize_features=False, batch_size=64, clip_batch_size=16, partitions=5,
                 ablation_partitions=None, max_frames=None, frame_step=1),
}

STATIC_CORPORA = ("auto", "demo")
DFER_EXPERTS = ("auto", "static")


@dataclass(frozen=True)
class RunConfig:
    """Everything a run needs to know; notebooks build one from their `parameters` cell."""

    profile: str = "demo"
    run_dir: Path = Path("runs/demo")
    affectnet_root: Path | None = None
    cremad_root: Path | None = None
    msp_improv_root: Path | None = None
    imagenet_weights: Path | None = None
    image_size: int = 48
    sfer_epochs: int = 4
    expert_epochs: int = 2
    fusion_epochs: int = 1
    dfer_epochs: int = 5
    augment: bool = False  # the paper's RandomAffine augmentation of the static training images
    batch_size: int = 32
    clip_batch_size: int = 16
    partitions: int = 2
    ablation_partitions: int | None = 1  # Table 7 on the first this many partitions (None: all)
    max_frames: int | None = 12  # per clip, after frame_step
    standardize_features: bool = True  # DFER: z-score the expert features with the training clips' statistics
    frame_step: int = 3  # keep every frame_step-th video frame (3: 30 fps -> 10 fps)
    static_corpus: str = "auto"  # "auto": AffectNet path, else ../shared facial_expressions, else the demo; "demo"
    dfer_experts: str = "auto"  # "auto": moede.stages.dynamic.experts_config decides; "static": chapters 2-4's
    learning_rate: float = 1e-3
    device: str = "auto"
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.static_corpus not in STATIC_CORPORA:
            raise ValueError(f"static_corpus must be one of {STATIC_CORPORA}, not {self.static_corpus!r}")
        if self.dfer_experts not in DFER_EXPERTS:
            raise ValueError(f"dfer_experts must be one of {DFER_EXPERTS}, not {self.dfer_experts!r}")

    @classmethod
    def for_profile(cls, profile: str, **overrides: Any) -> "RunConfig":
        """Build the configuration of `profile` ('demo' or 'full'), then apply non-None `overrides`."""
        if profile not in PROFILES:
            raise ValueError(f"unknown profile {profile!r}; choose one of {sorted(PROFILES)}")
        values: dict[str, Any] = dict(PROFILES[profile], profile=profile, run_dir=Path("runs") / profile)
        values.update({k: v for k, v in overrides.items() if v is not None and v != ""})
        for key in ("run_dir", "affectnet_root", "cremad_root", "msp_improv_root", "imagenet_weights"):
            if values.get(key) is not None:
                values[key] = Path(values[key]).expanduser()
        return cls(**values)

    def with_(self, **changes: Any) -> "RunConfig":
        """Return a copy with `changes` applied."""
        return replace(self, **changes)

    def torch_device(self) -> str:
        """Resolve 'auto' to 'cuda' when a GPU is available, else 'cpu'."""
        if self.device != "auto":
            return self.device
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"

    def as_dict(self) -> dict[str, Any]:
        """Return the configuration as JSON-friendly values."""
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self).items()}


def seed_everything(seed: int) -> int:
    """Seed Python, NumPy and torch (CPU and CUDA) and return the seed, so callers can report it."""
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    return seed
