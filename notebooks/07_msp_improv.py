# %% [markdown]
# # 7. Generalization to MSP-IMPROV
#
# The same pipeline, unchanged hyperparameters, on a second corpus: MSP-IMPROV's four emotions (neutral,
# happiness, sadness, anger) with subject-independent splits (Section V.D, Table 8). The experts stay those
# trained on the static corpus; only the dynamic models are trained here. The paper averages six runs, each of the six
# sessions (dyads) once the test set (`msp_improv_partitions`: 6 in the full profile, 2 in the demo). The corpus'
# evaluation file names clips `UTD-IMPROV-...` and its videos `MSP-IMPROV-...`: `moede` reads both as one clip.

# %% tags=["parameters"]
profile = "demo"
run_dir = None
affectnet_root = None
cremad_root = None
msp_improv_root = None
imagenet_weights = None
sfer_epochs = None
expert_epochs = None
fusion_epochs = None
dfer_epochs = None
device = "auto"
seed = 0
overrides = {}

# %%
from moede.config import RunConfig, seed_everything
from moede.book.display import banner, show_figure, show_vs_paper, source_of

cfg = RunConfig.for_profile(profile, run_dir=run_dir, affectnet_root=affectnet_root, cremad_root=cremad_root,
                            msp_improv_root=msp_improv_root, imagenet_weights=imagenet_weights, device=device,
                            seed=seed, sfer_epochs=sfer_epochs, expert_epochs=expert_epochs,
                            fusion_epochs=fusion_epochs, dfer_epochs=dfer_epochs, **overrides)
_ = seed_everything(cfg.seed)

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
