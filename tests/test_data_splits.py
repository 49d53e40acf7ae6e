"""Speaker-independent splits and partitions: deterministic, no speaker in two sets, requested proportions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from moede.data.splits import assign_speaker_splits, check_speaker_independent, speaker_partitions


def _table(n_speakers: int = 91, per_speaker: int = 6, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = [(f"s{s}_{k}", f"spk{s:03d}", str(rng.choice(["a", "b", "c"])))
            for s in range(n_speakers) for k in range(per_speaker)]
    frame = pd.DataFrame(rows, columns=["sample_id", "speaker", "label"])
    return frame.assign(path=frame["sample_id"], split=None)


def test_assign_is_deterministic_and_speaker_independent() -> None:
    frame = _table()
    first = assign_speaker_splits(frame, seed=3)
    assert first["split"].tolist() == assign_speaker_splits(frame, seed=3)["split"].tolist()
    assert first["split"].tolist() != assign_speaker_splits(frame, seed=4)["split"].tolist()
    check_speaker_independent(first)
    speakers = first.groupby("split")["speaker"].nunique()
    assert speakers["dev"] == speakers["test"] == round(0.15 * 91)
    assert speakers.sum() == 91


def test_two_way_split_covers_rare_classes() -> None:
    frame = _table(40)
    frame.loc[frame["speaker"].isin(["spk001", "spk002", "spk003"]), "label"] = "rare"
    split = assign_speaker_splits(frame, fractions=(0.8, 0.2), seed=0)
    assert set(split["split"]) == {"train", "dev"}
    assert "rare" in set(split.loc[split["split"] == "dev", "label"])
    assert "rare" in set(split.loc[split["split"] == "train", "label"])


def test_partitions_rotate_test_speakers_without_leakage() -> None:
    parts = speaker_partitions(_table(), n=5, seed=0)
    assert len(parts) == 5
    tests = []
    for part in parts:
        check_speaker_independent(part)
        counts = part.groupby("split")["speaker"].nunique()
        assert counts.to_dict() == {"dev": 14, "test": 14, "train": 63}
        tests.append(set(part.loc[part["split"] == "test", "speaker"]))
    assert all(not (a & b) for i, a in enumerate(tests) for b in tests[i + 1:])


def test_leak_is_reported_and_bad_fractions_rejected() -> None:
    frame = _table(5).assign(split="train")
    frame.loc[0, "split"] = "dev"
    with pytest.raises(ValueError, match="more than one split"):
        check_speaker_independent(frame)
    with pytest.raises(ValueError, match="fractions"):
        assign_speaker_splits(frame, fractions=(0.5, 0.2))
    with pytest.raises(ValueError, match="too few"):
        assign_speaker_splits(_table(2), fractions=(0.7, 0.15, 0.15))
