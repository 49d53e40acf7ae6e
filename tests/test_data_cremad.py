"""CREMA-D adapter: the real metadata and partition files in ../shared/data, and the demo layout."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from moede.data.cremad import (
    cremad_label_agreement, cremad_partitions, find_partitions_dir, label_choices, read_cremad, read_partition_file,
    read_present_clips,
)
from moede.data.demo import demo_cremad
from moede.data.emotions import CREMAD
from moede.data.splits import check_speaker_independent, speaker_folds


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
    # The real clips under videos/ are found (raw .flv and face-cropped .mp4); the others keep their expected path.
    videos = {p.stem: p.suffix for p in (shared_data / "crema-d" / "videos").iterdir()}
    present = [p for p in real_clips["path"] if Path(p).is_file()]
    assert {Path(p).stem for p in present} == set(videos) & set(real_clips["sample_id"])
    assert real_clips.attrs["missing_media"] == len(real_clips) - len(present)
    assert all("/videos/" in p and Path(p).suffix == videos[Path(p).stem] for p in present)
    assert {Path(p).suffix for p in present} == {".flv", ".mp4"}


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


def _tiny_cremad(root: Path, with_video: list[str]) -> Path:
    """A CREMA-D layout with five clips of three actors (one tied vote) and videos for `with_video` only."""
    (root / "videos").mkdir(parents=True)
    rows = [("1001_DFA_ANG_XX", "A"), ("1001_IEO_HAP_LO", "H"), ("1002_DFA_SAD_XX", "S:N"),
            ("1002_IEO_NEU_XX", "N"), ("1003_DFA_FEA_XX", "D")]
    pd.DataFrame({"FileName": [r[0] for r in rows], "VoiceVote": "N", "VoiceLevel": 50, "FaceVote": "N",
                  "FaceLevel": 50, "MultiModalVote": [r[1] for r in rows], "MultiModalLevel": 50}).to_csv(
        root / "summaryTable.csv", index=False)
    for name in with_video:
        (root / "videos" / f"{name}.mp4").write_bytes(b"not decoded here")
    return root


def test_a_partial_corpus_keeps_the_clips_with_video_and_counts_the_others(tmp_path: Path) -> None:
    root = _tiny_cremad(tmp_path / "cremad", ["1001_DFA_ANG_XX", "1002_DFA_SAD_XX", "1003_DFA_FEA_XX"])
    consensus = read_present_clips(root, "consensus")  # the tied 1002_DFA_SAD_XX has no consensus label
    assert list(consensus["sample_id"]) == ["1001_DFA_ANG_XX", "1003_DFA_FEA_XX"]
    assert consensus.attrs["listed"] == 4 and consensus.attrs["missing_media"] == 2
    assert list(consensus["label"]) == ["anger", "disgust"]  # the vote, not the file name's fear
    intended = read_present_clips(root, "intended")
    assert list(intended["label"]) == ["anger", "sad", "fear"] and intended.attrs["missing_media"] == 2
    assert intended["consensus"].isna().tolist() == [False, True, False]
    choices = label_choices(root)
    assert choices.loc["consensus", "clips"] == 2 and choices.loc["intended", "clips"] == 3
    assert choices.loc["intended", "sad"] == 1 and choices.loc["consensus", "sad"] == 0
    with pytest.raises(ValueError, match="labels must be one of"):
        read_cremad(root, "votes")


def test_a_corpus_without_any_video_is_refused_naming_the_folders(tmp_path: Path) -> None:
    root = _tiny_cremad(tmp_path / "cremad", [])
    with pytest.raises(FileNotFoundError, match="none of the 4 CREMA-D clips.*videos"):
        read_present_clips(root)


def test_speaker_folds_test_every_clip_once_without_sharing_actors() -> None:
    clips = pd.DataFrame({"sample_id": [f"c{i}" for i in range(40)], "speaker": [f"a{i % 11}" for i in range(40)],
                          "label": "anger", "split": None})
    folds = speaker_folds(clips, k=4, seed=3)
    tested = pd.concat([f[f["split"] == "test"] for f in folds])["sample_id"]
    assert sorted(tested) == sorted(clips["sample_id"])  # every clip a test clip exactly once
    for i, fold in enumerate(folds):
        check_speaker_independent(fold)
        assert set(fold.loc[fold["split"] == "dev", "speaker"]) == set(
            folds[(i + 1) % 4].loc[folds[(i + 1) % 4]["split"] == "test", "speaker"])
    assert max(len(f[f["split"] == "test"]) for f in folds) - min(len(f[f["split"] == "test"]) for f in folds) <= 4
    assert [f["split"].tolist() for f in folds] == [f["split"].tolist() for f in speaker_folds(clips, 4, seed=3)]
    with pytest.raises(ValueError, match="folds need from 3 to 11"):
        speaker_folds(clips, k=2)


def test_the_real_clips_get_folds_by_actor_and_say_why(shared_data: Path) -> None:
    root = shared_data / "crema-d"
    clips = read_present_clips(root, "intended")
    assert len(clips) == 78 and clips["speaker"].nunique() == 46 and clips.attrs["missing_media"] == 7442 - 78
    parts = cremad_partitions(clips, find_partitions_dir(root), n=5, folds=5)
    assert "folds by actor" in parts[0].attrs["partitioning"] and "test only 30" in parts[0].attrs["partitioning"]
    tested = pd.concat([p[p["split"] == "test"] for p in parts])["sample_id"]
    assert sorted(tested) == sorted(clips["sample_id"])
    # The full metadata table keeps the published partitions: their test sets are large enough.
    full = cremad_partitions(read_cremad(root), find_partitions_dir(root), n=1)
    assert full[0].attrs["partitioning"].startswith("the 1 published partitions")
