"""Expert gating (the paper's Section VI proposal): a small gate picks k of the eight experts per clip.

The gate is one linear layer (feature_dim -> 8) on the clip's mean SFER feature (what one backbone pass per frame
gives, before any expert runs). The top-k of its scores choose the experts; only their feature extractors and their
LSTM_emo run. The LSTM_mix input is still the concatenation of eight 256-d slots: a chosen expert's slot holds its
LSTM_emo output times `1 + w - stopgrad(w)` (w: the gate's softmax weight; the value is exactly 1, the gradient
reaches the gate), a skipped expert's slot is zeros; the skipped experts' auxiliary classifiers are left out of the
loss. With k = 8 every slot is the LSTM_emo output itself, so the gated model computes the ungated MoEDE's logits.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torch.nn.utils.rnn import pad_packed_sequence

from moede.models.dfer import (FEATURE_DIM, HIDDEN, N_EXPERTS, DFEROutput, FeatureStandardizer, MoEDE, _check_input,
                               _pack, pad_for_readout)
from moede.models.registry import register_model


def clip_mean(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Mean over each clip's real frames of x (B, T, D) with `lengths` real frames each: (B, D)."""
    valid = (torch.arange(x.shape[1], device=x.device)[None] < lengths.to(x.device)[:, None]).to(x.dtype)
    return (x * valid[:, :, None]).sum(dim=1) / valid.sum(dim=1, keepdim=True)


def top_k_mask(scores: torch.Tensor, k: int) -> torch.Tensor:
    """Boolean mask (B, E) of the k highest scores of each row of `scores` (B, E)."""
    if not 1 <= k <= scores.shape[1]:
        raise ValueError(f"k must be in 1..{scores.shape[1]}, got {k}")
    return torch.zeros_like(scores, dtype=torch.bool).scatter_(1, scores.topk(k, dim=1).indices, True)


@register_model("GatedMoEDE")
class GatedMoEDE(MoEDE):
    """MoEDE behind a gate that runs `gate_k` of its `n_experts` LSTM_emo per clip. Input (B, T, n_experts + 1, D):
    the experts' features (zeros where an expert did not run) and, last, the gate's input, the SFER's features."""

    def __init__(self, n_experts: int = N_EXPERTS, feature_dim: int = FEATURE_DIM, hidden: int = HIDDEN,
                 n_classes: int = 6, auxiliary: bool = True, padded_length: int | None = None,
                 gate_k: int = N_EXPERTS) -> None:
        super().__init__(n_experts, feature_dim, hidden, n_classes, auxiliary, None, padded_length)
        if not 1 <= gate_k <= n_experts:
            raise ValueError(f"gate_k must be in 1..{n_experts}, got {gate_k}")
        self.gate_k = gate_k
        self.standardize = FeatureStandardizer(n_experts + 1, feature_dim)  # the experts' slots and the gate's
        self.gate = nn.Linear(feature_dim, n_experts)

    def gate_scores(self, gate_input: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The gate's scores (B, n_experts) of clips from their raw SFER features (B, T, D)."""
        standard = (gate_input - self.standardize.mean[-1]) / self.standardize.std[-1]
        return self.gate(clip_mean(standard, lengths))

    def choose(self, gate_input: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Which experts run (B, n_experts) bool: the gate's top `gate_k` for each clip."""
        return top_k_mask(self.gate_scores(gate_input, lengths), self.gate_k)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> DFEROutput:
        """Classify zero post-padded clips `x` (B, T, n_experts + 1, D) running only the chosen experts' LSTM_emo."""
        _check_input(x, lengths, self.n_experts + 1, self.feature_dim)
        x, lengths = pad_for_readout(x, lengths, self.padded_length)
        scores = self.gate_scores(x[:, :, -1], lengths)
        run = top_k_mask(scores, self.gate_k)
        weights = scores.softmax(dim=1)
        scale = 1 + (weights - weights.detach())  # exactly 1, with the gate's gradient
        experts = self.standardize(x)[:, :, :-1]
        batch, steps, lasts = x.shape[0], [], []
        for e, lstm in enumerate(self.lstm_emo):
            rows = run[:, e].nonzero().squeeze(1)
            step = experts.new_zeros(batch, x.shape[1], self.hidden)
            last = experts.new_zeros(batch, self.hidden)
            if len(rows) == batch:  # every clip runs this expert: exactly MoEDE's computation
                out, (h_n, _) = lstm(_pack(experts[:, :, e], lengths))
                step = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])[0] * scale[:, e, None, None]
                last = h_n[-1]
            elif len(rows):
                out, (h_n, _) = lstm(_pack(experts[rows, :, e], lengths[rows.cpu()]))
                padded = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])[0]
                step = step.index_copy(0, rows, padded * scale[rows, e, None, None])
                last = last.index_copy(0, rows, h_n[-1])
            steps.append(step)
            lasts.append(last)
        _, (h_mix, _) = self.lstm_mix(_pack(torch.cat(steps, dim=-1), lengths))
        aux = None
        if self.aux_classifiers is not None:
            aux = torch.stack([head(h) for head, h in zip(self.aux_classifiers, lasts)], dim=1)
        return DFEROutput(logits=self.classifier(h_mix[-1]), aux_logits=aux, emo_last=torch.stack(lasts, dim=1),
                          experts_run=run)

    def spec(self) -> dict[str, Any]:
        """The constructor arguments that rebuild this model (see moede.models.registry)."""
        return dict(architecture="GatedMoEDE", n_experts=self.n_experts, feature_dim=self.feature_dim,
                    hidden=self.hidden, n_classes=self.n_classes, auxiliary=self.auxiliary,
                    padded_length=self.padded_length, gate_k=self.gate_k)


class GatedPipeline(nn.Module):
    """One clip's frames -> the SFER's features -> the gate -> only the chosen experts' feature extractors -> the
    gated MoEDE: the computation a gated deployment executes (skipped experts never run)."""

    def __init__(self, sfer: nn.Module, experts: Sequence[nn.Module], model: GatedMoEDE) -> None:
        super().__init__()
        if len(experts) != model.n_experts:
            raise ValueError(f"the gated MoEDE takes {model.n_experts} experts, got {len(experts)}")
        self.sfer, self.experts, self.model = sfer, nn.ModuleList(experts), model

    def forward(self, frames: torch.Tensor) -> DFEROutput:
        """Classify one clip of normalised frames (T, 3, H, W)."""
        lengths = torch.tensor([frames.shape[0]])
        gate_input = _pooled_features(self.sfer, frames)
        chosen = self.model.choose(gate_input[None], lengths)[0].nonzero().squeeze(1).tolist()
        x = gate_input.new_zeros(1, frames.shape[0], self.model.n_experts + 1, self.model.feature_dim)
        x[0, :, -1] = gate_input
        for e in chosen:
            x[0, :, e] = _pooled_features(self.experts[e], frames)
        return self.model(x, lengths)


def _pooled_features(model: nn.Module, frames: torch.Tensor) -> torch.Tensor:
    """A backbone classifier's pooled features (T, D) of frames (T, 3, H, W)."""
    return model.forward_head(model.forward_features(frames), pre_logits=True)
