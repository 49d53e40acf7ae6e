"""What training returns: one TrainResult per trained model, the static stages' results (SFER, experts, fusions) and
the DFER models' test predictions. The tables (moede.results) read these; the stages (moede.stages) fill them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from moede.sources import DataSource


@dataclass
class TrainResult:
    """A trained model (weights of its best development epoch restored), its per-epoch history and, for the static
    classifiers, its development-set outputs at that epoch."""

    model: nn.Module
    history: pd.DataFrame  # one row per epoch (static: train_loss, dev_loss, dev_accuracy, dev_f1_macro, seconds;
    # DFER also train_total_loss, train_accuracy, clips_per_second)
    best_epoch: int
    best_dev_score: float  # percent: the selection metric (RunConfig.static_select_by or dfer_select_by) at best_epoch
    seconds: float
    dev_targets: np.ndarray | None = None
    dev_logits: np.ndarray | None = None

    @property
    def dev_predictions(self) -> np.ndarray:
        """Predicted class per dev sample (argmax of the logits)."""
        if self.dev_logits is None:
            raise ValueError("this result kept no development logits")
        return self.dev_logits.argmax(axis=1)


@dataclass
class StaticResult:
    """One trained static classifier with its dev-set predictions and provenance."""

    name: str
    model: nn.Module
    classes: tuple[str, ...]
    history: pd.DataFrame
    predictions: pd.DataFrame  # dev set: sample_id, path, label, target, prediction, prob_<class>...
    metrics: dict[str, Any]
    source: DataSource
    checkpoint: Path
    reused: bool = False

    @property
    def seed(self) -> int:
        """The seed the model was trained with."""
        return int(self.metrics["seed"])


@dataclass
class ExpertsResult:
    """The eight binary emotion experts (AffectNet order) and the cosine similarity of their dev features."""

    experts: dict[str, StaticResult]
    similarity: np.ndarray
    source: DataSource
    dev: pd.DataFrame = field(repr=False)

    @property
    def emotions(self) -> tuple[str, ...]:
        """The experts' target emotions, in order."""
        return tuple(self.experts)

    def models(self) -> list[nn.Module]:
        """The experts' MobileNetV2 models, in order."""
        return [e.model for e in self.experts.values()]


@dataclass
class FusionResult:
    """The FFE (frozen experts) and FTFE (fine-tuned experts) fusion classifiers."""

    ffe: StaticResult
    ftfe: StaticResult


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


@dataclass
class DFERResults:
    """Test-set predictions of several DFER models (row name -> one Predictions per partition), their training
    histories, t-tests against the baseline, the class list and the data source."""

    dataset: str
    classes: tuple[str, ...]
    predictions: dict[str, list[Predictions]]
    histories: dict[str, list[pd.DataFrame]]
    source: DataSource | None = None
    significance: dict = field(default_factory=dict)  # row name -> moede.evaluation.stats.TTestResult
    versus_baselines: dict = field(default_factory=dict)  # baseline name -> TTestResult of MoEDE against it
    reused: dict[str, list[bool]] = field(default_factory=dict)  # row name -> per partition: loaded, not trained
