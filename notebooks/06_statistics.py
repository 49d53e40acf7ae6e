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
# # 6. Statistics, the ablation and model complexity
#
# Is MoEDE's gain over the single-extractor baseline significant? The paper splits each partition's test set into
# five subsets (25 matched pairs) and runs a one-tailed matched-pair t-test (p < 0.05 marked with a star). Table 6
# measures how different the eight LSTM_emo outputs are; Table 7 removes one expert at a time; Section IV.C
# counts parameters, storage and FLOPs. With `../shared` present every test below runs on the real CREMA-D clips'
# folds by actor (chapter 5): about 16 test clips per fold, so each of the five subsets of a test set holds about
# three clips and the tests have little power; read them as the paper's procedure applied honestly to little data.

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
from moede.book.display import banner, show_figure, show_vs_paper, source_of
from moede.book.header import start_chapter

cfg = start_chapter(globals())

# %%
from moede.stages.dynamic import cremad_features, run_table5

features = cremad_features(cfg)
banner(cfg, features.source, features.experts)
dfer = run_table5(cfg, features)

# %% [markdown]
# ## Matched-pair t-test against the single feature extractor
# Each partition's test set is divided into 5 subsets; F1-macro on each gives matched pairs (25 with 5
# partitions); one-tailed (is the model better than SFE?), p < 0.05 marked significant
# (`moede.evaluation.stats.matched_pair_test`, which uses scipy). Beside each test, the row's F1-macro gap over the
# SFE (Table 5's: mean over partitions) with a 95% paired bootstrap interval that resamples the actors, the same
# draws for both models (`moede.evaluation.bootstrap`).

# %%
from moede.book.display import show_table
from moede.stages.dynamic import significance

show_table(significance(cfg, dfer), "significance")

# %% [markdown]
# ## MoEDE against the published baselines
# The same one-tailed matched-pair test (same subsets), now asking whether MoEDE beats each of the four published
# systems of Table 5 as rebuilt here (vision-only, on the SFE's per-frame features, with MoEDE's partitions, loss,
# optimiser and model selection; `cfg.baselines` sets their sizes). The paper reports no such test: it compares the
# numbers of the published systems, each trained with its own front-end and recipe.

# %%
from moede.stages.dynamic import versus_baselines_frame

show_table(versus_baselines_frame(dfer), "significance_baselines")

# %% [markdown]
# ## How many clips the paper's gaps would need
# For MoEDE against the SFE (the paper's +3.6 F1-macro) and against each rebuilt baseline (the paper's MoEDE minus
# that system's F1-macro in its Table 5): the clips and actors a one-tailed paired test at p < 0.05 with 80% power
# would need, from this run's per-clip differences and their clustering by actor (chapter 5 gives the formula),
# beside how many there are here. Where the clips needed exceed the clips here, a true gap of the paper's size would
# most often go unseen by this run's tests, significant or not.

# %%
from moede.tables.dynamic_tables import power_table

show_table(power_table(dfer, baselines=True), "power_baselines")

# %% [markdown]
# ## Table 6: cosine similarity between the LSTM_emo outputs (test clips)

# %%
from moede.tables.dynamic_tables import table6
from moede.tables.figures import similarity_heatmap

ours6 = table6(dfer)
show_vs_paper(ours6, "table6")
show_figure(similarity_heatmap(ours6, "Table 6 (this run)"))

# %% [markdown]
# ## Table 7: leave-one-expert-out ablation (row = the excluded expert)

# %%
from moede.tables.dynamic_tables import table7
from moede.stages.dynamic import run_ablation

show_vs_paper(table7(run_ablation(cfg, features)), "table7")

# %% [markdown]
# ## Two choices the paper leaves open, flipped
# The paper does not say where MoEDE reads its LSTMs (at each clip's last real frame, or, as a Keras model fed
# zero-padded clips without a mask would, after the padding) nor how the eight auxiliary losses are combined with the
# main one (sum or mean). Both are settings (`readout`, `aux_loss`; see "What the paper leaves open"); here the
# first row of Table 5 is trained again with each flipped, one at a time, on the ablation's partitions (Table 7's).

# %%
from moede.tables.dynamic_tables import open_choices_table
from moede.stages.dynamic import run_open_choices

show_table(open_choices_table(run_open_choices(cfg, features)), "open_choices")

# %% [markdown]
# ## Model complexity (Section IV.C)
# Counted from the models themselves (parameters) and with `torch.utils.flop_counter` (FLOPs of a 60-frame clip)
# by `moede.tables.dynamic_tables.complexity_table`; the last column explains every difference from the paper.

# %%
from moede.book.display import complexity_vs_paper
from moede.stages.dynamic import run_complexity

complexity_vs_paper(run_complexity(cfg))

# %% [markdown]
# ## The baselines: what was rebuilt, and what it costs
# Neither our paper nor we have the baselines' original front-ends and audio-visual pre-training, so each is the
# visual branch of its published architecture over the same per-frame MobileNetV2 features as the SFE, with the
# sizes of its released code (full profile) or smaller ones (demo). Read the rows of Table 5 and Table 8 marked
# "this run" for these models with that in mind; their "paper" rows are the published systems.

# %%
from moede.tables.baselines import baseline_complexity, baseline_departures

show_table(baseline_departures(), "baseline_departures")
show_table(baseline_complexity(sizes="paper"), "baseline_complexity")
