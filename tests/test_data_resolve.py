"""Choosing a run's data: user corpus, shared stand-in, or the generated demo (reused); the source is recorded."""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import pandas as pd
import pytest

import moede.stages.resolve as resolve
from moede.config import RunConfig
from moede.data.corpus import CORPORA
from moede.data.demo import demo_cremad, demo_msp_improv
from moede.data.emotions import AFFECTNET
from moede.stages.dynamic import DRAWN_FACE_SIZE, experts_config


@pytest.fixture
def small_demos(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(resolve, "shared_data_root", lambda: None)
    monkeypatch.setattr(resolve, "demo_static", functools.partial(
        resolve.demo_static, per_class={e: 2 for e in AFFECTNET}, dev_per_class=1, size=64))
    small = {"cremad": functools.partial(demo_cremad, n_actors=3, sentences=1, frames=(6, 7), size=64),
             "msp_improv": functools.partial(demo_msp_improv, per_speaker=1, frames=(6, 7), size=64)}
    for name, write in small.items():  # the registered corpora's demo writers
        monkeypatch.setitem(CORPORA, name, dataclasses.replace(CORPORA[name], demo=lambda root, seed, write=write:
                                                               write(root, seed=seed)))


def test_demo_is_generated_once_and_recorded(tmp_path: Path, small_demos: None) -> None:
    cfg = RunConfig.for_profile("demo", run_dir=tmp_path)
    static = resolve.resolve_static(cfg)
    assert static.attrs["source"].kind == "demo" and set(static["split"]) == {"train", "dev"}
    marker = tmp_path / "data" / "affectnet_demo" / ".moede_demo.json"
    stamp = marker.stat().st_mtime_ns
    assert len(resolve.resolve_static(cfg)) == len(static) and marker.stat().st_mtime_ns == stamp
    clips = resolve.resolve_cremad(cfg)
    assert clips.attrs["source"].kind == "demo" and clips.attrs["partitions_dir"] is None
    msp = resolve.resolve_msp_improv(cfg)
    assert msp.attrs["source"].kind == "demo" and msp["speaker"].nunique() == 12


def test_user_corpus_wins(tmp_path: Path, small_demos: None) -> None:
    corpus = resolve.demo_static(tmp_path / "my_affectnet")
    cfg = RunConfig.for_profile("demo", run_dir=tmp_path / "run", affectnet_root=corpus)
    frame = resolve.resolve_static(cfg)
    assert frame.attrs["source"].kind == "corpus" and frame.attrs["source"].root == str(corpus)
    assert not (tmp_path / "run" / "data").exists()
    with pytest.raises(FileNotFoundError, match="does not exist"):
        resolve.resolve_cremad(cfg.with_(cremad_root=tmp_path / "nowhere"))


def test_shared_stand_in_for_static(tmp_path: Path, shared_data: Path) -> None:
    frame = resolve.resolve_static(RunConfig.for_profile("demo", run_dir=tmp_path))
    assert frame.attrs["source"].kind == "shared" and "facial_expressions" in frame.attrs["source"].root


def test_user_cremad_root_with_partitions(tmp_path: Path, shared_data: Path) -> None:
    cfg = RunConfig.for_profile("demo", run_dir=tmp_path, cremad_root=shared_data / "crema-d")
    clips = resolve.resolve_cremad(cfg)
    assert clips.attrs["source"].kind == "corpus"
    assert clips.attrs["partitions_dir"] == str(shared_data / "crema-d" / "partitions")


@pytest.fixture
def fake_shared(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "shared_data"
    (root / "facial_expressions").mkdir(parents=True)
    (root / "facial_expressions" / "labels.csv").write_text("image,emotion\n")
    monkeypatch.setattr(resolve, "shared_data_root", lambda: root)
    return root


def test_static_corpus_demo_overrides_the_shared_stand_in(tmp_path: Path, fake_shared: Path) -> None:
    cfg = RunConfig.for_profile("demo", run_dir=tmp_path / "run")
    assert resolve.static_kind(cfg) == "shared"
    assert resolve.static_kind(cfg.with_(static_corpus="demo")) == "demo"
    assert resolve.static_kind(cfg.with_(affectnet_root=tmp_path)) == "corpus"
    with pytest.raises(ValueError, match="static_corpus must be one of"):
        cfg.with_(static_corpus="shared")


def test_dfer_experts_match_the_clips_domain(tmp_path: Path, fake_shared: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = RunConfig.for_profile("demo", run_dir=tmp_path / "run")
    drawn = experts_config(cfg, clips_are_demo=True)
    assert drawn.run_dir == tmp_path / "run" / "demo_experts" and resolve.static_kind(drawn) == "demo"
    assert drawn.image_size == min(cfg.image_size, DRAWN_FACE_SIZE)  # drawn faces: smaller crops
    assert drawn.with_(run_dir=cfg.run_dir, static_corpus="auto", image_size=cfg.image_size) == cfg  # nothing else
    assert experts_config(cfg, clips_are_demo=False) is cfg  # real clips: the static chapters' experts
    assert experts_config(cfg.with_(dfer_experts="static"), clips_are_demo=True).run_dir == cfg.run_dir
    monkeypatch.setattr(resolve, "shared_data_root", lambda: None)
    assert experts_config(cfg, clips_are_demo=True) is cfg  # demo faces already


def test_dfer_trains_only_the_static_models_its_banks_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """FFE and SFE features need the experts and the SFER; the fusions are trained only for the FTFE bank."""
    import moede.stages.static as static
    from moede.stages.dynamic import _ensure_static

    trained = []
    monkeypatch.setattr(static, "train_experts_stage", lambda cfg: trained.append("experts"))
    monkeypatch.setattr(static, "train_fusion_stage", lambda cfg: trained.append("fusions"))
    cfg = RunConfig.for_profile("demo", run_dir=tmp_path)
    assert set(_ensure_static(cfg, ("ffe", "sfe"))) == {"ffe", "sfe"} and trained == ["experts"]
    assert set(_ensure_static(cfg, ("ffe", "ftfe", "sfe"))) == {"ffe", "ftfe", "sfe"} and trained[-1] == "fusions"


def test_the_video_chapters_take_the_shared_real_clips(tmp_path: Path, shared_data: Path) -> None:
    cfg = RunConfig.for_profile("demo", run_dir=tmp_path)
    assert resolve.video_kind(cfg) == "shared" and cfg.cremad_labels == "intended"
    clips = resolve.resolve_cremad(cfg)
    assert clips.attrs["source"].kind == "shared" and len(clips) == 78 and clips["speaker"].nunique() == 46
    assert clips.attrs["partitions_dir"] == str(shared_data / "crema-d" / "partitions")
    consensus = resolve.resolve_cremad(cfg.with_(cremad_labels="consensus"))
    assert len(consensus) == 74 and consensus.attrs["listed"] == 7442 - consensus.attrs["dropped_ties"]  # 4 of
    assert consensus.attrs["missing_media"] == consensus.attrs["listed"] - 74  # the 78 clips' votes are tied
    assert resolve.video_kind(cfg.with_(video_corpus="demo")) == "demo"
    assert resolve.video_kind(cfg.with_(cremad_root=tmp_path)) == "corpus"
    assert RunConfig.for_profile("full").cremad_labels == "consensus"  # the paper's label


def test_shared_crema_d_needs_its_metadata_and_videos(tmp_path: Path, fake_shared: Path) -> None:
    cfg = RunConfig.for_profile("demo", run_dir=tmp_path / "run")
    assert resolve.video_kind(cfg) == "demo"  # no crema-d folder
    (fake_shared / "crema-d" / "videos").mkdir(parents=True)
    assert resolve.video_kind(cfg) == "demo"  # videos but no summaryTable.csv
    (fake_shared / "crema-d" / "summaryTable.csv").write_text("FileName\n")
    assert resolve.video_kind(cfg) == "shared"


def test_the_frame_colour_follows_the_static_corpus_unless_set(tmp_path: Path, shared_data: Path) -> None:
    cfg = RunConfig.for_profile("demo", run_dir=tmp_path)
    assert resolve.frame_colour(cfg) == "grey"  # ../shared's photos are mostly greyscale
    assert resolve.frame_colour(cfg.with_(frame_colour="rgb")) == "rgb"


def test_msp_improv_stage_uses_the_partitions_given_beside_the_corpus(tmp_path: Path, monkeypatch) -> None:
    from moede.data.demo import demo_msp_improv
    from moede.stages import dynamic

    root = demo_msp_improv(tmp_path / "msp", per_speaker=1, frames=(6, 7), size=64)
    (root / "partitions").mkdir()
    clips = dynamic.load_msp_improv(RunConfig.for_profile("demo", run_dir=tmp_path / "probe", msp_improv_root=root))
    for k, (test, dev) in enumerate((("S3", "S4"), ("S5", "S6")), start=1):
        split = clips["session"].map({test: "Test", dev: "Development"}).fillna("Train")
        pd.DataFrame({"FileName": clips["sample_id"] + ".wav", "SpkrID": clips["session"].str[1:],
                      "Split_Set": split}).to_csv(root / "partitions" / f"labels_consensus_{k}.csv", index=False)
    monkeypatch.setattr(dynamic, "_features", lambda cfg, dataset, classes, clips, partitions, banks: partitions)
    cfg = RunConfig.for_profile("demo", run_dir=tmp_path / "run", msp_improv_root=root)
    partitions = dynamic.msp_improv_features(cfg)
    assert [set(p.loc[p["split"] == "test", "session"]) for p in partitions] == [{"S3"}, {"S5"}]
    assert dynamic.given_partitions(cfg, dynamic.load_msp_improv(cfg), "msp_improv") == str(root / "partitions")
