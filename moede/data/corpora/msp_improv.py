"""MSP-IMPROV as a video corpus plug-in: 4 classes, session-independent partitions (published files or generated)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from moede.data.corpus import VideoCorpus, register_corpus
from moede.data.emotions import MSP_IMPROV
from moede.data.mspimprov import msp_improv_partitions, read_msp_improv, read_msp_partition_file


def find_partitions(root: Path) -> Path | None:
    """root/partitions when it holds labels_consensus_1.csv, else None."""
    folder = Path(root) / "partitions"
    return folder if (folder / "labels_consensus_1.csv").is_file() else None


def read_clips(root: Path) -> pd.DataFrame:
    """The 4-class clips under `root`, split by its first published partition file when there is one."""
    return read_msp_improv(root, find_partitions(root))


def check_layout(root: Path) -> pd.DataFrame:
    """The labelled clips, after reading every partition file under root/partitions."""
    for path in sorted((Path(root) / "partitions").glob("labels_consensus_*.csv")):
        read_msp_partition_file(path)
    return read_msp_improv(root)


def write_demo(folder: Path, seed: int) -> Path:
    """The MSP-IMPROV-like demo corpus (drawn with OpenCV, imported only when a demo is written)."""
    from moede.data.demo import demo_msp_improv

    return demo_msp_improv(folder, seed=seed)


CORPUS = register_corpus(VideoCorpus(
    name="msp_improv", title="MSP-IMPROV", classes=MSP_IMPROV, read=read_clips, check=check_layout,
    find_partitions=find_partitions, partitions=msp_improv_partitions, demo=write_demo,
    demo_title="MSP-IMPROV-like demo", banks=("ffe", "sfe"),
    partition_settings={"n": "msp_improv_partitions", "seed": "seed"}, chapters="chapter 7 (MSP-IMPROV)",
    help="MSP-IMPROV root"))
