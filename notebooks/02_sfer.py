# %% [markdown]
# # 2. The 8-class static FER model (SFER)
#
# The first building block (Section III.A) is a static facial expression recognizer: a MobileNetV2 whose
# 1000-way ImageNet head is replaced by the eight AffectNet emotions. It is trained with weighted categorical
# cross-entropy (weights from the class frequencies), Adam (lr 1e-3), light affine augmentation (up to 15 degrees
# rotation, 10% translation, 4% shear), starting from ImageNet weights (paper: 60 epochs). The epoch with the best
# development macro-F1 is kept.
# Its weights initialise the eight emotion experts of the next chapter.

# %% tags=["parameters"]
params = {"profile": "demo"}

# %%
from moede.book.display import banner, show_figure, show_vs_paper, source_of
from moede.book.header import start_chapter

cfg = start_chapter(params)

# %%
from moede.stages.static import prepare_static, train_sfer_stage

static = prepare_static(cfg)
banner(cfg, source_of(static))
static.groupby(["label", "split"]).size().unstack("split")

# %% [markdown]
# ## The ImageNet start
# As in the paper, every MobileNetV2 starts from ImageNet weights. The package ships Google Coral's int8 TFLite
# MobileNetV2 (Apache-2.0) and converts it once into torchvision's model (`moede.models.tflite_convert`: weights
# dequantised, batch norm un-folded, TensorFlow's "SAME" padding kept) and caches the result. A check that the
# converted network still recognises what ImageNet taught it, on photos bundled with scikit-image:

# %%
from moede.results.imagenet import bundled_photos, imagenet_predictions

(imagenet_predictions(cfg.initialisation(), bundled_photos()) if cfg.init == "imagenet"
 else f"init={cfg.init!r}: this run starts from random weights, not from ImageNet")

# %% [markdown]
# ## Training
# The demo profile trains only blocks 14-18 of the MobileNetV2 (`trainable_from`; the full profile trains every
# layer): the frozen blocks' output for each face is computed once and the rest is trained on it. The stage reuses a finished checkpoint made with the same settings in the run directory; otherwise it trains
# (tqdm shows the epochs) and keeps the epoch with the best development macro-F1.

# %%
sfer = train_sfer_stage(cfg, static)
print(f"SFER: {'reused from ' if sfer.reused else 'trained, saved to '}{sfer.checkpoint}; initialisation "
      f"{sfer.metrics['init']}; best dev epoch {sfer.metrics['best_epoch']} of {cfg.sfer_epochs}")

# %% [markdown]
# ## Table 2: per-class precision, recall, F1 and accuracy on the development set
# Accuracy per class is the recall of that class, as in the paper.

# %%
from moede.results.static_tables import table2

show_vs_paper(table2(sfer), "table2")

# %% [markdown]
# Did it learn more than the class balance? Beside the answer that is always the most frequent class:

# %%
from moede.results.static_tables import against_majority

against_majority(sfer)

# %% [markdown]
# ## Training curves and confusion matrix (development set)

# %%
from moede.evaluation.metrics import confusion
from moede.results.figures import confusion_matrix_figure, training_curves

show_figure(training_curves(sfer.history, "SFER training", sfer.source.banner()))
matrix = confusion(sfer.predictions["target"], sfer.predictions["prediction"], len(sfer.classes))
show_figure(confusion_matrix_figure(matrix, sfer.classes, "SFER, development set", sfer.source.banner()))
