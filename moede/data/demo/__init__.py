"""The embedded default data: small synthetic corpora drawn with OpenCV, written in the real corpora's layouts.

A parametric face (`face`) is drawn by OpenCV (`render`) under head pose (in-plane rotation up to 15 degrees,
scale, translation), illumination and sensor noise, so alignment matters; the corpus writers (`static`, `videos`)
lay the images and clips out as AffectNet, CREMA-D and MSP-IMPROV do, each folder written once (`folder`). Nothing
is downloaded; every corpus is a deterministic function of its seed.
"""

from moede.data.demo.face import AUS, Identity, emotion_aus, face_landmarks, pose_transform, random_identity
from moede.data.demo.folder import DEMO_VERSION, MARKER
from moede.data.demo.render import draw_face, random_background, random_lighting, render_clip
from moede.data.demo.static import STATIC_DEV_PER_CLASS, STATIC_TRAIN_PER_CLASS, demo_static
from moede.data.demo.videos import demo_cremad, demo_msp_improv, write_video

__all__ = [
    "AUS", "DEMO_VERSION", "MARKER", "STATIC_DEV_PER_CLASS", "STATIC_TRAIN_PER_CLASS", "Identity", "demo_cremad",
    "demo_msp_improv", "demo_static", "draw_face", "emotion_aus", "face_landmarks", "pose_transform",
    "random_background", "random_identity", "random_lighting", "render_clip", "write_video",
]
