"""Reuse keys are derived from what each stage reads: every setting is accounted for, flipping one changes exactly
the keys of the stages that read it, a stage that reads an undeclared setting is stopped, and the stages read exactly
what they declare."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from torch import nn

from moede.config import RunConfig, settings
from moede.data.emotions import CREMAD
from moede.features import build_or_load
from moede.models.dfer import MoEDE
from moede.stages import keys
from moede.stages.keys import NOT_OUTPUT, STAGES, THROUGH_INPUTS, Stage, UndeclaredSetting, checked, reading

BASE = RunConfig.for_profile("demo", trainable_from=0, init="random", experts="lora")  # every flip stays valid
UNFLIPPED = {"imagenet_weights": "keyed by the weights file's hash (a real file: tests/test_static_training.py)"}


def _other(name: str, value: Any) -> Any:
    """Another valid value of setting `name` than `value`."""
    setting = settings()[name]
    if setting.choices is not None:
        return next(choice for choice in setting.choices if choice != value)
    if setting.kind is bool:
        return not value
    if setting.kind is float:
        return value * 2
    if setting.kind is int:
        return (value or 0) + 1
    return Path("/elsewhere")


def test_every_setting_is_read_by_a_stage_reaches_a_key_through_an_input_or_changes_no_model() -> None:
    read = {name for stage in STAGES.values() for name in stage.reads}
    all_fields = {f.name for f in fields(RunConfig)}
    assert read | set(THROUGH_INPUTS) | set(NOT_OUTPUT) == all_fields, "a new setting needs a place in keys.py"
    assert not read & set(NOT_OUTPUT) and not set(THROUGH_INPUTS) & set(NOT_OUTPUT)
    assert read <= all_fields and set(THROUGH_INPUTS) <= all_fields


@pytest.mark.parametrize("name", sorted({n for s in STAGES.values() for n in s.reads} - set(UNFLIPPED)))
def test_flipping_a_setting_changes_exactly_the_keys_of_the_stages_that_read_it(name: str) -> None:
    flipped = BASE.with_(**{name: _other(name, getattr(BASE, name))})
    changed = {stage.name for stage in STAGES.values() if stage.key(BASE, data="d") != stage.key(flipped, data="d")}
    readers = {stage.name for stage in STAGES.values() if name in stage.reads_of(BASE) | stage.reads_of(flipped)}
    assert changed == readers and readers


def test_a_conditional_read_counts_only_when_its_condition_holds() -> None:
    expert, full = STAGES["expert"], BASE.with_(experts="full")
    assert "lora_rank" not in expert.reads_of(full) and "lora_rank" in expert.reads_of(BASE)
    assert expert.key(full) == expert.key(full.with_(lora_rank=8)), "full experts have no rank"
    assert expert.key(BASE) != expert.key(BASE.with_(lora_rank=8))


def test_a_stage_that_reads_an_undeclared_setting_is_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(STAGES, "probe", Stage("probe", ("seed",)))
    assert checked("probe", BASE, lambda cfg: (cfg.seed, cfg.run_dir, cfg.device))() == (0, BASE.run_dir, "auto")
    with pytest.raises(UndeclaredSetting, match=r"probe stage read setting\(s\) \['learning_rate'\].*keys\.py"):
        checked("probe", BASE, lambda cfg: cfg.learning_rate)()
    with pytest.raises(UndeclaredSetting, match="optimizer"):  # a derived config's reads count too
        checked("probe", BASE, lambda cfg: cfg.with_(seed=3).optimizer)()
    with pytest.raises(UndeclaredSetting, match="init"):  # and a method's reads
        checked("probe", BASE, lambda cfg: cfg.initialisation())()


def test_a_recording_config_is_the_config_it_records() -> None:
    recording, read = reading(BASE)
    assert isinstance(recording, RunConfig) and recording.as_dict() == BASE.as_dict()
    assert read == {f.name for f in fields(RunConfig)}, "as_dict reads every setting"
    assert recording.with_(seed=5).seed == 5


def _record_checks(monkeypatch: pytest.MonkeyPatch) -> dict[str, set[str]]:
    """Record, per stage, the output-changing settings its trainings read (Stage.check is where they arrive)."""
    seen: dict[str, set[str]] = {}
    check = Stage.check

    def recording_check(self: Stage, cfg: RunConfig, read: Any) -> None:
        seen.setdefault(self.name, set()).update(set(read) - set(NOT_OUTPUT))
        check(self, cfg, read)

    monkeypatch.setattr(keys.Stage, "check", recording_check)
    return seen


def test_the_dfer_stage_reads_exactly_what_it_declares(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from moede.stages.dynamic import DFERFeatures, VideoModel, run_models

    seen = _record_checks(monkeypatch)
    rng = np.random.default_rng(0)
    speakers = [f"s{i}" for i in range(6)]
    clips = pd.DataFrame({"sample_id": [f"c{i:02d}" for i in range(24)], "path": [f"c{i}.flv" for i in range(24)],
                          "label": [CREMAD[i % 6] for i in range(24)], "speaker": [speakers[i % 6] for i in range(24)]})
    split_of = dict(zip(speakers, ["train", "train", "train", "train", "dev", "test"]))
    frames = {sid: rng.integers(0, 256, (3, 6, 6, 3), dtype=np.uint8) for sid in clips["sample_id"]}
    bank = nn.Sequential(nn.Conv2d(3, 8 * 4, 3), nn.AdaptiveAvgPool2d(1), nn.Unflatten(1, (8, 4)))  # (N, 8, 4, 1, 1)
    cache = build_or_load(clips, nn.Sequential(bank, nn.Flatten(2)), {"bank": "ffe"}, tmp_path / "ffe.json",
                          lambda row: frames[row["sample_id"]], log=lambda m: None)
    features = DFERFeatures("cremad", CREMAD, clips, [clips.assign(split=clips["speaker"].map(split_of))],
                            {"ffe": cache}, None)
    cfg = RunConfig.for_profile("demo", run_dir=tmp_path / "run", dfer_epochs=1, clip_batch_size=8, device="cpu")
    model = VideoModel("m", "ffe", lambda s: MoEDE(feature_dim=s.feature_dim, hidden=3, n_classes=s.n_classes))
    run_models(cfg, features, {"MoEDE": model})
    assert seen["dfer"] == STAGES["dfer"].reads_of(cfg)


@pytest.mark.slow
def test_the_static_stages_read_exactly_what_they_declare(tmp_path: Path, tiny_static_demo: None,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from moede.stages.static import train_fusion_stage

    seen = _record_checks(monkeypatch)
    cfg = RunConfig.for_profile("demo", run_dir=tmp_path / "run", static_corpus="demo", backbone="mobilenet_v3_small",
                                init="random", trainable_from=10, image_size=32, sfer_epochs=1, expert_epochs=1,
                                fusion_epochs=1, batch_size=16, device="cpu")
    train_fusion_stage(cfg)
    for stage in ("sfer", "expert", "fusion"):
        assert seen[stage] == STAGES[stage].reads_of(cfg), stage
    unread = {"affectnet_root", "ferplus_root", "ferplus_per_class_cap"}
    assert seen["static_alignment"] == STAGES["static_alignment"].reads_of(cfg) - unread, \
        "the demo corpus has no root to read (nor FER+'s cap)"
