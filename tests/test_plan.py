"""The measured plan (moede.stages.plan, `moede plan`): its columns, hours = items x epochs x the measured cost per
item, the published counts when no corpus is given, and the refusal to project a stage it could not measure."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import moede.stages.plan as plan_module
from moede.cli import main
from moede.config import RunConfig
from moede.data.emotions import AFFECTNET
from moede.stages.plan import COLUMNS, NOT_MEASURED, Corpora, find_corpora, plan, plan_text


def _tiny(run_dir: Path) -> RunConfig:
    """Tiny settings: 32-px faces, batches of 4 faces and 2 clips, 4 frames per clip, no published baselines."""
    return RunConfig.for_profile("demo", run_dir=run_dir, image_size=32, batch_size=4, clip_batch_size=2,
                                 trainable_from=0, max_frames=4, baselines="none", augment=True, device="cpu")


FAKE = Corpora({e: 10 + i for i, e in enumerate(AFFECTNET)}, 8, {"cremad": 20, "msp_improv": 30},
               {"cremad": 9.0, "msp_improv": None}, lines=["fake corpora"])


def _check(table: pd.DataFrame) -> pd.DataFrame:
    """Check the plan's columns, its hours (items x epochs x seconds per item), its refusals and its total; return
    its measured rows."""
    assert list(table.columns) == COLUMNS
    rows, total = table.iloc[:-1], table.iloc[-1]
    measured = rows[rows["cost"] == "measured"]
    assert {"SFER", "expert happy", "FFE", "FTFE", "CREMA-D: MoEDE with auxiliary (FFE)",
            "CREMA-D: ablation without Neu", "CREMA-D: ffe features"} <= set(measured["stage"])
    hours = measured["items"] * measured["epochs"] * measured["seconds_per_item"] / 3600
    assert (measured["hours"] - hours).abs().max() < 1e-12
    by_stage = rows.set_index("stage")
    assert by_stage.loc["SFER", "items"] == sum(FAKE.train_faces.values()) and by_stage.loc["SFER", "epochs"] == 6
    assert by_stage.loc["expert happy", "items"] == 11 + 11, "all positives and as many negatives"
    refused = rows[rows["cost"] == NOT_MEASURED]
    assert {"alignment (photos)", "MSP-IMPROV: every stage"} <= set(refused["stage"]), "no photo, no MSP frames"
    assert refused["hours"].isna().all() and refused["seconds_per_item"].isna().all()
    assert math.isclose(total["hours"], measured["hours"].sum())
    assert f"{len(refused)} stage(s) not measured" in total["note"]
    assert (measured["ram_gb"] > 0).all() and by_stage.loc["SFER", "disk_gb"] > 0, "its checkpoints"
    lines = plan_text(table).splitlines()
    assert lines[1] == "fake corpora" and sum(line.count(NOT_MEASURED) >= 2 for line in lines) == len(refused)
    return measured


def test_hours_are_items_x_epochs_x_the_measured_cost_and_unmeasured_stages_are_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    costs = {"image_step": (0.5, 3.0), "forward": (0.25, 1.5), "clip_step": (2.0, 0.5)}
    for name, cost in costs.items():
        monkeypatch.setattr(plan_module.Warmup, name, lambda *args, cost=cost, **kwargs: cost)
    monkeypatch.setattr(plan_module, "_alignment_cost",
                        lambda *args: plan_module.AlignmentCost(None, 0.125, 0.75, 1000.0, 20_000.0))
    measured = _check(plan(_tiny(tmp_path), steps=1, corpora=FAKE)).set_index("stage")
    assert measured.loc["SFER", "hours"] == 108 * 6 * 0.5 / 3600
    assert measured.loc["SFER", "ram_gb"] == 3.0 and measured.loc["SFER dev scoring", "ram_gb"] == 1.5, \
        "each stage's own warm-up peak, not the corpus' faces (they are read from files)"
    assert math.isclose(measured.loc["CREMA-D: alignment (frames)", "disk_gb"], 20 / 0.7 * 9 * 20_000 / 1e9)
    assert measured.loc["CREMA-D: MoEDE with auxiliary (FFE)", "hours"] == 2 * 20 * 5 * 2.0 / 3600
    assert measured.loc["CREMA-D: alignment (frames)", "items"] == round(20 / 0.7 * 9)


@pytest.mark.slow
def test_the_warm_up_measures_every_model_on_tiny_settings(tmp_path: Path) -> None:
    measured = _check(plan(_tiny(tmp_path), steps=1, corpora=FAKE))
    assert (measured["seconds_per_item"] > 0).all()


def test_the_peak_ram_of_a_warm_up_is_its_own() -> None:
    plan_module._reset_peak_ram()
    held = np.ones(200_000_000 // 8)  # 200 MB, touched
    grown = plan_module._peak_ram_gb()
    del held
    plan_module._reset_peak_ram()
    assert plan_module._peak_ram_gb() < grown - 0.15, "the peak starts again after a reset (Linux)"


def test_without_corpora_the_published_counts_are_used_and_said(tmp_path: Path) -> None:
    corpora = find_corpora(RunConfig.for_profile("full", run_dir=tmp_path, static_corpus="demo"))
    assert sum(corpora.train_faces.values()) == 287_651 and corpora.dev_faces == 3_999
    assert corpora.train_clips == {"cremad": round(7442 * 0.7), "msp_improv": round(8438 * 0.7)}
    assert corpora.frames_per_clip["msp_improv"] is None, "../shared has no MSP-IMPROV media: not measured"
    assert "published counts" in corpora.lines[0] and "paper's 7,442 clips" in corpora.lines[1]


def test_moede_plan_prints_the_table(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    seen = {}

    def fake_plan(cfg: RunConfig, steps: int, fusion_batch: int | None) -> pd.DataFrame:
        seen.update(profile=cfg.profile, steps=steps, fusion_batch=fusion_batch)
        table = pd.DataFrame([{"stage": "SFER", "item": "face", "items": 10, "epochs": 2, "seconds_per_item": 0.5,
                               "hours": 10 * 2 * 0.5 / 3600, "ram_gb": 1.0, "disk_gb": 0.1, "cost": "measured",
                               "note": ""}], columns=COLUMNS)
        table.attrs["lines"] = ["counts from somewhere"]
        return table

    monkeypatch.setattr(plan_module, "plan", fake_plan)
    assert main(["plan", "--profile", "full", "--steps", "1", "--fusion-batch", "4"]) == 0
    out = capsys.readouterr().out
    assert seen == {"profile": "full", "steps": 1, "fusion_batch": 4}
    assert "counts from somewhere" in out and "SFER" in out and "0.0028" in out
    with pytest.raises(SystemExit) as refused:
        main(["plan", "--steps", "0"])
    assert refused.value.code == 2 and "steps" in capsys.readouterr().err
