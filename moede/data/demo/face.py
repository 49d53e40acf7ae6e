"""The parametric face: identities, emotion action units and the 68 iBUG-order landmarks they move.

Landmarks follow the iBUG-68 index order (jaw 0-16, brows 17-26, nose 27-35, eyes 36-47 with the image-left eye
first, mouth 48-67). An identity fixes the geometry and colours; emotions are action units (brow raise/lower, lid
opening, nose wrinkle, lip corners, lip stretch/press, jaw drop) scaled by an intensity, blended with a second
emotion and noise, so the classes overlap.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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


def random_pose(rng: np.random.Generator, size: int) -> tuple[float, float, tuple[float, float]]:
    """In-plane rotation (+-15 degrees), scale and translation of a head."""
    return rng.uniform(-15, 15), rng.uniform(0.82, 1.12), (rng.uniform(-0.07, 0.07) * size,
                                                          rng.uniform(-0.05, 0.07) * size)


def random_blend(emotion: str, rng: np.random.Generator) -> tuple[str | None, float]:
    """A confusable second expression and its weight (sometimes none)."""
    if rng.random() < 0.5:
        return None, 0.0
    return str(rng.choice(CONFUSIONS[emotion])), float(rng.uniform(0.05, 0.3))

