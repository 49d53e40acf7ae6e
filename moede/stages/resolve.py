"""Pick the data of a run: the user's corpus path, else the shared real stand-in (static only), else the demo."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from moede.config import RunConfig
from moede.data.affectnet import read_affectnet
from moede.data.colour import corpus_colour
from moede.data.cremad import read_cremad
from moede.data.demo import demo_cremad, demo_msp_improv, demo_static
from moede.data.imagefolder import read_image_folder
from moede.data.mspimprov import read_msp_improv
from moede.sources import DataSource, shared_data_root


def _with_source(frame: pd.DataFrame, source: DataSource) -> pd.DataFrame:
    """Record where the table came from in attrs['source']."""
    frame.attrs["source"] = source
    return frame


def _user_root(path: Path | None, name: str) -> Path | None:
    """The user's corpus path, checked to exist."""
    if path is None:
        return None
    path = Path(path).expanduser()
    if not path.is_dir():
        raise FileNotFoundError(f"the {name} path {path} does not exist; fix the path or leave it empty to use the "
                                "embedded demo data")
    return path


def static_kind(cfg: RunConfig) -> str:
    """Which static corpus resolve_static picks: 'corpus' (cfg.affectnet_root), 'shared' or 'demo'."""
    if cfg.static_corpus == "demo":
        return "demo"
    if cfg.affectnet_root is not None:
        return "corpus"
    shared = shared_data_root()
    return "shared" if shared is not None and (shared / "facial_expressions" / "labels.csv").is_file() else "demo"


def resolve_static(cfg: RunConfig) -> pd.DataFrame:
    """AffectNet at cfg.affectnet_root, else ../shared/data/facial_expressions, else the generated demo corpus
    (always the demo when cfg.static_corpus is 'demo')."""
    kind = static_kind(cfg)
    if kind == "corpus":
        root = _user_root(cfg.affectnet_root, "AffectNet")
        if (root / "labels.csv").is_file():
            return _with_source(read_image_folder(root, seed=cfg.seed), DataSource("image folder", "corpus", str(root)))
        return _with_source(read_affectnet(root), DataSource("AffectNet", "corpus", str(root)))
    if kind == "shared":
        folder = shared_data_root() / "facial_expressions"
        return _with_source(read_image_folder(folder, seed=cfg.seed),
                            DataSource("facial_expressions", "shared", str(folder)))
    root = demo_static(Path(cfg.run_dir) / "data" / "affectnet_demo", seed=cfg.seed)
    return _with_source(read_affectnet(root), DataSource("AffectNet-layout demo", "demo", str(root)))


def frame_colour(cfg: RunConfig) -> str:
    """The colour video frames and photos are shown to the experts of `cfg` in: cfg.frame_colour, or for 'auto' the
    colour of the static corpus they were trained on ('grey' for ../shared's greyscale photos)."""
    if cfg.frame_colour != "auto":
        return cfg.frame_colour
    return corpus_colour(list(resolve_static(cfg)["path"]), seed=cfg.seed)


def shared_cremad() -> Path | None:
    """../shared/data/crema-d when it holds CREMA-D's summaryTable and a videos/ folder, else None."""
    shared = shared_data_root()
    root = shared / "crema-d" if shared is not None else None
    return root if root is not None and (root / "summaryTable.csv").is_file() and (root / "videos").is_dir() else None


def video_kind(cfg: RunConfig) -> str:
    """Which CREMA-D resolve_cremad picks: 'corpus' (cfg.cremad_root), 'shared' (the real clips of ../shared) or
    'demo'."""
    if cfg.video_corpus == "demo":
        return "demo"
    if cfg.cremad_root is not None:
        return "corpus"
    return "shared" if shared_cremad() is not None else "demo"


def resolve_cremad(cfg: RunConfig) -> pd.DataFrame:
    """The CREMA-D clips with video at cfg.cremad_root, else ../shared/data/crema-d's real clips, else the generated
    demo corpus (always the demo when cfg.video_corpus is 'demo'), labelled as cfg.cremad_labels says.

    attrs['partitions_dir'] names the folder of published partition files (root or root/partitions holding
    label_consensus_1.csv), None for the demo (generated partitions); `cremad_partitions` takes it.
    """
    from moede.data.cremad import find_partitions_dir, read_present_clips

    kind = video_kind(cfg)
    if kind == "demo":
        root = demo_cremad(Path(cfg.run_dir) / "data" / "cremad_demo", seed=cfg.seed)
        frame = _with_source(read_cremad(root, cfg.cremad_labels),
                             DataSource("CREMA-D-layout demo", "demo", str(root)))
        frame.attrs["partitions_dir"] = None
        return frame
    root = _user_root(cfg.cremad_root, "CREMA-D") if kind == "corpus" else shared_cremad()
    frame = read_present_clips(root, cfg.cremad_labels)
    corpus = "CREMA-D" if kind == "corpus" else f"CREMA-D, the {len(frame)} real clips of ../shared/data"
    frame = _with_source(frame, DataSource(corpus, kind, str(root)))
    if frame.attrs["missing_media"]:
        print(f"CREMA-D at {root}: {len(frame)} of the {frame.attrs['listed']} clips listed ({cfg.cremad_labels} "
              f"labels) have a video; the other {frame.attrs['missing_media']} are skipped")
    partitions = find_partitions_dir(root)
    frame.attrs["partitions_dir"] = str(partitions) if partitions else None
    return frame


def resolve_msp_improv(cfg: RunConfig) -> pd.DataFrame:
    """MSP-IMPROV clips at cfg.msp_improv_root (partition files from root/partitions when present), else the demo."""
    root = _user_root(cfg.msp_improv_root, "MSP-IMPROV")
    if root is not None:
        partitions = root / "partitions" if (root / "partitions" / "labels_consensus_1.csv").is_file() else None
        frame = _with_source(read_msp_improv(root, partitions), DataSource("MSP-IMPROV", "corpus", str(root)))
        frame.attrs["partitions_dir"] = str(partitions) if partitions else None
        return frame
    root = demo_msp_improv(Path(cfg.run_dir) / "data" / "msp_improv_demo", seed=cfg.seed)
    frame = _with_source(read_msp_improv(root), DataSource("MSP-IMPROV-like demo", "demo", str(root)))
    frame.attrs["partitions_dir"] = None
    return frame
