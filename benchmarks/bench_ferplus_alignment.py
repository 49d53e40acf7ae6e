"""FER2013-like 48x48 faces: dlib landmarks inside the whole-image box then the eye warp, against no warp (a resize).

Fakes: each photo of ../shared/data/facial_expressions with a dlib face is cropped around its detector box enlarged
`--margin` times (FER2013's faces fill the frame from forehead to chin), converted to grey and downscaled to 48x48.
The reference is the full-resolution photo's dlib landmarks carried into the 48x48 crop. Each method maps the true
eye centres into its output; the table gives the eye-line angle left in the output (degrees) and the distance of the
eye centres from where the aligned faces of the other corpora put them (EYE_POSITIONS, percent of the side), as
mean absolute values and as their spread over faces (a fixed offset of every face is harmless, its spread is not),
plus the milliseconds per face of each method and how often dlib's detector (2x upsampled) finds the 48x48 face.
Run: python benchmarks/bench_ferplus_alignment.py [--photos 300] [--margin 1.25]
"""

from __future__ import annotations

import argparse
import time

import cv2
import numpy as np
import pandas as pd

from moede.align.face import EYE_POSITIONS, eye_centres, eye_transform
from moede.align.landmarks import detect_face, predict_landmarks
from moede.sources import shared_data_root

SIDE = 48
SIZE = 160


def fer_like(image: np.ndarray, margin: float) -> tuple[np.ndarray, np.ndarray] | None:
    """A 48x48 grey-as-RGB crop of the photo's face and the (2, 3) map from photo to crop pixels (None: no face)."""
    box = detect_face(image)
    if box is None:
        return None
    x, y, w, h = box
    side = max(w, h) * margin
    left, top = x + w / 2 - side / 2, y + h / 2 - side / 2
    scale = SIDE / side
    matrix = np.array([[scale, 0, -left * scale], [0, scale, -top * scale]])
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    crop = cv2.warpAffine(cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA),
                          np.array([[1.0, 0, -left * scale], [0, 1.0, -top * scale]]), (SIDE, SIDE))
    return cv2.cvtColor(crop, cv2.COLOR_GRAY2RGB), matrix


def _errors(eyes: np.ndarray, size: int) -> tuple[float, float]:
    """Eye-line angle (degrees) and mean eye-centre distance from EYE_POSITIONS (percent of the side)."""
    (lx, ly), (rx, ry) = eyes
    angle = float(np.degrees(np.arctan2(ry - ly, rx - lx)))
    target = np.array(EYE_POSITIONS) * size
    return angle, float(np.linalg.norm(eyes - target, axis=1).mean() / size * 100)


def measure(photos: int, margin: float) -> pd.DataFrame:
    """One row per face and method: angle, position error and seconds."""
    folder = shared_data_root() / "facial_expressions" / "images"
    rows = []
    for path in sorted(folder.glob("*.jpg"))[:photos]:
        image = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        made = fer_like(image, margin)
        if made is None:
            continue
        crop, to_crop = made
        detected = detect_face(crop) is not None
        truth = predict_landmarks(image, detect_face(image))
        true_eyes = cv2.transform(np.stack(eye_centres(truth))[None], to_crop)[0]
        start = time.perf_counter()
        found = predict_landmarks(crop, (0, 0, SIDE, SIDE))
        warp = eye_transform(found, SIZE)
        cv2.warpAffine(crop, warp, (SIZE, SIZE), flags=cv2.INTER_LINEAR)
        warp_seconds = time.perf_counter() - start
        start = time.perf_counter()
        cv2.resize(crop, (SIZE, SIZE), interpolation=cv2.INTER_LINEAR)
        resize_seconds = time.perf_counter() - start
        for method, eyes, seconds in (("dlib landmarks in the whole image + eye warp",
                                       cv2.transform(true_eyes[None], warp)[0], warp_seconds),
                                      ("no warp (resize 48 -> 160)", true_eyes * SIZE / SIDE, resize_seconds)):
            angle, position = _errors(eyes, SIZE)
            rows.append({"photo": path.name, "method": method, "angle": angle, "position": position,
                         "x": eyes.mean(axis=0)[0] / SIZE, "y": eyes.mean(axis=0)[1] / SIZE, "ms": seconds * 1000,
                         "detected": detected})
    return pd.DataFrame(rows)


def summary(rows: pd.DataFrame) -> pd.DataFrame:
    """Per method: mean |angle|, angle spread, mean position error, spread of the eye midpoint, ms per face."""
    grouped = rows.groupby("method")
    return pd.DataFrame({
        "faces": grouped.size(),
        "mean |eye-line angle| (deg)": grouped["angle"].apply(lambda a: a.abs().mean()),
        "angle spread (deg, std)": grouped["angle"].std(),
        "mean eye distance from target (% side)": grouped["position"].mean(),
        "eye midpoint spread (% side, std of x and y)": grouped.apply(
            lambda g: 100 * float(np.hypot(g["x"].std(), g["y"].std())), include_groups=False),
        "ms per face": grouped["ms"].mean(),
        "dlib's detector finds the 48x48 face (%)": 100 * grouped["detected"].mean(),
    }).round(2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=300)
    parser.add_argument("--margin", type=float, default=1.25)
    args = parser.parse_args()
    print(summary(measure(args.photos, args.margin)).to_string())


if __name__ == "__main__":
    main()
