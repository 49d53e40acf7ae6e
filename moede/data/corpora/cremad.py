"""CREMA-D as a video corpus plug-in: 6 classes, consensus or intended labels, published or generated partitions."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from moede.data.corpus import VideoCorpus, register_corpus
from moede.data.cremad import (cremad_partitions, find_partitions_dir, read_cremad, read_partition_file,
                               read_present_clips)
from moede.data.emotions import CREMAD


def check_layout(root: Path) -> pd.DataFrame:
    """Every clip summaryTable lists, after reading every published partition file there is."""
    partitions = find_partitions_dir(root)
    for path in sorted(partitions.glob("label_consensus_*.csv")) if partitions else []:
        read_partition_file(path)
    return read_cremad(root)


def shared_copy(data: Path) -> Path | None:
    """data/crema-d when it holds CREMA-D's summaryTable and a videos/ folder (../shared/data's real clips)."""
    root = data / "crema-d"
    return root if (root / "summaryTable.csv").is_file() and (root / "videos").is_dir() else None


def write_demo(folder: Path, seed: int) -> Path:
    """The CREMA-D-layout demo corpus (drawn with OpenCV, imported only when a demo is written)."""
    from moede.data.demo import demo_cremad

    return demo_cremad(folder, seed=seed)


CORPUS = register_corpus(VideoCorpus(
    name="cremad", title="CREMA-D", classes=CREMAD, read=read_present_clips, check=check_layout,
    find_partitions=find_partitions_dir, partitions=cremad_partitions, demo=write_demo,
    demo_title="CREMA-D-layout demo", banks=("ffe", "ftfe", "sfe", "imagenet"),
    read_settings={"labels": "cremad_labels"},
    partition_settings={"n": "partitions", "seed": "seed", "folds": "actor_folds"},
    shared=shared_copy, demo_setting="video_corpus", chapters="chapters 5-6 (CREMA-D)",
    help="CREMA-D root (VideoFlash/, processedResults/ ...)"))
