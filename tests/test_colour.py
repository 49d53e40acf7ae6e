"""What colour the experts see: the corpus' colour told from its files, frames converted to match."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from moede.data.colour import as_colour, corpus_colour, is_grey


def test_grey_frames_keep_three_equal_channels_and_rgb_frames_are_untouched() -> None:
    frames = np.random.default_rng(0).integers(0, 256, size=(2, 8, 8, 3), dtype=np.uint8)
    grey = as_colour(frames, "grey")
    assert grey.shape == frames.shape and grey.dtype == np.uint8
    assert (grey[..., 0] == grey[..., 1]).all() and (grey[..., 1] == grey[..., 2]).all()
    expected = cv2.cvtColor(frames[0], cv2.COLOR_RGB2GRAY)  # OpenCV's own luma, to within rounding
    assert np.abs(grey[0, ..., 0].astype(int) - expected).max() <= 1
    assert as_colour(frames, "rgb") is frames and not is_grey(frames[0]) and is_grey(grey[0])
    with pytest.raises(ValueError, match="colour must be one of"):
        as_colour(frames, "sepia")


def test_a_corpus_is_grey_when_most_of_its_images_are(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    paths = []
    for i in range(5):
        grey = rng.integers(0, 256, size=(16, 16), dtype=np.uint8)
        paths.append(tmp_path / f"grey{i}.png")
        cv2.imwrite(str(paths[-1]), grey)  # one channel on disk
    paths.append(tmp_path / "grey_in_bgr.png")
    cv2.imwrite(str(paths[-1]), np.repeat(grey[..., None], 3, axis=2))  # grey stored as three channels
    assert corpus_colour([str(p) for p in paths]) == "grey"
    colours = [tmp_path / f"colour{i}.png" for i in range(7)]
    for path in colours:
        cv2.imwrite(str(path), rng.integers(0, 256, size=(16, 16, 3), dtype=np.uint8))
    assert corpus_colour([str(p) for p in [*paths, *colours[:5]]], n=100) == "grey"  # 6 grey of 11
    assert corpus_colour([str(p) for p in [*paths, *colours]], n=100) == "rgb"  # 6 grey of 13


def test_the_shared_faces_are_grey(shared_data: Path) -> None:
    paths = sorted((shared_data / "facial_expressions" / "images").glob("*.jpg"))
    assert corpus_colour([str(p) for p in paths]) == "grey"
