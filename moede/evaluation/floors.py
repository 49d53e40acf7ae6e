"""Floors a video model must beat on the same clips and partitions: a linear probe on frozen per-frame features and
a static classifier's per-frame vote, both as moede.evaluation.predictions.Predictions (one per partition)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn

from moede.data.emotions import class_index
from moede.features.cache import FeatureCache
from moede.evaluation.predictions import Predictions


def _rows(part: pd.DataFrame, cache: FeatureCache, splits: Sequence[str]) -> pd.DataFrame:
    """The clips of `splits` of one partition that have features, in sample_id order."""
    rows = part[part["split"].isin(list(splits)) & part["sample_id"].isin(cache.index.index)]
    return rows.sort_values("sample_id")


def clip_statistics(cache: FeatureCache, sample_ids: Sequence[str], expert: int = 0) -> np.ndarray:
    """(N, 2D): the mean and the standard deviation over frames of one expert's (D,) features, per clip."""
    stats = []
    for sample_id in sample_ids:
        frames = cache.clip(sample_id)[:, expert].astype(np.float32)
        stats.append(np.concatenate([frames.mean(axis=0), frames.std(axis=0)]))
    return np.stack(stats)


def probe_predictions(cache: FeatureCache, partitions: Sequence[pd.DataFrame], classes: Sequence[str],
                      c: float = 1.0, seed: int = 0) -> list[Predictions]:
    """Per partition: a logistic regression (L2, strength 1/c, standardised inputs) on `clip_statistics`, fitted on the
    train and development clips (nothing is tuned) and applied to the test clips."""
    out = []
    for part in partitions:
        fit, test = _rows(part, cache, ("train", "dev")), _rows(part, cache, ("test",))
        probe = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=5000, random_state=seed))
        fit_y = class_index(fit["label"], classes)
        probe.fit(clip_statistics(cache, list(fit["sample_id"])), fit_y)
        scores = np.full((len(test), len(classes)), -np.inf, dtype=np.float32)
        scores[:, probe.classes_] = probe.predict_log_proba(clip_statistics(cache, list(test["sample_id"])))
        out.append(Predictions.from_scores(list(test["sample_id"]), class_index(test["label"], classes), scores))
    return out


def frame_vote_predictions(cache: FeatureCache, head: nn.Module, head_classes: Sequence[str],
                           partitions: Sequence[pd.DataFrame], classes: Sequence[str]) -> list[Predictions]:
    """Per partition, zero-shot: `head` (a static classifier's head on the cache's pooled features, over
    `head_classes`) labels every frame of a test clip with its best class among `classes` (the others are ignored);
    the clip takes the most voted class (ties: the higher mean probability). Scores are vote shares."""
    import torch

    keep = [list(head_classes).index(c) for c in classes]
    head = head.eval()
    out = []
    for part in partitions:
        test = _rows(part, cache, ("test",))
        scores = []
        for sample_id in test["sample_id"]:
            with torch.inference_mode():
                logits = head(torch.from_numpy(cache.clip(sample_id)[:, 0].astype(np.float32)))[:, keep]
            probs = logits.softmax(dim=1).numpy()
            votes = np.bincount(probs.argmax(axis=1), minlength=len(classes)) / len(probs)
            scores.append(votes + 1e-3 * probs.mean(axis=0))  # the mean probability only breaks ties
        out.append(Predictions.from_scores(list(test["sample_id"]), class_index(test["label"], classes),
                                           np.stack(scores)))
    return out
