"""Read MSP-IMPROV: `MSP-IMPROV-S01A-F02-R-FF01` clip names, 4 categorical labels, session-independent splits.

Name fields: S01A = target sentence 01 written for emotion A(nger)/H/S/N; F02 = the recorded actor (gender F/M,
session 02); R/S/P/T = read / improvised target sentence / natural interaction / target sentence; FF01 = turn id.
Each of the 6 sessions is one dyad (one female and one male actor), so splits keep whole sessions together.
The corpus' evaluation file names clips `UTD-IMPROV-...` while its media files are `MSP-IMPROV-...`: both are read
as the same clip (`canonical_name`, the MSP- form, is the sample id).
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pandas as pd

from moede.data.emotions import MSP_IMPROV, MSP_IMPROV_CODES
from moede.data.schema import read_label_csv, validate_frame
from moede.data.splits import check_speaker_independent, speaker_partitions

NAME = re.compile(r"^(?:MSP|UTD)-IMPROV-S(?P<sentence>\d\d)(?P<target>[AHSN])-(?P<gender>[FM])(?P<session>\d\d)"
                  r"-(?P<scenario>[A-Z])-(?P<turn>[A-Z]{2}\d\d)$")
PARTITION_SPLITS: dict[str, str] = {"Train": "train", "Development": "dev", "Test": "test"}
VIDEO_SUFFIXES: tuple[str, ...] = (".mp4", ".avi")
LABEL_FILES: tuple[str, ...] = ("labels.csv", "Evaluation.txt")


def canonical_name(name: str) -> str:
    """The clip name without folder or media suffix, in the `MSP-IMPROV-` form (`UTD-IMPROV-` names are renamed)."""
    stem = Path(name).stem if Path(name).suffix.lower() in (".wav", *VIDEO_SUFFIXES) else Path(name).name
    return "MSP-" + stem[4:] if stem.startswith("UTD-IMPROV-") else stem


def parse_name(name: str) -> dict[str, str]:
    """Split an MSP-IMPROV clip name into sentence, target, speaker ('F02'), session ('S2'), scenario and turn."""
    match = NAME.match(Path(name).stem if Path(name).suffix in (".wav", ".avi", ".mp4") else name)
    if match is None:
        raise ValueError(f"{name!r} is not an MSP-IMPROV clip name such as MSP-IMPROV-S01A-F02-R-FF01")
    fields = match.groupdict()
    fields["speaker"] = fields["gender"] + fields["session"]
    fields["session"] = f"S{int(fields['session'])}"
    return fields


def _read_labels(root: Path) -> pd.DataFrame:
    """FileName -> EmoClass (N/H/S/A) from root/labels.csv, or the consensus letters of root/Evaluation.txt."""
    csv, evaluation = root / LABEL_FILES[0], root / LABEL_FILES[1]
    if csv.is_file():
        table = read_label_csv(csv, dtype=str)
        missing = [c for c in ("FileName", "EmoClass") if c not in table.columns]
        if missing:
            raise ValueError(f"{csv}: missing column(s) {missing}; expected FileName,EmoClass (EmoClass in N/H/S/A)")
        where = csv
    elif evaluation.is_file():
        rows = []
        for line in evaluation.read_text(errors="replace").splitlines():
            fields = [f.strip() for f in line.split(";")]
            if len(fields) > 1 and NAME.match(Path(fields[0]).stem):
                rows.append((fields[0], fields[1]))
        table, where = pd.DataFrame(rows, columns=["FileName", "EmoClass"]), evaluation
    else:
        raise FileNotFoundError(f"no MSP-IMPROV labels in {root}: write {csv} with columns FileName,EmoClass "
                                "(N/H/S/A; other classes are dropped) or put the corpus' Evaluation.txt there")
    table["FileName"] = table["FileName"].map(canonical_name)
    table["EmoClass"] = table["EmoClass"].str.strip().str.upper().str[:1]
    table.attrs["where"] = str(where)
    return table


def read_msp_improv(root: str | Path, partitions_dir: str | Path | None = None) -> pd.DataFrame:
    """Read the 4-class MSP-IMPROV clips (videos anywhere under `root`); split from partition file 1 or by session.

    Clips labelled other than N/H/S/A are dropped (count in attrs['dropped_other']); `speaker` is e.g. 'F02',
    `session` 'S2'; `landmarks` is the path of root/Landmarks/<clip>.npy when present. Without `partitions_dir`,
    the split is the first of `msp_improv_partitions`.
    """
    root = Path(root).expanduser().resolve()
    labels = _read_labels(root)
    where = labels.attrs["where"]
    bad = [n for n in labels["FileName"] if not NAME.match(n)]
    if bad:
        raise ValueError(f"{where}: {len(bad)} FileName value(s) are not MSP-IMPROV clip names, e.g. {bad[:3]}")
    known = labels["EmoClass"].isin(list(MSP_IMPROV_CODES))
    labels = labels[known].drop_duplicates("FileName")
    videos = {canonical_name(p.name): p for p in root.rglob("*-IMPROV-*") if p.suffix.lower() in VIDEO_SUFFIXES}
    if videos and not set(videos) & set(labels["FileName"]):
        raise ValueError(f"{where}: none of its {len(labels)} labelled clips has a video under {root} (e.g. label "
                         f"{labels['FileName'].iloc[0]!r}, video {next(iter(videos.values())).name!r}); check "
                         "that the labels and the videos are of the same corpus release")
    sidecars = root / "Landmarks"
    fields = pd.DataFrame([parse_name(n) for n in labels["FileName"]])
    frame = pd.DataFrame({
        "sample_id": labels["FileName"].to_numpy(),
        "path": [str(videos.get(n, root / "Video" / f"{n}.avi")) for n in labels["FileName"]],
        "label": labels["EmoClass"].map(MSP_IMPROV_CODES).to_numpy(),
        "speaker": fields["speaker"].to_numpy(),
        "split": None,
        "session": fields["session"].to_numpy(),
        "scenario": fields["scenario"].to_numpy(),
        "target": fields["target"].map(MSP_IMPROV_CODES).to_numpy(),
        "landmarks": [str(sidecars / f"{n}.npy") if (sidecars / f"{n}.npy").is_file() else None
                      for n in labels["FileName"]],
    })
    frame.attrs.update(dropped_other=int((~known).sum()), root=str(root),
                       missing_media=int(sum(n not in videos for n in frame["sample_id"])))
    frame = msp_improv_partitions(frame, partitions_dir, n=1)[0]
    return validate_frame(frame, MSP_IMPROV, where=where)


def read_msp_partition_file(path: str | Path) -> pd.DataFrame:
    """Read one labels_consensus_{k}.csv (FileName, SpkrID = session number, Split_Set) into sample_id/session/split."""
    path = Path(path)
    table = read_label_csv(path, dtype={"FileName": str, "SpkrID": str})
    missing = [c for c in ("FileName", "SpkrID", "Split_Set") if c not in table.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}; expected FileName,...,SpkrID,Gender,Split_Set")
    unknown = sorted(set(table["Split_Set"]) - set(PARTITION_SPLITS))
    if unknown:
        raise ValueError(f"{path}: unknown Split_Set value(s) {unknown}; expected {sorted(PARTITION_SPLITS)}")
    names = table["FileName"].map(canonical_name)
    return pd.DataFrame({
        "sample_id": names.to_numpy(),
        "speaker": [parse_name(n)["speaker"] for n in names],
        "session": [f"S{int(s)}" for s in table["SpkrID"]],
        "split": table["Split_Set"].map(PARTITION_SPLITS).to_numpy(),
    })


def msp_improv_partitions(
    clips: pd.DataFrame, partitions_dir: str | Path | None = None, n: int = 6, seed: int = 0
) -> list[pd.DataFrame]:
    """Session-independent partitions: from labels_consensus_{k}.csv when given, else seeded 4/1/1 of the 6 sessions.

    From the files, each partition keeps the labelled clips the file lists; generated ones rotate the test session.
    """
    if partitions_dir is None:
        parts = speaker_partitions(clips, n=n, fractions=(4 / 6, 1 / 6, 1 / 6), seed=seed, by="session")
    else:
        files = sorted(Path(partitions_dir).glob("labels_consensus_*.csv"),
                       key=lambda p: int(p.stem.rsplit("_", 1)[1]))
        if not files:
            raise FileNotFoundError(f"no labels_consensus_{{k}}.csv files in {partitions_dir}")
        parts = []
        for path in files[:n]:
            split_of = read_msp_partition_file(path).set_index("sample_id")["split"]
            part = clips.assign(split=clips["sample_id"].map(split_of))
            part = part[part["split"].notna()].reset_index(drop=True)
            part.attrs.update(clips.attrs, partition_file=str(path))
            parts.append(part)
    for part in parts:
        check_speaker_independent(part, by="session")
    if len(parts) < n:
        tested = {s for p in parts for s in p.loc[p["split"] == "test", "session"]}
        warnings.warn(f"{partitions_dir} holds {len(parts)} partition file(s), fewer than the {n} runs asked for; "
                      f"session(s) {sorted(set(clips['session']) - tested)} are never tested", stacklevel=2)
    return parts
