"""A video corpus is a plug-in: one module registering a VideoCorpus makes the command line, the preflight, the
resolution and chapter 5's stage take it, with no other package file changed."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest
import torch

import moede.data.corpus as registry
import moede.models.checkpoint as checkpoint
import moede.stages.static as static
from moede.cli import main, stage_corpora
from moede.config import RunConfig
from moede.data.emotions import CANONICAL
from moede.errors import SettingError
from moede.models.backbone import build_backbone
from moede.models.run_layout import MOEDE_ROW, static_checkpoints
from moede.tables.dynamic_tables import SFE_ROW
from moede.stages import dynamic, preflight, resolve

PLUGIN = '''"""FAKE: three classes of CREMA-D-layout clips, found by their file names, partitioned by actor."""

from pathlib import Path

import pandas as pd

from moede.data.corpus import VideoCorpus, register_corpus
from moede.data.splits import speaker_partitions

CODES = {"NEU": "neutral", "HAP": "happy", "ANG": "anger"}


def read(root: Path) -> pd.DataFrame:
    """The clips of VideoFlash/<actor>_<sentence>_<EMO>_<level>.mp4 with one of CODES, with their landmarks."""
    rows = []
    for video in sorted((Path(root) / "VideoFlash").glob("*.mp4")):
        actor, _, code, _ = video.stem.split("_")
        if code in CODES:
            rows.append({"sample_id": video.stem, "path": str(video), "label": CODES[code], "speaker": actor,
                         "split": None, "landmarks": str(Path(root) / "Landmarks" / f"{video.stem}.npy")})
    return pd.DataFrame(rows)


def partitions(clips: pd.DataFrame, partitions_dir: str | None, n: int, seed: int) -> list[pd.DataFrame]:
    """n seeded partitions of the actors: half train, a quarter dev, a quarter test."""
    return speaker_partitions(clips, n=n, fractions=(0.5, 0.25, 0.25), seed=seed)


def demo(folder: Path, seed: int) -> Path:
    """Eight drawn actors saying one sentence in each emotion."""
    from moede.data.demo import demo_cremad

    return demo_cremad(folder, seed=seed, n_actors=8, sentences=1, frames=(6, 7), size=64)


register_corpus(VideoCorpus(
    name="fake", title="FAKE", classes=tuple(CODES.values()), read=read, check=read,
    find_partitions=lambda root: None, partitions=partitions, demo=demo, demo_title="FAKE demo",
    partition_settings={"n": "partitions", "seed": "seed"}, help="FAKE root"))
'''


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> registry.VideoCorpus:
    """The FAKE corpus, registered by importing its one module (the registry is restored afterwards)."""
    monkeypatch.setattr(registry, "CORPORA", dict(registry.CORPORA))
    path = tmp_path / "fake_corpus.py"
    path.write_text(PLUGIN)
    spec = importlib.util.spec_from_file_location("fake_corpus", path)
    spec.loader.exec_module(importlib.util.module_from_spec(spec))
    return registry.find_corpus("fake")


def _random_experts(cfg: RunConfig, *args: object) -> None:
    """Stand-in for the static stages: eight 2-class experts and an 8-class SFER with random weights."""
    torch.manual_seed(0)
    paths = static_checkpoints(cfg.run_dir)
    for path in paths["ffe"]:
        checkpoint.save_checkpoint(build_backbone(cfg.backbone, 2).module, path, config={}, classes=["no", "yes"],
                                   metrics={}, source=None)
    checkpoint.save_checkpoint(build_backbone(cfg.backbone, 8).module, paths["sfe"][0], config={}, classes=CANONICAL,
                               metrics={}, source=None)


def test_a_registered_corpus_is_resolved_checked_and_offered(fake: registry.VideoCorpus, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    root = fake.demo(tmp_path / "fake", 0)
    cfg = RunConfig.for_profile("demo", run_dir=tmp_path / "run", extra={"fake_root": str(root)})
    assert fake in registry.video_corpora() and resolve.corpus_kind(cfg, "fake") == "corpus"
    clips = resolve.resolve_video(cfg, "fake")
    assert len(clips) == 24 and clips.attrs["source"].kind == "corpus" and clips.attrs["partitions_dir"] is None
    assert preflight.check_inputs(cfg)["fake_root"].describe() == f"FAKE at {root}: 24 of 24 labelled clips found"
    assert preflight.corpus_options()["fake"] == "--fake" and preflight.generated_corpora(cfg, ("fake",)) == []
    assert preflight.generated_corpora(cfg.with_(extra={}), ("fake",)) == ["--fake"]
    assert stage_corpora("all")[-1] == "fake" and "fake" not in stage_corpora("dfer")
    assert main(["info", "--fake", str(root), "--set", f"run_dir={tmp_path / 'run'}"]) == 0
    assert f"FAKE: FAKE at {root}: 24 of 24 labelled clips found" in capsys.readouterr().out
    demo = resolve.resolve_video(cfg.with_(extra={}), "fake")
    assert demo.attrs["source"].kind == "demo" and Path(demo.attrs["source"].root) == tmp_path / "run" / "data" / \
        "fake_demo"


def test_chapter_5_runs_on_a_registered_corpus(fake: registry.VideoCorpus, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(static, "train_experts_stage", _random_experts)
    root = fake.demo(tmp_path / "fake", 0)
    cfg = RunConfig.for_profile("demo", run_dir=tmp_path / "run", extra={"fake_root": str(root)}, image_size=32,
                                backbone="mobilenet_v3_small", init="random", trainable_from=0, frame_colour="rgb",
                                max_frames=3, partitions=1, dfer_epochs=1, baselines="none")
    features = dynamic.corpus_features(cfg, "fake")
    assert features.classes == ("neutral", "happy", "anger") and set(features.caches) == {"ffe", "sfe"}
    dynamic.run_table5(cfg, features)
    table = pd.read_csv(cfg.run_dir / "results" / "table5_fake.csv", index_col=0)
    assert {MOEDE_ROW, SFE_ROW} <= set(table.index) and "MoEDE with auxiliary (FTFE)" not in table.index
    assert list(table.columns[:6]) == ["F1-macro", "F1-weighted", "Accuracy", "Neutral", "Happiness", "Anger"]
    assert not (cfg.run_dir / "results" / "table5.csv").exists()  # CREMA-D's table is not overwritten


def test_partition_folders_are_given_as_partitions_dir_and_the_old_keys_are_refused(tmp_path: Path) -> None:
    cfg = RunConfig.for_profile("demo", run_dir=tmp_path, extra={"msp_improv_partitions_dir": "/p"})
    clips = pd.DataFrame()
    clips.attrs["partitions_dir"] = "/beside"
    assert dynamic.given_partitions(cfg, clips, "msp_improv") == "/p"
    assert dynamic.given_partitions(cfg.with_(extra={}), clips, "msp_improv") == "/beside"
    with pytest.raises(SettingError, match=r"extra\['cremad_partitions'\] is now extra\['cremad_partitions_dir'\]"):
        RunConfig.for_profile("demo", extra={"cremad_partitions": "/p"})
