"""Face alignment as in the paper (Section IV.B): dlib face + 68 landmarks, eyes levelled at fixed positions, crop."""

from moede.align.batch import align_folder, align_images, align_video_to_folder
from moede.align.face import EYE_POSITIONS, AlignedFace, NoFaceError, align_face, eye_angle, eye_centres
from moede.align.models import landmark_model_path
from moede.align.samples import sample_photo, sample_video_path
from moede.align.video import AlignedVideo, VideoReadError, align_video

__all__ = [
    "EYE_POSITIONS",
    "AlignedFace",
    "AlignedVideo",
    "NoFaceError",
    "VideoReadError",
    "align_face",
    "align_folder",
    "align_images",
    "align_video",
    "align_video_to_folder",
    "eye_angle",
    "eye_centres",
    "landmark_model_path",
    "sample_photo",
    "sample_video_path",
]
