"""Where the experts look: batched Grad-CAM and the share of its mass that falls inside the face.

Figure 2 of the paper shows each expert's class activation map on a face. `in_face_share` turns such a map into a
number: the fraction of the (non-negative) map's mass inside a face mask (the hull of the aligned 68 landmarks and
the forehead, `moede.align.masks`). `pooled_share` does so over many faces at once, each face weighing by its map's
mass: on a face where an expert finds no evidence for its emotion its map is near zero and its share is noise (it
lands anywhere), so the plain mean of per-face shares mostly measures the faces an expert says "no" to.

`grad_cams` computes Grad-CAM (Selvaraju et al.) for a batch with pytorch-grad-cam: the layer's activations
A (B, C, h, w) weighted by the spatial mean of d(target)/dA, summed over channels, ReLU'd and upsampled bilinearly to
the image size; unlike the library's default the maps are not min-max normalised (a min shift would change the
share, and the pooled share weighs each face by its map's mass). Targets
(CAM_TARGETS): "positive", the expert's positive logit (the paper's "class activation map" of the expert's class);
"margin", the positive minus the negative logit, what the expert's decision depends on.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np
import pandas as pd
import torch
from pytorch_grad_cam import GradCAM
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
from torch import nn

CAM_TARGETS = ("positive", "margin")


@dataclass(frozen=True)
class Cams:
    """Grad-CAMs of a batch and the model's softmax probability of each explained class."""

    maps: np.ndarray  # (B, H, W), non-negative
    probabilities: np.ndarray  # (B,)


def in_face_share(cam: np.ndarray, mask: np.ndarray) -> float:
    """Fraction of a non-negative map's mass inside a boolean `mask` of the same shape (NaN for an all-zero map)."""
    cam, mask = np.asarray(cam, dtype=np.float64), np.asarray(mask, dtype=bool)
    if cam.shape != mask.shape:
        raise ValueError(f"the CAM {cam.shape} and the face mask {mask.shape} must have the same shape")
    if (cam < 0).any():
        raise ValueError("a CAM must be non-negative (Grad-CAM is ReLU'd); got negative values")
    total = cam.sum()
    return float(cam[mask].sum() / total) if total > 0 else float("nan")


class _Margin:
    """A pytorch-grad-cam target: the class's logit minus the largest other logit (for a 2-class expert: positive
    minus negative)."""

    def __init__(self, category: int) -> None:
        self.category = category

    def __call__(self, output: torch.Tensor) -> torch.Tensor:
        others = torch.cat([output[: self.category], output[self.category + 1:]])
        return output[self.category] - others.max()


class _UnscaledGradCAM(GradCAM):
    """pytorch-grad-cam's GradCAM (its hooks, gradients and channel weights) without its per-image min-max scaling:
    each map keeps its mass, which the in-face share and its pooling over faces rely on."""

    def compute_cam_per_layer(self, input_tensor: torch.Tensor, targets: list, eigen_smooth: bool) -> list:
        width, height = self.get_target_width_height(input_tensor)
        layers = zip(self.target_layers, self.activations_and_grads.activations, self.activations_and_grads.gradients)
        cams = [np.maximum(self.get_cam_image(input_tensor, layer, targets, activation.cpu().numpy(),
                                              gradient.cpu().numpy(), eigen_smooth), 0)
                for layer, activation, gradient in layers]
        return [np.stack([cv2.resize(one, (width, height), interpolation=cv2.INTER_LINEAR) for one in cam])[:, None]
                for cam in cams]

    def aggregate_multi_layers(self, cam_per_target_layer: list) -> np.ndarray:
        return np.concatenate(cam_per_target_layer, axis=1).mean(axis=1)


@contextlib.contextmanager
def _backward_stops_at(model: nn.Module, layer: nn.Module) -> Iterator[None]:
    """While inside, only `layer`'s parameters of `model` require gradients (when it has any), so the backward pass
    stops at `layer` instead of reaching the image: Grad-CAM needs the gradient at `layer`'s output only, which is
    the same either way (the maps are unchanged: tested). The flags are restored on exit."""
    flags = [(parameter, parameter.requires_grad) for parameter in model.parameters()]
    if any(True for _ in layer.parameters()):
        model.requires_grad_(False)
        layer.requires_grad_(True)
    try:
        yield
    finally:
        for parameter, flag in flags:
            parameter.requires_grad_(flag)


def grad_cams(model: nn.Module, images: torch.Tensor, layer: nn.Module, target: str = "positive",
              classes: torch.Tensor | None = None) -> Cams:
    """Grad-CAM (pytorch-grad-cam, maps unscaled) of `model` on normalised `images` (B, 3, H, W) at `layer`,
    explaining `classes` (B,) (None: class 1, an expert's positive class) as `target` says (CAM_TARGETS)."""
    if target not in CAM_TARGETS:
        raise ValueError(f"unknown CAM target {target!r}; choose one of {CAM_TARGETS}")
    classes = torch.ones(len(images), dtype=torch.long) if classes is None else torch.as_tensor(classes).long()
    make = ClassifierOutputTarget if target == "positive" else _Margin
    with _UnscaledGradCAM(model=model.eval(), target_layers=[layer]) as cam, torch.enable_grad(), \
            _backward_stops_at(model, layer):
        maps = cam(input_tensor=images, targets=[make(int(c)) for c in classes])
        logits = cam.outputs.detach()
    probabilities = torch.softmax(logits, dim=1).gather(1, classes[:, None])[:, 0]
    return Cams(maps.astype(np.float32), probabilities.numpy())


def face_shares(maps: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """`in_face_share` of each of N maps (N, H, W) in its face mask (N, H, W)."""
    return np.array([in_face_share(cam, mask) for cam, mask in zip(maps, masks, strict=True)])


def pooled_share(maps: np.ndarray, masks: np.ndarray) -> float:
    """The share of N maps' (N, H, W) total mass inside their face masks (N, H, W): each face weighs by its map's
    mass (NaN when every map is zero)."""
    return in_face_share(np.asarray(maps).reshape(-1), np.asarray(masks).reshape(-1))


@dataclass(frozen=True)
class CamResult:
    """CAMs of the experts (and the SFER) on a set of aligned faces, with the faces' masks, for Figure 2 and the
    in-face table; `maps` and `probabilities` by model name: an expert's emotion (its positive class) or "sfer"
    (the face's labelled class)."""

    faces: pd.DataFrame  # the faces' rows (sample_id, path, label), in order
    images: np.ndarray  # (N, S, S, 3) uint8 RGB
    masks: np.ndarray  # (N, S, S) bool face masks
    emotions: tuple[str, ...]  # the experts' emotions, in order
    maps: dict[str, np.ndarray]  # model name -> (N, S, S) its CAM on each face
    probabilities: dict[str, np.ndarray]  # model name -> (N,) its probability of the explained class
    banner: str = ""  # the data source
