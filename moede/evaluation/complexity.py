"""Model complexity of MoEDE (Section IV.C): parameters, fp32 storage and FLOPs of a 60-frame clip, beside the paper.

FLOPs are measured with `torch.utils.flop_counter.FlopCounterMode` on the "meta" device (shapes only, no compute),
which counts 2 FLOPs per multiply-accumulate of convolutions and matrix products and nothing else. It does not
count `nn.LSTM` at all (aten's fused lstm op has no FLOP formula: it reports 0), so each LSTM is measured as one
step of an `nn.LSTMCell` of the same sizes under the counter (its gate matmuls: 2 * 4 * hidden * (input + hidden)
FLOPs) times the number of frames. Elementwise work (batch norm, activations, residual adds, LSTM gate
non-linearities) is not counted by the counter; `elementwise_flops` estimates it separately for the explanation.
Every count is of the configured backbone (`moede.models.backbone.BACKBONES`); the paper's is MobileNetV2.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from moede.data.emotions import CANONICAL, CREMAD
from moede.models.backbone import BackboneClassifier
from moede.models.dfer import HIDDEN, MoEDE

PAPER_FRAMES = 60  # "processing 2 seconds of video data (60 frames)"
PAPER_SIZE = 224
PAPER_BACKBONE = "mobilenet_v2"
ACTIVATIONS = (nn.ReLU, nn.ReLU6, nn.Hardswish, nn.Hardsigmoid)  # the backbones' activation layers


def count_parameters(module: nn.Module) -> int:
    """Number of parameters (trainable or not) of a module."""
    return sum(p.numel() for p in module.parameters())


def expert_network(device: str | torch.device = "cpu", backbone: str = PAPER_BACKBONE) -> BackboneClassifier:
    """One expert as the paper defines it: the backbone (the paper's: MobileNetV2) with a 2-class head (random
    weights)."""
    with torch.device(device):
        return BackboneClassifier(backbone, 2)


def count_flops(module: nn.Module, *inputs: torch.Tensor) -> int:
    """FLOPs (2 per multiply-accumulate of convolutions and matmuls) of module(*inputs), from FlopCounterMode."""
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        module(*inputs)
    return int(counter.get_total_flops())


def lstm_flops(lstm: nn.LSTM, steps: int) -> int:
    """FLOPs of a single-layer LSTM over `steps` frames: FlopCounterMode's count for one step of an equivalent
    LSTMCell (FlopCounterMode counts 0 for nn.LSTM itself), times `steps` (every step costs the same)."""
    if lstm.num_layers != 1 or lstm.bidirectional:
        raise ValueError("lstm_flops handles single-layer unidirectional LSTMs")
    with torch.device("meta"):
        cell = nn.LSTMCell(lstm.input_size, lstm.hidden_size)
        x, h, c = torch.empty(1, lstm.input_size), torch.empty(1, lstm.hidden_size), torch.empty(1, lstm.hidden_size)
    return steps * count_flops(cell, x, (h, c))


def executed_flops(module: nn.Module, *inputs: torch.Tensor) -> int:
    """FLOPs module(*inputs) actually executes: FlopCounterMode's count of what ran, plus `lstm_flops` for each call
    of an nn.LSTM inside it that ran (counted by hooks, over every clip's real steps)."""
    calls: list[tuple[nn.LSTM, int]] = []  # priced after the counter closes (it would count the pricing too)

    def hook(lstm: nn.LSTM, args: tuple, out: Any) -> None:
        sequence = args[0]  # a PackedSequence (every clip's real steps) or a (B, T, D) / (T, D) tensor
        packed = hasattr(sequence, "batch_sizes")
        steps = int(sequence.batch_sizes.sum()) if packed else sequence.shape[:-1].numel()
        calls.append((lstm, steps))

    handles = [m.register_forward_hook(hook) for m in module.modules() if isinstance(m, nn.LSTM)]
    try:
        total = count_flops(module, *inputs)
    finally:
        for handle in handles:
            handle.remove()
    return total + sum(lstm_flops(lstm, steps) for lstm, steps in calls)


def elementwise_flops(frames: int = PAPER_FRAMES, size: int = PAPER_SIZE, n_experts: int = len(CANONICAL),
                      backbone: str = PAPER_BACKBONE) -> int:
    """Estimate of the experts' elementwise FLOPs that FlopCounterMode leaves out, for n_experts x frames images:
    2 per batch-norm output element (scale, shift), 2 per activation element (ReLU6: two comparisons), 1 per
    residual add."""
    model = expert_network("meta", backbone).features
    counts = {"bn": 0, "activation": 0}

    def hook(kind: str):
        return lambda module, args, out: counts.__setitem__(kind, counts[kind] + out.numel())

    for module in model.modules():
        if isinstance(module, (nn.BatchNorm2d, *ACTIVATIONS)):
            module.register_forward_hook(hook("bn" if isinstance(module, nn.BatchNorm2d) else "activation"))
    adds, x = 0, torch.empty(1, 3, size, size, device="meta")
    with torch.no_grad():
        for block in model:
            x = block(x)
            adds += x.numel() if getattr(block, "use_res_connect", False) else 0
    return n_experts * frames * (2 * counts["bn"] + 2 * counts["activation"] + adds)


def complexity_numbers(n_classes: int = len(CREMAD), frames: int = PAPER_FRAMES, size: int = PAPER_SIZE,
                       backbone: str = PAPER_BACKBONE) -> dict:
    """Parameters, fp32 storage and FLOPs of MoEDE with 8 `backbone` experts for a `frames`-frame clip at `size`."""
    n = len(CANONICAL)
    expert = expert_network("meta", backbone)
    fusion = MoEDE(n_experts=n, feature_dim=expert.num_features, hidden=HIDDEN, n_classes=n_classes, auxiliary=True)
    lstms = count_parameters(fusion.lstm_emo) + count_parameters(fusion.lstm_mix)
    backbone_params = count_parameters(expert.features)
    expert_flops = count_flops(expert.features, torch.empty(n * frames, 3, size, size, device="meta"))
    rnn_flops = sum(lstm_flops(lstm, frames) for lstm in fusion.lstm_emo) + lstm_flops(fusion.lstm_mix, frames)
    head_flops = 2 * HIDDEN * n_classes * (1 + n)
    fusion_params = count_parameters(fusion)
    total = n * backbone_params + fusion_params
    return dict(
        backbone=backbone, feature_dim=expert.num_features, expert_with_head=count_parameters(expert),
        expert_backbone=backbone_params, eight_backbones=n * backbone_params,
        eight_with_heads=n * count_parameters(expert), fusion=fusion_params, fusion_lstms=lstms,
        fusion_without_aux=fusion_params - n * (HIDDEN * n_classes + n_classes),
        fusion_8class_heads=lstms + (1 + n) * (HIDDEN * 8 + 8), total=total,
        storage_mb=total * 4 / 1e6, storage_mib=total * 4 / 2**20,
        expert_flops=expert_flops, lstm_flops=rnn_flops, head_flops=head_flops,
        flops=expert_flops + rnn_flops + head_flops, elementwise_flops=elementwise_flops(frames, size, n, backbone),
        frames=frames, size=size, n_classes=n_classes)


def gated_clip_flops(gate_k: int, n_classes: int = len(CREMAD), frames: int = PAPER_FRAMES, size: int = PAPER_SIZE,
                     backbone: str = PAPER_BACKBONE) -> int:
    """FLOPs a gated MoEDE (moede.models.gating.GatedPipeline: the SFER for the gate, then `gate_k` experts and their
    LSTM_emo) executes on a `frames`-frame clip at `size`: run for real on 1 and 2 frames (random weights: the count
    does not depend on them), extended linearly (every frame costs the same; the gate and heads run once per clip)."""
    from moede.models.gating import GatedMoEDE, GatedPipeline

    torch.manual_seed(0)
    sfer, experts = BackboneClassifier(backbone, 8), [BackboneClassifier(backbone, 2) for _ in CANONICAL]
    model = GatedMoEDE(feature_dim=sfer.num_features, n_classes=n_classes, gate_k=gate_k)
    pipeline = GatedPipeline(sfer, experts, model).eval()
    one, two = (executed_flops(pipeline, torch.randn(t, 3, size, size)) for t in (1, 2))
    return one + (frames - 1) * (two - one)
