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
# # 1. Face alignment
#
# The paper (Section IV.B) detects each face and its 68 landmarks with dlib, rotates the image so that both eyes lie
# on a horizontal line at fixed positions (a fronto-parallel view), crops the facial region from the landmarks and
# resizes it to 224x224. `moede.align` does exactly this for single images, folders and videos, frame by frame.
# Below: real photos and the frames of a real video, before and after alignment.

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
from moede.book.display import banner, show_figure
from moede.book.header import start_chapter

cfg = start_chapter(globals())

# %%
from moede.book.media import example_photos, example_videos

photos, videos = example_photos(), example_videos()
banner(cfg, *[f"Photo {p.name}: {p.origin}" for p in photos], *[f"Video {v.name}: {v.origin}" for v in videos])

# %% [markdown]
# ## Photos
# Each photo is aligned by `moede.align.align_face` (dlib detection, 68 landmarks, similarity warp). The astronaut is
# also shown rotated by 20 degrees: alignment brings the eye line back to horizontal. The eye centres land at
# `EYE_POSITIONS` (fractions of the output side). Where the crop reaches past the photo (a tight or rotated photo),
# `align_fill` paints it: black (the default), the edge pixels replicated, the photo mirrored, or its mean colour;
# chapter 4 measures that the fill does not decide where the experts look.

# %%
from moede.align import EYE_POSITIONS, align_face
from moede.book.media import read_rgb, rotated
from moede.book.plots import alignment_figure
from moede.book.views import alignment_summary

inputs = [(p.name, read_rgb(p.path)) for p in photos]
inputs.insert(1, ("astronaut, rotated 20°", rotated(inputs[0][1], 20)))
faces = [align_face(image, size=224, fill=cfg.align_fill) for _, image in inputs]
print("eye positions (x, y) as fractions of the side:", EYE_POSITIONS)
show_figure(alignment_figure(inputs, faces))
alignment_summary([name for name, _ in inputs], faces).round(2)

# %% [markdown]
# ## Videos, frame by frame
# `moede.align.align_video` detects the face on a downscaled frame every few frames and tracks the landmarks in
# between; a frame where no face is found reuses the nearest detected frame's landmarks, and the count is reported.
# Below: a raw CREMA-D clip (480x360) and a clip already cropped to the face (128x128: the face still spans about
# 100 pixels, above the 80-pixel window of dlib's detector, which otherwise retries on a 2x upsampled copy).

# %%
import numpy as np
from moede.align import align_video
from moede.align.video import read_frames
from moede.book.plots import video_alignment_figure

for example in videos:
    video = align_video(example.path, size=224, max_frames=cfg.max_frames or None, fill=cfg.align_fill)
    raw = np.stack(list(read_frames(example.path, max_frames=video.n_frames)))
    print(f"{example.path.name}: {video.n_frames} frames, {int(video.detected.sum())} with landmarks, "
          f"{video.n_reused} reused")
    show_figure(video_alignment_figure(raw, video))

# %% [markdown]
# ## How often is the face found in the real clips?
# Every real CREMA-D clip of `../shared/data`, processed as the video chapters process them (every
# `frame_step`-th frame, at most `max_frames`, at `image_size`): the share of those frames where dlib found the face
# itself (detected or tracked) rather than borrowing a neighbour's landmarks. Nothing to show on a fresh clone.

# %%
from moede.align.coverage import coverage_summary, face_coverage
from moede.book.media import shared_videos

clips = shared_videos()
coverage = face_coverage(clips, cfg.image_size, cfg.max_frames, cfg.frame_step) if clips else None
coverage_summary(coverage) if clips else print("../shared/data is absent: no real clips to measure")
