"""Face alignment on real media: eyes levelled at fixed positions, rotations undone, videos, manifests, errors."""

from __future__ import annotations

from pathlib import Path

import cv2
import dlib
import numpy as np
import pandas as pd
import pytest

import moede.align.batch as batch
import moede.align.face as face_module
import moede.align.landmarks as landmarks_module
from moede.align import (
    EYE_POSITIONS,
    NoFaceError,
    VideoReadError,
    align_face,
    align_folder,
    align_images,
    align_video,
    align_video_to_folder,
    eye_angle,
    eye_centres,
    landmark_model_path,
    sample_photo,
    sample_video_path,
)
from moede.align.batch import text_to_landmarks
from moede.align.video import nearest_detected

SIZE = 112  # output side for cheap checks
CHECK = 224  # output side where faces are re-detected (dlib's HOG window is 80 px: faces need some room)


def target_eyes(size: int) -> np.ndarray:
    """Where the eye centres must land in a size x size output."""
    return np.array(EYE_POSITIONS, dtype=np.float64) * size


def redetected_eyes(image: np.ndarray) -> tuple[np.ndarray, float]:
    """Detect the face again on an aligned crop; return its eye centres (2, 2) and eye-line angle."""
    again = align_face(image, size=SIZE)
    return np.stack(eye_centres(again.source_landmarks)), eye_angle(again.source_landmarks)


def rotate(image: np.ndarray, degrees: float) -> np.ndarray:
    """Rotate an image about its centre (counter-clockwise for positive degrees), keeping its size."""
    h, w = image.shape[:2]
    return cv2.warpAffine(image, cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0), (w, h))


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return sample_photo()


@pytest.fixture(scope="module")
def photo_landmarks(photo: np.ndarray) -> np.ndarray:
    return align_face(photo, size=SIZE).source_landmarks


@pytest.fixture(scope="module")
def carphone_tracked():
    return align_video(sample_video_path(), size=64)


@pytest.fixture(scope="module")
def carphone_every_frame():
    return align_video(sample_video_path(), size=64, detect_every=1)


def write_video(path: Path, frames: list[np.ndarray]) -> Path:
    """Write RGB frames as an MJPG .avi."""
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (w, h))
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def test_landmark_model_found_in_installed_package_and_bad_path_named(tmp_path: Path) -> None:
    path = landmark_model_path()
    assert path.name == "shape_predictor_68_face_landmarks.dat" and path.stat().st_size > 1_000_000
    missing = tmp_path / "nope.dat"
    with pytest.raises(FileNotFoundError, match="nope.dat"):
        landmark_model_path(missing)


def test_photo_eyes_level_at_fixed_positions(photo: np.ndarray) -> None:
    aligned = align_face(photo, size=CHECK)
    assert aligned.image.shape == (CHECK, CHECK, 3) and aligned.image.dtype == np.uint8 and aligned.detected
    assert abs(eye_angle(aligned.source_landmarks)) > 1.0  # the photo's eyes are not level to begin with
    np.testing.assert_allclose(np.stack(eye_centres(aligned.landmarks)), target_eyes(CHECK), atol=1e-3)
    eyes, angle = redetected_eyes(aligned.image)
    assert abs(angle) < 1.0
    np.testing.assert_allclose(eyes, target_eyes(CHECK), atol=2.0)


@pytest.mark.parametrize("degrees", [20, -20])
def test_rotated_photo_is_aligned_back(photo: np.ndarray, degrees: float) -> None:
    rotated = rotate(photo, degrees)
    aligned = align_face(rotated, size=CHECK)
    assert abs(eye_angle(aligned.source_landmarks)) > 15  # the detector saw a tilted face
    eyes, angle = redetected_eyes(aligned.image)
    assert abs(angle) < 1.5
    np.testing.assert_allclose(eyes, target_eyes(CHECK), atol=2.5)


def test_real_photos_share_eye_positions(shared_data: Path) -> None:
    images = sorted((shared_data / "facial_expressions" / "images").glob("*.jpg"))[:80:4]
    assert len(images) == 20
    moved, redetected, angles = [], [], []
    for path in images:
        gray = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)  # these photos are grayscale: 2-D input
        try:
            aligned = align_face(gray, size=CHECK, source=path)
        except NoFaceError:
            continue
        assert aligned.image.shape == (CHECK, CHECK, 3)
        moved.append(np.stack(eye_centres(aligned.landmarks)))
        try:  # strongly turned heads are zoomed in (short eye distance) and may defeat the frontal detector
            eyes, angle = redetected_eyes(aligned.image)
        except NoFaceError:
            continue
        redetected.append(eyes)
        angles.append(abs(angle))
    assert len(moved) >= 16 and len(redetected) >= 0.85 * len(moved)
    np.testing.assert_allclose(np.stack(moved), np.broadcast_to(target_eyes(CHECK), (len(moved), 2, 2)), atol=1e-3)
    assert np.median(angles) < 0.5 and np.mean(np.array(angles) < 1.0) >= 0.85
    deviation = np.abs(np.stack(redetected) - target_eyes(CHECK)).max(axis=(1, 2))  # worst coordinate, in pixels
    assert np.median(deviation) < 1.5 and np.mean(deviation < 3.0) >= 0.85


def test_given_landmarks_skip_detection(photo: np.ndarray, photo_landmarks: np.ndarray, monkeypatch) -> None:
    detected = align_face(photo, size=SIZE)

    def no_detector() -> None:
        raise AssertionError("the detector must not run when landmarks are given")

    monkeypatch.setattr(landmarks_module, "face_detector", no_detector)
    blank = np.zeros_like(photo)
    aligned = align_face(blank, landmarks=photo_landmarks, size=SIZE)
    assert not aligned.detected and aligned.image.shape == (SIZE, SIZE, 3) and aligned.image.max() == 0
    np.testing.assert_allclose(np.stack(eye_centres(aligned.landmarks)), target_eyes(SIZE), atol=1e-3)
    on_photo = align_face(photo, landmarks=photo_landmarks, size=SIZE)
    np.testing.assert_array_equal(on_photo.image, detected.image)


def test_given_box_runs_only_the_shape_predictor(photo: np.ndarray, photo_landmarks: np.ndarray, monkeypatch) -> None:
    box = landmarks_module.detect_face(photo)
    assert box is not None
    monkeypatch.setattr(face_module, "detect_face", lambda *a, **k: pytest.fail("detector ran despite a box"))
    aligned = align_face(photo, box=box, size=SIZE)
    np.testing.assert_allclose(aligned.source_landmarks, photo_landmarks, atol=0.5)


def test_weak_larger_detections_lose_to_a_confident_face() -> None:
    face, false_positive = dlib.rectangle(10, 10, 97, 97), dlib.rectangle(100, 100, 205, 205)
    assert landmarks_module.largest_confident([false_positive, face], [0.05, 1.2]) == face
    bigger_face = dlib.rectangle(0, 0, 150, 150)
    assert landmarks_module.largest_confident([face, bigger_face], [1.2, 0.9]) == bigger_face


def test_blank_image_raises_no_face_error_naming_file() -> None:
    with pytest.raises(NoFaceError, match="blank.png"):
        align_face(np.full((200, 200), 128, np.uint8), source="blank.png")
    assert issubclass(NoFaceError, ValueError)
    with pytest.raises(ValueError, match="uint8"):
        align_face(np.zeros((50, 50, 3), np.float32))


def test_carphone_video_aligns_with_few_reused(carphone_tracked, carphone_every_frame) -> None:
    for video in (carphone_tracked, carphone_every_frame):
        assert video.frames.shape == (120, 64, 64, 3) and video.frames.dtype == np.uint8
        assert video.landmarks.shape == (120, 68, 2) and np.isfinite(video.landmarks).all()
        assert video.n_reused == int((~video.detected).sum()) <= 5
        angles = [eye_angle(cv2.transform(p[None].astype(np.float64), face_module.eye_transform(p, 64))[0])
                  for p in video.landmarks]
        assert np.abs(angles).max() < 1e-3
    assert not carphone_every_frame.tracked.any()
    assert carphone_tracked.tracked.sum() >= 60  # most frames skipped the detector


def test_tracking_matches_per_frame_detection(carphone_tracked, carphone_every_frame) -> None:
    both = carphone_tracked.detected & carphone_every_frame.detected & carphone_tracked.tracked
    assert both.sum() >= 60
    left, right = eye_centres(carphone_every_frame.landmarks[0])
    interocular = float(np.linalg.norm(right - left))
    error = np.linalg.norm(carphone_tracked.landmarks[both] - carphone_every_frame.landmarks[both], axis=-1)
    assert error.mean() / interocular < 0.05


def test_reused_frames_take_the_nearest_detected_landmarks(carphone_every_frame) -> None:
    assert nearest_detected(np.array([False, True, False, False, True, False])).tolist() == [1, 1, 1, 4, 4, 4]
    video = carphone_every_frame
    donors = nearest_detected(video.detected)
    np.testing.assert_array_equal(video.landmarks, video.landmarks[donors])


def test_cremad_flv_clip_aligns(shared_data: Path) -> None:
    clip = shared_data / "crema-d" / "videos" / "1001_DFA_HAP_XX.flv"
    video = align_video(clip, size=CHECK, max_frames=20)
    assert video.frames.shape == (20, CHECK, CHECK, 3) and video.n_reused == 0 and video.source == str(clip)
    eyes, angle = redetected_eyes(video.frames[10])
    assert abs(angle) < 1.5
    np.testing.assert_allclose(eyes, target_eyes(CHECK), atol=3.0)


def test_missing_or_corrupt_video_raises_video_read_error(tmp_path: Path) -> None:
    with pytest.raises(VideoReadError, match="absent.flv"):
        align_video(tmp_path / "absent.flv")
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(VideoReadError, match="corrupt.mp4"):
        align_video(corrupt)


def test_video_without_face_raises_and_given_landmarks_fill_gaps(tmp_path: Path, photo_landmarks) -> None:
    blank = write_video(tmp_path / "blank.avi", [np.full((144, 176, 3), 90, np.uint8)] * 4)
    with pytest.raises(NoFaceError, match="blank.avi"):
        align_video(blank, size=32)
    given = np.repeat((photo_landmarks * 0.3)[None], 4, axis=0)
    given[[0, 3]] = np.nan
    video = align_video(blank, size=32, landmarks=given)
    assert video.n_reused == 2 and video.detected.tolist() == [False, True, True, False]
    with pytest.raises(ValueError, match="cover 2 frames"):
        align_video(blank, size=32, landmarks=given[:2])


def no_temp_files(folder: Path) -> bool:
    return not [p for p in folder.rglob("*") if ".tmp" in p.name]


def test_align_images_writes_manifest_and_skips_finished(tmp_path: Path, photo: np.ndarray, monkeypatch) -> None:
    src = tmp_path / "src"
    src.mkdir()
    paths = {"face": src / "face.png", "tilted": src / "tilted.png", "blank": src / "blank.png"}
    for name, image in (("face", photo), ("tilted", rotate(photo, 20)), ("blank", np.zeros_like(photo))):
        cv2.imwrite(str(paths[name]), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    frame = pd.DataFrame({"sample_id": ["a/face", "tilted", "blank"], "path": [str(p) for p in paths.values()],
                          "label": ["happy", "happy", "neutral"], "speaker": ["s1", "s1", "s2"],
                          "split": ["train", "train", "dev"]})
    frame.attrs["source"] = "test"
    out = tmp_path / "aligned"
    with pytest.warns(UserWarning, match="1 image"):
        result = align_images(frame, out, size=SIZE)
    assert result["sample_id"].tolist() == ["a/face", "tilted"] and result.attrs["no_face"] == 1
    assert result.attrs["source"] == "test"
    assert result["source_path"].tolist() == [str(paths["face"]), str(paths["tilted"])]
    for crop in result["path"]:
        image = cv2.imread(crop)
        assert image.shape == (SIZE, SIZE, 3)
    manifest = pd.read_csv(out / "manifest.csv", keep_default_na=False)
    assert manifest.set_index("sample_id")["status"].to_dict() == {"a/face": "detected", "tilted": "detected",
                                                                   "blank": "no_face"}
    assert text_to_landmarks(manifest["landmarks"][0]).shape == (68, 2)
    assert no_temp_files(out)

    monkeypatch.setattr(batch, "align_face", lambda *a, **k: pytest.fail("a finished item was aligned again"))
    with pytest.warns(UserWarning):
        again = align_images(frame, out, size=SIZE)
    pd.testing.assert_frame_equal(again, result)
    assert no_temp_files(out)


def test_align_images_uses_given_landmarks_and_folder(tmp_path: Path, photo: np.ndarray, photo_landmarks) -> None:
    src = tmp_path / "src" / "sub"
    src.mkdir(parents=True)
    cv2.imwrite(str(src / "face.jpg"), cv2.cvtColor(photo, cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(src / "blank.jpg"), np.zeros((64, 64, 3), np.uint8))
    frame = pd.DataFrame({"sample_id": ["blank-given"], "path": [str(src / "blank.jpg")],
                          "landmarks": [photo_landmarks * 0.1]})
    given = align_images(frame, tmp_path / "given", size=32)
    assert len(given) == 1 and given.attrs["no_face"] == 0
    assert pd.read_csv(tmp_path / "given" / "manifest.csv")["status"].tolist() == ["given"]
    with pytest.warns(UserWarning):
        folder = align_folder(tmp_path / "src", tmp_path / "folder", size=32)
    assert folder["sample_id"].tolist() == ["sub/face.jpg"] and folder.attrs["no_face"] == 1
    with pytest.raises(FileNotFoundError, match="nowhere"):
        align_folder(tmp_path / "nowhere", tmp_path / "x")


def test_dataset_and_dlib_landmarks_give_the_same_crop_when_the_dataset_gives_dlib_s(
        tmp_path: Path, photo: np.ndarray, photo_landmarks: np.ndarray) -> None:
    from moede.data.schema import landmarks_from

    cv2.imwrite(str(tmp_path / "face.png"), cv2.cvtColor(photo, cv2.COLOR_RGB2BGR))
    shifted = photo_landmarks + np.float32([6, -4])  # a corpus whose annotators put the landmarks elsewhere
    frame = pd.DataFrame({"sample_id": ["as_dlib", "shifted"], "path": [str(tmp_path / "face.png")] * 2,
                          "landmarks": [photo_landmarks, shifted], "box": [(0.0, 0.0, 5.0, 5.0)] * 2})
    frame.attrs["source"] = "kept"
    crops = {}
    for source in ("dataset", "dlib"):
        rows = landmarks_from(frame, source)
        assert rows.attrs["source"] == "kept" and ("landmarks" in rows) == (source == "dataset")
        aligned = align_images(rows, tmp_path / source, size=SIZE, workers=1)
        manifest = pd.read_csv(tmp_path / source / "manifest.csv").set_index("sample_id")
        assert set(manifest["status"]) == ({"given"} if source == "dataset" else {"detected"})
        crops[source] = {sid: cv2.imread(path) for sid, path in zip(aligned["sample_id"], aligned["path"])}
    np.testing.assert_array_equal(crops["dataset"]["as_dlib"], crops["dlib"]["as_dlib"])
    np.testing.assert_array_equal(crops["dlib"]["shifted"], crops["dlib"]["as_dlib"])
    assert np.abs(crops["dataset"]["shifted"].astype(int) - crops["dlib"]["shifted"]).mean() > 5
    with pytest.raises(ValueError, match="align_landmarks"):
        landmarks_from(frame, "manual")


def test_align_video_to_folder_writes_frames_and_manifest(tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "carphone"
    manifest = align_video_to_folder(sample_video_path(), out, size=32, max_frames=12)
    assert manifest["frame"].tolist() == list(range(12))
    assert set(manifest["status"]) <= {"detected", "tracked", "reused"} and manifest["status"][0] == "detected"
    assert sorted(p.name for p in out.glob("*.png")) == [f"{i:06d}.png" for i in range(12)]
    assert (out / "manifest.csv").is_file() and no_temp_files(out)
    monkeypatch.setattr(batch, "align_video", lambda *a, **k: pytest.fail("a finished video was aligned again"))
    again = align_video_to_folder(sample_video_path(), out, size=32, max_frames=12)
    assert again["crop"].tolist() == manifest["crop"].tolist()


def test_align_images_in_two_processes_matches_one(tmp_path: Path, photo: np.ndarray, photo_landmarks) -> None:
    cv2.imwrite(str(tmp_path / "face.png"), cv2.cvtColor(photo, cv2.COLOR_RGB2BGR))
    n = 160  # enough rows for align_images to use two worker processes
    frame = pd.DataFrame({"sample_id": [f"face{i:03d}" for i in range(n)], "path": [str(tmp_path / "face.png")] * n,
                          "landmarks": [photo_landmarks + i % 3 for i in range(n)]})
    one = align_images(frame, tmp_path / "one", size=32, workers=1)
    two = align_images(frame, tmp_path / "two", size=32, workers=2)
    assert len(one) == len(two) == n
    for a, b in zip(one["path"], two["path"]):
        assert np.array_equal(cv2.imread(a), cv2.imread(b))
    manifests = [pd.read_csv(tmp_path / name / "manifest.csv").drop(columns="crop") for name in ("one", "two")]
    pd.testing.assert_frame_equal(*manifests)
