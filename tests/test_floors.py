"""The floors the video models are compared with, and the pooled (every clip once) table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from moede.data.emotions import CANONICAL, CREMAD
from moede.data.splits import speaker_folds
from moede.evaluation.floors import frame_vote_predictions, probe_predictions
from moede.features.cache import FeatureCache
from moede.tables.dynamic_tables import pooled_table


def _cache(per_clip: dict[str, np.ndarray]) -> FeatureCache:
    """An in-memory feature cache holding the given (T, E, D) features per clip."""
    ids = sorted(per_clip)
    lengths = [len(per_clip[i]) for i in ids]
    index = pd.DataFrame({"sample_id": ids, "offset": np.cumsum([0, *lengths[:-1]]), "length": lengths})
    return FeatureCache(Path("memory.json"), {}, index.set_index("sample_id"),
                        np.concatenate([per_clip[i] for i in ids]).astype(np.float16))


def _clips(n: int = 60, actors: int = 12, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"sample_id": [f"c{i:03d}" for i in range(n)], "speaker": [f"a{i % actors}" for i in range(n)],
                         "label": rng.choice(CREMAD, size=n), "split": None})


def test_the_probe_learns_what_the_features_hold_and_tests_every_clip_once() -> None:
    clips = _clips()
    rng = np.random.default_rng(1)
    features = {}
    for row in clips.itertuples():
        frames = rng.normal(size=(5, 1, 12)).astype(np.float32)
        frames[:, 0, CREMAD.index(row.label)] += 3.0  # the class shows in one dimension
        features[row.sample_id] = frames
    folds = speaker_folds(clips, k=4)
    predictions = probe_predictions(_cache(features), folds, CREMAD)
    assert sorted(i for p in predictions for i in p.sample_ids) == sorted(clips["sample_id"])
    y_true = np.concatenate([p.y_true for p in predictions])
    y_pred = np.concatenate([p.y_pred for p in predictions])
    assert (y_true == y_pred).mean() > 0.9
    noise = {i: rng.normal(size=(5, 1, 12)).astype(np.float32) for i in clips["sample_id"]}
    blind = probe_predictions(_cache(noise), folds, CREMAD)
    assert np.mean(np.concatenate([(p.y_true == p.y_pred) for p in blind])) < 0.5


def test_the_frame_vote_takes_the_most_voted_of_the_corpus_classes() -> None:
    head = torch.nn.Linear(len(CANONICAL), len(CANONICAL), bias=False)
    head.weight.data = torch.eye(len(CANONICAL))  # the features are the logits
    frames = np.full((5, 1, len(CANONICAL)), -5.0, dtype=np.float32)
    for t, emotion in enumerate(["anger", "anger", "fear", "surprise", "surprise"]):
        frames[t, 0, CANONICAL.index(emotion)] = 5.0  # surprise is not a CREMA-D class: those frames vote too,
    frames[3:, 0, CANONICAL.index("sad")] = 0.0  # for their best CREMA-D class (sad), less sure than anger's
    clips = pd.DataFrame({"sample_id": ["x"], "speaker": ["a"], "label": ["anger"], "split": ["test"]})
    [votes] = frame_vote_predictions(_cache({"x": frames}), head, CANONICAL, [clips], CREMAD)
    assert CREMAD[int(votes.y_pred[0])] == "anger"  # 2 votes each for anger and sad: the surer class wins
    share = votes.logits[0]
    assert np.isclose(share[CREMAD.index("anger")], 0.4, atol=0.01) and np.isclose(share[CREMAD.index("fear")], 0.2,
                                                                                   atol=0.01)


def test_the_pooled_table_puts_every_clip_once_beside_chance_and_the_majority() -> None:
    from moede.evaluation.predictions import Predictions

    def predictions(y_true: list[int], y_pred: list[int], first: int) -> Predictions:
        return Predictions.from_scores([f"c{first + i}" for i in range(len(y_true))], y_true,
                                       np.eye(len(CREMAD))[y_pred])

    model = [predictions([0, 1, 1], [0, 1, 0], 0), predictions([2, 1], [2, 1], 3)]
    floor = [predictions([0, 1, 1], [5, 5, 5], 0), predictions([2, 1], [5, 5], 3)]
    table = pooled_table({"model": model}, {"floor": floor})
    assert table.loc["model", "Accuracy"] == 80.0 and table.loc["floor", "Accuracy"] == 0.0
    assert table.loc["model", "clips"] == 5 and table.loc["floor", "kind"] == "floor"
    assert table.loc["Always 'happy'", "Accuracy"] == 60.0  # happy (index 1) is 3 of the 5 clips
    assert round(table.loc["Chance", "Accuracy"], 2) == round(100 / 6, 2)
