"""Chapter 10's tables and figures: the paper's two untested proposals (LoRA experts, expert gating) measured.

Sizes are of what a checkpoint stores (every tensor of the state dict at its own width: fp32 weights and statistics).
"Separate networks" is eight whole experts (the paper's MoEDE); "base + own tensors" stores the SFER's network once
and, per expert, only the tensors that differ from it (a LoRA expert's adapters and head; a full expert's changed
layers and head).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd
import torch
from torch import nn

from moede.models.lora import LoRAExpert, lora_adapters, plain_expert
from moede.tables.paper import paper_complexity

if TYPE_CHECKING:
    from matplotlib.figure import Figure

PAPER_RATIO = 7.0  # "could reduce the model size by over 7x" (Section IV.C)
FULL_ROW = "full experts"


def _bytes(tensors: Sequence[torch.Tensor]) -> int:
    """Bytes the tensors take in a checkpoint."""
    return sum(t.numel() * t.element_size() for t in tensors)


def own_tensors(expert: nn.Module, sfer: nn.Module) -> list[torch.Tensor]:
    """The tensors of `expert`'s state dict that the SFER's does not hold (a LoRA expert's base convolutions count as
    the SFER's convolutions they came from)."""
    base = sfer.state_dict()
    own = []
    for key, value in expert.state_dict().items():
        plain = key.replace(".base.", ".")
        if plain not in base or base[plain].shape != value.shape or not torch.equal(base[plain], value):
            own.append(value)
    return own


def trainable_parameters(expert: nn.Module, start: int) -> int:
    """Parameters one expert trains: a LoRA expert's adapters and head; a full expert's blocks `start` on and head."""
    if isinstance(expert, LoRAExpert):
        return sum(p.numel() for a in lora_adapters(expert) for p in (a.down, a.up)) + \
            sum(p.numel() for p in expert.classifier.parameters())
    return sum(p.numel() for p in expert.features[start:].parameters()) + \
        sum(p.numel() for p in expert.classifier.parameters())


def expert_storage(experts: Sequence[nn.Module], sfer: nn.Module, start: int) -> dict[str, float]:
    """Stored size (MB) of eight experts as separate networks and as the SFER + each expert's own tensors, and the
    parameters each expert trains."""
    separate = sum(_bytes(list(plain_expert(e).state_dict().values())) for e in experts)
    shared = _bytes(list(sfer.features.state_dict().values())) + sum(_bytes(own_tensors(e, sfer)) for e in experts)
    return {"separate (MB)": separate / 1e6, "base + own tensors (MB)": shared / 1e6,
            "trainable per expert": float(trainable_parameters(experts[0], start))}


def size_quality_table(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """(a) one row per expert kind: stored sizes, trainable parameters, Table 1's mean F1-macro of the eight experts,
    Table 5's MoEDE F1-macro and its t-test against the full experts' MoEDE; the size ratio to the full experts
    stored as separate networks (the paper's baseline for "over 7x")."""
    table = pd.DataFrame(list(rows)).set_index("experts")
    table["size ratio"] = table.loc[FULL_ROW, "separate (MB)"] / table["base + own tensors (MB)"]
    table.attrs["caption"] = ("LoRA experts vs full experts: stored size, trainable parameters, Table 1 and Table 5 "
                              "F1-macro (p: one-tailed matched-pair t-test against the full experts' MoEDE)")
    return table.round(3)


def seven_x_verdict(table: pd.DataFrame) -> str:
    """Whether "over 7x" holds at a LoRA rank that loses less than 1 F1 point of Table 5's MoEDE, in one sentence."""
    full = table.loc[FULL_ROW, "MoEDE F1-macro"]
    lora = table.drop(index=FULL_ROW)
    loss = full - lora["MoEDE F1-macro"]
    small = lora[lora["size ratio"] > PAPER_RATIO]
    good = small[loss[small.index] < 1]
    if not len(small):
        return (f"No LoRA rank reaches the paper's 'over 7x' here (best ratio {lora['size ratio'].max():.1f}x).")
    if len(good):
        row = good["size ratio"].idxmax()
        return (f"'Over 7x' holds: {row} stores the eight experts {good.loc[row, 'size ratio']:.1f}x smaller and its "
                f"MoEDE loses {loss[row]:.2f} F1 points (less than 1) on Table 5's partitions.")
    row = loss[small.index].idxmin()
    return (f"'Over 7x' holds for size ({row}: {small.loc[row, 'size ratio']:.1f}x smaller) but not at less than 1 "
            f"F1 point: its MoEDE loses {loss[row]:.2f} points on Table 5's partitions.")


def compute_quality_table(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """(b) one row per k: backbone passes and executed TFLOP per 2-second (60-frame, 224 px) clip, MoEDE F1-macro on
    Table 5's partitions and its t-test against the ungated MoEDE."""
    table = pd.DataFrame(list(rows)).set_index("model")
    table.attrs["caption"] = ("Gated MoEDE: executed TFLOP per 2-second clip (60 frames at 224 px) against F1-macro; "
                              "p: one-tailed matched-pair t-test against the ungated MoEDE")
    return table.round(4)


def size_quality_figure(table: pd.DataFrame) -> Figure:
    """(a) F1 (Table 1's experts, Table 5's MoEDE) against the eight experts' stored size, the paper's 7x marked."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    sizes = table["base + own tensors (MB)"]
    for column, marker in (("experts F1-macro (Table 1)", "o"), ("MoEDE F1-macro", "s")):
        ax.plot(sizes, table[column], marker=marker, linestyle="none", label=column)
    for name, size in sizes.items():
        ax.annotate(name, (size, table.loc[name, "MoEDE F1-macro"]), textcoords="offset points", xytext=(4, 4),
                    fontsize=8)
    full = table.loc[FULL_ROW, "separate (MB)"]
    ax.axvline(full, color="grey", linestyle=":", label=f"eight separate full experts ({full:.0f} MB)")
    ax.axvline(full / PAPER_RATIO, color="red", linestyle="--", label="the paper's 'over 7x' smaller")
    ax.set_xscale("log")
    ax.set_xlabel("stored size of the eight experts (MB, log scale; SFER base + each expert's own tensors)")
    ax.set_ylabel("F1-macro (%)")
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return fig


def compute_quality_figure(table: pd.DataFrame) -> Figure:
    """(b) MoEDE F1 against the executed TFLOP per 2-second clip for each k, the paper's 0.32 TFLOP marked."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(table["TFLOP per 2-s clip"], table["MoEDE F1-macro"], marker="o")
    for name, row in table.iterrows():
        ax.annotate(name, (row["TFLOP per 2-s clip"], row["MoEDE F1-macro"]), textcoords="offset points",
                    xytext=(4, 4), fontsize=8)
    paper = float(paper_complexity()["compute for a 60-frame clip (TFLOP)"])
    ax.axvline(paper, color="red", linestyle="--", label=f"the paper's MoEDE: {paper} TFLOP")
    ax.set_xlabel("TFLOP executed per 2-second clip (60 frames, 224 px)")
    ax.set_ylabel("MoEDE F1-macro (%)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
