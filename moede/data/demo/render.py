"""Drawing faces with OpenCV: a face image with its landmarks in pixels, lighting, backgrounds and talking clips."""

from __future__ import annotations

import cv2
import numpy as np

from moede.data.demo.face import AUS, Identity, emotion_aus, face_landmarks, pose_transform, random_blend, random_pose

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
    blend, weight = random_blend(emotion, rng)
    aus_apex = emotion_aus(emotion, intensity, rng, blend, weight, noise=0.06)
    envelope = _envelope(n_frames, rng)
    angle, scale, shift = random_pose(rng, size)
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
