"""How often alignment finds the face in real video: per clip, the processed frames with landmarks of their own."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from moede.align.face import NoFaceError
from moede.align.video import VideoReadError, align_video
from moede.processes import map_on_cores


def _clip_coverage(task: tuple[str, int, int | None, int]) -> dict[str, object]:
    """One clip's row of `face_coverage` (a module-level function, for the process pool)."""
    path, size, max_frames, frame_step = task
    read = None if max_frames is None else max_frames * frame_step
    try:
        video = align_video(path, size=size, max_frames=read)
    except (NoFaceError, VideoReadError) as error:
        return {"clip": Path(path).stem, "format": Path(path).suffix, "processed": 0, "face": 0, "error": str(error)}
    kept = video.detected[::frame_step][:max_frames]
    return {"clip": Path(path).stem, "format": Path(path).suffix, "processed": len(kept), "face": int(kept.sum()),
            "error": ""}


def face_coverage(paths: Sequence[str | os.PathLike[str]], size: int = 160, max_frames: int | None = 12,
                  frame_step: int = 3) -> pd.DataFrame:
    """Per video: the frames a run processes (every `frame_step`-th, at most `max_frames`) and how many of them dlib
    found the face in (detected or tracked; the others borrow the nearest such frame's landmarks); a clip with no
    face at all, or unreadable, has 0 faces and its error."""
    tasks = [(str(p), size, max_frames, frame_step) for p in paths]
    with contextlib.closing(map_on_cores(_clip_coverage, tasks, min_per_worker=8, chunksize=4)) as rows:
        table = pd.DataFrame(list(rows))
    table["share"] = table["face"] / table["processed"].where(table["processed"] > 0)
    return table.set_index("clip")


def coverage_summary(coverage: pd.DataFrame) -> pd.DataFrame:
    """`face_coverage` per video format and overall: clips, processed frames, frames with a face and their share."""
    groups = {f"{fmt} clips": rows for fmt, rows in coverage.groupby("format")} | {"all clips": coverage}
    table = pd.DataFrame({name: {"clips": len(rows), "processed frames": int(rows["processed"].sum()),
                                 "with a face": int(rows["face"].sum()),
                                 "clips with no face": int((rows["face"] == 0).sum())}
                          for name, rows in groups.items()}).T
    table["share with a face"] = (table["with a face"] / table["processed frames"]).round(4)
    return table
