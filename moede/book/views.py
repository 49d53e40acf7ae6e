"""Small illustrative tables of the book: how alignment moved the eyes, what the balanced sampler draws."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def _eyes(landmarks: np.ndarray) -> np.ndarray:
    return np.stack([landmarks[36:42].mean(axis=0), landmarks[42:48].mean(axis=0)])


def alignment_summary(names: Sequence[str], aligned: Sequence) -> pd.DataFrame:
    """One row per aligned face: how landmarks were found, the eye-line angle before/after, the eye centres (px)."""
    from moede.align import eye_angle

    rows = []
    for name, face in zip(names, aligned):
        eyes = _eyes(face.landmarks)
        rows.append({"image": name, "landmarks": "dlib" if face.detected else "given",
                     "eye angle before (deg)": eye_angle(face.source_landmarks),
                     "eye angle after (deg)": eye_angle(face.landmarks),
                     "left eye (x, y) px": f"({eyes[0, 0]:.1f}, {eyes[0, 1]:.1f})",
                     "right eye (x, y) px": f"({eyes[1, 0]:.1f}, {eyes[1, 1]:.1f})",
                     "output side px": face.image.shape[0]})
    return pd.DataFrame(rows).set_index("image")


def balanced_sampling_table(labels: Sequence[str], emotion: str, epochs: int = 3, seed: int = 0) -> pd.DataFrame:
    """Draw `epochs` epochs of the expert's BalancedEpochSampler on `labels` and tabulate what each epoch contains:
    positives, negatives, negatives per emotion, and how many negatives were also drawn in the previous epoch."""
    from moede.training.sampling import BalancedEpochSampler

    labels = np.asarray(labels)
    sampler = BalancedEpochSampler((labels == emotion).astype(int), positive=1, seed=seed)
    rows, previous = [], None
    for epoch in range(1, epochs + 1):
        drawn = np.fromiter(iter(sampler), dtype=int)
        negatives = sampler.last_negatives
        row = {"epoch": epoch, "drawn": len(drawn), f"{emotion} (positives)": int((labels[drawn] == emotion).sum()),
               "negatives": len(negatives),
               "negatives also drawn last epoch": "–" if previous is None else len(np.intersect1d(previous, negatives))}
        row.update(pd.Series(labels[negatives]).value_counts().add_prefix("neg. ").to_dict())
        rows.append(row)
        previous = negatives
    return pd.DataFrame(rows).set_index("epoch").fillna(0)
