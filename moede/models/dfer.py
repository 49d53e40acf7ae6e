"""Dynamic FER models on per-frame expert features: MoEDE (Section III.B, Fig. 1b) and the single-extractor baseline.

Both take a zero post-padded batch of feature sequences `x` (B, T, E, 1280) plus each clip's number of real frames
`lengths` (B,), and classify each clip from the LSTM state at its OWN last real frame: every LSTM runs on a
`PackedSequence`, so padded steps never enter a recurrence and `h_n` is the state after the last valid step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from moede.data.emotions import CANONICAL
from moede.models.registry import SpecIsConstructorArgs, register_model, since_added

N_EXPERTS = len(CANONICAL)
FEATURE_DIM = 1280  # MobileNetV2's pooled features; the stages pass their backbone's (moede.models.backbone)
HIDDEN = 256


@dataclass
class DFEROutput:
    """What a DFER model returns for a batch of clips."""

    logits: torch.Tensor  # (B, n_classes) from the last valid step of LSTM_mix (or of the single LSTM)
    aux_logits: torch.Tensor | None  # (B, n_kept, n_classes) from each LSTM_emo's last valid step, if auxiliary
    emo_last: torch.Tensor  # (B, n_kept, hidden) the last-valid-step outputs of the LSTM_emo (Table 6)
    experts_run: torch.Tensor | None = None  # (B, n_kept) bool: which LSTM_emo ran per clip (gated MoEDE; None: all)


def _pack(x: torch.Tensor, lengths: torch.Tensor) -> PackedSequence:
    return pack_padded_sequence(x, lengths.detach().cpu(), batch_first=True, enforce_sorted=False)


def _check_input(x: torch.Tensor, lengths: torch.Tensor, n_experts: int, feature_dim: int) -> None:
    if x.dim() != 4 or x.shape[2] != n_experts or x.shape[3] != feature_dim:
        raise ValueError(f"expected features (B, T, {n_experts}, {feature_dim}), got {tuple(x.shape)}")
    if lengths.shape != (x.shape[0],) or int(lengths.min()) < 1 or int(lengths.max()) > x.shape[1]:
        raise ValueError(f"lengths must be (B,) in 1..T={x.shape[1]}, got {lengths.tolist()}")


def pad_for_readout(x: torch.Tensor, lengths: torch.Tensor,
                    padded_length: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    """The readout switch (RunConfig.readout): with `padded_length` None, return (x, lengths) unchanged, so the
    models read each clip's last real frame; otherwise zero-pad x (B, T, E, D) to `padded_length` frames and count
    every clip as that long, so the LSTMs run over the padding and the models read the output after it, as a
    Keras model fed zero-padded clips without a mask does (the paper does not say which it used)."""
    if padded_length is None:
        return x, lengths
    if x.shape[1] > padded_length:
        raise ValueError(f"a clip of {x.shape[1]} frames is longer than the padded length {padded_length} this "
                         "model was built for (readout='after_padding' pads every clip to the longest clip)")
    x = nn.functional.pad(x, (0, 0, 0, 0, 0, padded_length - x.shape[1]))
    return x, torch.full_like(lengths, padded_length)


class FeatureStandardizer(nn.Module):
    """Per-expert, per-dimension standardisation (x - mean) / std of the input features, fitted on the training clips
    (`fit`); identity until fitted. Kept as buffers, so a checkpoint carries it. Padded steps change too, but they
    never enter a recurrence (packed sequences)."""

    def __init__(self, n_experts: int, feature_dim: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(n_experts, feature_dim))
        self.register_buffer("std", torch.ones(n_experts, feature_dim))

    def fit(self, mean: torch.Tensor, std: torch.Tensor, eps: float = 1e-3) -> None:
        """Set the statistics (each (n_experts, feature_dim)); `eps` floors the std of near-constant dimensions."""
        if mean.shape != self.mean.shape or std.shape != self.std.shape:
            raise ValueError(f"statistics must have shape {tuple(self.mean.shape)}, got {tuple(mean.shape)}, "
                             f"{tuple(std.shape)}")
        self.mean.copy_(mean)
        self.std.copy_(std.clamp_min(eps))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Standardise features (B, T, n_experts, feature_dim)."""
        return (x - self.mean) / self.std


@register_model("MoEDE")
class MoEDE(SpecIsConstructorArgs, nn.Module):
    """Eight LSTM_emo (1280->256), their per-frame outputs concatenated into LSTM_mix (8*256->256), a classifier on its
    last valid step, and optionally one auxiliary classifier on the last valid step of each LSTM_emo.

    `experts_kept` (indices into the input's expert axis) drops experts for the leave-one-expert-out ablation: the
    model still takes all `n_experts` input features and uses only the kept ones (7 kept -> LSTM_mix input 1792).
    """

    def __init__(self, n_experts: int = N_EXPERTS, feature_dim: int = FEATURE_DIM, hidden: int = HIDDEN,
                 n_classes: int = 6, auxiliary: bool = True, experts_kept: Sequence[int] | None = None,
                 padded_length: int | None = None) -> None:
        super().__init__()
        self.padded_length = padded_length
        kept = list(range(n_experts)) if experts_kept is None else sorted(int(i) for i in experts_kept)
        if not kept or len(set(kept)) != len(kept) or kept[0] < 0 or kept[-1] >= n_experts:
            raise ValueError(f"experts_kept must be distinct indices in 0..{n_experts - 1}, got {experts_kept}")
        self.n_experts, self.feature_dim, self.hidden, self.n_classes = n_experts, feature_dim, hidden, n_classes
        self.auxiliary = auxiliary
        self.experts_kept = tuple(kept)
        self.standardize = FeatureStandardizer(n_experts, feature_dim)
        self.lstm_emo = nn.ModuleList(nn.LSTM(feature_dim, hidden, batch_first=True) for _ in kept)
        self.lstm_mix = nn.LSTM(hidden * len(kept), hidden, batch_first=True)
        self.classifier = nn.Linear(hidden, n_classes)
        self.aux_classifiers = nn.ModuleList(nn.Linear(hidden, n_classes) for _ in kept) if auxiliary else None

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> DFEROutput:
        """Classify zero post-padded clips `x` (B, T, n_experts, feature_dim) with `lengths` real frames each."""
        _check_input(x, lengths, self.n_experts, self.feature_dim)
        x, lengths = pad_for_readout(x, lengths, self.padded_length)
        x = self.standardize(x)
        steps, lasts = [], []
        for lstm, expert in zip(self.lstm_emo, self.experts_kept):
            out, (h_n, _) = lstm(_pack(x[:, :, expert], lengths))
            steps.append(pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])[0])
            lasts.append(h_n[-1])
        _, (h_mix, _) = self.lstm_mix(_pack(torch.cat(steps, dim=-1), lengths))
        emo_last = torch.stack(lasts, dim=1)
        aux = None
        if self.aux_classifiers is not None:
            aux = torch.stack([head(h) for head, h in zip(self.aux_classifiers, lasts)], dim=1)
        return DFEROutput(logits=self.classifier(h_mix[-1]), aux_logits=aux, emo_last=emo_last)

    def spec(self) -> dict[str, Any]:
        """The constructor arguments that rebuild this model (see moede.models.registry)."""
        return dict(architecture="MoEDE", n_experts=self.n_experts, feature_dim=self.feature_dim, hidden=self.hidden,
                    n_classes=self.n_classes, auxiliary=self.auxiliary, experts_kept=list(self.experts_kept),
                    padded_length=self.padded_length)


@register_model("SingleExtractorLSTM")
class SingleExtractorLSTM(SpecIsConstructorArgs, nn.Module):
    """The single-feature-extractor (SFE) baseline: `layers` stacked LSTMs (1280->256, then 256->256; one by default)
    on one extractor's features, then a classifier on the last layer's last valid step. Input (B, T, 1, feature_dim),
    the same layout as MoEDE's with one expert."""

    def __init__(self, feature_dim: int = FEATURE_DIM, hidden: int = HIDDEN, n_classes: int = 6,
                 padded_length: int | None = None, layers: int = 1) -> None:
        super().__init__()
        if layers < 1:
            raise ValueError(f"the SFE needs at least one LSTM layer, got layers={layers}")
        self.feature_dim, self.hidden, self.n_classes, self.layers = feature_dim, hidden, n_classes, layers
        self.padded_length = padded_length
        self.standardize = FeatureStandardizer(1, feature_dim)
        self.lstm = nn.LSTM(feature_dim, hidden, num_layers=layers, batch_first=True)
        self.classifier = nn.Linear(hidden, n_classes)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> DFEROutput:
        """Classify zero post-padded clips `x` (B, T, 1, feature_dim) with `lengths` real frames each."""
        _check_input(x, lengths, 1, self.feature_dim)
        x, lengths = pad_for_readout(x, lengths, self.padded_length)
        _, (h_n, _) = self.lstm(_pack(self.standardize(x)[:, :, 0], lengths))
        return DFEROutput(logits=self.classifier(h_n[-1]), aux_logits=None, emo_last=h_n[-1].unsqueeze(1))

    def spec(self) -> dict[str, Any]:
        """The constructor arguments that rebuild this model (see moede.models.registry)."""
        return dict(architecture="SingleExtractorLSTM", feature_dim=self.feature_dim, hidden=self.hidden,
                    n_classes=self.n_classes, padded_length=self.padded_length,
                    **since_added("layers", self.layers, 1))


AUX_REDUCTIONS = ("sum", "mean")


def dfer_loss(output: DFEROutput, target: torch.Tensor, aux_weight: float = 1.0,
              aux_reduction: str = "sum") -> torch.Tensor:
    """Cross-entropy of the main classifier plus `aux_weight` times the sum (or the mean, `aux_reduction`) of the
    auxiliary classifiers' cross-entropies.

    The paper (Section III.B) adds the auxiliary classifiers as extra tasks and does not say how their losses are
    combined. The default reads it as a plain sum with weight 1.0 (each auxiliary task counts as much as the main
    one: 8:1 for eight experts); "mean" with weight 1.0 gives the eight together the main task's weight. A model
    without auxiliary classifiers gets the main loss only. A gated MoEDE (`output.experts_run` set) counts only the
    auxiliary classifiers of the experts that ran for each clip.
    """
    if aux_reduction not in AUX_REDUCTIONS:
        raise ValueError(f"aux_reduction must be one of {AUX_REDUCTIONS}, got {aux_reduction!r}")
    loss = nn.functional.cross_entropy(output.logits, target)
    if output.aux_logits is not None and aux_weight:
        n_aux = output.aux_logits.shape[1]
        logits, targets = output.aux_logits.flatten(0, 1), target.repeat_interleave(n_aux)
        if output.experts_run is None:
            aux = nn.functional.cross_entropy(logits, targets, reduction="sum") / target.shape[0]
        else:
            ran = output.experts_run.flatten().to(logits.dtype)
            aux = (nn.functional.cross_entropy(logits, targets, reduction="none") * ran).sum() / target.shape[0]
            n_aux = int(output.experts_run[0].sum())  # every clip runs the same number of experts (k)
        loss = loss + aux_weight * (aux / n_aux if aux_reduction == "mean" else aux)
    return loss


def collate_clips(batch: Sequence[tuple[torch.Tensor, int]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Zero post-pad a list of (features (T, E, D), label) to the longest clip: returns (x (B,Tmax,E,D), lengths, y)."""
    feats = [torch.as_tensor(f, dtype=torch.float32) for f, _ in batch]
    lengths = torch.tensor([f.shape[0] for f in feats], dtype=torch.long)
    x = nn.utils.rnn.pad_sequence(feats, batch_first=True, padding_value=0.0)
    y = torch.tensor([int(label) for _, label in batch], dtype=torch.long)
    return x, lengths, y
