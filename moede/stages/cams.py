"""Figure 2's stage: Grad-CAM of the eight experts and the SFER on a few development faces of each emotion, with the
share of each CAM inside the face (moede.evaluation.cams); Figure 2 is saved as results/figure2.png and the
in-face table as results/cam_in_face.csv."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
import torch

from moede.align.masks import aligned_masks
from moede.config import RunConfig
from moede.data.emotions import AFFECTNET, class_index
from moede.evaluation.cams import CamResult, grad_cams
from moede.io import atomic_path
from moede.models.checkpoint import load_checkpoint
from moede.stages.outputs import save_result
from moede.distributed import run_on_main
from moede.training.images import FaceImageDataset, load_face_images
from moede.training.outcomes import ExpertsResult

if TYPE_CHECKING:
    from matplotlib.figure import Figure

CAM_FACES = 10
"""Development faces per emotion whose CAMs are measured (the first ones of the dev table; all when fewer)."""


def cam_faces(dev: pd.DataFrame, per_emotion: int = CAM_FACES) -> pd.DataFrame:
    """The first `per_emotion` development rows of each emotion, in AffectNet order."""
    if per_emotion < 1:
        raise ValueError(f"per_emotion must be at least 1, got {per_emotion}")
    rows = [dev[dev["label"] == emotion].head(per_emotion) for emotion in AFFECTNET]
    return pd.concat(rows, ignore_index=True)[["sample_id", "path", "label"]]


def cams_stage(cfg: RunConfig, experts: ExpertsResult, per_emotion: int = CAM_FACES,
               target: str = "positive") -> CamResult:
    """Grad-CAM (`target`, moede.evaluation.cams.CAM_TARGETS) of each expert's positive class and of the SFER's
    labelled class on `cam_faces`, at each model's `cam_layer`; writes results/cam_in_face.csv."""
    from moede.tables.static_tables import cam_in_face_table

    faces = cam_faces(experts.dev, per_emotion)
    paths = tuple(faces["path"])
    pixels = load_face_images(paths, cfg.image_size)
    data = FaceImageDataset(pixels, class_index(faces["label"], AFFECTNET), cfg.initialisation().normalisation)
    inputs = torch.stack([data.normalised(i) for i in range(len(data))])
    masks = aligned_masks(paths, cfg.image_size)
    sfer, _ = load_checkpoint(cfg.run_dir / "models" / "sfer.pt")
    done = {"sfer": grad_cams(sfer, inputs, sfer.cam_layer, target, data.targets)} | {
        emotion: grad_cams(model, inputs, model.cam_layer, target)
        for emotion, model in zip(experts.emotions, experts.models())}
    result = CamResult(faces, pixels.permute(0, 2, 3, 1).numpy(), masks, experts.emotions,
                       {name: cams.maps for name, cams in done.items()},
                       {name: cams.probabilities for name, cams in done.items()}, experts.source.banner())
    save_result(cam_in_face_table(result), "cam_in_face", cfg)
    return result


def figure2_stage(cfg: RunConfig, cams: CamResult) -> Figure:
    """Figure 2: the experts' CAMs on one development face of each emotion (moede.tables.figures.figure2_grid);
    also saved as results/figure2.png."""
    from moede.tables.figures import figure2_grid

    fig = figure2_grid(cams)
    target = cfg.run_dir / "results" / "figure2.png"

    def save() -> None:
        with atomic_path(target) as tmp:
            fig.savefig(tmp, format="png", dpi=110)

    run_on_main(save)
    return fig
