# %% [markdown]
# # 5. Dynamic FER with MoEDE
#
# The experts are frozen; every frame of every clip is passed through all eight of them once and the (frames, 8,
# 1280) features are cached. MoEDE (Section III.B) runs one LSTM_emo (1280 -> 256) per expert, concatenates their
# per-frame outputs (2048) into LSTM_mix (2048 -> 256) and classifies the last real frame; auxiliary classifiers on
# each LSTM_emo add their losses. The baseline (SFE) uses the single SFER's features with one LSTM. One model per
# speaker-independent partition; Table 5 reports the mean over partitions.
#
# Two things to know when reading the demo profile's numbers. Its DFER inputs are standardised with the training
# clips' statistics (`standardize_features`, a demo setting that helps its 5 DFER epochs; the full profile feeds the
# raw features, as the paper does).
# And when `../shared/data` is present, the static chapters' experts learned from real photos while the demo clips are
# drawn faces: such features transfer poorly (with randomly initialised experts the DFER models stayed at chance),
# so this chapter trains a second set of
# experts, with the same code, on the drawn-face demo corpus (`dfer_experts="auto"`; the banner below says which
# experts feed the LSTMs). On a fresh clone, or with the real CREMA-D, the static chapters' experts are used.

# %% tags=["parameters"]
params = {"profile": "demo"}

# %%
from moede.book.display import banner, show_figure, show_vs_paper, source_of
from moede.book.header import start_chapter

cfg = start_chapter(params)

# %%
import pandas as pd
from moede.stages.dynamic import cremad_features

features = cremad_features(cfg)
banner(cfg, features.source, features.experts)
pd.DataFrame({f"partition {k + 1}": p.groupby("split")["speaker"].nunique()
              for k, p in enumerate(features.partitions)}).rename_axis("actors per set")

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
# ## Training curves and confusion matrix of MoEDE with auxiliary classifiers (FFE)
# Curves of partition 1; the confusion matrix sums the test clips of all partitions.

# %%
from moede.results.dynamic_tables import dfer_confusion, dfer_training_curves

show_figure(dfer_training_curves(dfer))
show_figure(dfer_confusion(dfer))
