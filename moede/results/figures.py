"""Figures of the static part: training curves, confusion matrix, similarity heatmap and the experts' CAMs.

Figures are built with `matplotlib.figure.Figure` (no pyplot state), so nothing needs closing; each carries
`fig.attrs["source"]` (the data banner) and prints it under the plot.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from PIL import Image  # noqa: E402
from pytorch_grad_cam import GradCAM  # noqa: E402
from pytorch_grad_cam.utils.image import show_cam_on_image  # noqa: E402
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget  # noqa: E402
from torch import nn  # noqa: E402

from moede.data.emotions import PAPER_NAMES, SHORT_NAMES  # noqa: E402
from moede.models.pretrained import Normalisation  # noqa: E402
from moede.training.images import FaceImageDataset  # noqa: E402


def _sign(fig: Figure, banner: str | None) -> Figure:
    """Attach the data banner to the figure (attrs and a footnote)."""
    fig.attrs = {"source": banner or ""}
    if banner:
        fig.text(0.5, 0.005, banner, ha="center", va="bottom", fontsize=7, color="dimgray", wrap=True)
    return fig


def training_curves(history: pd.DataFrame, title: str = "", banner: str | None = None) -> Figure:
    """Plot train/dev loss and dev accuracy / F1-macro per epoch from a training history."""
    fig = Figure(figsize=(9, 3.4), layout="constrained")
    loss_ax, score_ax = fig.subplots(1, 2)
    loss_ax.plot(history["epoch"], history["train_loss"], marker="o", label="train loss")
    loss_ax.plot(history["epoch"], history["dev_loss"], marker="o", label="dev loss")
    score_ax.plot(history["epoch"], history["dev_accuracy"], marker="o", label="dev accuracy")
    score_ax.plot(history["epoch"], history["dev_f1_macro"], marker="o", label="dev F1-macro")
    loss_ax.set(xlabel="epoch", ylabel="cross-entropy")
    score_ax.set(xlabel="epoch", ylabel="%")
    for ax in (loss_ax, score_ax):
        ax.legend()
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    return _sign(fig, banner)


def confusion_matrix_figure(matrix: np.ndarray, classes: Sequence[str], title: str = "",
                            banner: str | None = None) -> Figure:
    """Heatmap of a confusion matrix normalised per true class (row percentages), counts as annotations."""
    matrix = np.asarray(matrix)
    rows = matrix.sum(axis=1, keepdims=True)
    percent = np.divide(100 * matrix, rows, out=np.zeros(matrix.shape), where=rows > 0)
    names = [SHORT_NAMES.get(c, c) for c in classes]
    fig = Figure(figsize=(6, 5), layout="constrained")
    ax = fig.subplots()
    sns.heatmap(percent, annot=matrix, fmt="d", cmap="Blues", vmin=0, vmax=100, xticklabels=names,
                yticklabels=names, ax=ax, cbar_kws={"label": "% of true class"})
    ax.set(xlabel="predicted", ylabel="true", title=title)
    return _sign(fig, banner)


def similarity_heatmap(frame: pd.DataFrame, title: str = "", banner: str | None = None) -> Figure:
    """Heatmap of an expert cosine-similarity matrix (Table 4 / Table 6 layout)."""
    fig = Figure(figsize=(5.5, 4.6), layout="constrained")
    ax = fig.subplots()
    sns.heatmap(frame, annot=True, fmt=".2f", cmap="viridis", vmin=0, vmax=1, square=True, ax=ax)
    ax.set(title=title)
    return _sign(fig, banner or frame.attrs.get("source"))


def _face(image: np.ndarray | str | Path, image_size: int) -> np.ndarray:
    """Return an aligned face as an RGB uint8 array of image_size x image_size."""
    if not isinstance(image, np.ndarray):
        with Image.open(image) as opened:
            image = np.asarray(opened.convert("RGB").resize((image_size, image_size), Image.Resampling.BILINEAR))
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.shape[:2] != (image_size, image_size):
        image = np.asarray(Image.fromarray(image).resize((image_size, image_size), Image.Resampling.BILINEAR))
    return image


def expert_cams(experts: Sequence[nn.Module], image: np.ndarray | str | Path, image_size: int,
                normalisation: Normalisation) -> np.ndarray:
    """Grad-CAM of each expert for its positive class (index 1) on its `cam_layer`; returns (n, S, S) in [0,1].

    With a linear head on global average pooling, Grad-CAM on the last convolutional block equals the CAM
    the paper's Figure 2 shows (up to a positive scale and the ReLU).
    """
    face = _face(image, image_size)
    tensor = FaceImageDataset(torch.tensor(face).permute(2, 0, 1)[None], [1], normalisation).normalised(0)[None]
    maps = []
    for expert in experts:
        expert = expert.eval()
        with GradCAM(model=expert, target_layers=[expert.cam_layer]) as cam:
            maps.append(cam(input_tensor=tensor, targets=[ClassifierOutputTarget(1)])[0])
    return np.stack(maps)


def figure2_cams(experts: Sequence[nn.Module], emotions: Sequence[str], image: np.ndarray | str | Path,
                 image_size: int, normalisation: Normalisation, banner: str | None = None) -> Figure:
    """Figure 2: the aligned face, then one panel per expert with its positive-class CAM overlaid (the experts'
    input `normalisation`: their Initialisation's)."""
    face = _face(image, image_size)
    cams = expert_cams(experts, face, image_size, normalisation)
    fig = Figure(figsize=(2.0 * (len(cams) + 1), 2.5), layout="constrained")
    axes = fig.subplots(1, len(cams) + 1)
    axes[0].imshow(face)
    axes[0].set_title("aligned face", fontsize=9)
    for ax, cam, emotion in zip(axes[1:], cams, emotions):
        ax.imshow(show_cam_on_image(face.astype(np.float32) / 255, cam, use_rgb=True))
        ax.set_title(PAPER_NAMES.get(emotion, emotion), fontsize=9)
    for ax in axes:
        ax.axis("off")
    return _sign(fig, banner)
