"""Per-frame expert features of a clip: aligned uint8 frames -> normalised tensors -> ExpertBank -> (T, E, 1280)."""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from moede.features.frames import FRAMES_FORMAT, SUFFIX, load_frames, save_frames
from moede.io import digest
from moede.models.pretrained import IMAGENET_STATS, Normalisation

FramesFn = Callable[[pd.Series], np.ndarray]
"""Maps one clip row of a data frame to its aligned frames (T, size, size, 3) uint8 RGB."""


def frames_to_tensor(frames: np.ndarray, normalisation: Normalisation = IMAGENET_STATS) -> torch.Tensor:
    """Turn aligned frames (T, H, W, 3) uint8 RGB into a (T, 3, H, W) float tensor normalised with `normalisation`,
    which must be the one the MobileNetV2 experts were trained with (their Initialisation's)."""
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"expected aligned frames (T, H, W, 3) uint8, got {frames.shape} {frames.dtype}")
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float().div_(255.0)
    return normalisation.apply(x)


def shared_prefix_length(blocks: list[nn.Module]) -> int:
    """How many leading layers of the Sequential `blocks` hold identical weights and buffers in every block (e.g. the
    frozen ImageNet layers that every expert keeps when only the last blocks are fine-tuned)."""
    length = 0
    for layers in zip(*blocks):
        states = [layer.state_dict() for layer in layers]
        if not all(s.keys() == states[0].keys() and all(torch.equal(s[k], states[0][k]) for k in s)
                   for s in states[1:]):
            break
        length += 1
    return length


class SequentialExperts(nn.Module):
    """The experts of an ExpertBank run one after another in channels_last memory format: the same (B, E, 1280)
    features as the grouped bank up to float rounding, and the fastest way measured on CPU (benchmarks/bench_experts.py,
    8 experts, batch 16, 64 px, 1 thread: 25.2 frames/s, the grouped channels-last bank 19.7; see
    moede.models.experts). Leading layers that all experts share (`shared_prefix_length`) run once per batch instead
    of once per expert."""

    def __init__(self, blocks: list[nn.Module]) -> None:
        super().__init__()
        blocks = [b.to(memory_format=torch.channels_last) for b in blocks]
        shared = shared_prefix_length(blocks) if len(blocks) > 1 else 0
        self.prefix = blocks[0][:shared]
        self.blocks = nn.ModuleList(b[shared:] for b in blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return (B, n_experts, 1280) globally average-pooled features of images x (B, 3, H, W)."""
        x = self.prefix(x.contiguous(memory_format=torch.channels_last))
        return torch.stack([block(x).mean(dim=(2, 3)) for block in self.blocks], dim=1)


def fast_extractor(bank: nn.Module) -> nn.Module:
    """The book's one path to frozen expert features (stages, feature caches, predict): a frozen, eval-mode module;
    an ExpertBank becomes SequentialExperts (the fastest measured), anything else (frames (B,3,H,W) -> (B, E, D)) is
    used as it is."""
    from moede.models.experts import ExpertBank

    fast = SequentialExperts(bank.unstack()) if isinstance(bank, ExpertBank) else bank
    return fast.eval().requires_grad_(False)


def joint_extractor(banks: Sequence[nn.Module]) -> tuple[nn.Module, list[int]] | None:
    """One SequentialExperts over the experts of every ExpertBank of `banks`, so that the leading layers they all
    share (e.g. the frozen ImageNet blocks of the FFE, FTFE and SFE banks) run once per batch instead of once per
    bank, with each bank's number of experts (to split its output); None when a bank is not an ExpertBank.
    Each bank's features are those of `fast_extractor(bank)`: the same layers applied to the same inputs."""
    from moede.models.experts import ExpertBank

    if not all(isinstance(bank, ExpertBank) for bank in banks):
        return None
    experts = [bank.unstack() for bank in banks]
    joint = SequentialExperts([block for blocks in experts for block in blocks])
    return joint.eval().requires_grad_(False), [len(blocks) for blocks in experts]


@torch.inference_mode()
def extract_clip_features(bank: nn.Module, frames: np.ndarray, batch_size: int = 64,
                          device: str | torch.device = "cpu",
                          normalisation: Normalisation = IMAGENET_STATS) -> np.ndarray:
    """Run `bank` (frames (B,3,H,W) -> (B, E, D)) over a clip's aligned frames in chunks; return (T, E, D) float16."""
    bank.eval()
    x = frames_to_tensor(frames, normalisation)
    chunks = [bank(x[i:i + batch_size].to(device)).float().cpu() for i in range(0, len(x), batch_size)]
    out = torch.cat(chunks)
    if out.dim() != 3 or out.shape[0] != len(frames):
        raise ValueError(f"the expert bank must return (frames, experts, features); got {tuple(out.shape)}")
    return out.numpy().astype(np.float16)


def row_landmarks(row: pd.Series) -> np.ndarray | None:
    """A clip row's given landmarks (T, 68, 2): the `landmarks` array itself or the .npy file it names (the demo
    corpora's sidecars); None when absent, so that dlib finds them."""
    given = row.get("landmarks")
    if isinstance(given, np.ndarray):
        return given
    if isinstance(given, (str, Path)) and str(given):
        if not Path(given).is_file():
            raise FileNotFoundError(f"landmarks file {given} of clip {row['sample_id']} does not exist")
        return np.load(given)
    return None


def _stored_name(row: pd.Series, landmarks: np.ndarray | None, settings: dict) -> str:
    """The file name of a clip's stored aligned frames: a digest of its video file (path, size, modification time),
    its given landmarks, the alignment `settings` and the stored format (moede.features.frames), so that a changed
    input, setting or format is aligned again."""
    stat = Path(row["path"]).stat()
    landmarks_digest = None if landmarks is None else hashlib.sha256(np.ascontiguousarray(landmarks)).hexdigest()
    made_from = {"video": [str(Path(row["path"]).resolve()), stat.st_size, stat.st_mtime_ns], **settings,
                 "landmarks_digest": landmarks_digest, "format": FRAMES_FORMAT}
    return f"{digest(made_from)[:24]}{SUFFIX}"


def aligned_frames_fn(size: int, max_frames: int | None, frame_step: int = 1, colour: str = "rgb",
                      fill: str = "black", store: Path | None = None) -> FramesFn:
    """Return a FramesFn that aligns a clip row's video with moede.align.align_video at `size` x `size`, using the
    row's given landmarks (row_landmarks) when present, else dlib; it keeps every `frame_step`-th frame (1: all, 3:
    30 fps -> 10 fps) and at most `max_frames` of those (None: all), in `colour` (moede.data.colour.as_colour), the
    crop outside the frame painted as `fill` (moede.align.face.FILLS).
    With `store`, each clip's aligned RGB frames are kept there as JPEG images (moede.features.frames.save_frames)
    and read back by later calls (any colour) instead of being aligned again; the frames a call returns are always
    the stored ones, decoded, so that the first and every later run see the same frames."""
    from moede.align import align_video
    from moede.data.colour import as_colour

    if frame_step < 1:
        raise ValueError(f"frame_step must be >= 1, got {frame_step}")
    read = None if max_frames is None else max_frames * frame_step
    settings = {"aligner": "moede.align.align_video", "size": size, "read": read, "frame_step": frame_step,
                "max_frames": max_frames, "fill": fill}

    def aligned(row: pd.Series) -> np.ndarray:
        landmarks = row_landmarks(row)
        target = None if store is None else Path(store) / _stored_name(row, landmarks, settings)
        if target is not None and target.is_file():
            try:
                return load_frames(target)
            except ValueError as error:  # not written by this version (atomic writes leave no half file)
                warnings.warn(f"{error}; aligning {row['path']} again")
        video = align_video(row["path"], size=size, landmarks=landmarks, max_frames=read, fill=fill)
        rgb = np.ascontiguousarray(video.frames[::frame_step][:max_frames])
        if target is None:
            return rgb
        return save_frames(target, rgb)

    return lambda row: as_colour(aligned(row), colour)
