"""The book's chapters: one Jupytext notebook each, in dependency order, and where their files live."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from moede.sources import REPO_ROOT

NOTEBOOK_DIR = REPO_ROOT / "notebooks"
BUILD_DIR = REPO_ROOT / "_build"


@dataclass(frozen=True)
class Chapter:
    """One notebook of the book: its file stem, title, what it shows, the least tables/figures its page has, its
    exercises, the phrases its rendered page must hold (`says`: the statements a reader weighs its findings by), and
    the settings that shape what it shows (every chapter takes every setting)."""

    name: str
    title: str
    shows: str
    tables: int = 0
    figures: int = 0
    exercises: int = 0
    says: tuple[str, ...] = ()
    settings: tuple[str, ...] = ()

    @property
    def number(self) -> str:
        """The two-digit chapter number ('01'...)."""
        return self.name[:2]

    def source(self, notebook_dir: Path = NOTEBOOK_DIR) -> Path:
        """Path of the committed percent-format text notebook."""
        return notebook_dir / f"{self.name}.py"


# Dependency order: each later notebook reuses the run directory's artifacts of the earlier ones (and the stages
# train whatever is missing, so a chapter run alone still works).
INTERVAL = "95% interval"  # in the header of every column of bootstrap intervals (moede.evaluation.bootstrap)
POWER = "would need"  # in the heading of every power table (moede.evaluation.power)
CHAPTERS: tuple[Chapter, ...] = (
    Chapter("01_face_alignment", "Face alignment", "aligned faces and video frames", tables=1, figures=2,
            settings=("affectnet_root", "ferplus_root", "cremad_root", "static_corpus", "video_corpus", "image_size",
                      "align_fill", "max_frames", "frame_step", "align_landmarks")),
    Chapter("02_sfer", "The 8-class SFER model", "Table 2, training curves, confusion matrix", tables=2, figures=2,
            exercises=1, says=(INTERVAL,),
            settings=("static_corpus", "ferplus_labels", "ferplus_per_class_cap", "image_size", "sfer_epochs",
                      "learning_rate", "batch_size", "trainable_from", "augment", "init", "imagenet_weights",
                      "optimizer", "static_select_by")),
    Chapter("03_experts", "The eight emotion experts", "Table 1, balanced sampling", tables=2, exercises=1,
            settings=("expert_epochs", "expert_learning_rate", "image_size", "trainable_from", "seed")),
    Chapter("04_cams_diversity_fusion", "CAMs, expert diversity and fusion", "Figure 2, Table 4, Table 3",
            tables=3, figures=2, exercises=1, says=(INTERVAL, POWER), settings=("fusion_epochs", "fusion_relu")),
    Chapter("05_dfer", "Dynamic FER with MoEDE", "Table 5, every clip beside the floors, the clips the paper's gap "
            "would need, the spread over seeds, the frames' colour, training curves, confusion matrix",
            tables=6, figures=2, says=(INTERVAL, POWER),
            settings=("cremad_root", "video_corpus", "cremad_labels", "actor_folds", "frame_colour", "dfer_experts",
                      "dfer_epochs", "dfer_learning_rate", "partitions", "max_frames", "frame_step", "clip_batch_size",
                      "standardize_features", "readout", "aux_loss", "aux_weight", "baselines", "dfer_select_by",
                      "sfe_layers", "seed_spread")),
    Chapter("06_statistics", "Statistics, ablation and complexity", "t-test, Table 6, Table 7, complexity",
            tables=3, figures=1, says=(INTERVAL, POWER),
            settings=("ablation_partitions", "baselines", "readout", "aux_loss")),
    Chapter("07_msp_improv", "Generalization to MSP-IMPROV", "Table 8", tables=1, says=(INTERVAL,),
            settings=("msp_improv_root", "msp_improv_partitions", "sfe_layers")),
    Chapter("08_summary", "Paper vs this run", "every table beside the paper", tables=9,
            says=(INTERVAL,), settings=("run_dir",)),
    Chapter("09_try_it", "Try it on a video", "the exported bundle's model card, predictions, timelines",
            tables=1, figures=1, says=(INTERVAL,),
            settings=("run_dir", "device", "cremad_labels", "actor_folds", "frame_colour")),
    Chapter("10_proposals", "The paper's proposals, tested", "LoRA experts: size vs quality; gating: compute vs "
            "quality; the experts the gate runs", tables=3, figures=2, settings=("experts", "lora_rank", "gate_k")),
)


def chapter_names() -> list[str]:
    """Return the notebook names in dependency order."""
    return [c.name for c in CHAPTERS]


def find_chapter(key: str) -> Chapter:
    """Find a chapter by full name, number ('5', '05') or a unique name fragment ('dfer')."""
    key = key.strip().removesuffix(".py").removesuffix(".ipynb")
    if key.isdigit():
        matches = [c for c in CHAPTERS if int(c.number) == int(key)]
    else:
        matches = [c for c in CHAPTERS if c.name == key] or [c for c in CHAPTERS if key.lower() in c.name]
    if len(matches) != 1:
        raise ValueError(f"{key!r} names {len(matches)} notebooks; use a number or one of {chapter_names()}")
    return matches[0]


def select_chapters(names: list[str] | None = None, start_from: str | None = None) -> list[Chapter]:
    """Return the chapters to run: `names` (in dependency order), or all from `start_from` onwards, or all."""
    if names and start_from:
        raise ValueError("give either names (--only) or start_from (--from), not both")
    if names:
        wanted = {find_chapter(n).name for n in names}
        return [c for c in CHAPTERS if c.name in wanted]
    if start_from:
        first = CHAPTERS.index(find_chapter(start_from))
        return list(CHAPTERS[first:])
    return list(CHAPTERS)
