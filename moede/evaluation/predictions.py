"""A model's outputs on a set of clips (test predictions of a video model or of a floor), in one container that the
metrics, the t-tests and the tables read."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class Predictions:
    """A model's outputs on a set of clips."""

    sample_ids: list[str]
    y_true: np.ndarray  # (N,) class indices
    logits: np.ndarray  # (N, C) main classifier
    aux_logits: np.ndarray | None  # (N, K, C) auxiliary classifiers, if any
    emo_last: np.ndarray  # (N, K, hidden) last-valid-step LSTM_emo outputs

    @classmethod
    def from_scores(cls, sample_ids: list[str], y_true: Sequence[int] | np.ndarray,
                    scores: np.ndarray) -> "Predictions":
        """Predictions of a model that gives class scores only (no auxiliary classifiers, no LSTM states)."""
        return cls(sample_ids=list(sample_ids), y_true=np.asarray(y_true), logits=scores, aux_logits=None,
                   emo_last=np.zeros((len(scores), 0, 0), dtype=np.float32))

    @classmethod
    def pooled(cls, partitions: Sequence["Predictions"]) -> "Predictions":
        """The predictions of all partitions as one set, in partition order (class scores only)."""
        return cls.from_scores([i for p in partitions for i in p.sample_ids],
                               np.concatenate([p.y_true for p in partitions]),
                               np.concatenate([p.logits for p in partitions]))

    @property
    def y_pred(self) -> np.ndarray:
        """Predicted class of the main classifier."""
        return self.logits.argmax(axis=1)

    def aux_pred(self, k: int) -> np.ndarray:
        """Predicted class of the k-th auxiliary classifier."""
        if self.aux_logits is None:
            raise ValueError("this model has no auxiliary classifiers")
        return self.aux_logits[:, k].argmax(axis=1)

    def to_payload(self) -> dict[str, object]:
        """Tensors and lists only, loadable with torch.load(weights_only=True)."""
        tensor = lambda a: None if a is None else torch.from_numpy(np.ascontiguousarray(a))  # noqa: E731
        return dict(sample_ids=list(self.sample_ids), y_true=tensor(self.y_true), logits=tensor(self.logits),
                    aux_logits=tensor(self.aux_logits), emo_last=tensor(self.emo_last))

    @classmethod
    def from_payload(cls, payload: dict) -> "Predictions":
        """Rebuild from `to_payload` output."""
        array = lambda t: None if t is None else t.numpy()  # noqa: E731
        return cls(sample_ids=list(payload["sample_ids"]), y_true=array(payload["y_true"]),
                   logits=array(payload["logits"]), aux_logits=array(payload["aux_logits"]),
                   emo_last=array(payload["emo_last"]))
