"""The embedded demo corpora: deterministic, reusable, faces with landmarks and real temporal structure."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from moede.data.demo import (
    demo_cremad, demo_msp_improv, demo_static, emotion_aus, face_landmarks, pose_transform, random_identity,
    render_clip,
)
from moede import processes
from moede.data.demo import parallel
from moede.data.emotions import AFFECTNET


def _digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.name != ".moede_demo.json"):
        digest.update(path.relative_to(root).as_posix().encode() + path.read_bytes())
    return digest.hexdigest()


def test_static_demo_is_deterministic_and_reused(tmp_path: Path) -> None:
    small = {e: 2 for e in AFFECTNET}
    a = demo_static(tmp_path / "a", seed=1, per_class=small, dev_per_class=1, size=64)
    b = demo_static(tmp_path / "b", seed=1, per_class=small, dev_per_class=1, size=64)
    c = demo_static(tmp_path / "c", seed=2, per_class=small, dev_per_class=1, size=64)
    assert _digest(a) == _digest(b) != _digest(c)
    stamp = (a / "Manually_Annotated_file_lists" / "training.csv").stat().st_mtime_ns
    assert demo_static(a, seed=1, per_class=small, dev_per_class=1, size=64) == a
    assert (a / "Manually_Annotated_file_lists" / "training.csv").stat().st_mtime_ns == stamp
    with pytest.raises(FileExistsError, match="different demo corpus"):
        demo_static(a, seed=3)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folders left


def test_demo_corpora_are_the_same_files_drawn_in_one_or_several_processes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    small = {e: 2 for e in AFFECTNET}
    writers = {"static": lambda root: demo_static(root, seed=1, per_class=small, dev_per_class=1, size=64),
               "cremad": lambda root: demo_cremad(root, seed=1, n_actors=2, sentences=2, size=64, frames=(4, 6)),
               "msp": lambda root: demo_msp_improv(root, seed=1, per_speaker=1, size=64, frames=(4, 6))}
    monkeypatch.setattr(parallel, "MIN_ITEMS_PER_WORKER", 1)
    monkeypatch.setattr(processes, "available_cpus", lambda: 2)
    in_two = {name: _digest(write(tmp_path / f"{name}_2")) for name, write in writers.items()}
    monkeypatch.setattr(processes, "available_cpus", lambda: 1)
    assert {name: _digest(write(tmp_path / f"{name}_1")) for name, write in writers.items()} == in_two


def test_landmark_model_follows_ibug_order() -> None:
    rng = np.random.default_rng(0)
    identity = random_identity(rng)
    pts = face_landmarks(identity, np.zeros(13))
    right_eye, left_eye = pts[36:42].mean(axis=0), pts[42:48].mean(axis=0)
    assert right_eye[0] < 0 < left_eye[0] and abs(right_eye[1] - left_eye[1]) < 1e-6
    assert pts[8, 1] == pts[:17, 1].max()  # chin is the lowest jaw point
    assert pts[17:27, 1].max() < pts[36:48, 1].min() < pts[30, 1] < pts[48:68, 1].min()
    assert pts[48, 0] < pts[51, 0] < pts[54, 0]
    # Rotation by the pose transform tilts the eye line by the same angle.
    image_pts = pts @ pose_transform(128, 12.0, 1.0, (0, 0))[:, :2].T
    eye = image_pts[42:48].mean(axis=0) - image_pts[36:42].mean(axis=0)
    assert np.degrees(np.arctan2(eye[1], eye[0])) == pytest.approx(12.0, abs=1e-6)


def test_emotions_move_the_expected_features() -> None:
    rng = np.random.default_rng(0)
    identity = random_identity(rng)
    neutral = face_landmarks(identity, np.zeros(13))
    happy = face_landmarks(identity, emotion_aus("happy", 1.0, rng, noise=0.0))
    surprise = face_landmarks(identity, emotion_aus("surprise", 1.0, rng, noise=0.0))
    anger = face_landmarks(identity, emotion_aus("anger", 1.0, rng, noise=0.0))
    assert happy[[48, 54], 1].mean() < neutral[[48, 54], 1].mean()  # mouth corners up
    assert (surprise[66, 1] - surprise[62, 1]) > (neutral[66, 1] - neutral[62, 1]) + 0.1  # mouth open
    assert surprise[17:27, 1].mean() < neutral[17:27, 1].mean() < anger[17:27, 1].mean()  # brows up / down


def test_clip_has_onset_apex_offset() -> None:
    rng = np.random.default_rng(5)
    identity = random_identity(rng)
    frames, marks = render_clip(identity, "surprise", 1.0, 30, 64, rng, speech=False)
    assert len(frames) == len(marks) == 30 and frames[0].shape == (64, 64, 3)
    eyes = marks[:, 42:48].mean(axis=1) - marks[:, 36:42].mean(axis=1)
    brow_height = (marks[:, 36:48].mean(axis=1) - marks[:, 17:27].mean(axis=1))
    # Brow height relative to the eye distance, free of the head's scale and rotation.
    relative = np.linalg.norm(brow_height, axis=1) / np.linalg.norm(eyes, axis=1)
    apex = int(np.argmax(relative))
    assert 0 < apex < 29 and relative[apex] > relative[0] + 0.1 and relative[apex] > relative[-1]


def _eye_normalised(landmarks: np.ndarray) -> np.ndarray:
    """Landmarks translated, rotated and scaled so the eye centres sit at (-0.5, 0) and (0.5, 0)."""
    right, left = landmarks[36:42].mean(axis=0), landmarks[42:48].mean(axis=0)
    v = left - right
    angle = -np.arctan2(v[1], v[0])
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return ((landmarks - (left + right) / 2) @ rotation.T / np.linalg.norm(v)).ravel()


@pytest.mark.slow
def test_default_static_demo_is_learnable_but_not_trivial(tmp_path: Path) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    from moede.data.affectnet import read_affectnet

    frame = read_affectnet(demo_static(tmp_path / "static"))
    counts = frame[frame["split"] == "train"]["label"].value_counts()
    assert counts["happy"] >= 5 * counts["contempt"]  # AffectNet-like imbalance
    assert frame[frame["split"] == "dev"]["label"].value_counts().nunique() == 1  # class-balanced dev
    x = np.stack([_eye_normalised(m) for m in frame["landmarks"]])
    train = (frame["split"] == "train").to_numpy()
    scaler = StandardScaler().fit(x[train])
    model = LogisticRegression(max_iter=2000, class_weight="balanced").fit(scaler.transform(x[train]),
                                                                          frame["label"][train])
    accuracy = (model.predict(scaler.transform(x[~train])) == frame["label"][~train]).mean()
    assert 0.35 < accuracy < 0.9  # chance is 0.125; identity, intensity, blends and label noise keep it below 0.9


@pytest.mark.slow
def test_default_cremad_demo(tmp_path: Path) -> None:
    import time

    from moede.data.cremad import cremad_partitions, read_cremad
    from moede.data.demo import demo_cremad
    from moede.data.emotions import CREMAD
    from moede.data.splits import check_speaker_independent

    start = time.perf_counter()
    clips = read_cremad(demo_cremad(tmp_path / "cremad"))
    assert time.perf_counter() - start < 120
    assert clips["speaker"].nunique() >= 12 and set(clips["label"]) == set(CREMAD)
    assert clips.attrs["dropped_ties"] > 0 and 0.7 < (clips["label"] == clips["intended"]).mean() < 0.97
    lengths = [len(np.load(p)) for p in clips["landmarks"]]
    assert min(lengths) >= 16 and max(lengths) <= 40 and len(set(lengths)) > 10
    for part in cremad_partitions(clips):
        check_speaker_independent(part)
        assert set(part["split"]) == {"train", "dev", "test"}
