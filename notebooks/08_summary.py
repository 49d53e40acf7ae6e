# %% [markdown]
# # Paper vs this run
#
# Every result table the chapters wrote to the run directory (`<run_dir>/results/*.csv`, with the data source and
# profile beside each), next to the paper's numbers. Blank cells are values only one side reports (the paper's
# other baselines, for example). On the demo profile the numbers illustrate the pipeline; they are not expected to
# match the paper's. The choices the paper leaves open, and the settings that change them, are listed on
# [What the paper leaves open](../book/open_choices.md).

# %% tags=["parameters"]
params = {"profile": "demo"}

# %%
from moede.book.display import banner
from moede.book.header import start_chapter

cfg = start_chapter(params)

# %%
from moede.book.display import load_results, show_saved, source_text

tables = load_results(cfg)
banner(cfg, *sorted({source_text(table) for table in tables.values()}))
print(f"{len(tables)} result tables found in {cfg.run_dir}/results: {', '.join(tables)}")

# %%
show_saved(tables)
