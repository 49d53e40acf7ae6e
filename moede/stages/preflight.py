"""Check the user's dataset roots before a run: layout, readable label files and media present, with counts; and
refuse to run the paper's settings on generated demo data unless asked to."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from moede.config import PROFILES, RunConfig
from moede.data.corpus import VideoCorpus, video_corpora
from moede.errors import InputDataError, SettingError
from moede.paths import shown
from moede.stages.resolve import corpus_kind, corpus_root, static_kind


@dataclass(frozen=True)
class RootCheck:
    """What was found under one dataset root: labelled samples, and how many of their media files exist."""

    corpus: str
    root: Path
    labelled: int
    found: int
    unit: str  # "images" or "clips"
    note: str = ""  # what else the reader found (FER+: faces per emotion, faces the votes drop)

    def describe(self) -> str:
        """One line with the counts found, e.g. 'CREMA-D at /data/cremad: 7442 of 7442 labelled clips found'."""
        note = f"; {self.note}" if self.note else ""
        return f"{self.corpus} at {shown(self.root)}: {self.found} of {self.labelled} labelled {self.unit} found{note}"


def _read_static(root: Path) -> tuple[str, pd.DataFrame]:
    """The static corpus table: an image folder (labels.csv) or AffectNet in one of its layouts (named), images not
    yet checked."""
    from moede.data.affectnet import read_affectnet
    from moede.data.imagefolder import read_image_folder

    if (root / "labels.csv").is_file():
        return "image folder", read_image_folder(root)
    table = read_affectnet(root, check_images=False)
    return f"AffectNet ({table.attrs['layout']} layout)", table


def _read_ferplus(root: Path) -> tuple[str, pd.DataFrame]:
    """FER+'s table (either layout; for fer2013.csv the faces' `path` is that file, no PNG written)."""
    from moede.data.ferplus import read_ferplus

    return "FER+", read_ferplus(root, None, check_images=False)


Reader = Callable[[Path], tuple[str, pd.DataFrame]]


def _read_video(corpus: VideoCorpus) -> Reader:
    """The layout check of a registered video corpus as a reader: its name and its labelled clips."""
    return lambda root: (corpus.title, corpus.check(root))


def root_readers() -> dict[str, tuple[str, str, Reader]]:
    """Root setting -> (corpus name, media unit, reader): AffectNet's, FER+'s, then every registered video corpus'."""
    return {"affectnet_root": ("AffectNet", "images", _read_static), "ferplus_root": ("FER+", "images", _read_ferplus),
            **{c.root_setting: (c.title, "clips", _read_video(c)) for c in video_corpora()}}


def check_root(field: str, root: Path) -> RootCheck:
    """Read one dataset root's label files and count its media; InputDataError (one line, naming the file) if the
    root is missing, a label file is unreadable or not one labelled sample has its media file."""
    name, unit, read = root_readers()[field]
    if not root.is_dir():
        raise InputDataError(f"the {name} root {root} is not a folder; fix the path or leave it out to use the "
                             "embedded demo data")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            corpus, table = read(root)
    except InputDataError:
        raise
    except (ValueError, OSError) as error:
        raise InputDataError(str(error).splitlines()[0]) from error
    present = table["path"].map(lambda p: Path(p).is_file())
    if not present.any():
        raise InputDataError(f"{name} root {root}: none of its {len(table)} labelled {unit} is on disk (e.g. "
                             f"{table['path'].iloc[0]}); check that the media files are under the root")
    return RootCheck(corpus, root, len(table), int(present.sum()), unit, _note(table))


def _note(table: pd.DataFrame) -> str:
    """What a FER+ table says beyond its counts (moede.data.ferplus.describe), nothing for the other corpora."""
    from moede.data.ferplus import describe

    return describe(table) if "dropped" in table.attrs else ""


def check_inputs(cfg: RunConfig) -> dict[str, RootCheck]:
    """Check every dataset root the configuration names, and the ImageNet weights file, before anything runs."""
    if cfg.imagenet_weights is not None and not Path(cfg.imagenet_weights).is_file():
        raise InputDataError(f"the ImageNet weights file {cfg.imagenet_weights} does not exist; fix the path or "
                             "leave --imagenet-weights out to use the shipped weights")
    roots = {"affectnet_root": cfg.affectnet_root, "ferplus_root": cfg.ferplus_root,
             **{c.root_setting: corpus_root(cfg, c) for c in video_corpora()}}
    return {field: check_root(field, Path(root)) for field, root in roots.items() if root}


def corpus_options() -> dict[str, str]:
    """Each corpus of a run ('static' and every registered video corpus) and the option naming its root."""
    return {"static": "--affectnet (or --ferplus)", **{c.name: c.option for c in video_corpora()}}


def paper_settings(cfg: RunConfig) -> bool:
    """Whether `cfg` trains at the paper's scale: the full profile, or every setting the full profile sets."""
    return cfg.profile == "full" or all(getattr(cfg, key) == value for key, value in PROFILES["full"].items())


def generated_corpora(cfg: RunConfig, corpora: tuple[str, ...] | None = None) -> list[str]:
    """The options of the corpora among `corpora` (None: all of corpus_options) that `cfg` would replace by generated
    demo data."""
    options = corpus_options()
    return [options[corpus] for corpus in (options if corpora is None else corpora)
            if (static_kind(cfg) if corpus == "static" else corpus_kind(cfg, corpus)) == "demo"]


def demo_data_refusal(cfg: RunConfig, corpora: tuple[str, ...] | None = None) -> str | None:
    """Why a run at the paper's settings will not start on generated demo data (None when it may start)."""
    missing = generated_corpora(cfg, corpora) if paper_settings(cfg) and not cfg.allow_demo_data else []
    if not missing:
        return None
    return (f"the {cfg.profile} profile trains at the paper's settings ({cfg.image_size} px faces, up to "
            f"{max(cfg.sfer_epochs, cfg.fusion_epochs)} epochs: days on a CPU) and will not start on generated demo "
            f"data, which cannot give the paper's numbers; give the corpora with {', '.join(missing)}, or pass "
            "--allow-demo-data (--set allow_demo_data=true) to run on the demo data anyway")


def refuse_demo_data(cfg: RunConfig, corpora: tuple[str, ...] | None = None) -> None:
    """Raise a SettingError (demo_data_refusal) when `cfg` would train at the paper's settings on demo data."""
    refusal = demo_data_refusal(cfg, corpora)
    if refusal:
        raise SettingError(refusal)
