"""The static stages on a tiny embedded demo corpus with another backbone: runs on a fresh clone (no ../shared).

SFER and the eight experts are trained by the stages themselves (resolve -> align -> train -> checkpoint -> tables)
with backbone=mobilenet_v3_small from random weights; their checkpoints rebuild as that backbone, and a second call
reuses them. Both training paths run: whole images (trainable_from=0) and cached frozen-block activations."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from moede.config import RunConfig
from moede.data.emotions import AFFECTNET
from moede.models.backbone import BackboneClassifier, build_backbone
from moede.models.checkpoint import load_checkpoint
from moede.stages.static import (_aligned_static, _datasets, _key, _split_paths, _trainable, prepare_static,
                                 train_experts_stage, train_sfer_stage)


def _config(run_dir: Path, trainable_from: int) -> RunConfig:
    """The smallest static settings on the embedded demo corpus, with MobileNetV3-small from random weights."""
    return RunConfig.for_profile("demo", run_dir=run_dir, static_corpus="demo", backbone="mobilenet_v3_small",
                                 init="random", trainable_from=trainable_from, image_size=32, sfer_epochs=1,
                                 expert_epochs=1, batch_size=16, device="cpu")


def _reloads_as_v3_small(checkpoint: Path, trained: torch.nn.Module) -> bool:
    """The checkpoint rebuilds a mobilenet_v3_small classifier holding exactly the trained weights."""
    model, meta = load_checkpoint(checkpoint)
    same = all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), trained.state_dict().values()))
    return (isinstance(model, BackboneClassifier) and meta["spec"]["architecture"] == "mobilenet_v3_small"
            and model.num_features == 576 and model.moede_init == trained.moede_init and same)


def test_sfer_stage_trains_and_reloads_as_mobilenet_v3_small(tmp_path: Path, tiny_static_demo: None) -> None:
    cfg = _config(tmp_path / "run", trainable_from=10)
    frame = prepare_static(cfg)
    assert frame.attrs["source"].kind == "demo" and len(frame) == 4 * len(AFFECTNET)
    sfer = train_sfer_stage(cfg, frame)
    assert not sfer.reused and sfer.model.moede_init.startswith("random")
    assert _reloads_as_v3_small(sfer.checkpoint, sfer.model)
    assert (cfg.run_dir / "results" / "table2.csv").is_file() and len(sfer.predictions) == len(AFFECTNET)
    assert train_sfer_stage(cfg, frame).reused


def test_the_landmark_source_keys_the_aligned_faces_and_the_models(tmp_path: Path, tiny_static_demo: None) -> None:
    cfg = _config(tmp_path / "run", trainable_from=10)
    frame = prepare_static(cfg)  # the demo corpus gives landmarks: aligned from them ("dataset", the demo's)
    dlib = cfg.with_(align_landmarks="dlib")
    assert _aligned_static(cfg) is not None and _aligned_static(dlib) is None, "dlib's crops are aligned anew"
    assert frame.attrs["alignment"]["settings"]["align_landmarks"] == "dataset"
    assert _key(dlib, "sfer", prepare_static(dlib))["data"] != _key(cfg, "sfer", frame)["data"], "the models retrain"
    assert RunConfig.for_profile("full").align_landmarks == "dlib", "the paper: dlib for AffectNet too"


@pytest.mark.slow
@pytest.mark.parametrize("trainable_from", [0, 10])
def test_experts_stage_trains_and_reloads_as_mobilenet_v3_small(tmp_path: Path, tiny_static_demo: None,
                                                                 trainable_from: int) -> None:
    cfg = _config(tmp_path / "run", trainable_from)
    experts = train_experts_stage(cfg, prepare_static(cfg))
    assert not any(e.reused for e in experts.experts.values())
    for emotion, expert in experts.experts.items():
        assert expert.model.moede_init.startswith("sfer:random"), emotion
        assert _reloads_as_v3_small(expert.checkpoint, expert.model), emotion
    for table in ("table1", "table2", "table4"):
        assert (cfg.run_dir / "results" / f"{table}.csv").is_file(), table
    assert experts.similarity.shape == (len(AFFECTNET), len(AFFECTNET))
    assert all(e.reused for e in train_experts_stage(cfg, prepare_static(cfg)).experts.values())


def test_a_randomly_initialised_model_trains_on_the_activations_of_its_own_frozen_blocks(
        tmp_path: Path, tiny_static_demo: None) -> None:
    cfg = _config(tmp_path / "run", trainable_from=10)
    frame = prepare_static(cfg)
    train, dev = _datasets(frame, cfg)
    torch.manual_seed(1)
    model = build_backbone(cfg.backbone, len(AFFECTNET), cfg.initialisation()).module
    with torch.no_grad():
        own = model.features[:10].eval()(torch.stack([train[i][0] for i in range(len(train))]))
    _, fit_train, _ = _trainable(cfg, model, train, dev, _split_paths(frame))
    scale = float(own.abs().max())  # tiny: random blocks with their initial batch-norm statistics shrink the signal
    assert scale > 0 and torch.allclose(fit_train.features / scale, own / scale, atol=1e-4)
