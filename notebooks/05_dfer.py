# %% [markdown]
# # 5. Dynamic FER with MoEDE
#
# The experts are frozen; every frame of every clip is passed through all eight of them once and the (frames, 8,
# 1280) features are cached. MoEDE (Section III.B) runs one LSTM_emo (1280 -> 256) per expert, concatenates their
# per-frame outputs (2048) into LSTM_mix (2048 -> 256) and classifies the last real frame; auxiliary classifiers on
# each LSTM_emo add their losses. The baseline (SFE) uses the single SFER's features with one LSTM. One model per
# speaker-independent partition; Table 5 reports the mean over partitions.
#
# What the clips are. With `../shared/data` present this chapter runs on **78 real CREMA-D clips of 46 actors** (6
# raw clips of actor 1001 and 72 clips of 45 others cropped to the face), with the experts the static chapters trained
# on real photos; with the real CREMA-D (`--cremad`) on the whole corpus; on a fresh clone on the drawn demo clips.
# 78 clips are not the paper's 7,442: the published partitions' test sets would hold 4 to 14 of them and never test
# most, so the real clips are split into folds by actor (the banner says which partitioning and why), every clip is
# tested exactly once by models that never saw its actor, and the page reports the pooled test clips beside floors
# that need no video training. The demo profile labels each clip with the emotion the actor was asked to show
# (`cremad_labels="intended"`: all 78 clips; the paper's audio-visual consensus keeps 74 and only 3 sad ones, see the
# table below); the full profile keeps the paper's consensus. The demo's DFER inputs are standardised with the
# training clips' statistics (`standardize_features`; the full profile feeds the raw features, as the paper does).

# %% tags=["parameters"]
params = {"profile": "demo"}

# %%
from moede.book.display import banner, show_figure, show_table, show_vs_paper, source_of
from moede.book.header import start_chapter

cfg = start_chapter(params)

# %%
import pandas as pd
from moede.stages.dynamic import cremad_features

features = cremad_features(cfg)
banner(cfg, features.source, features.experts, f"Partitions: {features.partitions[0].attrs['partitioning']}",
       f"The experts see the frames in {features.colour} (frame_colour={cfg.frame_colour})")
pd.DataFrame({f"partition {k + 1}": p.groupby("split")["speaker"].nunique()
              for k, p in enumerate(features.partitions)}).rename_axis("actors per set")

# %% [markdown]
# ## Which label, how many clips
# Each label choice (`cremad_labels`) keeps the clips that have a video and such a label: the audio-visual consensus
# drops the clips whose raters tied, and it is not always the emotion the actor was asked to show.

# %%
from moede.data.cremad import label_choices

label_choices(features.source.root)

# %% [markdown]
# ## Training every variant on every partition
# Expert features come from the cache when present; trained models made with the same settings are reused.

# %%
from moede.stages.dynamic import run_table5

dfer = run_table5(cfg, features)

# %% [markdown]
# ## Table 5: MoEDE, its auxiliary classifiers, the single-extractor baseline and the published baselines
# Mean over partitions; the per-emotion columns are per-class F1. `p (vs SFE)` is the one-tailed matched-pair
# t-test of chapter 6 and `significant` marks p < 0.05 (the paper's star). The last four rows (T-LSTM, AuxFormer,
# UAVM, VAVL) are, in the paper's columns, the published audio-visual systems' vision results and, in this run's
# columns, their visual branches rebuilt here on the SFE's features (chapter 6 says how they differ and tests MoEDE
# against each).

# %%
from moede.results.dynamic_tables import table5

show_vs_paper(table5(dfer), "table5")

# %% [markdown]
# ## Every clip once, beside the floors
# Each partition's test clips pooled: with folds by actor this is every clip of the corpus, predicted by models that
# never saw its actor. The floors need no video training: a linear probe (logistic regression) on the untrained
# ImageNet backbone's features (mean and standard deviation over each clip's frames), the SFER's zero-shot per-frame
# vote over the six CREMA-D emotions (chapter 2's model, never trained on video), chance, and always answering the
# most frequent class.

# %%
from moede.stages.dynamic import run_pooled

show_table(run_pooled(cfg, features, dfer), "pooled")

# %% [markdown]
# ## What the colour of the frames costs
# The real stand-in photos of the static chapters are mostly greyscale and the video is colour: the experts are
# shown each frame as they saw their training photos (`frame_colour="auto"` picks the static corpus' colour, recorded
# in every checkpoint and bundle and applied by `moede predict`). The same clips with the frames in the other colour:

# %%
from moede.stages.dynamic import run_colour_comparison

show_table(run_colour_comparison(cfg, features), "colour")

# %% [markdown]
# ## Training curves and confusion matrix of MoEDE with auxiliary classifiers (FFE)
# Curves of partition 1; the confusion matrix sums the test clips of all partitions.

# %%
from moede.results.dynamic_tables import dfer_confusion, dfer_training_curves

show_figure(dfer_training_curves(dfer))
show_figure(dfer_confusion(dfer))
