"""CREMA-D adapter: the real metadata and partition files in ../shared/data, and the demo layout."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from moede.data.cremad import (
    cremad_label_agreement, cremad_partitions, find_partitions_dir, read_cremad, read_partition_file,
)
from moede.data.demo import demo_cremad
from moede.data.emotions import CREMAD
from moede.data.splits import check_speaker_independent


@pytest.fixture(scope="module")
def real_clips(shared_data: Path) -> pd.DataFrame:
    return read_cremad(shared_data / "crema-d")


def test_real_summary_table(shared_data: Path, real_clips: pd.DataFrame) -> None:
    summary = pd.read_csv(shared_data / "crema-d" / "summaryTable.csv")
    assert len(summary) == 7442 and summary["FileName"].str[:4].nunique() == 91
    ties = summary["MultiModalVote"].str.contains(":")
    assert real_clips.attrs["dropped_ties"] == ties.sum() > 0
    assert len(real_clips) == 7442 - ties.sum()
    assert real_clips["speaker"].nunique() == 91 and set(real_clips["label"]) == set(CREMAD)
    # The real clips under videos/ are found (as .flv); the others keep their expected path.
    videos = {p.stem for p in (shared_data / "crema-d" / "videos").glob("*.flv")}
    present = [p for p in real_clips["path"] if Path(p).is_file()]
    assert {Path(p).stem for p in present} == videos & set(real_clips["sample_id"])
    assert real_clips.attrs["missing_media"] == len(real_clips) - len(present)
    assert all(p.endswith(".flv") and "/videos/" in p for p in present)


def test_real_partition_files(shared_data: Path, real_clips: pd.DataFrame) -> None:
    folder = find_partitions_dir(shared_data / "crema-d")
    assert folder is not None
    parts = cremad_partitions(real_clips, folder)
    assert len(parts) == 5
    for k, part in enumerate(parts, start=1):
        assert len(part) == 5820 == len(read_partition_file(folder / f"label_consensus_{k}.csv"))
        check_speaker_independent(part)
        assert part.groupby("split")["speaker"].nunique().to_dict() == {"dev": 14, "test": 14, "train": 63}
        # Measured: every clip in both tables has the same label (5,814 of 5,814); the 6 others are 4-4 audio-visual
        # ties in summaryTable, which we drop and the partition files break, so they take the file's label.
        assert cremad_label_agreement(real_clips, part) >= 0.999
        from_file = part[part["label_source"] == "partition"]
        assert len(from_file) == part.attrs["labels_from_partition"] <= 10
        assert not from_file["sample_id"].isin(real_clips["sample_id"]).any()


def test_generated_partitions_on_real_actors(real_clips: pd.DataFrame) -> None:
    parts = cremad_partitions(real_clips, n=5, seed=0)
    assert len(parts) == 5
    for part in parts:
        check_speaker_independent(part)
        counts = part.groupby("split")["speaker"].nunique()
        assert counts.sum() == 91
        for split, fraction in (("train", 0.7), ("dev", 0.15), ("test", 0.15)):
            assert abs(counts[split] - fraction * 91) <= 1
    assert [p["split"].tolist() for p in parts] == [p["split"].tolist() for p in cremad_partitions(real_clips)]


def test_demo_cremad_layout(tmp_path: Path) -> None:
    root = demo_cremad(tmp_path / "cremad", n_actors=3, sentences=1, frames=(8, 10), size=64)
    clips = read_cremad(root)
    summary = pd.read_csv(root / "processedResults" / "summaryTable.csv")
    assert len(clips) + clips.attrs["dropped_ties"] == len(summary) == 18
    assert (root / "VideoDemographics.csv").is_file() and clips.attrs["missing_media"] == 0
    for row in clips.head(4).itertuples():
        capture = cv2.VideoCapture(row.path)
        frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        ok, frame = capture.read()
        capture.release()
        marks = np.load(row.landmarks)
        assert ok and frame.shape == (64, 64, 3) and marks.shape == (frames, 68, 2) and 8 <= frames <= 10
    with pytest.raises(FileNotFoundError, match="summaryTable.csv"):
        read_cremad(tmp_path)
