"""Locate and load (once) dlib's frontal face detector and 68-point shape predictor; nothing is ever downloaded."""

from __future__ import annotations

import functools
import importlib.util
import os
from pathlib import Path

import dlib

LANDMARK_MODEL_NAME = "shape_predictor_68_face_landmarks.dat"
ENV_VAR = "MOEDE_LANDMARK_MODEL"


def landmark_model_path(path: str | os.PathLike[str] | None = None) -> Path:
    """Return the 68-landmark model file: `path`, else $MOEDE_LANDMARK_MODEL, else face_recognition_models' copy."""
    given = path if path is not None else os.environ.get(ENV_VAR)
    if given:
        candidate = Path(given).expanduser()
        if not candidate.is_file():
            raise FileNotFoundError(
                f"landmark model {candidate} does not exist; give the path of dlib's {LANDMARK_MODEL_NAME} "
                "or leave it unset to use the copy in the installed face-recognition-models package"
            )
        return candidate.resolve()
    # find_spec only locates the package: importing face_recognition_models needs pkg_resources.
    spec = importlib.util.find_spec("face_recognition_models")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        candidate = Path(location) / "models" / LANDMARK_MODEL_NAME
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"dlib landmark model {LANDMARK_MODEL_NAME} not found: install face-recognition-models==0.3.0 "
        f"(pip install -r requirements.txt) or pass its path (argument or ${ENV_VAR})"
    )


@functools.lru_cache(maxsize=1)
def face_detector() -> dlib.fhog_object_detector:
    """Return dlib's HOG frontal face detector (built once per process)."""
    return dlib.get_frontal_face_detector()


@functools.lru_cache(maxsize=4)
def _load_predictor(path: str) -> dlib.shape_predictor:
    return dlib.shape_predictor(path)


def shape_predictor(path: str | os.PathLike[str] | None = None) -> dlib.shape_predictor:
    """Return the 68-landmark shape predictor for `path` (see landmark_model_path), loaded once per file."""
    return _load_predictor(str(landmark_model_path(path)))
