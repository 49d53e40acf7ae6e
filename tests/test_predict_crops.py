"""`moede predict --crops`: photos that are already face crops (no margin for dlib's detector) get a label, status
`crop`, counted in the summary; without the flag a folder of them ends with a hint naming it."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

import moede.predict.pipeline as pipeline
from moede.align import sample_photo
from moede.align.face import find_landmarks
from moede.cli import main
from moede.predict.bundle import export_bundle
from moede.predict.outputs import crops_hint, predict
from test_predict import IMAGE_SIZE, write_untrained_run


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = write_untrained_run(tmp_path_factory.mktemp("crops") / "run")
    return export_bundle(run_dir, run_dir.parent / "model.moede")


def _cut(image: np.ndarray, points: np.ndarray, width: int) -> np.ndarray:
    """The part of `image` inside the box of `points`, resized to `width` pixels wide."""
    (x0, y0), (x1, y1) = points.min(axis=0).astype(int), points.max(axis=0).astype(int)
    tight = image[y0:y1, x0:x1]
    return cv2.resize(tight, (width, round(width * tight.shape[0] / tight.shape[1])), interpolation=cv2.INTER_AREA)


@pytest.fixture(scope="module")
def crops(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three tight crops of one face: the landmarks' hull at 120 px (dlib finds it) and at 32 px, the inner face
    (brows, nose, mouth: no jaw) at 96 px (dlib finds neither of these two)."""
    folder = tmp_path_factory.mktemp("crops") / "faces"
    folder.mkdir()
    photo = sample_photo()
    landmarks = find_landmarks(photo)
    cuts = {"hull_120": (landmarks, 120), "hull_32": (landmarks, 32), "inner_96": (landmarks[27:], 96)}
    for name, (points, width) in cuts.items():
        cv2.imwrite(str(folder / f"{name}.png"), cv2.cvtColor(_cut(photo, points, width), cv2.COLOR_RGB2BGR))
    return folder


def test_with_crops_every_photo_of_a_folder_of_face_crops_gets_a_label(bundle: Path, crops: Path, tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["predict", str(crops), "--model", str(bundle), "--out", str(out), "--crops"]) == 0
    captured = capsys.readouterr()
    summary = pd.read_csv(out / "summary.csv").set_index("file")
    status = summary["status"].rename(lambda f: Path(f).stem)
    assert status.to_dict() == {"hull_120": "ok", "hull_32": "crop", "inner_96": "crop"}
    assert summary["prediction"].notna().all() and np.allclose(summary.filter(like="prob_").sum(axis=1), 1.0)
    assert summary.loc[summary["status"] == "crop", "reason"].str.contains("whole photo taken as the face").all()
    assert "3/3 file(s) predicted (2 photo(s) taken whole as face crops)" in captured.out
    assert "--crops" not in captured.err and (out / "inner_96.png.json").is_file()
    assert pd.read_csv(out / "inner_96.png.frames.csv")["face"].tolist() == [False]  # dlib found none


def test_without_crops_the_folder_ends_with_a_hint_naming_the_flag(bundle: Path, crops: Path, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["predict", str(crops), "--model", str(bundle), "--out", str(out)]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == ("moede predict: 2 of 3 photos had no face found; if they are already face crops (as FER "
                       "corpora are), run again with --crops to take each whole photo as the face")
    assert pd.read_csv(out / "summary.csv")["status"].value_counts().to_dict() == {"no_face": 2, "ok": 1}


def test_the_hint_needs_two_faceless_photos_and_a_tenth_of_them() -> None:
    def rows(faceless: int, total: int) -> list[dict]:
        return [{"kind": "photo", "status": "no_face" if k < faceless else "ok"} for k in range(total)]

    assert crops_hint(rows(1, 5)) is None and crops_hint(rows(2, 30)) is None
    assert crops_hint(rows(2, 20)).startswith("2 of 20 photos had no face found")
    assert crops_hint(rows(3, 3) + [{"kind": "video", "status": "no_face"}]).startswith("3 of 3 photos")


def test_python_predict_takes_crops_and_says_so_in_its_table(bundle: Path, crops: Path) -> None:
    with pytest.raises(pipeline.PredictError, match=r"already a face crop, predict with --crops \(crops=True\)"):
        predict([crops / "inner_96.png"], model=bundle)
    table = predict([crops / "inner_96.png", crops / "hull_120.png"], model=bundle, crops=True)
    assert table["status"].tolist() == ["crop", "ok"] and table["faces"].tolist() == [0, 1]


def test_landmarks_that_do_not_look_like_a_face_leave_the_photo_resized_as_it_is(
        monkeypatch: pytest.MonkeyPatch) -> None:
    photo = _cut(sample_photo(), find_landmarks(sample_photo())[27:], 96)
    face, how = pipeline.as_face_crop(photo, IMAGE_SIZE)
    assert face.shape == (IMAGE_SIZE, IMAGE_SIZE, 3) and how.endswith("aligned on dlib's landmarks inside it")
    level = pipeline.predict_landmarks(photo, (0, 0, photo.shape[1], photo.shape[0]))
    tilted = cv2.transform(level[None], cv2.getRotationMatrix2D((48.0, 40.0), 45, 1.0))[0]
    monkeypatch.setattr(pipeline, "predict_landmarks", lambda image, box: tilted)
    face, how = pipeline.as_face_crop(photo, IMAGE_SIZE)
    assert how.endswith("resized as it is")
    assert np.array_equal(face, cv2.resize(photo, (IMAGE_SIZE, IMAGE_SIZE), interpolation=cv2.INTER_AREA))
