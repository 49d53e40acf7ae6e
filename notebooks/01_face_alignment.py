# %% [markdown]
# # 1. Face alignment
#
# The paper (Section IV.B) detects each face and its 68 landmarks with dlib, rotates the image so that both eyes lie
# on a horizontal line at fixed positions (a fronto-parallel view), crops the facial region from the landmarks and
# resizes it to 224x224. `moede.align` does exactly this for single images, folders and videos, frame by frame.
# Below: real photos and the frames of a real video, before and after alignment.

# %% tags=["parameters"]
params = {"profile": "demo"}

# %%
from moede.book.display import banner, show_figure
from moede.book.header import start_chapter

cfg = start_chapter(params)

# %%
from moede.book.media import example_photos, example_videos

photos, videos = example_photos(), example_videos()
banner(cfg, *[f"Photo {p.name}: {p.origin}" for p in photos], *[f"Video {v.name}: {v.origin}" for v in videos])

# %% [markdown]
# ## Photos
# Each photo is aligned by `moede.align.align_face` (dlib detection, 68 landmarks, similarity warp). The astronaut is
# also shown rotated by 20 degrees: alignment brings the eye line back to horizontal. The eye centres land at
# `EYE_POSITIONS` (fractions of the output side).

# %%
from moede.align import EYE_POSITIONS, align_face
from moede.book.media import read_rgb, rotated
from moede.book.plots import alignment_figure
from moede.book.views import alignment_summary

inputs = [(p.name, read_rgb(p.path)) for p in photos]
inputs.insert(1, ("astronaut, rotated 20°", rotated(inputs[0][1], 20)))
faces = [align_face(image, size=224) for _, image in inputs]
print("eye positions (x, y) as fractions of the side:", EYE_POSITIONS)
show_figure(alignment_figure(inputs, faces))
alignment_summary([name for name, _ in inputs], faces).round(2)

# %% [markdown]
# ## Videos, frame by frame
# `moede.align.align_video` detects the face on a downscaled frame every few frames and tracks the landmarks in
# between; a frame where no face is found reuses the nearest detected frame's landmarks, and the count is reported.
# Below: a raw CREMA-D clip (480x360) and a clip already cropped to the face (128x128: the face still spans about
# 100 pixels, above the 80-pixel window of dlib's detector, which otherwise retries on a 2x upsampled copy).

# %%
import numpy as np
from moede.align import align_video
from moede.align.video import read_frames
from moede.book.plots import video_alignment_figure

for example in videos:
    video = align_video(example.path, size=224, max_frames=cfg.max_frames or None)
    raw = np.stack(list(read_frames(example.path, max_frames=video.n_frames)))
    print(f"{example.path.name}: {video.n_frames} frames, {int(video.detected.sum())} with landmarks, "
          f"{video.n_reused} reused")
    show_figure(video_alignment_figure(raw, video))

# %% [markdown]
# ## How often is the face found in the real clips?
# Every real CREMA-D clip of `../shared/data`, processed as the video chapters process them (every
# `frame_step`-th frame, at most `max_frames`, at `image_size`): the share of those frames where dlib found the face
# itself (detected or tracked) rather than borrowing a neighbour's landmarks. Nothing to show on a fresh clone.

# %%
from moede.align.coverage import coverage_summary, face_coverage
from moede.book.media import shared_videos

clips = shared_videos()
coverage = face_coverage(clips, cfg.image_size, cfg.max_frames, cfg.frame_step) if clips else None
coverage_summary(coverage) if clips else print("../shared/data is absent: no real clips to measure")
