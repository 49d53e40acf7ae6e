"""Read CREMA-D: VideoFlash clips + processedResults/summaryTable.csv, consensus labels and actor partitions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from moede.data.emotions import CREMAD, CREMAD_FILENAME_CODES, CREMAD_PARTITION_COLUMNS, CREMAD_VOTE_LETTERS
from moede.data.schema import existing_media, read_label_csv, validate_frame
from moede.data.splits import speaker_folds, speaker_partitions

SUMMARY_COLUMNS: tuple[str, ...] = (
    "FileName", "VoiceVote", "VoiceLevel", "FaceVote", "FaceLevel", "MultiModalVote", "MultiModalLevel",
)
PARTITION_SPLITS: dict[str, str] = {"Train": "train", "Development": "dev", "Test": "test"}
LABEL_CHOICES: tuple[str, ...] = ("consensus", "intended")
"""What a clip's `label` is: the audio-visual majority vote of summaryTable (the paper's; tied clips dropped) or the
emotion the actor was asked to show (the file name's code; every clip kept)."""
MIN_TEST_CLIPS = 30
"""Fewest clips with video a published partition's test set must hold to be used; below it, folds by actor."""
VIDEO_FOLDERS: tuple[str, ...] = ("VideoFlash", "videos")
VIDEO_SUFFIXES: tuple[str, ...] = (".mp4", ".flv")


def _summary_table(root: Path) -> Path:
    """Locate summaryTable.csv (root/processedResults/ or root/)."""
    for candidate in (root / "processedResults" / "summaryTable.csv", root / "summaryTable.csv"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"CREMA-D metadata not found: expected {root / 'processedResults' / 'summaryTable.csv'}"
                            " (the CREMA-D repository's processedResults folder)")


def _video_paths(root: Path, names: pd.Series) -> pd.Series:
    """Clip name -> video path: the first existing of <folder>/<name>.mp4|.flv, else VideoFlash/<name>.flv."""
    folder = next((root / f for f in VIDEO_FOLDERS if (root / f).is_dir()), root / VIDEO_FOLDERS[0])
    present = {p.name for p in folder.iterdir()} if folder.is_dir() else set()

    def path_of(name: str) -> str:
        for suffix in VIDEO_SUFFIXES:
            if name + suffix in present:
                return str(folder / (name + suffix))
        return str(folder / (name + ".flv"))

    return names.map(path_of)


def _sidecars(root: Path, names: pd.Series) -> list[str | None]:
    """Path of root/Landmarks/<clip>.npy ((T, 68, 2) landmarks written with the demo videos) or None per clip."""
    folder = root / "Landmarks"
    present = {p.stem for p in folder.glob("*.npy")} if folder.is_dir() else set()
    return [str(folder / f"{n}.npy") if n in present else None for n in names]


def read_cremad(root: str | Path, labels: str = "consensus") -> pd.DataFrame:
    """Read all CREMA-D clips listed in summaryTable; `labels` picks the label (LABEL_CHOICES): 'consensus' is the
    multimodal (audio-visual) majority vote with tied votes ('A:D') dropped, 'intended' the file name's emotion.

    Columns beyond the schema: `intended` (emotion from the file name), `consensus` (the vote, None when tied),
    `sentence`, `level`, `vote_level`, `landmarks` (path of a Landmarks/<clip>.npy sidecar or None). `split` is None:
    use `cremad_partitions`. attrs: labels, dropped_ties, missing_media (clips whose video is not on disk), root.
    """
    if labels not in LABEL_CHOICES:
        raise ValueError(f"CREMA-D labels must be one of {', '.join(LABEL_CHOICES)}, not {labels!r}")
    root = Path(root).expanduser().resolve()
    summary_path = _summary_table(root)
    table = read_label_csv(summary_path, dtype={"FileName": str, "MultiModalVote": str})
    missing = [c for c in SUMMARY_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"{summary_path}: missing column(s) {missing}; expected CREMA-D's {list(SUMMARY_COLUMNS)}")
    parts = table["FileName"].str.split("_", expand=True)
    if parts.shape[1] != 4 or parts.isna().any().any() or not parts[2].isin(list(CREMAD_FILENAME_CODES)).all():
        raise ValueError(f"{summary_path}: FileName values must look like 1001_DFA_ANG_XX "
                         "(actor_sentence_emotion_level)")
    votes = table["MultiModalVote"].astype(str).str.strip()
    tied = votes.str.contains(":")
    unknown = sorted(set(votes[~tied]) - set(CREMAD_VOTE_LETTERS))
    if unknown:
        raise ValueError(f"{summary_path}: unknown MultiModalVote letter(s) {unknown}; "
                         f"expected {sorted(CREMAD_VOTE_LETTERS)} or ties such as 'A:D'")
    consensus = votes.map(CREMAD_VOTE_LETTERS).where(~tied, None)
    intended = parts[2].map(CREMAD_FILENAME_CODES)
    keep = ~tied if labels == "consensus" else pd.Series(True, index=table.index)
    names = table["FileName"][keep]
    frame = pd.DataFrame({
        "sample_id": names.to_numpy(),
        "path": _video_paths(root, names).to_numpy(),
        "label": (consensus if labels == "consensus" else intended)[keep].to_numpy(),
        "speaker": parts[0][keep].to_numpy(),
        "split": None,
        "intended": intended[keep].to_numpy(),
        "consensus": consensus[keep].to_numpy(),
        "sentence": parts[1][keep].to_numpy(),
        "level": parts[3][keep].to_numpy(),
        "vote_level": pd.to_numeric(table["MultiModalLevel"][keep], errors="coerce").to_numpy(),
        "landmarks": _sidecars(root, names),
    })
    frame.attrs.update(labels=labels, dropped_ties=int((tied & ~keep).sum()), root=str(root),
                       missing_media=int(sum(not Path(p).is_file() for p in frame["path"])))
    return validate_frame(frame, CREMAD, where=str(summary_path), require_split=False)


def read_present_clips(root: str | Path, labels: str = "consensus") -> pd.DataFrame:
    """The clips of `read_cremad` whose video is on disk (a partial corpus is a corpus); attrs['listed'] counts the
    clips summaryTable lists with this label choice, attrs['missing_media'] those skipped for lack of a video."""
    listed = read_cremad(root, labels)
    clips = existing_media(listed).reset_index(drop=True)
    clips.attrs.update(listed.attrs, listed=len(listed), missing_media=len(listed) - len(clips))
    if clips.empty:
        folders = " or ".join(str(Path(listed.attrs["root"]) / f) for f in VIDEO_FOLDERS)
        raise FileNotFoundError(f"none of the {len(listed)} CREMA-D clips listed in summaryTable has a video in "
                                f"{folders} (.mp4 or .flv named like 1001_DFA_ANG_XX); copy the videos there")
    return clips


def label_choices(root: str | Path) -> pd.DataFrame:
    """For each label choice (LABEL_CHOICES): how many clips with video and actors it keeps, and its clips per
    class (what choosing it costs)."""
    rows = {}
    for labels in LABEL_CHOICES:
        clips = read_present_clips(root, labels)
        counts = clips["label"].value_counts()
        rows[labels] = {"clips": len(clips), "actors": clips["speaker"].nunique(),
                        **{c: int(counts.get(c, 0)) for c in CREMAD}}
    frame = pd.DataFrame(rows).T.rename_axis("label")
    frame.attrs["caption"] = "Clips with video kept by each CREMA-D label choice, and their classes"
    return frame


def find_partitions_dir(root: str | Path) -> Path | None:
    """Return the folder with label_consensus_1.csv in `root` or `root/partitions`, or None."""
    root = Path(root).expanduser()
    for candidate in (root, root / "partitions"):
        if (candidate / "label_consensus_1.csv").is_file():
            return candidate
    return None


def read_partition_file(path: str | Path) -> pd.DataFrame:
    """Read one label_consensus_{k}.csv: clip name, speaker, split and `partition_label` (argmax of the soft labels)."""
    path = Path(path)
    table = read_label_csv(path, dtype={"FileName": str, "SpkrID": str})
    needed = ["FileName", "SpkrID", "Split_Set", *CREMAD_PARTITION_COLUMNS]
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}; expected {needed}")
    unknown = sorted(set(table["Split_Set"]) - set(PARTITION_SPLITS))
    if unknown:
        raise ValueError(f"{path}: unknown Split_Set value(s) {unknown}; expected {sorted(PARTITION_SPLITS)}")
    soft = table[list(CREMAD_PARTITION_COLUMNS)].to_numpy(dtype=float)
    names = list(CREMAD_PARTITION_COLUMNS.values())
    return pd.DataFrame({
        "sample_id": table["FileName"].map(lambda n: Path(n).stem).to_numpy(),
        "speaker": table["SpkrID"].to_numpy(),
        "split": table["Split_Set"].map(PARTITION_SPLITS).to_numpy(),
        "partition_label": [names[i] for i in soft.argmax(axis=1)],
        "soft_ties": (soft == soft.max(axis=1, keepdims=True)).sum(axis=1) > 1,
    })


def cremad_partitions(
    clips: pd.DataFrame, partitions_dir: str | Path | None = None, n: int = 5, seed: int = 0, folds: int = 5
) -> list[pd.DataFrame]:
    """Return the speaker-independent partitions of the clip table, each with `split` filled; attrs['partitioning']
    says which kind and why.

    With `partitions_dir` (label_consensus_{1..n}.csv) each partition holds the clips of `clips` listed in its file,
    with the file's split and `partition_label` (argmax of its soft labels) next to our `label`; a listed clip absent
    from `clips` (its vote is tied in summaryTable) whose video exists takes `partition_label` as label
    (`label_source` says which). A partial corpus whose clips leave a published test set with fewer than
    MIN_TEST_CLIPS clips gets `folds` leave-actors-out folds instead (every clip tested once). Without
    `partitions_dir`, `n` seeded partitions put 70/15/15 of the actors in train/dev/test.
    """
    if partitions_dir is None:
        return _labelled(speaker_partitions(clips, n=n, fractions=(0.7, 0.15, 0.15), seed=seed),
                         f"{n} generated speaker-independent partitions (70/15/15% of the actors)")
    published = _published_partitions(clips, Path(partitions_dir), n)
    test_sizes = [int((p["split"] == "test").sum()) for p in published]
    if min(test_sizes) >= MIN_TEST_CLIPS:
        return _labelled(published, f"the {len(published)} published partitions ({Path(partitions_dir).name}/)")
    tested = len(set().union(*(set(p.loc[p["split"] == "test", "sample_id"]) for p in published)) & set(
        clips["sample_id"]))
    why = (f"{folds} folds by actor (test fold i, development fold i+1, train the rest): the first {len(published)} "
           f"published partitions' test sets hold {min(test_sizes)}-{max(test_sizes)} of the {len(clips)} clips with "
           f"video (fewer than {MIN_TEST_CLIPS}) and test only {tested} of them")
    return _labelled(speaker_folds(clips, k=folds, seed=seed), why)


def _labelled(partitions: list[pd.DataFrame], why: str) -> list[pd.DataFrame]:
    """Record in each partition's attrs how the partitions were made."""
    for part in partitions:
        part.attrs["partitioning"] = why
    return partitions


def _published_partitions(clips: pd.DataFrame, partitions_dir: Path, n: int) -> list[pd.DataFrame]:
    """The first n label_consensus_{k}.csv partitions restricted to the clips of `clips` (and tied ones with video)."""
    files = sorted(partitions_dir.glob("label_consensus_*.csv"), key=lambda p: int(p.stem.rsplit("_", 1)[1]))
    if not files:
        raise FileNotFoundError(f"no label_consensus_{{k}}.csv files in {partitions_dir}")
    root = Path(clips.attrs.get("root", "."))
    base = clips.drop(columns=["split"]).set_index("sample_id")
    out = []
    for path in files[:n]:
        listed = read_partition_file(path)
        known = listed["sample_id"].isin(base.index)
        merged = listed.join(base.drop(columns=["speaker"]), on="sample_id")
        extra = listed.loc[~known, "sample_id"]
        merged.loc[~known, "path"] = _video_paths(root, extra).to_numpy()
        merged.loc[~known, "label"] = merged.loc[~known, "partition_label"]
        merged["label_source"] = np.where(known, "consensus", "partition")
        if "listed" in clips.attrs:  # a table of the clips with video (read_present_clips): skip the others
            merged = merged[known | merged["path"].map(lambda p: Path(p).is_file())]
        merged = merged[["sample_id", "path", "label", "speaker", "split", *[c for c in merged.columns if c not in
                         ("sample_id", "path", "label", "speaker", "split")]]]
        merged.attrs.update(clips.attrs, partition=int(path.stem.rsplit("_", 1)[1]), partition_file=str(path),
                            labels_from_partition=int((merged["label_source"] == "partition").sum()))
        out.append(validate_frame(merged.reset_index(drop=True), CREMAD, where=str(path)))
    return out


def cremad_label_agreement(clips: pd.DataFrame, partition_frame: pd.DataFrame) -> float:
    """Fraction of the clips in both tables whose consensus label equals the partition file's argmax label."""
    shared = partition_frame[["sample_id", "partition_label"]].merge(clips[["sample_id", "label"]], on="sample_id")
    if shared.empty:
        raise ValueError("the clip table and the partition share no clips")
    return float((shared["label"] == shared["partition_label"]).mean())
