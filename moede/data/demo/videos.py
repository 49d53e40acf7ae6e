"""The video demo corpora in the CREMA-D and MSP-IMPROV layouts: talking clips, landmarks and perceptual votes."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from moede.data.demo.face import CONFUSIONS, Identity, random_identity
from moede.data.demo.folder import write_corpus_once
from moede.data.demo.parallel import draw_all
from moede.data.demo.render import render_clip
from moede.data.emotions import CREMAD, CREMAD_FILENAME_CODES, MSP_IMPROV, MSP_IMPROV_CODES
from moede.io import write_csv

VOTE_LETTERS: dict[str, str] = {"neutral": "N", "happy": "H", "sad": "S", "anger": "A", "fear": "F", "disgust": "D"}
CREMAD_SENTENCES: tuple[str, ...] = ("IEO", "TIE", "DFA", "IOM", "ITS", "WSI")
CREMAD_CODES: dict[str, str] = {emotion: code for code, emotion in CREMAD_FILENAME_CODES.items()}
MSP_IMPROV_LETTERS: dict[str, str] = {emotion: letter for letter, emotion in MSP_IMPROV_CODES.items()}


def write_video(path: Path, frames: list[np.ndarray], fps: float = 30.0) -> None:
    """Write BGR frames as an mp4v .mp4 with OpenCV and check that OpenCV reads the same number of frames back."""
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write mp4v video {path}; check the opencv-python-headless install")
    for frame in frames:
        writer.write(frame)
    writer.release()
    capture = cv2.VideoCapture(str(path))
    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    capture.release()
    if count != len(frames):
        raise RuntimeError(f"{path}: wrote {len(frames)} frames but OpenCV reads {count}")


def _intensity(level: str, rng: np.random.Generator) -> float:
    """Expression intensity for a CREMA-D level (LO/MD/HI, or XX unspecified)."""
    centre = {"LO": 0.4, "MD": 0.65, "HI": 0.95}.get(level, rng.uniform(0.45, 0.95))
    return float(np.clip(centre + rng.normal(0, 0.12), 0.15, 1.2))


def _vote(emotion: str, intensity: float, rng: np.random.Generator, tie_rate: float = 0.04) -> tuple[str, float]:
    """A perceptual majority vote (letter, or a tie such as 'A:D') and its mean rated level."""
    options = [e for e in CREMAD if e != emotion]
    if rng.random() < tie_rate:
        other = str(rng.choice(options))
        return ":".join(sorted((VOTE_LETTERS[emotion], VOTE_LETTERS[other]))), round(float(rng.uniform(30, 70)), 2)
    p_correct = 0.88 if emotion == "neutral" else float(np.clip(0.55 + 0.4 * intensity, 0.55, 0.95))
    if rng.random() < p_correct:
        voted = emotion
    elif emotion != "neutral" and intensity < 0.6 and rng.random() < 0.6:
        voted = "neutral"
    else:
        voted = str(rng.choice([c for c in CONFUSIONS[emotion] if c in CREMAD] or options))
    return VOTE_LETTERS[voted], round(float(np.clip(30 + 60 * intensity + rng.normal(0, 8), 20, 100)), 2)


def _cremad_clip(task: tuple[Path, int, int, int, str, Identity, int, tuple[int, int]]) -> dict:
    """Render, write and vote on one CREMA-D demo clip (actor, sentence, emotion); return its summaryTable row."""
    tmp, seed, actor, s, emotion, identity, size, frames = task
    rng = np.random.default_rng([seed, 4, actor, s, CREMAD.index(emotion)])
    sentence = CREMAD_SENTENCES[s]
    level = "XX" if emotion == "neutral" or sentence != "IEO" else str(rng.choice(["LO", "MD", "HI"]))
    intensity = 0.0 if emotion == "neutral" else _intensity(level, rng)
    n = int(rng.integers(frames[0], frames[1] + 1))
    clip, marks = render_clip(identity, emotion, intensity, n, size, rng)
    name = f"{1001 + actor}_{sentence}_{CREMAD_CODES[emotion]}_{level}"
    write_video(tmp / "VideoFlash" / f"{name}.mp4", clip)
    np.save(tmp / "Landmarks" / f"{name}.npy", marks)
    votes = [_vote(emotion, intensity, rng, tie_rate) for tie_rate in (0.06, 0.05, 0.04)]
    return {"FileName": name, "VoiceVote": votes[0][0], "VoiceLevel": votes[0][1],
            "FaceVote": votes[1][0], "FaceLevel": votes[1][1],
            "MultiModalVote": votes[2][0], "MultiModalLevel": votes[2][1]}


def _msp_improv_clip(task: tuple[Path, int, int, str, str, int, Identity, int, tuple[int, int]]) -> dict:
    """Render and write one MSP-IMPROV demo clip (session, speaker, target emotion, k-th); return its label row."""
    tmp, seed, session, gender, emotion, k, identity, size, frames = task
    rng = np.random.default_rng([seed, 7, session, ord(gender), MSP_IMPROV.index(emotion), k])
    intensity = 0.0 if emotion == "neutral" else float(np.clip(rng.beta(2, 2) * 1.1, 0.15, 1.1))
    perceived = emotion if rng.random() < 0.85 else str(rng.choice([e for e in MSP_IMPROV if e != emotion]))
    scenario = str(rng.choice(["S", "P", "R", "T"], p=[0.5, 0.3, 0.1, 0.1]))
    other = "M" if gender == "F" else "F"
    letter = MSP_IMPROV_LETTERS[emotion]
    name = (f"MSP-IMPROV-S{k + 1:02d}{letter}-{gender}{session:02d}-{scenario}-"
            f"{gender}{other}{MSP_IMPROV.index(emotion) + 1:02d}")
    n = int(rng.integers(frames[0], frames[1] + 1))
    clip, marks = render_clip(identity, emotion, intensity, n, size, rng)
    folder = tmp / "Video" / f"session{session}"
    folder.mkdir(parents=True, exist_ok=True)
    write_video(folder / f"{name}.mp4", clip)
    np.save(tmp / "Landmarks" / f"{name}.npy", marks)
    return {"FileName": name, "EmoClass": MSP_IMPROV_LETTERS[perceived]}


def demo_cremad(root: str | Path, seed: int = 0, n_actors: int = 14, sentences: int = 3, size: int = 112,
                frames: tuple[int, int] = (16, 40)) -> Path:
    """Write a 6-class CREMA-D-layout corpus of talking synthetic actors.

    Layout: VideoFlash/<actor>_<sentence>_<EMO>_<level>.mp4, Landmarks/<clip>.npy (T, 68, 2),
    processedResults/summaryTable.csv (voice/face/multimodal votes as in the real file, a few tied) and
    VideoDemographics.csv; `read_cremad` reads it.
    """
    def write(tmp: Path, seed: int) -> dict:
        (tmp / "VideoFlash").mkdir(parents=True)
        (tmp / "Landmarks").mkdir()
        demographics = []
        identities = {a: random_identity(np.random.default_rng([seed, 3, a])) for a in range(n_actors)}
        tasks = [(tmp, seed, a, s, e, identities[a], size, frames)
                 for a in range(n_actors) for s in range(sentences) for e in CREMAD]
        rows = draw_all(_cremad_clip, tasks, desc="demo CREMA-D")
        for actor in range(n_actors):
            rng = np.random.default_rng([seed, 5, actor])
            demographics.append({"ActorID": 1001 + actor, "Age": int(rng.integers(20, 70)),
                                 "Sex": "Female" if actor % 2 else "Male", "Race": "Synthetic",
                                 "Ethnicity": "Not Hispanic"})
        summary = pd.DataFrame(rows)
        summary.index = pd.RangeIndex(1, len(summary) + 1)
        write_csv(summary, tmp / "processedResults" / "summaryTable.csv", index=True)
        write_csv(pd.DataFrame(demographics), tmp / "VideoDemographics.csv")
        ties = int(summary["MultiModalVote"].str.contains(":").sum())
        return dict(clips=len(rows), actors=n_actors, size=size, frames=list(frames), multimodal_ties=ties)

    return write_corpus_once(root, seed, "cremad", write)


def demo_msp_improv(root: str | Path, seed: int = 0, per_speaker: int = 4, size: int = 112,
                    frames: tuple[int, int] = (16, 40)) -> Path:
    """Write a 4-class MSP-IMPROV-like corpus: 6 sessions x (female, male) actors, dyadic improvisation names.

    Layout: Video/session<k>/MSP-IMPROV-S<nn><T>-<G><0k>-<scenario>-<turn>.mp4, Landmarks/<clip>.npy and
    labels.csv (FileName, EmoClass in N/H/S/A: the perceived label, which differs from the target T sometimes);
    `read_msp_improv` reads it. Expressions are weaker than in the CREMA-D demo (spontaneous speech).
    """
    def write(tmp: Path, seed: int) -> dict:
        (tmp / "Landmarks").mkdir(parents=True)
        identities = {(s, g): random_identity(np.random.default_rng([seed, 6, s, ord(g)]))
                      for s in range(1, 7) for g in "FM"}
        tasks = [(tmp, seed, session, gender, e, k, identities[(session, gender)], size, frames)
                 for session in range(1, 7) for gender in "FM" for e in MSP_IMPROV for k in range(per_speaker)]
        rows = draw_all(_msp_improv_clip, tasks, desc="demo MSP-IMPROV")
        write_csv(pd.DataFrame(rows), tmp / "labels.csv")
        return dict(clips=len(rows), speakers=12, sessions=6, size=size, frames=list(frames))

    return write_corpus_once(root, seed, "msp_improv", write)
