"""Fine-tuning only the last blocks of a MobileNetV2: the frozen blocks' outputs are computed once and reused.

With `trainable_from = k`, blocks `features[:k]` keep their initial (ImageNet) weights in every model of a run, so
their output for a face never changes: it is computed once per image (`block_activations`) and the trainable rest
(`features[k:]`, pooling, head) is trained on it (`FromBlock`, `FusionFromBlock`). The result is the same network
as training the whole MobileNetV2 with those blocks frozen (frozen blocks in eval mode), without running them
every epoch. Images cannot be augmented this way (the cached activations are of the plain images).
"""

from __future__ import annotations

import torch
from torch import nn
from tqdm.auto import tqdm

from moede.models.fusion import ExpertFusion
from moede.models.recompute import run_blocks
from moede.training.images import FaceImageDataset, FeatureDataset


def freeze_blocks(features: nn.Sequential, start: int) -> None:
    """Stop gradients in `features[:start]` (their weights stay as initialised)."""
    features[:start].requires_grad_(False)


class FromBlock(nn.Module):
    """A MobileNetV2 classifier run from `features[start]` on: activations (B, C, h, w) of the frozen blocks -> logits
    (B, classes). It shares the model's parameters, so training it trains the model. While it trains, the trained
    blocks hold their weights channels-last (0.097 s against 0.119 s per step of 32 faces at 160 px on the 2-core
    machine: benchmarks/bench_experts.py --train); `finish` puts them back in the default memory format, the one
    checkpoints hold."""

    def __init__(self, model: nn.Module, start: int) -> None:
        super().__init__()
        self.model, self.start = model, start
        freeze_blocks(model.features, start)
        model.features[start:].to(memory_format=torch.channels_last)

    def forward(self, activations: torch.Tensor) -> torch.Tensor:
        """Logits (B, classes) for activations (B, C, h, w) of `features[:start]`."""
        x = activations.contiguous(memory_format=torch.channels_last)
        features = run_blocks(self.model.features[self.start:], x, self.model.recompute_activations)
        return self.model.classifier(features.mean(dim=(2, 3)))

    def finish(self) -> nn.Module:
        """The trained model, its weights in the default memory format."""
        return self.model.to(memory_format=torch.contiguous_format)


class FusionFromBlock(nn.Module):
    """An ExpertFusion run from block `start` of every expert on: the experts share the frozen blocks, so one
    activation tensor (B, C, h, w) feeds them all; returns logits (B, classes). With `in_turn` the fusion's bank is
    swapped for one running its experts one after another while it trains (on the 2-core machine 0.76 s against
    1.42 s per step of 32 faces at 160 px for the grouped convolutions: benchmarks/bench_experts.py --train);
    `finish` swaps the grouped form back."""

    def __init__(self, fusion: ExpertFusion, start: int, in_turn: bool = False) -> None:
        super().__init__()
        if in_turn:
            fusion.bank = fusion.bank.rebuilt(grouped=False)
        self.fusion, self.start, self.in_turn = fusion, start, in_turn
        for network in fusion.bank.networks:
            freeze_blocks(network, start)

    def forward(self, activations: torch.Tensor) -> torch.Tensor:
        """Logits (B, classes) for activations (B, C, h, w) of the shared frozen blocks."""
        return self.fusion.head(self.fusion.bank.forward_from(activations, self.start))

    def finish(self) -> ExpertFusion:
        """The trained fusion, its bank in the form a checkpoint stores (grouped when the backbone allows it)."""
        if self.in_turn:
            self.fusion.bank = self.fusion.bank.rebuilt()
        return self.fusion


@torch.no_grad()  # not inference_mode: its tensors could not be saved for the backward pass of the trained blocks
def block_activations(blocks: nn.Module, dataset: FaceImageDataset, batch_size: int = 64,
                      device: str = "cpu", channels_last: bool = False) -> FeatureDataset:
    """Run the frozen `blocks` (eval mode; with `channels_last`, weights and images in that memory format) over
    `dataset`'s un-augmented images; return their outputs (in the default format) with targets."""
    layout = torch.channels_last if channels_last else torch.contiguous_format
    blocks = blocks.eval().to(device, memory_format=layout)
    plain = dataset.relabel(dataset.targets, augment=False)
    starts = tqdm(range(0, len(plain), batch_size), desc="frozen blocks' activations", unit="batch", leave=False,
                  disable=len(plain) < 20 * batch_size)
    outputs = [blocks(torch.stack([plain[i][0] for i in range(start, min(start + batch_size, len(plain)))])
                      .to(device).contiguous(memory_format=layout)).contiguous().cpu()
               for start in starts]
    return FeatureDataset(torch.cat(outputs), dataset.targets)
