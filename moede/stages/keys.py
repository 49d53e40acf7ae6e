"""Reuse keys derived from what each stage reads, not listed by hand.

A stage declares the RunConfig settings its training reads (`STAGES`); its key is those settings' values plus its
inputs' digests (the aligned data, the checkpoints it starts from, the model's spec, the split). Its training runs on
a config that records every setting read (`reading`), and a read the declaration misses stops the run
(`UndeclaredSetting`) instead of letting a later run silently reuse a model made with another value.
Every RunConfig field is either read by a stage, or reaches the keys through an input (`THROUGH_INPUTS`), or changes
no model (`NOT_OUTPUT`): tests/test_reuse_keys.py checks that the three cover every field.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from typing import Any

from moede.config import RunConfig

FIELDS = frozenset(f.name for f in fields(RunConfig))

NOT_OUTPUT: dict[str, str] = {
    "profile": "fills in the other settings, whose values are what the keys hold",
    "run_dir": "where the run is kept",
    "cache_dir": "where converted ImageNet weights are kept",
    "device": "where training runs",
    "loader_workers": "how many processes read the faces (batches and augmentation are drawn in the training one)",
    "recompute_activations": "how memory is traded for time: the same weights bit for bit (tests/test_recompute.py)",
    "allow_random_init": "a guard of the full profile",
    "allow_demo_data": "a guard of the full profile",
    "ablation_partitions": "how many partitions Table 7 trains, not what one model learns",
    "gate_k": "which gated MoEDE chapter 10 shows (each k is its own model)",
    "seed_spread": "how many DFER seeds chapter 5's spread trains (each seed is its own model, keyed by its seed)",
}
"""Settings that change where or whether a model is trained, never what it learns."""

THROUGH_INPUTS: dict[str, str] = {
    "static_corpus": "the aligned faces (static alignment's key, in the data digest)",
    "affectnet_root": "the aligned faces (static alignment's key, in the data digest)",
    "ferplus_root": "the aligned faces (static alignment's key, in the data digest)",
    "ferplus_labels": "the training targets: 'soft' keeps FER+'s vote counts in the static table, in the data digest",
    "video_corpus": "the clips and splits (the DFER split digest)",
    "cremad_root": "the clips and splits (the DFER split digest)",
    "msp_improv_root": "the clips and splits (the DFER split digest)",
    "cremad_labels": "the clips' labels (the DFER split digest)",
    "partitions": "the splits (the DFER split digest)",
    "msp_improv_partitions": "the splits (the DFER split digest)",
    "actor_folds": "the splits (the DFER split digest)",
    "extra": "partition folders and plug-in corpora's roots: their clips and files reach the DFER split digest",
    "dfer_experts": "which static checkpoints make the features (their digests, in the feature caches' key)",
    "readout": "the DFER model's spec",
    "sfe_layers": "the DFER model's spec",
    "baselines": "the DFER model's spec (and which baselines are trained)",
}
"""Settings whose effect reaches a stage's key through one of its inputs' digests."""

INITIALISATION = ("init", "imagenet_weights")  # keyed by the initialisation's kind and weights' hash, not the path


@dataclass(frozen=True)
class Stage:
    """A training stage: the settings its training reads (some only `when` a condition on the config holds)."""

    name: str
    reads: tuple[str, ...]
    when: dict[str, Callable[[RunConfig], bool]] = field(default_factory=dict)

    def reads_of(self, cfg: RunConfig) -> frozenset[str]:
        """The settings this stage reads under `cfg`."""
        return frozenset(name for name in self.reads if name not in self.when or self.when[name](cfg))

    def key(self, cfg: RunConfig, **inputs: Any) -> dict[str, Any]:
        """The stage's reuse key under `cfg`: the values of the settings it reads plus its `inputs`' digests."""
        reads = self.reads_of(cfg)
        values = {name: getattr(cfg, name) for name in sorted(reads - set(INITIALISATION))}
        if reads & set(INITIALISATION):
            values.update(cfg.initialisation().key())
        return {"stage": self.name, "settings": values, **inputs}

    def check(self, cfg: RunConfig, read: Iterable[str]) -> None:
        """Stop with UndeclaredSetting when training under `cfg` read an output-changing setting the stage does not
        declare."""
        missing = sorted(set(read) - self.reads_of(cfg) - set(NOT_OUTPUT))
        if missing:
            raise UndeclaredSetting(f"the {self.name} stage read setting(s) {missing} that its reuse key does not "
                                    f"hold; add them to STAGES['{self.name}'] in moede/stages/keys.py")


class UndeclaredSetting(RuntimeError):
    """A stage's training read a setting its reuse key does not hold."""


_STATIC = ("seed", "init", "imagenet_weights", "image_size", "augment", "trainable_from", "batch_size",
           "static_select_by", "optimizer", "precision")
STAGES: dict[str, Stage] = {stage.name: stage for stage in (
    Stage("static_alignment", ("static_corpus", "affectnet_root", "ferplus_root", "ferplus_per_class_cap", "seed",
                               "image_size", "align_landmarks", "align_fill")),
    Stage("features", ("image_size", "max_frames", "frame_step", "frame_colour", "align_landmarks", "align_fill")),
    Stage("sfer", (*_STATIC, "backbone", "sfer_epochs", "learning_rate")),
    Stage("expert", (*_STATIC, "experts", "expert_epochs", "expert_learning_rate", "lora_rank"),
          when={"lora_rank": lambda cfg: cfg.experts == "lora"}),
    Stage("fusion", (*_STATIC, "fusion_epochs", "fusion_relu", "learning_rate")),
    Stage("dfer", ("seed", "dfer_epochs", "dfer_learning_rate", "clip_batch_size", "aux_weight", "aux_loss",
                   "optimizer", "standardize_features", "dfer_select_by")),
)}


class _Recording(RunConfig):
    """A RunConfig that notes the name of every field read from it (built by `reading`, never by its constructor)."""

    def __getattribute__(self, name: str) -> Any:
        if name in FIELDS:
            object.__getattribute__(self, "_read").add(name)
        return object.__getattribute__(self, name)

    def with_(self, **changes: Any) -> RunConfig:
        """A recording copy with `changes` applied, noting reads into the same set."""
        values = {name: object.__getattribute__(self, name) for name in FIELDS}
        return _recorder(RunConfig(**{**values, **changes}), object.__getattribute__(self, "_read"))


def _recorder(cfg: RunConfig, read: set[str]) -> RunConfig:
    """`cfg` as a _Recording that adds the fields read from it to `read`."""
    recording = object.__new__(_Recording)
    for name in FIELDS:
        object.__setattr__(recording, name, getattr(cfg, name))
    object.__setattr__(recording, "_read", read)
    return recording


def reading(cfg: RunConfig) -> tuple[RunConfig, set[str]]:
    """`cfg` as a config that records every setting read from it, and the set it records them in."""
    read: set[str] = set()
    return _recorder(cfg, read), read


def checked(stage: str, cfg: RunConfig, train: Callable[[RunConfig], Any]) -> Callable[[], Any]:
    """`train` run on a recording copy of `cfg`, stopped by STAGES[stage].check when it read an undeclared setting."""
    def run() -> Any:
        recording, read = reading(cfg)
        result = train(recording)
        STAGES[stage].check(cfg, read)
        return result

    return run
