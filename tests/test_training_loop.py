"""The one training loop (moede.training.loop.fit): best epoch kept (first on ties), early stopping."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from moede.training.loop import fit


def _tiny_fit(accuracies: list[float], epochs: int, patience: int | None):
    """Train a 2->2 linear model on fixed data, with the given dev accuracies epoch by epoch; return the result and
    the weights after each epoch."""
    torch.manual_seed(0)
    model = nn.Linear(2, 2)
    x, y = torch.randn(8, 2), torch.tensor([0, 1] * 4)
    weights, scripted = [], iter(accuracies)

    def train_epoch(module: nn.Module, optimizer: torch.optim.Optimizer, epoch: int) -> tuple[dict[str, float], int]:
        loss = nn.functional.cross_entropy(module(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return {"train_loss": float(loss.detach())}, len(y)

    def score_dev(trained: nn.Module) -> tuple[dict[str, float], np.ndarray]:
        weights.append(trained.weight.detach().clone())
        accuracy = next(scripted)
        return {"dev_loss": 0.0, "dev_accuracy": accuracy, "dev_f1_macro": accuracy}, np.full((1, 2), accuracy)

    result = fit(model, train_epoch, score_dev, epochs=epochs, learning_rate=0.1, select_by="accuracy",
                 patience=patience)
    return result, weights


def test_early_stopping_stops_after_patience_epochs_without_a_better_dev_score() -> None:
    result, weights = _tiny_fit([50.0, 60.0, 60.0, 55.0, 70.0, 80.0], epochs=6, patience=2)
    history = result.history
    assert list(history["epoch"]) == [1, 2, 3, 4], "epochs 3 and 4 did not beat epoch 2 (a tie is no better)"
    assert list(history["epochs_without_improvement"]) == [0, 0, 1, 2]
    assert result.best_epoch == 2 and result.best_dev_score == 60.0
    assert torch.equal(result.model.weight, weights[1]) and result.dev_logits[0, 0] == 60.0


def test_without_patience_every_epoch_runs_and_the_first_best_is_kept_on_ties() -> None:
    result, weights = _tiny_fit([50.0, 60.0, 60.0, 55.0], epochs=4, patience=None)
    assert list(result.history["epoch"]) == [1, 2, 3, 4]
    assert "epochs_without_improvement" not in result.history
    assert result.best_epoch == 2 and torch.equal(result.model.weight, weights[1])


def test_patience_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="patience"):
        _tiny_fit([50.0], epochs=1, patience=0)
