"""Check the user's dataset roots before a run: layout, readable label files and media present, with counts; and
refuse to run the paper's settings on generated demo data unless asked to."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from moede.config import PROFILES, RunConfig
from moede.errors import InputDataError, SettingError


@dataclass(frozen=True)
class RootCheck:
    """What was found under one dataset root: labelled samples, and how many of their media files exist."""

    corpus: str
    root: Path
    labelled: int
    found: int
    unit: str  # "images" or "clips"

    def describe(self) -> str:
        """One line with the counts found, e.g. 'CREMA-D at /data/cremad: 7442 of 7442 labelled clips found'."""
        return f"{self.corpus} at {self.root}: {self.found} of {self.labelled} labelled {self.unit} found"


def _read_static(root: Path) -> tuple[str, pd.DataFrame]:
    """The static corpus table: an image folder (labels.csv) or AffectNet's file lists, images not yet checked."""
    from moede.data.affectnet import read_affectnet
    from moede.data.imagefolder import read_image_folder

    if (root / "labels.csv").is_file():
        return "image folder", read_image_folder(root)
    return "AffectNet", read_affectnet(root, check_images=False)


def _read_cremad(root: Path) -> tuple[str, pd.DataFrame]:
    """The CREMA-D clip table, after reading every published partition file there is."""
    from moede.data.cremad import find_partitions_dir, read_cremad, read_partition_file

    partitions = find_partitions_dir(root)
    for path in sorted(partitions.glob("label_consensus_*.csv")) if partitions else []:
        read_partition_file(path)
    return "CREMA-D", read_cremad(root)


def _read_msp_improv(root: Path) -> tuple[str, pd.DataFrame]:
    """The MSP-IMPROV clip table, after reading every partition file under root/partitions."""
    from moede.data.mspimprov import read_msp_improv, read_msp_partition_file

    for path in sorted((root / "partitions").glob("labels_consensus_*.csv")):
        read_msp_partition_file(path)
    return "MSP-IMPROV", read_msp_improv(root)


READERS: dict[str, tuple[str, str, Callable[[Path], tuple[str, pd.DataFrame]]]] = {
    "affectnet_root": ("AffectNet", "images", _read_static),
    "cremad_root": ("CREMA-D", "clips", _read_cremad),
    "msp_improv_root": ("MSP-IMPROV", "clips", _read_msp_improv),
}
"""RunConfig root field -> (corpus name, media unit, reader)."""


def check_root(field: str, root: Path) -> RootCheck:
    """Read one dataset root's label files and count its media; InputDataError (one line, naming the file) if the
    root is missing, a label file is unreadable or not one labelled sample has its media file."""
    name, unit, read = READERS[field]
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
    return RootCheck(corpus, root, len(table), int(present.sum()), unit)


def check_inputs(cfg: RunConfig) -> dict[str, RootCheck]:
    """Check every dataset root the configuration names, and the ImageNet weights file, before anything runs."""
    if cfg.imagenet_weights is not None and not Path(cfg.imagenet_weights).is_file():
        raise InputDataError(f"the ImageNet weights file {cfg.imagenet_weights} does not exist; fix the path or "
                             "leave --imagenet-weights out to use the shipped weights")
    return {field: check_root(field, Path(getattr(cfg, field))) for field in READERS if getattr(cfg, field)}


CORPUS_OPTIONS = {"static": "--affectnet", "cremad": "--cremad", "msp_improv": "--msp-improv"}
"""Each corpus of a run and the option naming its root."""


def paper_settings(cfg: RunConfig) -> bool:
    """Whether `cfg` trains at the paper's scale: the full profile, or every setting the full profile sets."""
    return cfg.profile == "full" or all(getattr(cfg, key) == value for key, value in PROFILES["full"].items())


def generated_corpora(cfg: RunConfig, corpora: tuple[str, ...] = tuple(CORPUS_OPTIONS)) -> list[str]:
    """The options of the corpora among `corpora` that `cfg` would replace by generated demo data."""
    from moede.stages.resolve import static_kind, video_kind

    generated = {"static": static_kind(cfg) == "demo", "cremad": video_kind(cfg) == "demo",
                 "msp_improv": cfg.msp_improv_root is None}
    return [CORPUS_OPTIONS[corpus] for corpus in corpora if generated[corpus]]


def demo_data_refusal(cfg: RunConfig, corpora: tuple[str, ...] = tuple(CORPUS_OPTIONS)) -> str | None:
    """Why a run at the paper's settings will not start on generated demo data (None when it may start)."""
    missing = generated_corpora(cfg, corpora) if paper_settings(cfg) and not cfg.allow_demo_data else []
    if not missing:
        return None
    return (f"the {cfg.profile} profile trains at the paper's settings ({cfg.image_size} px faces, up to "
            f"{max(cfg.sfer_epochs, cfg.fusion_epochs)} epochs: days on a CPU) and will not start on generated demo "
            f"data, which cannot give the paper's numbers; give the corpora with {', '.join(missing)}, or pass "
            "--allow-demo-data (--set allow_demo_data=true) to run on the demo data anyway")


def refuse_demo_data(cfg: RunConfig, corpora: tuple[str, ...] = tuple(CORPUS_OPTIONS)) -> None:
    """Raise a SettingError (demo_data_refusal) when `cfg` would train at the paper's settings on demo data."""
    refusal = demo_data_refusal(cfg, corpora)
    if refusal:
        raise SettingError(refusal)
