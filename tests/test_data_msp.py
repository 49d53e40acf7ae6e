"""MSP-IMPROV adapter: clip names, the real partition files' session independence, and the demo layout."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from moede.data.demo import demo_msp_improv
from moede.data.emotions import MSP_IMPROV
from moede.data.mspimprov import msp_improv_partitions, parse_name, read_msp_improv, read_msp_partition_file
from moede.data.splits import check_speaker_independent


def test_parse_name() -> None:
    fields = parse_name("MSP-IMPROV-S01A-F02-R-FF01.wav")
    assert fields["speaker"] == "F02" and fields["session"] == "S2" and fields["target"] == "A"
    assert fields["sentence"] == "01" and fields["scenario"] == "R"
    with pytest.raises(ValueError, match="not an MSP-IMPROV clip name"):
        parse_name("1001_DFA_ANG_XX")


def test_real_partition_files_are_subject_independent(shared_data: Path) -> None:
    files = sorted((shared_data / "msp-improv" / "partitions").glob("labels_consensus_*.csv"))
    assert len(files) == 5
    tests = set()
    for path in files:
        part = read_msp_partition_file(path)
        raw = pd.read_csv(path)
        assert len(part) == len(raw) and part["speaker"].nunique() == 12
        check_speaker_independent(part, by="session")
        check_speaker_independent(part, by="speaker")
        sessions = part.groupby("split")["session"].nunique().to_dict()
        assert sessions == {"dev": 1, "test": 1, "train": 4}
        # SpkrID in the files is the session number, the same as the session in the clip name.
        assert (part["session"] == [f"S{int(parse_name(n)['speaker'][1:])}" for n in part["sample_id"]]).all()
        tests |= set(part.loc[part["split"] == "test", "session"])
    assert len(tests) == 5


def test_demo_msp_improv_layout_and_partitions(tmp_path: Path) -> None:
    root = demo_msp_improv(tmp_path / "msp", per_speaker=1, frames=(8, 9), size=64)
    clips = read_msp_improv(root)
    assert len(clips) == 6 * 2 * 4 and set(clips["label"]) <= set(MSP_IMPROV)
    assert clips["speaker"].nunique() == 12 and clips.attrs["missing_media"] == 0
    assert clips["landmarks"].notna().all()
    check_speaker_independent(clips, by="session")
    parts = msp_improv_partitions(clips, n=6)
    assert sorted(p.loc[p["split"] == "test", "session"].iloc[0] for p in parts) == [f"S{k}" for k in range(1, 7)]
    # A partition folder in the published format is used when given.
    names = clips["sample_id"] + ".wav"
    folder = tmp_path / "partitions"
    folder.mkdir()
    split = clips["session"].map({"S1": "Test", "S2": "Development"}).fillna("Train")
    pd.DataFrame({"FileName": names, "SpkrID": clips["session"].str[1:], "Split_Set": split}).to_csv(
        folder / "labels_consensus_1.csv", index=False)
    given = read_msp_improv(root, folder)
    assert set(given.loc[given["split"] == "test", "session"]) == {"S1"}


def test_msp_labels_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="FileName,EmoClass"):
        read_msp_improv(tmp_path)
    (tmp_path / "labels.csv").write_text("FileName,EmoClass\nnot-a-name,H\n")
    with pytest.raises(ValueError, match="not MSP-IMPROV clip names"):
        read_msp_improv(tmp_path)


def _rename_media(root: Path, old: str, new: str) -> None:
    for video in root.rglob(f"{old}-IMPROV-*"):
        video.rename(video.with_name(new + video.name[len(old):]))


@pytest.mark.parametrize("labels_prefix, media_prefix", [("UTD", "MSP"), ("MSP", "UTD"), ("UTD", "UTD")])
def test_utd_and_msp_names_are_the_same_clip(tmp_path: Path, labels_prefix: str, media_prefix: str) -> None:
    root = demo_msp_improv(tmp_path / "msp", per_speaker=1, frames=(8, 9), size=64)
    labels = pd.read_csv(root / "labels.csv", dtype=str)
    labels["FileName"] = labels["FileName"].str.replace("MSP-IMPROV", f"{labels_prefix}-IMPROV", regex=False)
    labels.to_csv(root / "labels.csv", index=False)
    _rename_media(root, "MSP", media_prefix)
    clips = read_msp_improv(root)
    assert clips.attrs["missing_media"] == 0 and len(clips) == 6 * 2 * 4
    assert clips["sample_id"].str.startswith("MSP-IMPROV-").all()
    assert all(Path(p).is_file() for p in clips["path"])


def test_labels_matching_no_video_name_an_example_of_each(tmp_path: Path) -> None:
    root = demo_msp_improv(tmp_path / "msp", per_speaker=1, frames=(8, 9), size=64)
    labels = pd.read_csv(root / "labels.csv", dtype=str)
    labels["FileName"] = labels["FileName"].str.replace(r"\d\d$", "99", regex=True)  # turns with no video
    labels.to_csv(root / "labels.csv", index=False)
    with pytest.raises(ValueError, match=r"none of its \d+ labelled clips has a video .*label 'MSP-IMPROV-.*video"):
        read_msp_improv(root)


def test_table8_runs_one_partition_per_session_in_the_full_profile(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import moede.stages.dynamic as dynamic
    from moede.config import RunConfig

    root = demo_msp_improv(tmp_path / "msp", per_speaker=1, frames=(8, 9), size=64)
    seen = {}
    monkeypatch.setattr(dynamic, "_features", lambda cfg, dataset, classes, clips, partitions, banks:
                        seen.setdefault("partitions", partitions))
    cfg = RunConfig.for_profile("full", run_dir=tmp_path / "run", msp_improv_root=root)
    dynamic.msp_improv_features(cfg)
    tests = [p.loc[p["split"] == "test", "session"].unique().tolist() for p in seen["partitions"]]
    assert len(tests) == 6 and sorted(t[0] for t in tests) == [f"S{k}" for k in range(1, 7)]
