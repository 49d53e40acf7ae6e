# %% [markdown]
# # Paper vs this run
#
# Every result table the chapters wrote to the run directory (`<run_dir>/results/*.csv`, with the data source and
# profile beside each), next to the paper's numbers. Blank cells are values only one side reports (the paper's
# other baselines, for example). On the demo profile the numbers illustrate the pipeline; they are not expected to
# match the paper's. The choices the paper leaves open, and the settings that change them, are listed on
# [What the paper leaves open](../book/open_choices.md).

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
from moede.book.display import banner

cfg = RunConfig.for_profile(profile, run_dir=run_dir, affectnet_root=affectnet_root, cremad_root=cremad_root,
                            msp_improv_root=msp_improv_root, imagenet_weights=imagenet_weights, device=device,
                            seed=seed, sfer_epochs=sfer_epochs, expert_epochs=expert_epochs,
                            fusion_epochs=fusion_epochs, dfer_epochs=dfer_epochs, **overrides)
_ = seed_everything(cfg.seed)

# %%
from moede.book.display import load_results, show_saved, source_text

tables = load_results(cfg)
banner(cfg, *sorted({source_text(table) for table in tables.values()}))
print(f"{len(tables)} result tables found in {cfg.run_dir}/results: {', '.join(tables)}")

# %%
show_saved(tables)
