"""What training returns: one TrainResult per trained model, the static stages' results (SFER, experts, fusions) and
the DFER models' test predictions. The tables (moede.tables) read these; the stages (moede.stages) fill them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from torch import nn

from moede.evaluation.predictions import Predictions
from moede.sources import DataSource


@dataclass
class TrainResult:
    """A trained model (weights of its best development epoch restored), its per-epoch history and, for the static
    classifiers, its development-set outputs at that epoch."""

    model: nn.Module
    history: pd.DataFrame  # one row per epoch (static: train_loss, dev_loss, dev_accuracy, dev_f1_macro, seconds of
    # the training pass; DFER also train_total_loss, train_accuracy, clips_per_second; epochs_without_improvement
    # with early stopping): moede.training.loop.fit
    best_epoch: int
    best_dev_score: float  # percent: the selection metric (RunConfig.static_select_by or dfer_select_by) at best_epoch
    seconds: float  # the whole training, dev scoring included
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
    units: dict[str, str] = field(default_factory=dict)  # clip id -> its actor: the unit the intervals resample
