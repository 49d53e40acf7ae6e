"""Figures of the static part: training curves, confusion matrix, similarity heatmap and the experts' CAMs.

Figures are built with `matplotlib.figure.Figure` (no pyplot state), so nothing needs closing; each carries
`fig.attrs["source"]` (the data banner) and prints it under the plot.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from moede.data.emotions import PAPER_NAMES, SHORT_NAMES  # noqa: E402
from moede.evaluation.cams import CamResult, in_face_share  # noqa: E402


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


def _overlay(face: np.ndarray, cam: np.ndarray, scale: float) -> np.ndarray:
    """A face (S, S, 3) uint8 with a CAM (S, S) blended on top as a jet heatmap; the CAM is divided by `scale`."""
    heat = matplotlib.colormaps["jet"](np.clip(cam / scale, 0, 1) if scale > 0 else np.zeros_like(cam))[..., :3]
    return 0.5 * face.astype(np.float32) / 255 + 0.5 * heat


def figure2_grid(cams: CamResult, panel: float = 1.7) -> Figure:
    """Figure 2: one development face of each emotion that has faces (rows) under each expert's CAM (columns), with
    the expert's positive probability on the panel and the face's in-face share of that CAM; each CAM is scaled
    to its own maximum over the row's panels, so a row compares where the experts look."""
    labels = list(cams.faces["label"])
    rows = [labels.index(emotion) for emotion in cams.emotions if emotion in labels]
    fig = Figure(figsize=(panel * (len(cams.emotions) + 1), panel * len(rows) + 0.6), layout="constrained")
    axes = fig.subplots(len(rows), len(cams.emotions) + 1, squeeze=False)
    for line, face in zip(axes, rows):
        line[0].imshow(cams.images[face])
        line[0].set_title(f"face: {PAPER_NAMES.get(labels[face], labels[face])}", fontsize=9)
        scale = max(float(cams.maps[emotion][face].max()) for emotion in cams.emotions)
        for ax, emotion in zip(line[1:], cams.emotions):
            cam = cams.maps[emotion][face]
            ax.imshow(_overlay(cams.images[face], cam, scale))
            ax.contour(cams.masks[face], levels=[0.5], colors="white", linewidths=0.6)
            ax.set_title(f"{SHORT_NAMES.get(emotion, emotion)} p={cams.probabilities[emotion][face]:.2f} "
                         f"in={in_face_share(cam, cams.masks[face]):.2f}", fontsize=8)
    for ax in axes.ravel():
        ax.axis("off")
    fig.get_layout_engine().set(rect=(0, 0.02, 1, 0.98))  # room for the data banner under the grid
    fig.suptitle("Grad-CAM of each expert's positive class, scaled per row (white: the face mask, landmark hull and "
                 "forehead; p: the expert's positive probability; in: the CAM's share inside the mask)", fontsize=9)
    return _sign(fig, cams.banner)
