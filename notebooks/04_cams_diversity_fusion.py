# %% [markdown]
# # 4. Class activation maps, expert diversity and fusion
#
# Do the experts look at different parts of the face? Figure 2 of the paper overlays each expert's class
# activation map (Grad-CAM on the last convolutional block) on the same face. Table 4 measures how different the
# experts' 1280-d features are (cosine similarity), and Table 3 fuses the eight experts for 8-class static
# recognition, with the expert CNNs frozen (FFE) or fine-tuned end to end (FTFE).

# %% tags=["parameters"]
params = {"profile": "demo"}

# %%
from moede.book.display import banner, show_figure, show_vs_paper, source_of
from moede.book.header import start_chapter

cfg = start_chapter(params)

# %%
from moede.stages.static import prepare_static, train_experts_stage

static = prepare_static(cfg)
banner(cfg, source_of(static))
experts = train_experts_stage(cfg, static)

# %% [markdown]
# ## Figure 2: what each expert attends to
# Grad-CAM of each expert's positive class on its last convolutional block (`features[-1]`), on the first
# development face labelled happy (`figure2_stage` picks the face and calls `moede.results.figures.figure2_cams`;
# the figure is also saved as `results/figure2.png`).

# %%
from moede.stages.static import figure2_stage

show_figure(figure2_stage(cfg, experts, emotion="happy"), dpi=130)

# %% [markdown]
# ## Table 4: cosine similarity between the experts' features (development set)
# The mean over development images of cos(f_i(x), f_j(x)) between experts i and j. Low off-diagonal values mean
# the experts extract diverse representations.

# %%
from moede.results.figures import similarity_heatmap
from moede.results.static_tables import table4

ours4 = table4(experts)
show_vs_paper(ours4, "table4")
show_figure(similarity_heatmap(ours4, "Table 4 (this run)"))

# %% [markdown]
# ## Table 3: fusion of the eight experts, frozen (FFE) vs fine-tuned (FTFE)

# %%
from moede.results.static_tables import table3
from moede.stages.static import train_fusion_stage

fusion = train_fusion_stage(cfg, static)
show_vs_paper(table3(fusion), "table3")
