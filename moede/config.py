"""Run configuration: the `demo` and `full` profiles, dataset paths, epochs, device and seed of one run."""

from __future__ import annotations

import functools
import os
import random
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from moede.errors import SettingError
from moede.settings import Setting, schema_of

if TYPE_CHECKING:
    from moede.models.pretrained import Initialisation

PROFILES: dict[str, dict[str, Any]] = {
    # The embedded default: the whole book on a 2-core CPU in minutes. Every MobileNetV2 starts from the shipped
    # ImageNet weights, as in the paper; to afford that on a CPU the demo fine-tunes only blocks 14-18 (the frozen
    # blocks' activations are computed once per image) at 160x160, without augmentation (cached activations cannot
    # be augmented), with few epochs. Adam at 3e-4 for the static models (measured with ../shared's faces: at 1e-3
    # the SFER's last blocks over-shoot; experts at 1e-3 differ more, Table 4's cosine 0.54 against 0.78, but their
    # CAMs leave the face and MoEDE does not gain: chapter 4) and at the paper's 1e-3 for DFER
    # (benchmarks/bench_dfer_recipes.py, 78 real CREMA-D clips, 3 seeds: 35.0% pooled development accuracy against
    # 30.3% at 3e-4; drawn demo clips 81.9% against 84.0%, no collapse). Video at 10 fps (every 3rd frame, at most
    # 12), 2 speaker-independent partitions instead of 5 (the ablation on 1), DFER inputs standardised with the
    # training clips' statistics.
    "demo": dict(image_size=160, sfer_epochs=6, expert_epochs=2, fusion_epochs=1, dfer_epochs=5, augment=False,
                 trainable_from=14, learning_rate=3e-4, expert_learning_rate=3e-4, dfer_learning_rate=1e-3,
                 standardize_features=True, batch_size=32, clip_batch_size=16, partitions=2, ablation_partitions=1,
                 msp_improv_partitions=2, max_frames=12, frame_step=3, fusion_relu=True, baselines="small",
                 cremad_labels="intended", ferplus_per_class_cap=500),
    # The paper's settings (Section IV.B): ImageNet start, every layer trained, RandomAffine
    # augmentation, Adam at 1e-3, 60 SFER epochs, 20 expert epochs, 20 DFER epochs; the fusions "trained similarly
    # to the eight-class model" (60 epochs, augmented, FFE too) with no non-linearity named between their layers;
    # every face's region and landmarks found by dlib, AffectNet's too (a corpus' own landmarks are not used).
    # Faces at 224x224, MobileNetV2's ImageNet size: the paper states no face size (book/open_choices.md). The static
    # trainings recompute activations in the backward pass (the same weights; the SFER run's process tree peaks at
    # 3.3-3.6 GB instead of 6.4-6.5 GB, a bare step takes 6% longer on the 2-core CPU: benchmarks/bench_scale.py);
    # set it false on a GPU with memory to spare.
    "full": dict(image_size=224, sfer_epochs=60, expert_epochs=20, fusion_epochs=60, dfer_epochs=20,
                 fusion_relu=False, augment=True, standardize_features=False, batch_size=64, clip_batch_size=16,
                 partitions=5, ablation_partitions=None, msp_improv_partitions=6, max_frames=None, frame_step=1,
                 baselines="paper", align_landmarks="dlib", loader_workers=4, recompute_activations=True),
}

STATIC_CORPORA = ("auto", "demo")
VIDEO_CORPORA = ("auto", "demo")
FRAME_COLOURS = ("auto", "rgb", "grey")
DFER_EXPERTS = ("auto", "static")
AT_LEAST_ONE = ("image_size", "sfer_epochs", "expert_epochs", "fusion_epochs", "dfer_epochs", "batch_size",
                "clip_batch_size", "partitions", "ablation_partitions", "max_frames", "frame_step")
LIMITS: dict[str, dict[str, Any]] = {
    **{name: {"minimum": 1} for name in AT_LEAST_ONE},
    "image_size": {"minimum": 32},  # MobileNetV2 halves the side five times
    "trainable_from": {"minimum": 0},
    "loader_workers": {"minimum": 0},  # a `features` block of the backbone (checked against it in __post_init__)
    "msp_improv_partitions": {"minimum": 1, "maximum": 6},  # MSP-IMPROV has six sessions
    "sfe_layers": {"minimum": 1},
    "actor_folds": {"minimum": 3},  # test, development and at least one training fold
    "learning_rate": {"positive": True},
    "dfer_learning_rate": {"positive": True},
    "expert_learning_rate": {"positive": True},
    "aux_weight": {"minimum": 0},
    "seed": {"minimum": 0, "maximum": 2**32 - 1},  # NumPy's seed range
    "seed_spread": {"minimum": 1},  # 1: Table 5's own seed only
    "lora_rank": {"minimum": 1},
    "gate_k": {"minimum": 1, "maximum": 8},
    "ferplus_per_class_cap": {"minimum": 1},  # of the eight experts
    "device": {"pattern": r"auto|cpu|mps|cuda(:\d+)?", "described": "auto, cpu, mps, cuda or cuda:N"},
}


def _choices() -> dict[str, tuple[str, ...]]:
    """The allowed values of each choice field, taken from the modules that act on them."""
    from moede.align.face import FILLS
    from moede.data.cremad import LABEL_CHOICES
    from moede.data.ferplus import LABEL_CHOICES as FERPLUS_LABELS
    from moede.data.schema import LANDMARK_SOURCES
    from moede.models.backbone import BACKBONES
    from moede.models.dfer import AUX_REDUCTIONS
    from moede.models.pretrained import INITS
    from moede.training.optimizers import OPTIMIZERS
    from moede.training.precision import PRECISIONS
    from moede.training.loop import SELECT_BY

    return {"init": INITS, "optimizer": tuple(OPTIMIZERS), "static_select_by": SELECT_BY,
            "dfer_select_by": SELECT_BY, "align_landmarks": LANDMARK_SOURCES, "aux_loss": AUX_REDUCTIONS,
            "static_corpus": STATIC_CORPORA, "video_corpus": VIDEO_CORPORA, "dfer_experts": DFER_EXPERTS,
            "cremad_labels": LABEL_CHOICES,
            "ferplus_labels": FERPLUS_LABELS, "frame_colour": FRAME_COLOURS, "profile": tuple(PROFILES),
            "backbone": tuple(BACKBONES), "align_fill": FILLS, "precision": PRECISIONS}


@functools.cache
def settings() -> dict[str, Setting]:
    """The typed schema of every RunConfig field (type, range, choices), shared by the CLI, --set and papermill."""
    limits = {name: dict(rule) for name, rule in LIMITS.items()}
    for name, choices in _choices().items():
        limits.setdefault(name, {})["choices"] = tuple(choices)
    return schema_of(RunConfig, limits)


@dataclass(frozen=True)
class RunConfig:
    """Everything a run needs to know; notebooks build one from their `parameters` cell."""

    profile: str = "demo"  # "demo" (the embedded default, minutes on a CPU) or "full" (the paper's settings)
    run_dir: Path = Path("runs/demo")  # checkpoints, feature caches and result tables (the profile's: runs/<profile>)
    affectnet_root: Path | None = None  # AffectNet's root (None: ../shared's faces, else the demo corpus)
    ferplus_root: Path | None = None  # FER+'s root (fer2013.csv + fer2013new.csv, or FERPlus's FER2013Train,
    # FER2013Valid and FER2013Test folders: moede.data.ferplus), the static corpus instead of AffectNet (not both)
    ferplus_labels: str = "majority"  # FER+'s training targets from its ten votes: "majority" (the plurality
    # emotion; faces voted unknown, not-a-face or tied are dropped) or "soft" (the eight emotions' vote shares)
    ferplus_per_class_cap: int | None = None  # FER+ training faces kept per emotion (a seeded draw; dev and test
    # whole; None: all); the demo profile keeps 500 so that its static chapters stay a lab-session build
    cremad_root: Path | None = None  # CREMA-D's root (None: ../shared's real clips, else the demo clips)
    msp_improv_root: Path | None = None  # MSP-IMPROV's root (None: the demo clips)
    init: str = "imagenet"  # "imagenet" (the paper's) or "random"
    imagenet_weights: Path | None = None  # None: the shipped TFLite file; else a .tflite or torchvision .pth file
    allow_random_init: bool = False  # the full profile refuses init "random" without it
    allow_demo_data: bool = False  # the full profile refuses generated demo corpora without it (moede.stages.preflight)
    backbone: str = "mobilenet_v2"  # every image model's torchvision network (moede.models.backbone.BACKBONES)
    trainable_from: int = 0  # first MobileNetV2 `features` block that is trained; blocks before stay at their init
    cache_dir: Path = Path("runs/cache")  # converted ImageNet weights (shared by every run)
    image_size: int = 48  # side of the aligned square faces, in pixels (the paper states none; full profile: 224)
    align_fill: str = "black"  # the aligned crop outside the photo: "black", "replicate" (edge pixels), "reflect"
    # or "mean" (the photo's mean colour); photos and video frames alike (moede.align.face.FILLS)
    sfer_epochs: int = 4  # the 8-class SFER (the paper: 60)
    expert_epochs: int = 2  # each of the eight experts (the paper: 20)
    fusion_epochs: int = 1  # the FFE and FTFE fusions (the paper: "similarly to the eight-class model")
    dfer_epochs: int = 5  # every DFER model of Tables 5, 7, 8 (the paper: 20)
    augment: bool = False  # the paper's RandomAffine augmentation of the static training images
    batch_size: int = 32  # faces per batch of the static models
    loader_workers: int = 0  # processes reading the static models' faces from their files (0: the training process
    # reads them); batches and their augmentation are drawn in the training process, so results do not depend on it
    precision: str = "fp32"  # the static models' training and dev passes: "fp32" (the paper's), "bf16" (autocast,
    # CPU or GPU) or "fp16" (autocast and a gradient scaler, CUDA only); the DFER models train in fp32
    recompute_activations: bool = False  # the static models' training keeps each block's input only and recomputes
    # its activations in the backward pass (moede.models.recompute): about half the memory of a step, the same
    # weights bit for bit (benchmarks/bench_scale.py measures memory and time; the full profile's default)
    clip_batch_size: int = 16  # clips per batch of the DFER models
    partitions: int = 2  # CREMA-D speaker-independent partitions of Table 5 (the paper: 5)
    ablation_partitions: int | None = 1  # Table 7 on the first this many partitions (None: all)
    msp_improv_partitions: int = 2  # Table 8: session-independent runs (the paper: 6, each session tested once)
    max_frames: int | None = 12  # per clip, after frame_step
    standardize_features: bool = True  # DFER: z-score the expert features with the training clips' statistics
    frame_step: int = 3  # keep every frame_step-th video frame (3: 30 fps -> 10 fps)
    align_landmarks: str = "dataset"  # faces and clips: a corpus' own landmarks where it gives them, else dlib
    # ("dataset"), or dlib's everywhere ("dlib", the paper's)
    static_corpus: str = "auto"  # "auto": AffectNet path, else ../shared facial_expressions, else the demo; "demo"
    video_corpus: str = "auto"  # "auto": CREMA-D path, else ../shared's real CREMA-D clips, else the demo; "demo"
    cremad_labels: str = "consensus"  # CREMA-D label: the audio-visual majority vote (the paper's) or "intended"
    actor_folds: int = 5  # a partial CREMA-D (too few clips in the published test sets): folds by actor
    frame_colour: str = "auto"  # what the experts see of video frames and photos: "rgb", "grey" (converted), or
    # "auto": grey when the static training images are greyscale (moede.data.colour)
    dfer_experts: str = "auto"  # "auto": moede.stages.dynamic.experts_config decides; "static": chapters 2-4's
    learning_rate: float = 1e-3  # Adam, the SFER and the fusions
    expert_learning_rate: float = 1e-3  # Adam, the eight experts (the paper: 1e-3 for every model)
    dfer_learning_rate: float = 1e-3  # Adam, DFER models (the paper: 1e-3 for all)
    optimizer: str = "adam"  # every training loop: "adam" (the paper's text) or "nadam" (the method it cites)
    static_select_by: str = "f1_macro"  # SFER, experts, fusions: the development metric that picks the kept epoch
    # ("accuracy"; the paper names none for them)
    dfer_select_by: str = "accuracy"  # DFER models: the development metric that picks the kept epoch (the paper's:
    # accuracy; or "f1_macro")
    experts: Literal["full", "lora"] = "full"  # the eight experts: fine-tuned copies of the SFER (the paper's) or
    # the SFER plus low-rank updates of its 1x1 convolutions (its Section IV.C proposal, moede.models.lora)
    lora_rank: int = 4  # rank of the low-rank updates of the LoRA experts (with experts lora; chapter 10 compares
    # ranks)
    gate_k: int = 2  # chapter 10: the gated MoEDE whose chosen experts it shows runs this many of the eight per clip
    fusion_relu: bool = True  # a ReLU between the fusion's 1280->256 and 2048->8 layers (the paper names none)
    aux_loss: str = "sum"  # MoEDE's auxiliary cross-entropies: "sum" or "mean" (moede.models.dfer.dfer_loss)
    aux_weight: float = 1.0  # weight of the combined auxiliary loss against the main one
    readout: Literal["last_valid", "after_padding"] = "last_valid"  # MoEDE/SFE: classify the LSTM output at each
    # clip's last real frame, or (as a zero-padded Keras model without masking would) after zero frames up to the
    # longest clip
    baselines: Literal["paper", "small", "none"] = "small"  # Table 5/8's T-LSTM, AuxFormer, UAVM, VAVL: the sizes
    # of their papers' code, smaller ones that train in the demo's minutes (moede.models.baselines.SMALL_SIZES), or
    # not trained
    sfe_layers: int = 1  # stacked LSTM layers of the single-feature-extractor baseline (the paper does not say)
    device: str = "auto"  # "auto" (a GPU when there is one), "cpu", "cuda", "cuda:N" or "mps"
    seed: int = 0  # seeds Python, NumPy and torch at the top of every chapter
    seed_spread: int = 3  # chapter 5: DFER seeds (the run's seed, +1, ...) MoEDE and the SFE are trained with to show
    # how much a seed moves the headline rows; only the DFER seed varies (static models, folds, features shared)
    extra: dict[str, Any] = field(default_factory=dict)  # folders of published partition files
    # ('<corpus>_partitions_dir', e.g. cremad_partitions_dir), roots and settings of plug-in corpora ('<corpus>_root')

    def __post_init__(self) -> None:
        for name, setting in settings().items():  # papermill parameters arrive here too: checked, not trusted
            object.__setattr__(self, name, setting.check(getattr(self, name)))
        renamed = sorted(key for key in self.extra if key.endswith("_partitions"))
        if renamed:
            raise SettingError(f"extra[{renamed[0]!r}] is now extra['{renamed[0]}_dir'] (the folder of the corpus' "
                               "published partition files); rename the key")
        if self.affectnet_root is not None and self.ferplus_root is not None:
            raise SettingError("give one static corpus: AffectNet (--affectnet) or FER+ (--ferplus), not both")
        if self.profile == "full" and self.init == "random" and not self.allow_random_init:
            raise SettingError("the full profile reproduces the paper, which starts every MobileNetV2 from ImageNet; "
                             "init='random' trains from scratch and will not reach the paper's numbers. Pass "
                             "--set allow_random_init=true if that is what you want")
        from moede.models.backbone import IMAGENET_BACKBONES, feature_blocks

        if self.init == "imagenet" and self.backbone not in IMAGENET_BACKBONES:
            raise SettingError(f"backbone={self.backbone} has no shipped ImageNet weights (only "
                               f"{', '.join(IMAGENET_BACKBONES)}); add --set init=random")
        if self.trainable_from >= feature_blocks(self.backbone):
            raise SettingError(f"trainable_from={self.trainable_from} would freeze every block of {self.backbone}, "
                               f"which has {feature_blocks(self.backbone)}; use a value from 0 to "
                               f"{feature_blocks(self.backbone) - 1}")
        if self.device != "auto":
            from moede.training.precision import checked_precision

            checked_precision(self.precision, self.device)
        if self.trainable_from and self.augment:
            raise SettingError("trainable_from > 0 trains on cached activations of the frozen blocks, which cannot be "
                             "augmented; set augment=false or trainable_from=0")

    @classmethod
    def for_profile(cls, profile: str, **overrides: Any) -> "RunConfig":
        """Build the configuration of `profile` ('demo' or 'full'), then apply non-None `overrides` (checked)."""
        profile = settings()["profile"].check(profile)
        unknown = sorted(set(overrides) - {f.name for f in fields(cls)})
        if unknown:
            raise SettingError(f"unknown setting(s) {unknown}; settings are {', '.join(settings())}")
        values: dict[str, Any] = dict(PROFILES[profile], profile=profile, run_dir=Path("runs") / profile)
        values.update({k: v for k, v in overrides.items() if v is not None and v != ""})
        return cls(**values)

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> "RunConfig":
        """Build the configuration of a notebook's `params` dict: its `profile` (default 'demo') plus settings."""
        values = dict(params)
        return cls.for_profile(values.pop("profile", "demo"), **values)

    def with_(self, **changes: Any) -> "RunConfig":
        """Return a copy with `changes` applied."""
        return replace(self, **changes)

    def initialisation(self) -> "Initialisation":
        """The starting weights of this run's MobileNetV2s (with their normalisation and padding)."""
        from moede.models.pretrained import resolve_initialisation

        return resolve_initialisation(self.init, self.imagenet_weights, self.cache_dir)

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
