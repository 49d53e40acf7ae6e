"""The timeline figure of a prediction: a strip of the aligned frames, the class probabilities over time (MoEDE per
window; the per-frame FTFE when shipped), and one row per expert showing how strongly it fires."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from moede.predict.pipeline import Prediction


def _strip(ax, prediction: Prediction) -> None:
    """The thumbnails side by side, each titled with its time."""
    ax.imshow(np.concatenate([crop for _, crop in prediction.thumbnails], axis=1))
    side = prediction.thumbnails[0][1].shape[1]
    ax.set_xticks([side * (i + 0.5) for i in range(len(prediction.thumbnails))],
                  [f"{t:.1f} s" for t, _ in prediction.thumbnails], fontsize=7)
    ax.set_yticks([])


def _no_face(ax, prediction: Prediction) -> None:
    """Shade the processed frames without a face."""
    frames = prediction.frames
    step = 1 / prediction.clip.fps
    for time in frames.loc[~frames["face"], "time_s"]:
        ax.axvspan(time, time + step, color="0.85", zorder=0)


def _probabilities(ax, prediction: Prediction, classes: Sequence[str]) -> None:
    """MoEDE's class probabilities at the windows' centres."""
    windows = prediction.table[prediction.table["span"] == "window"]
    centres = (windows["start_s"] + windows["end_s"]) / 2
    for name in classes:
        ax.plot(centres, windows[f"prob_{name}"], marker="o", markersize=3, label=name)
    _no_face(ax, prediction)
    ax.set_ylim(0, 1)
    ax.set_ylabel("MoEDE\nper window")
    ax.legend(fontsize=7, ncol=len(classes), loc="upper left", bbox_to_anchor=(0, 1.35))
    ax.set_title(f"whole clip: {prediction.label}", fontsize=9, loc="right")


def _per_frame(ax, prediction: Prediction, prefix: str, ylabel: str) -> None:
    """Per-frame probabilities (columns `prefix`<class>) of the frames table."""
    columns = [c for c in prediction.frames if c.startswith(prefix)]
    for column in columns:
        ax.plot(prediction.frames["time_s"], prediction.frames[column], label=column.removeprefix(prefix))
    ax.set_ylim(0, 1)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=6, ncol=4, loc="upper left")


def _firing(ax, prediction: Prediction, duration: float) -> None:
    """One row per expert: its probability of its own emotion on each frame."""
    columns = [c for c in prediction.frames if c.startswith("expert_")]
    image = ax.imshow(prediction.frames[columns].to_numpy().T, aspect="auto", vmin=0, vmax=1, cmap="magma",
                      extent=(0, duration, len(columns) - 0.5, -0.5), interpolation="nearest")
    ax.set_yticks(range(len(columns)), [c.removeprefix("expert_") for c in columns], fontsize=7)
    ax.set_xlabel("time (s)")
    ax.figure.colorbar(image, ax=ax, fraction=0.02, pad=0.01, label="expert fires")


def timeline_figure(prediction: Prediction, classes: Sequence[str]) -> Figure:
    """The timeline of a video prediction (see the module docstring)."""
    has_ftfe = any(c.startswith("ftfe_") for c in prediction.frames)
    rows = [1.2, 1.4] + ([1.2] if has_ftfe else []) + [1.4]
    fig = Figure(figsize=(10, 1.6 * sum(rows)), layout="constrained")
    axes = fig.subplots(len(rows), 1, height_ratios=rows)
    duration = float(prediction.table["end_s"].max())
    _strip(axes[0], prediction)
    axes[0].set_title(f"{prediction.path.name}" + (f"\n{prediction.note}" if prediction.note else ""), fontsize=8,
                      wrap=True)
    _probabilities(axes[1], prediction, classes)
    if has_ftfe:
        _per_frame(axes[2], prediction, "ftfe_", "FTFE\nper frame")
    _firing(axes[-1], prediction, duration)
    for ax in axes[1:]:
        ax.set_xlim(0, duration)
    return fig


def photo_figure(prediction: Prediction, classes: Sequence[str]) -> Figure:
    """The aligned face, the SFER's class probabilities and each expert's firing for a photo."""
    fig = Figure(figsize=(10, 3), layout="constrained")
    face, probs, experts = fig.subplots(1, 3, width_ratios=[1, 2, 2])
    face.imshow(prediction.thumbnails[0][1])
    face.set_axis_off()
    face.set_title(prediction.path.name, fontsize=8)
    row = prediction.table.iloc[0]
    probs.barh(list(classes), [row[f"prob_{c}"] for c in classes])
    probs.set_xlim(0, 1)
    probs.set_title(f"SFER: {prediction.label}", fontsize=9)
    columns = [c for c in prediction.frames if c.startswith("expert_")]
    experts.barh([c.removeprefix("expert_") for c in columns], prediction.frames[columns].iloc[0])
    experts.set_xlim(0, 1)
    experts.set_title("each expert's probability of its emotion", fontsize=9)
    return fig
