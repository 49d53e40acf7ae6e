"""Chapter 9's choice of clips and bundle: the partition whose models never saw an actor, and its test clips."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import moede.predict.media
from moede.data.emotions import CREMAD
from moede.data.splits import speaker_folds
from moede.sources import DataSource
from moede.stages.dynamic import DFERFeatures
from moede.stages.try_it import held_out_clips, partition_testing, try_it_media


def _features(kind: str) -> DFERFeatures:
    clips = pd.DataFrame({"sample_id": [f"{1001 + i % 5}_DFA_ANG_XX{i}" for i in range(15)],
                          "path": [f"/clips/{i}.mp4" for i in range(15)], "label": [CREMAD[i % 6] for i in range(15)],
                          "speaker": [str(1001 + i % 5) for i in range(15)], "split": None})
    return DFERFeatures("cremad", CREMAD, clips, speaker_folds(clips, k=5), {}, DataSource("CREMA-D", kind))


def test_the_bundle_partition_is_the_one_that_tests_the_actor() -> None:
    features = _features("shared")
    k = partition_testing(features, "1003")
    part = features.partitions[k - 1]
    assert set(part.loc[part["speaker"] == "1003", "split"]) == {"test"}
    assert partition_testing(features, "9999") is None
    media = held_out_clips(features, k)
    assert set(media["actor"]) == set(part.loc[part["split"] == "test", "speaker"]) and "1003" in set(media["actor"])
    assert list(media["truth"]) == list(part[part["split"] == "test"].sort_values("sample_id")["label"])
    assert all(isinstance(p, Path) for p in media["path"])


def test_drawn_clips_are_replaced_by_packaged_real_media(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(moede.predict.media, "shared_data_root", lambda: None)  # a fresh clone
    media = try_it_media(_features("demo"), 1, tmp_path)
    assert media["truth"].isna().all() and (tmp_path / "astronaut.png").is_file()
    assert len(try_it_media(_features("shared"), 1, tmp_path)) == 3  # the real clips of the partition's test fold


def test_predict_scores_carry_actor_intervals_and_count_no_class_as_wrong() -> None:
    from moede.stages.try_it import predict_scores

    truth = [CREMAD[i % 6] for i in range(24)]
    every = pd.DataFrame({"truth": truth, "prediction": truth[:18] + [None] * 6,
                          "actor": [str(1001 + i // 4) for i in range(24)]})
    row = predict_scores(every, CREMAD).iloc[0]
    assert row["Accuracy"] == pytest.approx(75.0) and (row["clips"], row["actors"]) == (24, 6)
    low, high = map(float, row["Accuracy [95% interval]"].strip("[]").split(", "))
    assert low < 75.0 < high <= 100.0
    assert "over the 6 actors" in predict_scores(every, CREMAD).attrs["interval"]
