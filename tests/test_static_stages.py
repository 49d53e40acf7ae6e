"""The static stages end to end on a handful of real faces: SFER, 8 experts, FFE/FTFE, Tables 1-4, Figure 2."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from moede.align import align_images
from moede.config import RunConfig
from moede.data.emotions import AFFECTNET, SYNONYMS
from moede.tables.paper import paper_table, paper_vs_run
from moede.tables.static_tables import table1, table2, table3, table4
from moede.sources import DataSource
from moede.stages.cams import cams_stage, figure2_stage
from moede.stages.static import train_experts_stage, train_fusion_stage, train_sfer_stage


def _tiny_frame(root: Path, aligned: Path) -> pd.DataFrame:
    """Three train and one dev face of every emotion from facial_expressions, aligned (32 px) into `aligned` (the
    CAMs' face masks need the landmarks), in the sample-table schema."""
    labels = pd.read_csv(root / "facial_expressions" / "labels.csv")
    labels["label"] = labels["emotion"].str.lower().map(SYNONYMS)
    labels["bytes"] = [(root / "facial_expressions" / "images" / n).stat().st_size for n in labels["image"]]
    rows = labels.sort_values("bytes", ascending=False, kind="stable").groupby("label", sort=False).head(6)
    frame = pd.DataFrame({"sample_id": rows["image"].str.replace(".jpg", "", regex=False),
                          "path": [str(root / "facial_expressions" / "images" / n) for n in rows["image"]],
                          "label": rows["label"], "speaker": rows["image"]})
    with warnings.catch_warnings():  # the largest photos of each emotion; dlib may still miss a face or two
        warnings.simplefilter("ignore", UserWarning)
        frame = align_images(frame, aligned, 32, workers=1).groupby("label", sort=False).head(4)
    frame = frame.assign(split=np.where(frame.groupby("label").cumcount() < 3, "train", "dev"))
    frame.attrs["source"] = DataSource("facial_expressions (test subset)", "shared", str(root))
    return frame.drop(columns="source_path").reset_index(drop=True)


@pytest.mark.slow
def test_static_stages_end_to_end_and_reuse(shared_data: Path, tmp_path: Path) -> None:
    frame = _tiny_frame(shared_data, tmp_path / "aligned")
    cfg = RunConfig.for_profile("demo", run_dir=tmp_path / "run", image_size=32, sfer_epochs=1, expert_epochs=1,
                                fusion_epochs=1, batch_size=16, device="cpu")
    fusion = train_fusion_stage(cfg, frame)
    results = cfg.run_dir / "results"
    for name in ("table1.csv", "table2.csv", "table3.csv", "table4.csv", "experts_similarity.json"):
        assert (results / name).is_file(), name
    assert (cfg.run_dir / "models" / "ftfe.pt").is_file()

    sfer = train_sfer_stage(cfg, frame)
    experts = train_experts_stage(cfg, frame)
    assert sfer.reused and all(e.reused for e in experts.experts.values())
    assert sfer.metrics["init"] == cfg.initialisation().describe() and sfer.metrics["init"].startswith("ImageNet")
    assert sfer.metrics["normalisation"] == {"mean": [0.5] * 3, "std": [0.5] * 3} and sfer.seed == cfg.seed
    assert experts.experts["happy"].metrics["init"] == f"sfer:{sfer.metrics['init']}"
    assert list(experts.experts) == list(AFFECTNET)

    for table, name in ((table1(experts), "table1"), (table2(sfer), "table2"), (table3(fusion), "table3"),
                        (table4(experts), "table4")):
        paper = paper_table(name)
        assert list(table.index) == list(paper.index), name
        assert list(table.columns)[:len(paper.columns)] == list(paper.columns), name  # then any intervals
        assert table.attrs["source"].startswith("Data: facial_expressions")
        assert paper_vs_run(table, name).shape == (len(paper), 2 * len(table.columns))
    t2 = table2(sfer)[list(paper_table("table2").columns)]
    assert ((t2.values >= 0) & (t2.values <= 100)).all()
    t4 = table4(experts).to_numpy()
    assert np.allclose(t4, t4.T) and np.allclose(np.diag(t4), 1)

    cams = cams_stage(cfg, experts, per_emotion=1)
    assert set(cams.maps) == {"sfer", *AFFECTNET}
    assert all(m.shape == (len(frame[frame["split"] == "dev"]), 32, 32) and (m >= 0).all() for m in cams.maps.values())
    shares = pd.read_csv(results / "cam_in_face.csv", index_col=0)["in-face share"]
    assert len(shares) == len(AFFECTNET) + 2 and ((shares.dropna() >= 0) & (shares.dropna() <= 1)).all()
    fig = figure2_stage(cfg, cams)
    rows = frame.loc[frame["split"] == "dev", "label"].nunique()
    assert len(fig.axes) == rows * (len(AFFECTNET) + 1)  # a row per emotion with a face: the face and 8 experts
    assert (results / "figure2.png").stat().st_size > 0

    changed = cfg.with_(sfer_epochs=2)
    assert not train_sfer_stage(changed, frame).reused  # other settings: retrained, not reused
