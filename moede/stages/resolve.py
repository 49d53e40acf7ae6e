"""Pick the data of a run: the user's corpus path, else a real copy in ../shared/data, else the generated demo; the
video corpora are looked up in the registry (moede.data.corpus), the static one is AffectNet or an image folder."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from moede.config import RunConfig
from moede.data.affectnet import read_affectnet
from moede.data.colour import corpus_colour
from moede.data.corpus import VideoCorpus, find_corpus
from moede.data.demo import demo_static
from moede.data.ferplus import describe, read_ferplus
from moede.data.imagefolder import read_image_folder
from moede.paths import shown
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
    """Which static corpus resolve_static picks: 'corpus' (cfg.affectnet_root or cfg.ferplus_root), 'shared' or
    'demo'."""
    if cfg.static_corpus == "demo":
        return "demo"
    if cfg.affectnet_root is not None or cfg.ferplus_root is not None:
        return "corpus"
    shared = shared_data_root()
    return "shared" if shared is not None and (shared / "facial_expressions" / "labels.csv").is_file() else "demo"


def resolve_static(cfg: RunConfig) -> pd.DataFrame:
    """AffectNet at cfg.affectnet_root, or FER+ at cfg.ferplus_root (its training faces capped at
    cfg.ferplus_per_class_cap per emotion, its counts printed), else ../shared/data/facial_expressions, else the
    generated demo corpus (always the demo when cfg.static_corpus is 'demo')."""
    kind = static_kind(cfg)
    if kind == "corpus" and cfg.ferplus_root is not None:
        root = _user_root(cfg.ferplus_root, "FER+")
        frame = read_ferplus(root, Path(cfg.run_dir) / "data" / "ferplus_faces", cap=cfg.ferplus_per_class_cap,
                             seed=cfg.seed)
        print(describe(frame))
        return _with_source(frame, DataSource(describe(frame), "public", str(root)))
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


def corpus_root(cfg: RunConfig, corpus: VideoCorpus) -> Path | None:
    """The root the user gave for `corpus`: the RunConfig field '<name>_root' when there is one, else
    cfg.extra['<name>_root'] (corpora registered as plug-ins), else None."""
    field = corpus.root_setting
    root = getattr(cfg, field) if hasattr(cfg, field) else cfg.extra.get(field)
    return None if root is None else Path(root)


def corpus_settings(cfg: RunConfig, names: Mapping[str, str]) -> dict[str, Any]:
    """Keyword -> value of each setting `names` maps a keyword to: a RunConfig field, else a key of cfg.extra."""
    return {key: getattr(cfg, name) if hasattr(cfg, name) else cfg.extra[name] for key, name in names.items()}


def shared_copy(corpus: VideoCorpus) -> Path | None:
    """The real copy of `corpus` in ../shared/data (corpus.shared says where and checks it), else None."""
    shared = shared_data_root()
    return corpus.shared(shared) if shared is not None and corpus.shared is not None else None


def corpus_kind(cfg: RunConfig, name: str) -> str:
    """Which data resolve_video picks for video corpus `name`: 'demo' when its demo setting says so, else 'corpus'
    (the user's root), 'shared' (a real copy in ../shared/data) or 'demo'."""
    corpus = find_corpus(name)
    if corpus.demo_setting is not None and getattr(cfg, corpus.demo_setting) == "demo":
        return "demo"
    if corpus_root(cfg, corpus) is not None:
        return "corpus"
    return "shared" if shared_copy(corpus) is not None else "demo"


def video_kind(cfg: RunConfig) -> str:
    """Which CREMA-D resolve_cremad picks: 'corpus' (cfg.cremad_root), 'shared' (the real clips of ../shared) or
    'demo'."""
    return corpus_kind(cfg, "cremad")


def resolve_video(cfg: RunConfig, name: str) -> pd.DataFrame:
    """The clips of video corpus `name` (moede.data.corpus) with video: at the user's root, else its real copy in
    ../shared/data, else its generated demo corpus (corpus_kind), read with the settings its declaration names.

    attrs['partitions_dir'] names the folder of its published partition files found beside the clips, None for the
    demo (generated partitions); attrs['source'] says where the clips came from.
    """
    corpus = find_corpus(name)
    kind = corpus_kind(cfg, name)
    settings = corpus_settings(cfg, corpus.read_settings)
    if kind == "demo":
        root = corpus.demo(Path(cfg.run_dir) / "data" / f"{name}_demo", cfg.seed)
        frame = _with_source(corpus.read(root, **settings), DataSource(corpus.demo_title, "demo", str(root)))
        frame.attrs["partitions_dir"] = None
        return frame
    root = _user_root(corpus_root(cfg, corpus), corpus.title) if kind == "corpus" else shared_copy(corpus)
    frame = corpus.read(root, **settings)
    title = corpus.title if kind == "corpus" else f"{corpus.title}, the {len(frame)} real clips of ../shared/data"
    frame = _with_source(frame, DataSource(title, kind, str(root)))
    if frame.attrs.get("missing_media") and "listed" in frame.attrs:
        print(f"{corpus.title} at {shown(root)}: {len(frame)} of the {frame.attrs['listed']} clips listed"
              f"{_read_with(settings)} have a video; the other {frame.attrs['missing_media']} are skipped")
    partitions = corpus.find_partitions(root)
    frame.attrs["partitions_dir"] = str(partitions) if partitions else None
    return frame


def _read_with(settings: Mapping[str, Any]) -> str:
    """The read settings in words, e.g. ' (labels intended)', or nothing."""
    return f" ({', '.join(f'{key} {value}' for key, value in settings.items())})" if settings else ""


def resolve_cremad(cfg: RunConfig) -> pd.DataFrame:
    """The CREMA-D clips (resolve_video): at cfg.cremad_root, else ../shared/data/crema-d's real clips, else the
    generated demo (always the demo when cfg.video_corpus is 'demo'), labelled as cfg.cremad_labels says."""
    return resolve_video(cfg, "cremad")


def resolve_msp_improv(cfg: RunConfig) -> pd.DataFrame:
    """MSP-IMPROV clips (resolve_video) at cfg.msp_improv_root (partition files from root/partitions when present),
    else the demo."""
    return resolve_video(cfg, "msp_improv")
