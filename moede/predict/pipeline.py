"""Emotions of face videos and photos from a bundle: align (largest face) -> the eight experts once per frame,
batched -> MoEDE over the whole clip and over sliding windows (a timeline); photos -> the SFER."""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from moede.align.batch import IMAGE_SUFFIXES, read_rgb
from moede.align.face import align_face, eye_angle, eye_centres, warp_face
from moede.align.landmarks import Box, as_rgb, largest_confident, predict_landmarks, rect_to_box
from moede.align.models import face_detector
from moede.align.video import FrameLandmarker, VideoReadError, nearest_detected, read_frames
from moede.data.colour import as_colour
from moede.errors import InputDataError
from moede.models.lora import plain_expert
from moede.features.extract import SequentialExperts, extract_clip_features, fast_extractor, frames_to_tensor
from moede.predict.bundle import Bundle, bundle_from_run, load_bundle
from moede.predict.timeline import window_spans

PHOTO_DETECT_SCALE = 1024
"""Longest side (pixels) of the copy of a photo the face detector sees (videos use moede.align.video's default)."""
VIDEO_SUFFIXES = (".mp4", ".avi", ".flv", ".mov", ".mkv", ".webm", ".mpg", ".mpeg", ".m4v", ".wmv", ".3gp")
"""Video files a folder scan picks up (with IMAGE_SUFFIXES); a file named on the command line is tried whatever its
suffix."""
CROP_EYES = (0.15, 0.7)
"""Inter-ocular distance, as a fraction of a photo's width, that dlib's landmarks inside a whole photo taken as the
face must have (with both eyes inside it and the eye line within CROP_TILT degrees) to be used for the alignment."""
CROP_TILT = 30.0
"""The largest tilt (degrees) of the eye line of a whole photo's landmarks that crop_landmarks accepts."""


class PredictError(InputDataError):
    """An input file cannot be predicted; `status` says why in the summary table: missing, empty, unreadable or
    no_face (a photo without a face found, unless predicted with crops)."""

    def __init__(self, message: str, status: str = "unreadable") -> None:
        super().__init__(message)
        self.status = status


@dataclass
class AlignedClip:
    """The processed frames of a video (every frame_step-th), aligned on the largest face."""

    crops: np.ndarray  # (T, size, size, 3) uint8 RGB; frames without a face use the nearest face's landmarks
    face: np.ndarray  # (T,) bool: a face was found in this very frame
    boxes: np.ndarray  # (T, 4) x, y, w, h of the landmarks' hull in the video frame
    frame_index: np.ndarray  # (T,) index of each processed frame in the video
    video_fps: float
    frame_step: int

    @property
    def fps(self) -> float:
        """Rate of the processed frames."""
        return self.video_fps / self.frame_step


@dataclass
class Prediction:
    """What `predict` finds in one file: the per-window (and whole-clip, or photo) table and the per-frame table."""

    path: Path
    kind: str  # "video" or "photo"
    table: pd.DataFrame  # one row per window plus span="clip" (video), or one span="photo" row
    frames: pd.DataFrame  # per processed frame: time, face found, each expert's firing (and the FTFE's classes)
    thumbnails: list[tuple[float, np.ndarray]]  # (time s, aligned crop) for the figure's strip
    clip: AlignedClip | None
    note: str | None
    status: str = "ok"  # "crop": a photo in which dlib found no face, taken whole as the face (predict crops=True)

    @property
    def label(self) -> str:
        """The whole-clip (or photo) prediction."""
        return str(self.table.loc[self.table["span"] != "window", "prediction"].iloc[0])


def video_fps(path: Path) -> float:
    """The frame rate OpenCV reports for a video (25 with a warning when it reports none)."""
    capture = cv2.VideoCapture(str(path))
    fps = capture.get(cv2.CAP_PROP_FPS)
    capture.release()
    if not fps or not np.isfinite(fps) or fps <= 0:
        warnings.warn(f"{path}: no frame rate in the file; assuming 25 frames/s for the time stamps", stacklevel=2)
        return 25.0
    return float(fps)


def _hull(points: np.ndarray) -> np.ndarray:
    """The (x, y, w, h) box around (68, 2) landmarks."""
    low, high = points.min(axis=0), points.max(axis=0)
    return np.array([low[0], low[1], high[0] - low[0], high[1] - low[1]], dtype=np.float32)


def align_clip(path: Path, size: int, frame_step: int = 1, fill: str = "black") -> AlignedClip:
    """Align every `frame_step`-th frame of a video on its largest face (dlib, tracked between detections); frames
    without a face borrow the nearest face's landmarks and are marked in `face`."""
    landmarker = FrameLandmarker()
    crops: list[np.ndarray | None] = []
    points: list[np.ndarray | None] = []
    pending: dict[int, np.ndarray] = {}
    indices = []
    for index, frame in enumerate(read_frames(path)):
        if index % frame_step:
            continue
        found, _ = landmarker(frame)
        indices.append(index)
        points.append(found)
        if found is None:
            pending[len(crops)] = frame
            crops.append(None)
        else:
            crops.append(warp_face(frame, found, size, fill)[0])
    face = np.array([p is not None for p in points])
    if not face.any():
        raise PredictError(f"no face found in any of the {len(face)} processed frames of video {path}; "
                           "use a video with a visible frontal face", status="no_face")
    donors = nearest_detected(face)
    for position, frame in pending.items():
        crops[position] = warp_face(frame, points[donors[position]], size, fill)[0]
    boxes = np.stack([_hull(points[d]) for d in donors])
    return AlignedClip(np.stack(crops), face, boxes, np.asarray(indices), video_fps(path), frame_step)


def find_faces(image: np.ndarray, max_side: int | None = PHOTO_DETECT_SCALE) -> tuple[Box | None, int]:
    """The largest confident frontal face box of an RGB image (None when none) and how many confident faces dlib
    finds, detecting on a copy at most `max_side` wide (retried once with 2x upsampling when none is found)."""
    scale = 1.0 if max_side is None else min(1.0, max_side / max(image.shape[:2]))
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else image
    for upsample in (0, 1):
        rects, scores, _ = face_detector().run(small, upsample, 0.0)
        if len(rects):
            box = np.asarray(rect_to_box(largest_confident(list(rects), list(scores)))) / scale
            return tuple(box.tolist()), sum(s >= max(scores) / 2 for s in scores)
    return None, 0


def crop_landmarks(image: np.ndarray) -> np.ndarray | None:
    """dlib's 68 landmarks inside a whole RGB photo taken as the face box, or None when they do not look like a face
    (eyes outside the photo, too close together or too far apart for CROP_EYES, tilted beyond CROP_TILT)."""
    height, width = image.shape[:2]
    landmarks = predict_landmarks(image, (0, 0, width, height))
    eyes = np.stack(eye_centres(landmarks))
    spread = float(np.linalg.norm(eyes[1] - eyes[0])) / width
    inside = bool(((eyes >= 0) & (eyes <= [width, height])).all())
    level = abs(eye_angle(landmarks)) <= CROP_TILT
    return landmarks if inside and level and CROP_EYES[0] <= spread <= CROP_EYES[1] else None


def as_face_crop(image: np.ndarray, size: int, fill: str = "black") -> tuple[np.ndarray, str]:
    """A photo that is already a face crop as a size x size face: aligned on dlib's landmarks inside the whole photo
    when they look like a face (crop_landmarks), else the photo resized as it is; and which of the two, in words."""
    taken = "no face found: the whole photo taken as the face"
    landmarks = crop_landmarks(image)
    if landmarks is not None:
        return warp_face(image, landmarks, size, fill)[0], f"{taken}, aligned on dlib's landmarks inside it"
    return cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA), f"{taken}, resized as it is"


class Predictor:
    """A bundle's models ready to run: the experts as one fast extractor, their heads, MoEDE, SFER (and FTFE);
    `crops` takes a photo in which dlib finds no face as an aligned face crop (status 'crop') instead of failing."""

    def __init__(self, bundle: Bundle, device: str = "cpu", batch_size: int = 64, crops: bool = False) -> None:
        self.bundle, self.device, self.batch_size, self.crops = bundle, device, batch_size, crops
        experts = [plain_expert(expert) for expert in bundle.experts]  # LoRA experts run merged (same outputs)
        self.extractor = SequentialExperts([expert.features for expert in experts]).eval().to(device)
        self.heads = [expert.classifier.to(device) for expert in experts]
        self.moede = bundle.moede.to(device)
        self.sfer = bundle.sfer.to(device)
        # the FTFE's experts run as SequentialExperts (shared frozen blocks once), not as its grouped-conv bank:
        # the same probabilities up to float rounding, faster on CPU (moede.features.extract.SequentialExperts)
        self.ftfe = None if bundle.ftfe is None else \
            torch.nn.Sequential(fast_extractor(bundle.ftfe.bank), bundle.ftfe.head).eval().to(device)

    @torch.inference_mode()
    def features(self, crops: np.ndarray) -> torch.Tensor:
        """The eight experts' features of aligned crops, all experts per batch of frames: (T, 8, 1280), rounded to
        float16 as in the training features."""
        normalisation = self.bundle.normalisation("experts")
        return torch.from_numpy(extract_clip_features(self.extractor, as_colour(crops, self.bundle.colour),
                                                      self.batch_size, self.device, normalisation)).float()

    @torch.inference_mode()
    def firing(self, features: torch.Tensor) -> np.ndarray:
        """How strongly each expert fires on each frame: its probability of its own emotion, (T, 8)."""
        features = features.to(self.device)
        return torch.stack([torch.softmax(head(features[:, e]), dim=1)[:, 1] for e, head in enumerate(self.heads)],
                           dim=1).cpu().numpy()

    @torch.inference_mode()
    def moede_probabilities(self, features: torch.Tensor, spans: pd.DataFrame) -> np.ndarray:
        """MoEDE's class probabilities of each span (rows with first, stop) of a clip's features, `batch_size` spans
        at a time: (n_spans, C)."""
        bounds = list(zip(spans["first"], spans["stop"]))
        out = []
        for i in range(0, len(bounds), self.batch_size):
            chunk = bounds[i:i + self.batch_size]
            x = torch.nn.utils.rnn.pad_sequence([features[a:b] for a, b in chunk], batch_first=True)
            lengths = torch.tensor([b - a for a, b in chunk])
            out.append(torch.softmax(self.moede(x.to(self.device), lengths).logits, dim=1).cpu())
        return torch.cat(out).numpy()

    @torch.inference_mode()
    def image_probabilities(self, model: torch.nn.Module, crops: np.ndarray, normalisation: str) -> np.ndarray:
        """Class probabilities of a static classifier (SFER or FTFE) for aligned crops, in batches: (T, C)."""
        x = frames_to_tensor(as_colour(crops, self.bundle.colour), self.bundle.normalisation(normalisation))
        return torch.cat([torch.softmax(model(x[i:i + self.batch_size].to(self.device)), dim=1).cpu()
                          for i in range(0, len(x), self.batch_size)]).numpy()

    def default_window(self) -> float:
        """The training clips' length in seconds at 30 frames/s (2 s when they were whole videos)."""
        alignment = self.bundle.meta["alignment"]
        return alignment["max_frames"] * alignment["frame_step"] / 30 if alignment["max_frames"] else 2.0

    def predict_video(self, path: Path, window_s: float | None = None, stride_s: float | None = None) -> Prediction:
        """The timeline of one video: MoEDE per window and over the whole clip, the experts' firing per frame."""
        clip = align_clip(path, self.bundle.image_size, self.bundle.meta["alignment"]["frame_step"], self.bundle.fill)
        features = self.features(clip.crops)
        window_s = window_s or self.default_window()
        spans = window_spans(len(features), clip.fps, window_s, stride_s or window_s / 2)
        whole = pd.DataFrame({"first": [0], "stop": [len(features)], "start_s": [0.0],
                              "end_s": [len(features) / clip.fps]})
        table = pd.concat([spans.assign(span="window"), whole.assign(span="clip")], ignore_index=True)
        probabilities = self.moede_probabilities(features, table)
        table["face_fraction"] = [clip.face[a:b].mean() for a, b in zip(table["first"], table["stop"])]
        table = _with_classes(table, probabilities, self.bundle.classes)
        frames = pd.DataFrame({"frame": clip.frame_index, "time_s": clip.frame_index / clip.video_fps,
                               "face": clip.face})
        firing = self.firing(features)
        for e, emotion in enumerate(self.bundle.meta["expert_emotions"]):
            frames[f"expert_{emotion}"] = firing[:, e]
        if self.ftfe is not None:
            per_frame = self.image_probabilities(self.ftfe, clip.crops, "ftfe")
            for c, name in enumerate(self.bundle.photo_classes):
                frames[f"ftfe_{name}"] = per_frame[:, c]
        picks = np.unique(np.linspace(0, len(clip.crops) - 1, min(8, len(clip.crops))).round().astype(int))
        thumbs = [(float(frames["time_s"].iloc[i]), clip.crops[i]) for i in picks]
        return Prediction(path, "video", table.assign(file=str(path), status="ok"), frames, thumbs, clip,
                          self.bundle.experts_note)

    def predict_photo(self, path: Path) -> Prediction:
        """The SFER's classes and the experts' firing for the largest face of a photo (warns when there are more);
        with `crops`, a photo without a face found is taken whole as the face (status 'crop')."""
        image = read_rgb(path)
        if image is None:
            raise PredictError(f"OpenCV cannot decode image {path}; is it an intact image file?")
        image = as_rgb(image)
        box, faces = find_faces(image)
        status, note = "ok", None
        if box is None and not self.crops:
            raise PredictError(f"no face found in photo {path}; use a photo with a visible frontal face, or if it "
                               "is already a face crop, predict with --crops (crops=True)", status="no_face")
        if faces > 1:
            warnings.warn(f"{path}: {faces} faces found; predicting the largest", stacklevel=2)
        if box is None:
            aligned, note = as_face_crop(image, self.bundle.image_size, self.bundle.fill)
            status = "crop"
        else:
            aligned = align_face(image, box=box, size=self.bundle.image_size, source=path, fill=self.bundle.fill).image
        crops = aligned[None]
        probabilities = self.image_probabilities(self.sfer, crops, "sfer")
        table = _with_classes(pd.DataFrame({"span": ["photo"], "faces": [faces]}), probabilities,
                              self.bundle.photo_classes)
        firing = self.firing(self.features(crops))
        frames = pd.DataFrame({"frame": [0], "time_s": [0.0], "face": [status == "ok"]})  # dlib found it
        for e, emotion in enumerate(self.bundle.meta["expert_emotions"]):
            frames[f"expert_{emotion}"] = firing[:, e]
        return Prediction(path, "photo", table.assign(file=str(path), status=status), frames, [(0.0, aligned)], None,
                          note, status)

    def predict_file(self, path: Path, window_s: float | None = None, stride_s: float | None = None) -> Prediction:
        """A photo (by its suffix) or a video."""
        if not path.is_file():
            raise PredictError(f"{path} does not exist", status="missing")
        if path.stat().st_size == 0:
            raise PredictError(f"{path} is empty (0 bytes); give a photo or a video", status="empty")
        if path.suffix.lower() in IMAGE_SUFFIXES:
            return self.predict_photo(path)
        try:
            return self.predict_video(path, window_s, stride_s)
        except VideoReadError as error:
            raise PredictError(str(error)) from None


def _with_classes(table: pd.DataFrame, probabilities: np.ndarray, classes: Sequence[str]) -> pd.DataFrame:
    """Add prob_<class> columns and the arg-max `prediction`."""
    for c, name in enumerate(classes):
        table[f"prob_{name}"] = probabilities[:, c]
    table["prediction"] = np.asarray(classes)[probabilities.argmax(axis=1)]
    return table


def is_media(path: Path) -> bool:
    """Whether a file's suffix is a photo's or a video's (what a folder scan picks up)."""
    return path.suffix.lower() in IMAGE_SUFFIXES + VIDEO_SUFFIXES


def input_files(paths: Sequence[str | Path]) -> tuple[list[Path], list[Path]]:
    """The files to predict: each path, or every photo and video under a folder (recursively, sorted); and the other
    files found under the folders (labels, notes: ignored)."""
    files: list[Path] = []
    ignored: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
            media = [p for p in found if is_media(p)]
            if not media:
                raise PredictError(f"folder {path} holds no photos or videos ({len(found)} other file(s)); give "
                                   f"files ending in {', '.join(IMAGE_SUFFIXES + VIDEO_SUFFIXES)}", status="missing")
            files += media
            ignored += [p for p in found if not is_media(p)]
        elif path.exists():
            files.append(path)
        else:
            raise PredictError(f"{path} does not exist", status="missing")
    return files, ignored


def open_models(model: str | Path | Bundle | None = None, run_dir: str | Path | None = None) -> Bundle:
    """The bundle `model` (a file, or one already loaded), or the models of the run directory `run_dir` (exactly one
    of them)."""
    if (model is None) == (run_dir is None):
        raise PredictError("give either a bundle (--model) or a run directory (--run-dir)")
    if isinstance(model, Bundle):
        return model
    return load_bundle(model) if model is not None else bundle_from_run(run_dir)


def iter_predictions(files: Sequence[Path], predictor: Predictor, window_s: float | None = None,
                     stride_s: float | None = None) -> Iterator[tuple[Path, Prediction | PredictError]]:
    """Predict each file in turn (tqdm bar); a file that fails yields its PredictError instead."""
    for path in tqdm(files, desc="predict", unit="file"):
        try:
            yield path, predictor.predict_file(path, window_s, stride_s)
        except PredictError as error:
            yield path, error
