"""Where the experts look: the in-face share of a CAM, Grad-CAM on a toy model, face masks, the alignment fill."""

from __future__ import annotations

import contextlib
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from moede.align import align_face, align_images, sample_photo
from moede.align.face import FILLS, warp_face
from moede.align.masks import aligned_masks, crop_mask, hull_mask, with_forehead
from moede.evaluation.cams import face_shares, grad_cams, in_face_share, pooled_share

SIZE = 64


def _square_mask(size: int = SIZE, low: int = 16, high: int = 48) -> np.ndarray:
    mask = np.zeros((size, size), dtype=bool)
    mask[low:high, low:high] = True
    return mask


def test_in_face_share_of_evidence_inside_and_outside_a_known_mask() -> None:
    mask = _square_mask()
    inside, outside, half = np.zeros((SIZE, SIZE)), np.zeros((SIZE, SIZE)), np.zeros((SIZE, SIZE))
    inside[30:34, 30:34] = 1.0
    outside[0:4, 0:4] = 1.0
    half[30:34, 30:34], half[0:4, 0:4] = 1.0, 1.0
    assert in_face_share(inside, mask) == 1.0
    assert in_face_share(outside, mask) == 0.0
    assert in_face_share(half, mask) == pytest.approx(0.5)
    assert in_face_share(np.ones((SIZE, SIZE)), mask) == pytest.approx(mask.mean())
    assert np.isnan(in_face_share(np.zeros((SIZE, SIZE)), mask))
    assert face_shares(np.stack([inside, outside]), np.stack([mask, mask])).tolist() == [1.0, 0.0]
    # pooled: a faint map outside the face weighs less than a strong one inside
    assert pooled_share(np.stack([inside, 0.25 * outside]), np.stack([mask, mask])) == pytest.approx(0.8)
    with pytest.raises(ValueError, match="same shape"):
        in_face_share(inside, mask[:10])
    with pytest.raises(ValueError, match="non-negative"):
        in_face_share(-inside, mask)


class _BrightSpot(nn.Module):
    """A 2-class toy CNN whose positive logit is the mean of its one feature map: bright pixels raise it."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 1, kernel_size=1))
        with torch.no_grad():
            self.features[0].weight.fill_(1.0)
            self.features[0].bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = torch.relu(self.features(x)).mean(dim=(2, 3))
        return torch.cat([-pooled, pooled], dim=1)


@pytest.mark.parametrize("target", ["positive", "margin"])
def test_grad_cam_finds_the_evidence_inside_or_outside_the_mask(target: str) -> None:
    model, mask = _BrightSpot(), _square_mask()
    images = torch.zeros(2, 3, SIZE, SIZE)
    images[0, :, 28:36, 28:36] = 1.0  # evidence on the face
    images[1, :, 2:10, 2:10] = 1.0  # evidence in the corner
    cams = grad_cams(model, images, model.features[0], target)
    assert cams.maps.shape == (2, SIZE, SIZE) and (cams.maps >= 0).all()
    shares = face_shares(cams.maps, np.stack([mask, mask]))
    assert shares[0] == pytest.approx(1.0) and shares[1] == pytest.approx(0.0)
    assert (cams.probabilities > 0.5).all()  # the positive class wins on both
    with pytest.raises(ValueError, match="unknown CAM target"):
        grad_cams(model, images, model.features[0], "negative")


def test_grad_cam_backward_stops_at_the_layer_with_the_same_maps() -> None:
    from moede.evaluation import cams as module
    from moede.models.backbone import BackboneClassifier

    torch.manual_seed(0)
    model = BackboneClassifier("mobilenet_v2", 2).eval()
    model.features[:3].requires_grad_(False)  # the flags grad_cams finds are the flags it leaves
    flags = [p.requires_grad for p in model.parameters()]
    images = torch.randn(2, 3, 48, 48)
    fast = grad_cams(model, images, model.cam_layer)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(module, "_backward_stops_at", lambda model, layer: contextlib.nullcontext())
        whole = grad_cams(model, images, model.cam_layer)
    assert np.array_equal(fast.maps, whole.maps) and fast.maps.max() > 0
    assert [p.requires_grad for p in model.parameters()] == flags


def test_hull_mask_covers_the_landmarks_polygon() -> None:
    square = np.array([[10, 10], [50, 10], [50, 50], [10, 50], [30, 30]], dtype=np.float32)
    mask = hull_mask(square, SIZE)
    assert mask[30, 30] and mask[11, 11] and not mask[5, 5] and not mask[55, 30]
    assert mask.sum() == pytest.approx(41 * 41, rel=0.05)
    with pytest.raises(ValueError, match="landmarks"):
        hull_mask(np.zeros((2, 2)), SIZE)


@pytest.fixture(scope="module")
def photo_face():
    return align_face(sample_photo(), size=112)


def test_crop_mask_is_the_hull_of_the_aligned_landmarks_and_forehead(photo_face) -> None:
    mask = crop_mask(photo_face.source_landmarks, 112)
    assert np.array_equal(mask, hull_mask(with_forehead(photo_face.landmarks), 112))
    bare = crop_mask(photo_face.source_landmarks, 112, forehead=0.0)
    assert np.array_equal(bare, hull_mask(photo_face.landmarks, 112)) and (bare <= mask).all()
    eyes = photo_face.landmarks[36:48].mean(axis=0).round().astype(int)
    brow_top = int(photo_face.landmarks[17:27, 1].min())
    above = brow_top - int(0.5 * 0.30 * 112)  # half an inter-ocular distance above the brows: forehead
    assert mask[eyes[1], eyes[0]] and mask[above, eyes[0]] and not bare[above, eyes[0]] and not mask[0, 0]


def _border_photo() -> tuple[np.ndarray, np.ndarray]:
    """The astronaut shrunk into the middle of nothing: its aligned crop reaches outside the photo on every side."""
    photo = sample_photo()
    landmarks = align_face(photo, size=112).source_landmarks
    left, top = landmarks.min(axis=0).astype(int) - 5
    right, bottom = landmarks.max(axis=0).astype(int) + 5
    return photo[top:bottom, left:right].copy(), landmarks - np.array([left, top], dtype=np.float32)


@pytest.mark.parametrize("fill", FILLS)
def test_alignment_fill_sets_the_crops_border_pixels(fill: str) -> None:
    photo, landmarks = _border_photo()
    crop = warp_face(photo, landmarks, 112, fill)[0]
    black = warp_face(photo, landmarks, 112, "black")[0]
    assert black[0, 0].tolist() == [0, 0, 0] and black[-1, -1].tolist() == [0, 0, 0]  # outside the photo
    corner = crop[:4, :4].reshape(-1, 3).astype(float)
    if fill == "black":
        assert (corner == 0).all()
    elif fill == "mean":
        assert np.allclose(corner, photo.reshape(-1, 3).mean(axis=0), atol=1)
    else:  # replicate / reflect: the photo's own pixels carried past its edge, not a constant
        outside = crop[black.sum(axis=2) == 0].astype(float)
        assert outside.mean() > 5 and outside.std() > 5
    inside = cv2.erode((black.sum(axis=2) > 0).astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    assert inside.sum() > 1000 and np.array_equal(crop[inside], black[inside])  # the photo's pixels stay
    with pytest.raises(ValueError, match="unknown alignment fill"):
        warp_face(photo, landmarks, 112, "white")


def test_align_images_records_the_fill_and_realigns_when_it_changes(tmp_path: Path) -> None:
    photo, _ = _border_photo()
    cv2.imwrite(str(tmp_path / "face.png"), cv2.cvtColor(photo, cv2.COLOR_RGB2BGR))
    frame = pd.DataFrame({"sample_id": ["face"], "path": [str(tmp_path / "face.png")]})
    black = align_images(frame, tmp_path / "out", size=112, workers=1)
    assert cv2.imread(black["path"].iloc[0])[0, 0].tolist() == [0, 0, 0]
    assert align_images(frame, tmp_path / "out", size=112, workers=1).attrs["reused"] == 1
    mean = align_images(frame, tmp_path / "out", size=112, workers=1, fill="mean")
    assert mean.attrs["recomputed"] == 1 and cv2.imread(mean["path"].iloc[0])[0, 0].tolist() != [0, 0, 0]
    masks = aligned_masks(list(mean["path"]), 112)
    assert masks.shape == (1, 112, 112) and masks[0].any()
    with pytest.raises(FileNotFoundError, match="rerun the alignment"):
        aligned_masks([str(tmp_path / "face.png")], 112)
