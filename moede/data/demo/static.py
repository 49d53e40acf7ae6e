"""The static demo corpus in the AffectNet layout: one drawn face per row of the training and validation lists."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from moede.data.affectnet import LIST_COLUMNS
from moede.data.demo.face import emotion_aus, pose_transform, random_blend, random_identity, random_pose
from moede.data.demo.folder import write_corpus_once
from moede.data.demo.parallel import draw_all
from moede.data.demo.render import draw_face, random_background
from moede.data.emotions import AFFECTNET
from moede.io import write_csv

# AffectNet-like imbalance of the training list (happy and neutral dominate, contempt and disgust are rare).
STATIC_TRAIN_PER_CLASS: dict[str, int] = {
    "neutral": 300, "happy": 400, "sad": 150, "surprise": 120, "fear": 70, "disgust": 50, "anger": 150, "contempt": 50,
}
STATIC_DEV_PER_CLASS = 30


def _static_row(task: tuple[str, int, str, int, int, Path, float]) -> dict:
    """Draw the image of one row of an AffectNet list (emotion, k-th of its class) and return the row."""
    split, seed, emotion, k, size, image_dir, label_noise = task
    rng = np.random.default_rng([seed, 1 if split == "train" else 2, AFFECTNET.index(emotion), k])
    identity = random_identity(rng)
    intensity = 0.0 if emotion == "neutral" else float(np.clip(rng.beta(2.5, 1.5) * 1.15, 0.2, 1.2))
    blend, weight = random_blend(emotion, rng)
    aus = emotion_aus(emotion, intensity, rng, blend, weight, noise=0.08)
    matrix = pose_transform(size, *random_pose(rng, size))
    image, landmarks = draw_face(identity, aus, size, matrix, random_background(size, rng), rng,
                                 speech_open=float(rng.uniform(0, 0.3)) if rng.random() < 0.3 else 0.0,
                                 noise=float(rng.uniform(2, 9)))
    shown = emotion if rng.random() >= label_noise else str(rng.choice([e for e in AFFECTNET if e != emotion]))
    folder = f"{100 + AFFECTNET.index(emotion) * 7 + k % 7}"
    name = f"{folder}/{split}_{emotion}_{k:04d}.jpg"
    (image_dir / folder).mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(image_dir / name), image, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(80, 96))])
    annotated = landmarks + rng.normal(0, 0.4, landmarks.shape)
    x0, y0 = annotated.min(axis=0) - [0.05 * size, 0.15 * size]
    x1, y1 = annotated.max(axis=0) + [0.05 * size, 0.03 * size]
    x0, y0 = max(0.0, x0), max(0.0, y0)
    return dict(
        subDirectory_filePath=name, face_x=int(x0), face_y=int(y0), face_width=int(min(size, x1) - x0),
        face_height=int(min(size, y1) - y0),
        facial_landmarks=";".join(f"{v:.2f}" for v in annotated.reshape(-1)),
        expression=AFFECTNET.index(shown), valence=round(float(rng.uniform(-1, 1)), 3),
        arousal=round(float(rng.uniform(-1, 1)), 3),
    )


def _static_rows(per_class: dict[str, int], split: str, seed: int, size: int, image_dir: Path,
                 label_noise: float) -> list[dict]:
    """Draw the images of one AffectNet list (on every core) and return its rows."""
    tasks = [(split, seed, emotion, k, size, image_dir, label_noise)
             for emotion in AFFECTNET for k in range(per_class.get(emotion, 0))]
    return draw_all(_static_row, tasks, desc=f"demo static {split}")


def demo_static(root: str | Path, seed: int = 0, per_class: dict[str, int] | None = None,
                dev_per_class: int = STATIC_DEV_PER_CLASS, size: int = 128, label_noise: float = 0.05) -> Path:
    """Write an 8-class AffectNet-layout corpus (imbalanced training list, class-balanced validation list).

    Layout: Manually_Annotated_file_lists/{training,validation}.csv (boxes, 68 landmarks, expression codes) and
    Manually_Annotated_Images/<folder>/<name>.jpg; `read_affectnet` reads it. A few training labels are flipped
    (`label_noise`) as in crowd-labelled data; the validation list stays class-balanced.
    """
    per_class = dict(STATIC_TRAIN_PER_CLASS if per_class is None else per_class)

    def write(tmp: Path, seed: int) -> dict:
        images = tmp / "Manually_Annotated_Images"
        lists = tmp / "Manually_Annotated_file_lists"
        train = _static_rows(per_class, "train", seed, size, images, label_noise)
        dev = _static_rows({e: dev_per_class for e in AFFECTNET}, "dev", seed, size, images, 0.0)
        write_csv(pd.DataFrame(train, columns=LIST_COLUMNS), lists / "training.csv")
        write_csv(pd.DataFrame(dev, columns=LIST_COLUMNS), lists / "validation.csv")
        return dict(train=len(train), dev=len(dev), size=size, per_class=per_class, dev_per_class=dev_per_class)

    return write_corpus_once(root, seed, "affectnet", write)
