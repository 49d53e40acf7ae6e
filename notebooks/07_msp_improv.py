# %% [markdown]
# # 7. Generalization to MSP-IMPROV
#
# The same pipeline, unchanged hyperparameters, on a second corpus: MSP-IMPROV's four emotions (neutral,
# happiness, sadness, anger) with subject-independent splits (Section V.D, Table 8). The experts stay those
# trained on the static corpus; only the dynamic models are trained here. The paper averages six runs, each of the six
# sessions (dyads) once the test set (`msp_improv_partitions`: 6 in the full profile, 2 in the demo). The corpus'
# evaluation file names clips `UTD-IMPROV-...` and its videos `MSP-IMPROV-...`: `moede` reads both as one clip.
#
# Without `--msp-improv` this chapter runs on the generated MSP-IMPROV-layout demo: no MSP-IMPROV media exist in
# `../shared` (only its file lists). Its clips are drawn faces, and the features of experts that learned from real
# photos do not transfer to drawn faces (the DFER models stay at chance), so with `../shared` present these clips get
# a second set of experts trained with the same code on the drawn-face demo corpus (`dfer_experts="auto"`;
# `dfer_experts="static"` uses the real-photo experts anyway). The banner says which experts feed the LSTMs.

# %% tags=["parameters"]
params = {"profile": "demo"}

# %%
from moede.book.display import banner, show_figure, show_vs_paper, source_of
from moede.book.header import start_chapter

cfg = start_chapter(params)

# %%
import pandas as pd
from moede.stages.dynamic import msp_improv_features

features = msp_improv_features(cfg)
banner(cfg, features.source, features.experts)
pd.DataFrame({f"partition {k + 1}": p.groupby("split")["speaker"].nunique()
              for k, p in enumerate(features.partitions)}).rename_axis("speakers per set")

# %%
from moede.stages.dynamic import run_msp_improv

msp = run_msp_improv(cfg, features)

# %% [markdown]
# ## Table 8: MSP-IMPROV, MoEDE vs the single feature extractor (per-emotion columns: F1)

# %%
from moede.results.dynamic_tables import table8

show_vs_paper(table8(msp), "table8")
