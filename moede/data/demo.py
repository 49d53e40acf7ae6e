"""The embedded default data: small synthetic corpora drawn with OpenCV, written in the real corpora's layouts.

Faces come from a parametric 68-point landmark model in the iBUG-68 index order (jaw 0-16, brows 17-26, nose
27-35, eyes 36-47 with the image-left eye first, mouth 48-67). An identity fixes the geometry and colours; emotions
are action units (brow raise/lower, lid opening, nose wrinkle, lip corners, lip stretch/press, jaw drop) scaled by an
intensity, blended with a second emotion and noise, so the classes overlap; head pose (in-plane rotation up to
15 degrees, scale, translation), illumination and sensor noise make alignment matter. Nothing is downloaded; every
corpus is a deterministic function of its seed.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from moede.data.affectnet import LIST_COLUMNS
from moede.data.emotions import AFFECTNET, CREMAD, CREMAD_FILENAME_CODES, MSP_IMPROV, MSP_IMPROV_CODES
from moede.io import write_csv, write_json

DEMO_VERSION = 1
MARKER = ".moede_demo.json"

AUS: tuple[str, ...] = (
    "brow_raise", "inner_brow_raise", "brow_lower", "upper_lid_raise", "lid_tighten", "nose_wrinkle",
    "lip_corner_pull", "lip_corner_depress", "lip_stretch", "lip_press", "jaw_drop", "upper_lip_raise", "unilateral",
)
# Action-unit profile of each emotion at full intensity (the prototypes of FACS-based emotion descriptions).
PROFILES: dict[str, dict[str, float]] = {
    "neutral": {},
    "happy": {"lip_corner_pull": 1.0, "lid_tighten": 0.5, "jaw_drop": 0.25},
    "sad": {"inner_brow_raise": 1.0, "brow_lower": 0.3, "lip_corner_depress": 0.9, "upper_lid_raise": -0.35},
    "surprise": {"brow_raise": 1.0, "upper_lid_raise": 1.0, "jaw_drop": 1.0},
    "fear": {"brow_raise": 0.6, "inner_brow_raise": 0.6, "brow_lower": 0.4, "upper_lid_raise": 0.9,
             "lip_stretch": 1.0, "jaw_drop": 0.35},
    "disgust": {"nose_wrinkle": 1.0, "upper_lip_raise": 1.0, "brow_lower": 0.5, "lid_tighten": 0.5,
                "lip_corner_depress": 0.3},
    "anger": {"brow_lower": 1.0, "lid_tighten": 0.5, "upper_lid_raise": 0.35, "lip_press": 1.0},
    "contempt": {"unilateral": 1.0, "lid_tighten": 0.15},
}
# Emotions that raters (and the blend of a second expression) most often mix up with each one.
CONFUSIONS: dict[str, tuple[str, ...]] = {
    "neutral": ("sad", "contempt"), "happy": ("neutral", "contempt"), "sad": ("neutral", "fear"),
    "surprise": ("fear", "happy"), "fear": ("surprise", "sad"), "disgust": ("anger", "contempt"),
    "anger": ("disgust", "neutral"), "contempt": ("neutral", "disgust"),
}
VOTE_LETTERS: dict[str, str] = {"neutral": "N", "happy": "H", "sad": "S", "anger": "A", "fear": "F", "disgust": "D"}
# AffectNet-like imbalance of the training list (happy and neutral dominate, contempt and disgust are rare).
STATIC_TRAIN_PER_CLASS: dict[str, int] = {
    "neutral": 300, "happy": 400, "sad": 150, "surprise": 120, "fear": 70, "disgust": 50, "anger": 150, "contempt": 50,
}
STATIC_DEV_PER_CLASS = 30


@dataclass(frozen=True)
class Identity:
    """Face geometry (in face units: eye line at y=0, face half-width ~1) and colours of one synthetic person."""

    geometry: dict[str, float]
    baseline: np.ndarray  # resting action units of this person
    skin: tuple[float, float, float]
    hair: tuple[float, float, float]
    lips: tuple[float, float, float]
    iris: tuple[float, float, float]
    hair_style: int


def random_identity(rng: np.random.Generator) -> Identity:
    """Draw a person: face shape, feature sizes and positions, resting expression and colours."""
    u = rng.uniform
    geometry = dict(
        face_w=u(0.86, 1.06), chin_y=u(1.38, 1.68), jaw_y0=u(-0.12, 0.12), forehead=u(0.95, 1.15),
        eye_sep=u(0.36, 0.44), eye_w=u(0.15, 0.2), eye_h=u(0.055, 0.085), brow_y=u(-0.34, -0.24),
        brow_arch=u(0.03, 0.1), brow_thick=u(0.045, 0.08), nose_y=u(0.5, 0.66), nose_w=u(0.12, 0.18),
        mouth_y=u(0.86, 1.0), mouth_w=u(0.26, 0.34), lip_up=u(0.035, 0.065), lip_lo=u(0.05, 0.085),
    )
    tone = u(0.25, 0.95)
    skin = (60 + 120 * tone + u(-10, 10), 80 + 120 * tone + u(-10, 10), 110 + 120 * tone)  # BGR
    hair_level = u(15, 140)
    hair = (hair_level * u(0.6, 1.0), hair_level * u(0.7, 1.0), hair_level)
    lips = (skin[0] * 0.6, skin[1] * 0.55, min(255.0, skin[2] * 0.95))
    iris = tuple(float(v) for v in rng.uniform(20, 110, 3))
    baseline = np.clip(rng.normal(0, 0.1, len(AUS)), -0.15, 0.25)
    return Identity(geometry, baseline, skin, hair, lips, iris, int(rng.integers(3)))


def emotion_aus(emotion: str, intensity: float, rng: np.random.Generator, blend: str | None = None,
                blend_weight: float = 0.0, noise: float = 0.08) -> np.ndarray:
    """Action-unit vector of `emotion` at `intensity`, mixed with `blend` and jittered per unit."""
    aus = np.zeros(len(AUS))
    for name, value in PROFILES[emotion].items():
        aus[AUS.index(name)] += intensity * value * rng.uniform(0.75, 1.25)
    if blend is not None:
        for name, value in PROFILES[blend].items():
            aus[AUS.index(name)] += blend_weight * value
    aus += rng.normal(0, noise, len(AUS))
    side = -1.0 if rng.random() < 0.5 else 1.0
    aus[AUS.index("unilateral")] *= side
    return aus


def face_landmarks(identity: Identity, aus: np.ndarray, speech_open: float = 0.0, speech_round: float = 0.0,
                   blink: float = 0.0) -> np.ndarray:
    """The 68 landmarks (iBUG order) in face units for an identity showing action units `aus`."""
    g = identity.geometry
    a = dict(zip(AUS, identity.baseline + aus))
    pts = np.zeros((68, 2))
    jaw_open = max(0.0, a["jaw_drop"]) * 0.22 + speech_open * 0.13
    # Jaw 0-16: from the image-left ear round the chin to the image-right ear; the chin drops with the mouth.
    theta = np.pi * np.arange(17) / 16
    pts[:17, 0] = -g["face_w"] * np.cos(theta)
    chin = (g["chin_y"] - g["jaw_y0"]) * np.sin(theta) ** 1.2
    pts[:17, 1] = g["jaw_y0"] + chin + 0.55 * jaw_open * np.sin(theta) ** 4
    # Brows 17-21 (image left, outer -> inner) and 22-26 (inner -> outer).
    t = np.linspace(0, 1, 5)
    outer, inner = g["eye_sep"] + g["eye_w"] + 0.08, max(0.08, g["eye_sep"] - g["eye_w"] + 0.02)
    bx = outer + (inner - outer) * t
    by = g["brow_y"] - g["brow_arch"] * np.sin(np.pi * (0.15 + 0.75 * t))
    by = by - 0.2 * a["brow_raise"] - 0.18 * a["inner_brow_raise"] * t ** 2
    by = by + 0.12 * a["brow_lower"] * (0.35 + 0.65 * t)
    bx = bx - 0.07 * max(0.0, a["brow_lower"]) * t
    pts[17:22] = np.c_[-bx, by]
    pts[22:27] = np.c_[bx[::-1], by[::-1]]
    # Nose 27-30 (bridge, top to tip) and 31-35 (nostrils, image left to right); wrinkling lifts and widens it.
    lift = 0.05 * max(0.0, a["nose_wrinkle"])
    nose_y = g["nose_y"] - lift
    pts[27:31] = np.c_[np.zeros(4), np.linspace(0.02, nose_y, 4)]
    nw = g["nose_w"] * (1 + 0.12 * max(0.0, a["nose_wrinkle"]))
    pts[31:36] = np.c_[np.linspace(-nw, nw, 5), nose_y + 0.07 - 0.025 * np.cos(np.linspace(-1.2, 1.2, 5))]
    # Eyes 36-41 (image left: outer, upper x2, inner, lower x2) and 42-47 (inner, upper x2, outer, lower x2).
    up = g["eye_h"] * max(0.05, 1 + 1.0 * a["upper_lid_raise"] - 0.5 * a["lid_tighten"]) * (1 - blink)
    lo = g["eye_h"] * 0.8 * max(0.15, 1 - 0.55 * a["lid_tighten"] + 0.25 * max(0.0, a["upper_lid_raise"]))
    ew = g["eye_w"]
    for start, cx in ((36, -g["eye_sep"]), (42, g["eye_sep"])):
        xs = np.array([-1, -1 / 3, 1 / 3, 1, 1 / 3, -1 / 3]) * ew  # same x order for both eyes in iBUG-68
        ys = np.array([0, -up, -up, 0, lo, lo])
        pts[start:start + 6] = np.c_[cx + xs, ys + 0.01 * (xs / ew) ** 2]
    # Mouth: corners move with pull/depress/stretch/press and the one-sided contempt pull; lips curve with them.
    mw = g["mouth_w"] * (1 + 0.22 * a["lip_corner_pull"] + 0.28 * a["lip_stretch"] - 0.2 * a["lip_press"]
                         - 0.25 * speech_round)
    uni = a["unilateral"]
    corner_dy = -0.15 * a["lip_corner_pull"] + 0.14 * a["lip_corner_depress"] + 0.01 * a["lip_stretch"]
    dy_left = corner_dy - 0.13 * max(0.0, -uni)
    dy_right = corner_dy - 0.13 * max(0.0, uni)
    x_left, x_right = -mw * (1 + 0.22 * max(0.0, -uni)), mw * (1 + 0.22 * max(0.0, uni))
    cy = g["mouth_y"] - 0.02 * max(0.0, a["upper_lip_raise"])
    thin = 1 - 0.55 * max(0.0, a["lip_press"])
    lip_up, lip_lo = g["lip_up"] * thin, g["lip_lo"] * thin
    raise_up = 0.09 * max(0.0, a["upper_lip_raise"])

    def lip(u: np.ndarray, base: np.ndarray) -> np.ndarray:
        x = np.where(u < 0, -u * x_left, u * x_right)
        y = base + np.where(u < 0, dy_left, dy_right) * np.abs(u) ** 2
        return np.c_[x, y]

    upper_u = np.array([-2 / 3, -1 / 3, 0, 1 / 3, 2 / 3])
    bow = np.array([0.85, 1.0, 0.8, 1.0, 0.85])
    pts[48] = lip(np.array([-1.0]), np.array([cy]))[0]
    pts[49:54] = lip(upper_u, cy - lip_up * bow - raise_up * (1 - np.abs(upper_u)))
    pts[54] = lip(np.array([1.0]), np.array([cy]))[0]
    lower_u = upper_u[::-1]
    opening = jaw_open * (1 - np.abs(lower_u) ** 2)
    pts[55:60] = lip(lower_u, cy + lip_lo * (1 - 0.3 * np.abs(lower_u)) + opening + 0.01)
    pts[60] = lip(np.array([-0.9]), np.array([cy]))[0]
    inner_u = np.array([-1 / 3, 0, 1 / 3])
    pts[61:64] = lip(inner_u, cy - 0.004 - raise_up * 0.8 * (1 - np.abs(inner_u)))
    pts[64] = lip(np.array([0.9]), np.array([cy]))[0]
    pts[65:68] = lip(inner_u[::-1], cy + 0.004 + jaw_open * (1 - np.abs(inner_u[::-1]) ** 2))
    return pts


def pose_transform(size: int, angle: float, scale: float, shift: tuple[float, float]) -> np.ndarray:
    """2x3 affine from face units to pixels: rotation by `angle` degrees, face half-width ~0.3 * size * scale."""
    s = 0.3 * size * scale
    c, si = np.cos(np.radians(angle)), np.sin(np.radians(angle))
    centre = np.array([size / 2 + shift[0], size * 0.4 + shift[1]])
    return np.array([[s * c, -s * si, centre[0]], [s * si, s * c, centre[1]]])


def _apply(matrix: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine to (N, 2) points."""
    return pts @ matrix[:, :2].T + matrix[:, 2]


def _poly(pts: np.ndarray) -> np.ndarray:
    """Points as fixed-point int32 for OpenCV drawing with shift=4 (sub-pixel accuracy)."""
    return np.round(pts * 16).astype(np.int32).reshape(-1, 1, 2)


def _line(img: np.ndarray, pts: np.ndarray, colour: tuple[float, ...], width: float, closed: bool = False) -> None:
    """Anti-aliased polyline of thickness `width` pixels."""
    cv2.polylines(img, [_poly(pts)], closed, colour, max(1, int(round(width))), cv2.LINE_AA, shift=4)


def _fill(img: np.ndarray, pts: np.ndarray, colour: tuple[float, ...]) -> None:
    """Anti-aliased filled polygon."""
    cv2.fillPoly(img, [_poly(pts)], colour, cv2.LINE_AA, shift=4)


def _shade(colour: tuple[float, ...], factor: float) -> tuple[float, ...]:
    """A colour darkened (factor < 1) or lightened (factor > 1)."""
    return tuple(float(np.clip(c * factor, 0, 255)) for c in colour)


def draw_face(identity: Identity, aus: np.ndarray, size: int, matrix: np.ndarray, background: np.ndarray,
              rng: np.random.Generator, speech_open: float = 0.0, speech_round: float = 0.0, blink: float = 0.0,
              noise: float = 5.0, lighting: tuple[float, float, float, float] | None = None
              ) -> tuple[np.ndarray, np.ndarray]:
    """Draw one face on `background` (BGR uint8); return the image and its 68 landmarks in pixels (float32).

    `lighting` = (direction, gradient strength, gain, blur sigma); drawn at random when None (a clip passes one).
    """
    a = dict(zip(AUS, identity.baseline + aus))
    g = identity.geometry
    unit = face_landmarks(identity, aus, speech_open, speech_round, blink)
    pts = _apply(matrix, unit)
    px = float(np.hypot(*matrix[:, 0]))  # pixels per face unit
    img = background.copy()
    skin = identity.skin
    # Hair behind the head, neck, then the face outline (jaw plus a forehead arc).
    arc = np.linspace(0, np.pi, 15)
    top = g["jaw_y0"] - g["forehead"]
    forehead = np.c_[g["face_w"] * np.cos(arc), g["jaw_y0"] + (top - g["jaw_y0"]) * np.sin(arc)]
    head = np.r_[unit[:17], forehead]
    if identity.hair_style > 0:
        _fill(img, _apply(matrix, head * [1.12, 1.0] + [0, -0.12 * identity.hair_style]), identity.hair)
    neck = np.array([[-0.55, 1.0], [0.55, 1.0], [0.62, 2.6], [-0.62, 2.6]])
    _fill(img, _apply(matrix, neck), _shade(skin, 0.8))
    _fill(img, _apply(matrix, head), skin)
    if identity.hair_style != 1:
        fringe = np.r_[np.c_[g["face_w"] * np.cos(arc), top * 0.72 + (top - top * 0.72) * np.sin(arc)],
                       forehead[::-1]]
        _fill(img, _apply(matrix, fringe), identity.hair)
    wrinkle = _shade(skin, 0.72)
    # Texture cues: forehead lines (brow raise), glabella lines (brow lower), nose wrinkles, smile folds.
    for k in range(3):
        strength = a["brow_raise"] + 0.5 * a["inner_brow_raise"]
        if strength > 0.3:
            y = g["brow_y"] - 0.25 - 0.1 * k
            _line(img, _apply(matrix, np.c_[np.linspace(-0.4, 0.4, 7), y - 0.02 * np.cos(np.linspace(-1, 1, 7))]),
                  _shade(skin, 1 - 0.3 * min(1.0, strength)), 0.025 * px)
    if a["brow_lower"] > 0.3:
        for x in (-0.06, 0.06):
            _line(img, _apply(matrix, np.array([[x, -0.12], [x * 0.7, -0.28]])),
                  _shade(skin, 1 - 0.25 * min(1, a["brow_lower"])), 0.018 * px)
    if a["nose_wrinkle"] > 0.25:
        for k in range(3):
            y = 0.12 + 0.07 * k
            _line(img, _apply(matrix, np.array([[-0.09, y + 0.02], [0, y], [0.09, y + 0.02]])),
                  _shade(skin, 1 - 0.4 * min(1, a["nose_wrinkle"])), 0.025 * px)
    if a["lip_corner_pull"] > 0.2 or a["nose_wrinkle"] > 0.4:
        for side in (-1, 1):
            wing, corner = unit[31 if side < 0 else 35], unit[48 if side < 0 else 54]
            fold = np.array([wing + [side * 0.05, -0.02], corner + [side * 0.09, -0.02], corner + [side * 0.1, 0.12]])
            depth = max(a["lip_corner_pull"], 0.6 * a["nose_wrinkle"])
            _line(img, _apply(matrix, fold), _shade(skin, 1 - 0.3 * min(1, depth)), 0.028 * px)
    # Brows.
    brow_colour = _shade(identity.hair, 0.6)
    _line(img, pts[17:22], brow_colour, g["brow_thick"] * px)
    _line(img, pts[22:27], brow_colour, g["brow_thick"] * px)
    # Eyes: sclera and iris clipped to the lids, then the lid lines.
    mask = np.zeros(img.shape[:2], np.uint8)
    eye_layer = np.zeros_like(img)
    eye_layer[:] = (225, 230, 235)
    for start in (36, 42):
        _fill(mask, pts[start:start + 6], 255)
        centre = pts[start:start + 6].mean(axis=0) + rng.normal(0, 0.01 * px, 2)
        cv2.circle(eye_layer, tuple(np.round(centre * 16).astype(int)), int(0.075 * px * 16), identity.iris, -1,
                   cv2.LINE_AA, shift=4)
        cv2.circle(eye_layer, tuple(np.round(centre * 16).astype(int)), int(0.032 * px * 16), (15, 15, 15), -1,
                   cv2.LINE_AA, shift=4)
    alpha = (mask.astype(np.float32) / 255)[..., None]
    img = (img * (1 - alpha) + eye_layer * alpha).astype(np.uint8)
    for start in (36, 42):
        _line(img, pts[start:start + 4], (30, 30, 40), 0.025 * px)
        _line(img, np.r_[pts[start + 3:start + 6], pts[start:start + 1]], _shade(skin, 0.6), 0.015 * px)
    # Nose.
    _line(img, pts[28:31], _shade(skin, 0.82), 0.02 * px)
    _line(img, pts[31:36], _shade(skin, 0.55), 0.025 * px)
    # Mouth: lips, the open mouth's inside and the upper teeth.
    _fill(img, pts[48:60], identity.lips)
    inner = pts[60:68]
    if np.linalg.norm(pts[66] - pts[62]) > 0.02 * px:
        _fill(img, inner, (35, 25, 45))
        depth = np.array([0, 0.04 * px]) @ matrix[:, :2].T / px  # "down" in the rotated face
        teeth = np.r_[pts[60:65], pts[64:65] + depth * 0.8, pts[62:63] + depth, pts[60:61] + depth * 0.8]
        mouth_mask = np.zeros(img.shape[:2], np.uint8)
        _fill(mouth_mask, inner, 255)
        layer = img.copy()
        _fill(layer, teeth, (225, 232, 238))
        img = np.where(mouth_mask[..., None] > 0, layer, img)
    _line(img, np.r_[pts[60:65], pts[65:68], pts[60:61]], _shade(identity.lips, 0.55), 0.015 * px)
    # Illumination gradient, blur and sensor noise.
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size - 0.5
    direction, strength, gain, blur = random_lighting(rng) if lighting is None else lighting
    light = 1 + strength * (np.cos(direction) * xx + np.sin(direction) * yy) * 2
    out = img.astype(np.float32) * light[..., None] * gain
    out = cv2.GaussianBlur(out, (0, 0), blur)
    out += rng.normal(0, noise, out.shape)
    return np.clip(out, 0, 255).astype(np.uint8), pts.astype(np.float32)


def random_lighting(rng: np.random.Generator) -> tuple[float, float, float, float]:
    """Light direction, gradient strength, overall gain and blur of one image or clip."""
    return rng.uniform(0, 2 * np.pi), rng.uniform(0.1, 0.45), rng.uniform(0.8, 1.15), rng.uniform(0.4, 0.9)


def random_background(size: int, rng: np.random.Generator) -> np.ndarray:
    """A smooth coloured background with a few blurry blobs (stands in for scenes behind faces)."""
    base = rng.uniform(40, 220, 3)
    img = np.empty((size, size, 3), np.float32)
    img[:] = base
    for _ in range(int(rng.integers(1, 4))):
        centre = tuple(int(v) for v in rng.uniform(0, size, 2))
        cv2.circle(img, centre, int(rng.uniform(0.1, 0.4) * size), tuple(float(v) for v in rng.uniform(30, 230, 3)), -1)
    img = cv2.GaussianBlur(img, (0, 0), size / 10)
    return np.clip(img, 0, 255).astype(np.uint8)


def _random_pose(rng: np.random.Generator, size: int) -> tuple[float, float, tuple[float, float]]:
    """In-plane rotation (+-15 degrees), scale and translation of a head."""
    return rng.uniform(-15, 15), rng.uniform(0.82, 1.12), (rng.uniform(-0.07, 0.07) * size,
                                                          rng.uniform(-0.05, 0.07) * size)


def _blend_for(emotion: str, rng: np.random.Generator) -> tuple[str | None, float]:
    """A confusable second expression and its weight (sometimes none)."""
    if rng.random() < 0.5:
        return None, 0.0
    return str(rng.choice(CONFUSIONS[emotion])), float(rng.uniform(0.05, 0.3))


# ----------------------------------------------------------------------------- atomic corpus folders
def _generate(root: str | Path, seed: int, kind: str, write: Callable[[Path, int], dict]) -> Path:
    """Write a demo corpus into a temporary sibling of `root` and rename it into place; reuse a finished one."""
    root = Path(root).expanduser().resolve()
    marker = root / MARKER
    if marker.is_file():
        info = json.loads(marker.read_text())
        if info.get("seed") == seed and info.get("version") == DEMO_VERSION and info.get("kind") == kind:
            return root
        raise FileExistsError(f"{root} holds a different demo corpus ({info}); remove it or choose another folder")
    if root.exists() and any(root.iterdir()):
        raise FileExistsError(f"{root} exists and is not a demo corpus; choose an empty or new folder")
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.", dir=root.parent))
    try:
        start = time.perf_counter()
        info = write(tmp, seed)
        info.update(kind=kind, seed=seed, version=DEMO_VERSION, seconds=round(time.perf_counter() - start, 2))
        write_json(info, tmp / MARKER)
        if root.exists():
            root.rmdir()
        os.replace(tmp, root)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return root


# ----------------------------------------------------------------------------- static (AffectNet layout)
def _static_rows(per_class: dict[str, int], split: str, seed: int, size: int, image_dir: Path,
                 label_noise: float) -> list[dict]:
    """Draw the images of one AffectNet list and return its rows."""
    rows = []
    items = [(emotion, k) for emotion in AFFECTNET for k in range(per_class.get(emotion, 0))]
    for emotion, k in tqdm(items, desc=f"demo static {split}", leave=False):
        rng = np.random.default_rng([seed, 1 if split == "train" else 2, AFFECTNET.index(emotion), k])
        identity = random_identity(rng)
        intensity = 0.0 if emotion == "neutral" else float(np.clip(rng.beta(2.5, 1.5) * 1.15, 0.2, 1.2))
        blend, weight = _blend_for(emotion, rng)
        aus = emotion_aus(emotion, intensity, rng, blend, weight, noise=0.08)
        matrix = pose_transform(size, *_random_pose(rng, size))
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
        rows.append(dict(
            subDirectory_filePath=name, face_x=int(x0), face_y=int(y0), face_width=int(min(size, x1) - x0),
            face_height=int(min(size, y1) - y0),
            facial_landmarks=";".join(f"{v:.2f}" for v in annotated.reshape(-1)),
            expression=AFFECTNET.index(shown), valence=round(float(rng.uniform(-1, 1)), 3),
            arousal=round(float(rng.uniform(-1, 1)), 3),
        ))
    return rows


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

    return _generate(root, seed, "affectnet", write)


# ----------------------------------------------------------------------------- videos (CREMA-D / MSP layouts)
def _envelope(n: int, rng: np.random.Generator) -> np.ndarray:
    """Expression strength per frame: neutral onset, rise, apex, then a (partial) offset."""
    t = np.arange(n) / max(1, n - 1)
    start = rng.uniform(0.0, 0.25)
    rise = rng.uniform(0.12, 0.3)
    end = rng.uniform(0.6, 0.85)
    fall = rng.uniform(0.1, 0.25)
    residual = rng.uniform(0.1, 0.6)
    up = np.clip((t - start) / rise, 0, 1)
    down = np.clip((t - end) / fall, 0, 1)
    smooth = lambda x: x * x * (3 - 2 * x)  # noqa: E731
    return smooth(up) * (1 - (1 - residual) * smooth(down))


def render_clip(identity: Identity, emotion: str, intensity: float, n_frames: int, size: int,
                rng: np.random.Generator, speech: bool = True) -> tuple[list[np.ndarray], np.ndarray]:
    """Frames (BGR) and (T, 68, 2) landmarks of one talking face: expression onset/apex/offset plus speech."""
    blend, weight = _blend_for(emotion, rng)
    aus_apex = emotion_aus(emotion, intensity, rng, blend, weight, noise=0.06)
    envelope = _envelope(n_frames, rng)
    angle, scale, shift = _random_pose(rng, size)
    fps = 30.0
    rate, phase, amp = rng.uniform(3.0, 6.0), rng.uniform(0, 2 * np.pi), rng.uniform(0.35, 1.0) if speech else 0.0
    round_rate, round_phase = rng.uniform(1.0, 3.0), rng.uniform(0, 2 * np.pi)
    speak_from, speak_to = rng.uniform(0, 0.2) * n_frames, rng.uniform(0.75, 1.0) * n_frames
    blinks = rng.uniform(0, n_frames, int(rng.integers(0, 3)))
    drift = rng.normal(0, 1, 4)
    background = random_background(size, rng)
    lighting = random_lighting(rng)
    frames, marks = [], []
    for i in range(n_frames):
        t = i / fps
        talking = speak_from <= i <= speak_to
        syllable = max(0.0, np.sin(2 * np.pi * rate * t + phase)) ** 1.5 * (0.6 + 0.4 * np.sin(7.1 * t + phase))
        speech_open = amp * syllable if talking else 0.0
        speech_round = 0.5 * amp * max(0.0, np.sin(2 * np.pi * round_rate * t + round_phase)) if talking else 0.0
        blink = max([0.0] + [max(0.0, 1 - abs(i - b) / 1.5) for b in blinks])
        wobble = np.sin(2 * np.pi * 0.4 * t + drift)
        matrix = pose_transform(size, angle + 3 * wobble[0], scale * (1 + 0.02 * wobble[1]),
                                (shift[0] + 2 * wobble[2], shift[1] + 1.5 * wobble[3]))
        aus = aus_apex * envelope[i] + rng.normal(0, 0.015, len(AUS))
        frame, landmarks = draw_face(identity, aus, size, matrix, background, rng, speech_open, speech_round,
                                     blink, noise=3.0, lighting=lighting)
        frames.append(frame)
        marks.append(landmarks)
    return frames, np.stack(marks).astype(np.float32)


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


CREMAD_SENTENCES: tuple[str, ...] = ("IEO", "TIE", "DFA", "IOM", "ITS", "WSI")


def demo_cremad(root: str | Path, seed: int = 0, n_actors: int = 14, sentences: int = 3, size: int = 112,
                frames: tuple[int, int] = (16, 40)) -> Path:
    """Write a 6-class CREMA-D-layout corpus of talking synthetic actors.

    Layout: VideoFlash/<actor>_<sentence>_<EMO>_<level>.mp4, Landmarks/<clip>.npy (T, 68, 2),
    processedResults/summaryTable.csv (voice/face/multimodal votes as in the real file, a few tied) and
    VideoDemographics.csv; `read_cremad` reads it.
    """
    codes = {v: k for k, v in CREMAD_FILENAME_CODES.items()}

    def write(tmp: Path, seed: int) -> dict:
        (tmp / "VideoFlash").mkdir(parents=True)
        (tmp / "Landmarks").mkdir()
        rows, demographics = [], []
        jobs = [(a, s, e) for a in range(n_actors) for s in range(sentences) for e in CREMAD]
        identities = {a: random_identity(np.random.default_rng([seed, 3, a])) for a in range(n_actors)}
        for actor, s, emotion in tqdm(jobs, desc="demo CREMA-D", leave=False):
            rng = np.random.default_rng([seed, 4, actor, s, CREMAD.index(emotion)])
            sentence = CREMAD_SENTENCES[s]
            level = "XX" if emotion == "neutral" or sentence != "IEO" else str(rng.choice(["LO", "MD", "HI"]))
            intensity = 0.0 if emotion == "neutral" else _intensity(level, rng)
            n = int(rng.integers(frames[0], frames[1] + 1))
            clip, marks = render_clip(identities[actor], emotion, intensity, n, size, rng)
            name = f"{1001 + actor}_{sentence}_{codes[emotion]}_{level}"
            write_video(tmp / "VideoFlash" / f"{name}.mp4", clip)
            np.save(tmp / "Landmarks" / f"{name}.npy", marks)
            votes = [_vote(emotion, intensity, rng, tie_rate) for tie_rate in (0.06, 0.05, 0.04)]
            rows.append({"FileName": name, "VoiceVote": votes[0][0], "VoiceLevel": votes[0][1],
                         "FaceVote": votes[1][0], "FaceLevel": votes[1][1],
                         "MultiModalVote": votes[2][0], "MultiModalLevel": votes[2][1]})
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

    return _generate(root, seed, "cremad", write)


def demo_msp_improv(root: str | Path, seed: int = 0, per_speaker: int = 4, size: int = 112,
                    frames: tuple[int, int] = (16, 40)) -> Path:
    """Write a 4-class MSP-IMPROV-like corpus: 6 sessions x (female, male) actors, dyadic improvisation names.

    Layout: Video/session<k>/MSP-IMPROV-S<nn><T>-<G><0k>-<scenario>-<turn>.mp4, Landmarks/<clip>.npy and
    labels.csv (FileName, EmoClass in N/H/S/A: the perceived label, which differs from the target T sometimes);
    `read_msp_improv` reads it. Expressions are weaker than in the CREMA-D demo (spontaneous speech).
    """
    letters = {v: k for k, v in MSP_IMPROV_CODES.items()}

    def write(tmp: Path, seed: int) -> dict:
        (tmp / "Landmarks").mkdir(parents=True)
        rows = []
        jobs = [(session, gender, e, k) for session in range(1, 7) for gender in "FM" for e in MSP_IMPROV
                for k in range(per_speaker)]
        identities = {(s, g): random_identity(np.random.default_rng([seed, 6, s, ord(g)]))
                      for s in range(1, 7) for g in "FM"}
        for session, gender, emotion, k in tqdm(jobs, desc="demo MSP-IMPROV", leave=False):
            rng = np.random.default_rng([seed, 7, session, ord(gender), MSP_IMPROV.index(emotion), k])
            intensity = 0.0 if emotion == "neutral" else float(np.clip(rng.beta(2, 2) * 1.1, 0.15, 1.1))
            perceived = emotion if rng.random() < 0.85 else str(rng.choice([e for e in MSP_IMPROV if e != emotion]))
            scenario = str(rng.choice(["S", "P", "R", "T"], p=[0.5, 0.3, 0.1, 0.1]))
            other = "M" if gender == "F" else "F"
            name = (f"MSP-IMPROV-S{k + 1:02d}{letters[emotion]}-{gender}{session:02d}-{scenario}-"
                    f"{gender}{other}{MSP_IMPROV.index(emotion) + 1:02d}")
            n = int(rng.integers(frames[0], frames[1] + 1))
            clip, marks = render_clip(identities[(session, gender)], emotion, intensity, n, size, rng)
            folder = tmp / "Video" / f"session{session}"
            folder.mkdir(parents=True, exist_ok=True)
            write_video(folder / f"{name}.mp4", clip)
            np.save(tmp / "Landmarks" / f"{name}.npy", marks)
            rows.append({"FileName": name, "EmoClass": letters[perceived]})
        write_csv(pd.DataFrame(rows), tmp / "labels.csv")
        return dict(clips=len(rows), speakers=12, sessions=6, size=size, frames=list(frames))

    return _generate(root, seed, "msp_improv", write)
