"""FER+ on fakes only: both layouts, the vote rules, the splits, soft targets through training, the whole-image
alignment, the one-line errors, the settings and `moede train experts --ferplus`."""

from __future__ import annotations

import warnings
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from moede.align import align_images, eye_centres, sample_photo
from moede.align.landmarks import detect_face, predict_landmarks
from moede.config import RunConfig
from moede.data import ferplus
from moede.data.emotions import AFFECTNET
from moede.data.schema import landmarks_from
from moede.errors import InputDataError, SettingError
from moede.cli import data_plan
from moede.stages.preflight import check_inputs, check_root
from moede.stages.resolve import resolve_static
from moede.stages.static import _datasets, _key, _split_paths, with_targets
from moede.training.images import FaceImageDataset
from moede.training.static import class_weights, train_classifier, weighted_loss
from moede.models.pretrained import Normalisation

SPECIAL = {"tie": [4, 4, 0, 0, 0, 0, 0, 0, 2, 0], "unknown": [2, 0, 0, 0, 0, 0, 0, 0, 6, 2],
           "NF": [0, 0, 0, 0, 0, 0, 0, 0, 1, 9], "no votes": [0] * 10}
USAGES = {"train": "Training", "dev": "PublicTest", "test": "PrivateTest"}
FOLDERS = {"train": "FER2013Train", "dev": "FER2013Valid", "test": "FER2013Test"}


def _rows(per_class: int = 2) -> list[tuple[str, list[int]]]:
    """(split, ten votes) of `per_class` clear faces per emotion and split (7 votes for it, 3 for the next one),
    then one face of each SPECIAL rule in the training split."""
    rows = []
    for split in USAGES:
        for column in range(8):
            for _ in range(per_class):
                votes = [0] * 10
                votes[column], votes[(column + 1) % 8] = 7, 3
                rows.append((split, votes))
    return rows + [("train", votes) for votes in SPECIAL.values()]


def _faces(count: int, seed: int = 0) -> np.ndarray:
    """`count` random 48x48 grey faces."""
    return np.random.default_rng(seed).integers(0, 256, (count, 48, 48), dtype=np.uint8)


def write_csv_tree(root: Path, rows: list[tuple[str, list[int]]], faces: np.ndarray, unnamed: int = 1) -> Path:
    """Kaggle's fer2013.csv and FER+'s fer2013new.csv for `rows`, plus `unnamed` rows FER+ gives no image name."""
    root.mkdir(parents=True, exist_ok=True)
    rows = rows + [("train", [0] * 9 + [10])] * unnamed
    faces = np.concatenate([faces, _faces(unnamed, 9)])
    pd.DataFrame({"emotion": 0, "pixels": [" ".join(map(str, f.ravel())) for f in faces],
                  "Usage": [USAGES[s] for s, _ in rows]}).to_csv(root / "fer2013.csv", index=False)
    names = [f"fer{i:07d}.png" for i in range(len(rows) - unnamed)] + [""] * unnamed
    new = pd.DataFrame([[USAGES[s], n, *v] for (s, v), n in zip(rows, names)], columns=["Usage", "Image name",
                                                                                          *ferplus.VOTES])
    new.to_csv(root / "fer2013new.csv", index=False)
    return root


def write_folder_tree(root: Path, rows: list[tuple[str, list[int]]], faces: np.ndarray) -> Path:
    """FERPlus's FER2013Train/Valid/Test folders: the PNGs and a header-less label.csv with the box and votes."""
    for split, folder in FOLDERS.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        lines = []
        for index, ((row_split, votes), face) in enumerate(zip(rows, faces)):
            if row_split == split:
                cv2.imwrite(str(root / folder / f"fer{index:07d}.png"), face)
                lines.append(f'fer{index:07d}.png,"(0, 0, 48, 48)",' + ",".join(map(str, votes)))
        (root / folder / "label.csv").write_text("\n".join(lines) + "\n")
    return root


@pytest.fixture
def rows() -> list[tuple[str, list[int]]]:
    return _rows()


def test_the_votes_give_the_plurality_emotion_and_drop_unknown_not_a_face_ties_and_no_votes() -> None:
    labels, reasons = ferplus.vote_labels(np.array([[1, 6, 0, 0, 0, 0, 0, 0, 3, 0], *SPECIAL.values()]))
    assert list(labels) == ["happy", "", "", "", ""] and list(reasons) == ["", "tie", "unknown", "NF", "no votes"]
    labels, reasons = ferplus.vote_labels(np.array([[0, 0, 0, 0, 0, 0, 0, 4, 3, 3], [0, 0, 0, 5, 0, 0, 0, 0, 5, 0]]))
    assert list(labels) == ["contempt", ""] and list(reasons) == ["", "tie"], "a tie with unknown is a tie"


def test_the_csv_layout_reads_faces_splits_votes_and_counts_what_it_drops(tmp_path: Path, rows) -> None:
    root = write_csv_tree(tmp_path / "fer", rows, _faces(len(rows)))
    frame = ferplus.read_ferplus(root, tmp_path / "faces")
    assert frame.attrs["dropped"] == {"unknown": 1, "NF": 1, "tie": 1, "no votes": 1, "no FER+ image name": 1}
    assert len(frame) == 3 * 8 * 2 and frame.attrs["layout"] == "csv"
    assert ferplus.class_counts(frame).to_dict() == {split: {e: 2 for e in AFFECTNET} for split in USAGES}
    first = frame.iloc[0]
    assert first["label"] == "neutral" and first["split"] == "train" and first["box"] == (0.0, 0.0, 48.0, 48.0)
    assert first["votes_neutral"] == 7 and first["votes_happy"] == 3 and frame["speaker"].equals(frame["sample_id"])
    written = cv2.imread(first["path"], cv2.IMREAD_GRAYSCALE)
    assert written.shape == (48, 48) and np.array_equal(written, _faces(len(rows))[0])
    assert "NOT" not in ferplus.describe(frame) and "contempt 2; dropped by the votes: unknown 1" in ferplus.describe(
        frame)


def test_both_layouts_read_the_same_table(tmp_path: Path, rows) -> None:
    faces = _faces(len(rows))
    csv = ferplus.read_ferplus(write_csv_tree(tmp_path / "csv", rows, faces), tmp_path / "faces")
    folders = ferplus.read_ferplus(write_folder_tree(tmp_path / "folders", rows, faces))
    assert folders.attrs["layout"] == "folders"
    columns = ["sample_id", "label", "split", *ferplus.VOTE_COLUMNS]
    assert csv[columns].sort_values("sample_id").reset_index(drop=True).equals(
        folders[columns].sort_values("sample_id").reset_index(drop=True))
    assert np.array_equal(cv2.imread(folders["path"].iloc[3]), cv2.imread(csv["path"].iloc[3]))


def test_a_png_missing_from_its_folder_is_dropped_and_counted(tmp_path: Path, rows) -> None:
    root = write_folder_tree(tmp_path / "fer", rows, _faces(len(rows)))
    (root / "FER2013Valid" / "fer0000016.png").unlink()
    with pytest.warns(UserWarning, match="1 FER\\+ image"):
        frame = ferplus.read_ferplus(root)
    assert frame.attrs["missing_images"] == 1 and (frame["split"] == "dev").sum() == 15


@pytest.mark.parametrize("break_it, message", [
    (lambda root: (root / "fer2013new.csv").unlink(), r"fer2013new\.csv not found: put FER\+'s votes"),
    (lambda root: pd.read_csv(root / "fer2013new.csv").iloc[:-2].to_csv(root / "fer2013new.csv", index=False),
     r"fer2013new\.csv has \d+ rows but .*fer2013\.csv has \d+"),
    (lambda root: pd.read_csv(root / "fer2013.csv").assign(pixels=lambda t: t["pixels"].str[4:]).to_csv(
        root / "fer2013.csv", index=False), r"fer2013\.csv row 2: 'pixels' has 230\d numbers, not 2304"),
    (lambda root: pd.read_csv(root / "fer2013.csv").assign(pixels=lambda t: "x" + t["pixels"].str[1:]).to_csv(
        root / "fer2013.csv", index=False), r"the pixels of face fer0000000 are not 2,304 numbers"),
    (lambda root: pd.read_csv(root / "fer2013new.csv").assign(NF="many").to_csv(root / "fer2013new.csv",
                                                                                index=False), "ten non-negative"),
])
def test_a_broken_csv_layout_is_a_one_line_error_naming_the_file(tmp_path: Path, rows, break_it, message) -> None:
    root = write_csv_tree(tmp_path / "fer", rows, _faces(len(rows)))
    break_it(root)
    with pytest.raises(InputDataError, match=message) as error:
        ferplus.read_ferplus(root, tmp_path / "faces")
    assert "\n" not in str(error.value) and str(root) in str(error.value)


def test_no_fer_plus_under_a_root_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(InputDataError, match="no FER\\+ under .*fer2013.csv"):
        ferplus.read_ferplus(tmp_path)


def test_the_cap_draws_training_faces_per_emotion_and_keeps_dev_and_test(tmp_path: Path) -> None:
    rows = _rows(per_class=5)
    root = write_csv_tree(tmp_path / "fer", rows, _faces(len(rows)))
    frame = ferplus.read_ferplus(root, None, cap=3, seed=1)
    counts = ferplus.class_counts(frame)
    assert (counts["train"] == 3).all() and (counts["dev"] == 5).all() and (counts["test"] == 5).all()
    assert frame.equals(ferplus.read_ferplus(root, None, cap=3, seed=1)), "seeded"
    assert not frame.equals(ferplus.read_ferplus(root, None, cap=3, seed=2))
    assert "at most 3 per emotion" in ferplus.describe(frame)


def _cfg(tmp_path: Path, root: Path, **settings: object) -> RunConfig:
    return RunConfig.for_profile("demo", run_dir=tmp_path / "run", ferplus_root=root, image_size=32, device="cpu",
                                 **settings)


def test_resolution_preflight_and_banner_name_fer_plus_and_its_counts(tmp_path: Path, rows) -> None:
    root = write_csv_tree(tmp_path / "fer", rows, _faces(len(rows)))
    frame = resolve_static(_cfg(tmp_path, root))
    banner = frame.attrs["source"].banner()
    assert banner.startswith("Data: FER+ (FER2013 faces, FER+ votes)") and "NOT the paper's corpus" in banner
    assert "training faces (at most 500 per emotion): neutral 2, happy 2" in banner
    assert Path(frame["path"].iloc[0]).parent == tmp_path / "run" / "data" / "ferplus_faces"
    check = check_root("ferplus_root", root)
    assert (check.labelled, check.found) == (48, 48) and "tie 1" in check.describe()
    plan = "\n".join(data_plan(_cfg(tmp_path, root), check_inputs(_cfg(tmp_path, root))))
    assert f"chapters 2-4 (static): FER+ at {root}: 48 of 48" in plan and "at most 500 per emotion" in plan
    assert _cfg(tmp_path, root).ferplus_per_class_cap == 500 and RunConfig().ferplus_per_class_cap is None


def test_fer_plus_and_affectnet_together_are_refused_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(SettingError, match=r"give one static corpus: AffectNet \(--affectnet\) or FER\+"):
        RunConfig(affectnet_root=tmp_path, ferplus_root=tmp_path)
    with pytest.raises(SettingError, match="ferplus_labels"):
        RunConfig(ferplus_labels="plurality")


def test_soft_labels_change_the_training_keys_and_majority_gives_a_hard_labelled_table(tmp_path: Path, rows) -> None:
    root = write_csv_tree(tmp_path / "fer", rows, _faces(len(rows)))
    cfg = _cfg(tmp_path, root)
    frame = resolve_static(cfg)
    majority, soft = with_targets(frame, "majority"), with_targets(frame, "soft")
    assert not set(ferplus.VOTE_COLUMNS) & set(majority.columns) and set(ferplus.VOTE_COLUMNS) <= set(soft.columns)
    hard_only = frame.drop(columns=list(ferplus.VOTE_COLUMNS))
    assert _key(cfg, "sfer", majority) == _key(cfg, "sfer", hard_only), "majority: the digest of any hard corpus"
    assert _key(cfg, "sfer", soft) != _key(cfg, "sfer", majority)
    assert _key(cfg, "expert", soft) != _key(cfg, "expert", majority)


def test_the_test_split_is_never_read_by_model_selection(tmp_path: Path, rows) -> None:
    root = write_csv_tree(tmp_path / "fer", rows, _faces(len(rows)))
    cfg = _cfg(tmp_path, root)
    frame = with_targets(resolve_static(cfg), "soft")
    train_paths, dev_paths = _split_paths(frame)
    test_paths = set(frame.loc[frame["split"] == "test", "path"])
    assert len(test_paths) == 16 and not test_paths & (set(train_paths) | set(dev_paths))
    train, dev = _datasets(frame, cfg)
    assert len(train) == len(train_paths) and len(dev) == len(dev_paths) == 16
    assert train.targets.shape == (len(train), 8) and torch.allclose(train.targets.sum(dim=1), torch.ones(len(train)))
    assert train.targets[0].tolist() == pytest.approx([0.7, 0.3, 0, 0, 0, 0, 0, 0]) and dev.targets.dim() == 1


def test_a_one_hot_soft_target_gives_the_weighted_loss_of_its_class_index() -> None:
    logits, labels = torch.randn(6, 8), torch.tensor([0, 1, 1, 3, 7, 7])
    weights = class_weights(labels, 8)
    assert torch.equal(class_weights(nn.functional.one_hot(labels, 8).float(), 8), weights)
    loss_fn = nn.CrossEntropyLoss(weight=weights)
    hard, hard_share = weighted_loss(loss_fn, logits, labels)
    soft, soft_share = weighted_loss(loss_fn, logits, nn.functional.one_hot(labels, 8).float())
    assert torch.allclose(hard, soft) and torch.allclose(hard_share, soft_share)
    shares = torch.tensor([[0.6, 0.4] + [0.0] * 6] * 6)
    mixed, _ = weighted_loss(nn.CrossEntropyLoss(), logits, shares)
    assert torch.allclose(mixed, nn.functional.cross_entropy(logits, shares))


def test_soft_targets_train_through_one_step() -> None:
    torch.manual_seed(0)
    images = torch.randint(0, 256, (12, 3, 8, 8), dtype=torch.uint8)
    shares = torch.softmax(torch.randn(12, 8), dim=1)
    norm = Normalisation(mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
    train = FaceImageDataset(images, shares.numpy(), norm)
    dev = FaceImageDataset(images[:4], shares[:4].argmax(dim=1), norm)
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 8))
    before = [p.detach().clone() for p in model.parameters()]
    result = train_classifier(model, train, dev, n_classes=8, epochs=1, batch_size=12,
                              loss_weights=class_weights(train.targets, 8))
    assert train.targets.dtype == torch.float32 and np.isfinite(result.history["train_loss"]).all()
    assert any(not torch.equal(a, b) for a, b in zip(before, result.model.parameters()))


def _fer_like(image: np.ndarray) -> tuple[np.ndarray, float, tuple[float, float]]:
    """A 48x48 grey crop of the photo's face box enlarged 1.25 times, the crop's scale and its origin."""
    x, y, w, h = detect_face(image)
    side = 1.25 * max(w, h)
    left, top = x + w / 2 - side / 2, y + h / 2 - side / 2
    crop = image[round(top):round(top + side), round(left):round(left + side)]
    return cv2.resize(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY), (48, 48), interpolation=cv2.INTER_AREA), \
        48 / crop.shape[0], (round(left), round(top))


def test_a_48px_face_is_aligned_from_dlib_landmarks_inside_the_whole_image(tmp_path: Path) -> None:
    photo = sample_photo()
    face, scale, (left, top) = _fer_like(photo)
    rows = [("train", [0, 9, 0, 0, 0, 0, 0, 0, 1, 0])]
    root = write_csv_tree(tmp_path / "fer", rows, face[None], unnamed=0)
    frame = landmarks_from(ferplus.read_ferplus(root, tmp_path / "faces"), "dlib")
    assert frame["box"].iloc[0] == (0.0, 0.0, 48.0, 48.0), "the paper's dlib-everywhere keeps the whole-image box"
    aligned = align_images(frame, tmp_path / "aligned", 64, workers=1)
    manifest = pd.read_csv(tmp_path / "aligned" / "manifest.csv")
    assert len(aligned) == 1 and manifest["status"].iloc[0] == "box"
    found = np.array(manifest["landmarks"].iloc[0].split(";"), dtype=float).reshape(68, 2)
    truth = (predict_landmarks(photo, detect_face(photo)) - (left, top)) * scale
    error = np.linalg.norm(np.stack(eye_centres(found)) - np.stack(eye_centres(truth)), axis=1).mean()
    assert error < 2.0, f"eye centres {error:.2f} px of 48 from the full-resolution photo's"


@pytest.mark.slow
def test_moede_train_experts_runs_on_a_fake_fer_plus_tree(tmp_path: Path, rows) -> None:
    from moede.cli import main

    root = write_folder_tree(tmp_path / "fer", rows, _faces(len(rows)))
    run = tmp_path / "run"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main(["train", "experts", "--ferplus", str(root), "--run-dir", str(run), "--set", "image_size=32",
                     "--set", "sfer_epochs=1", "--set", "expert_epochs=1", "--set", "ferplus_labels=soft",
                     "--set", "init=random", "--set", "backbone=mobilenet_v3_small", "--set", "trainable_from=10",
                     "--device", "cpu"])
    assert code == 0
    assert sorted(p.stem for p in (run / "models").glob("expert_*.pt")) == sorted(
        f"expert_{e}" for e in AFFECTNET)
    table1 = pd.read_csv(run / "results" / "table1.csv")
    assert len(table1) >= 8
