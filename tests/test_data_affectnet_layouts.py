"""AffectNet's three layouts (file lists, train_set/val_set with .npy annotations, class folders) on tiny fake trees
made from the drawn demo faces: the same samples, labels and splits from each, landmarks where the layout has them."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cli_inputs import one_line_error
from moede.cli import main
from moede.data.affectnet import LAYOUTS, affectnet_layout, read_affectnet
from moede.data.demo import demo_static
from moede.data.emotions import AFFECTNET
from moede.data.schema import landmarks_from

CODES = {name: code for code, name in enumerate(AFFECTNET)}


@pytest.fixture
def lists(tmp_path: Path) -> pd.DataFrame:
    """The drawn demo corpus in the original layout, read: 2 training and 1 validation face per class."""
    return read_affectnet(demo_static(tmp_path / "lists", per_class={e: 2 for e in AFFECTNET}, dev_per_class=1,
                                      size=96))


def sets_tree(root: Path, faces: pd.DataFrame) -> Path:
    """`faces` written as the train_set/val_set release: images/<id>.jpg, annotations/<id>_{exp,lnd,val,aro}.npy
    (the expression as text, as the release stores it, for every other face)."""
    for index, row in enumerate(faces.itertuples()):
        folder = root / ("train_set" if row.split == "train" else "val_set")
        (folder / "images").mkdir(parents=True, exist_ok=True)
        (folder / "annotations").mkdir(exist_ok=True)
        shutil.copy(row.path, folder / "images" / f"{index}.jpg")
        code = CODES[row.label]
        np.save(folder / "annotations" / f"{index}_exp.npy", np.array(str(code) if index % 2 else code))
        np.save(folder / "annotations" / f"{index}_lnd.npy", row.landmarks.ravel().astype(np.float64))
        np.save(folder / "annotations" / f"{index}_val.npy", np.array(str(row.valence)))
        np.save(folder / "annotations" / f"{index}_aro.npy", np.array(row.arousal))
    return root


def folders_tree(root: Path, faces: pd.DataFrame, names: bool) -> Path:
    """`faces` copied into train/<class>/ and val/<class>/, classes named by AffectNet code or by emotion."""
    for index, row in enumerate(faces.itertuples()):
        name = row.label.title() if names else str(CODES[row.label])
        folder = root / ("train" if row.split == "train" else "val") / name
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(row.path, folder / f"face_{index}.jpg")
    return root


def _by_path_order(frame: pd.DataFrame) -> pd.DataFrame:
    """The labels and splits in the order the faces were written (their copies' numbers)."""
    number = frame["path"].map(lambda p: int(Path(p).stem.rsplit("_", 1)[-1]))
    return frame.assign(number=number).sort_values("number")[["label", "split"]].reset_index(drop=True)


def test_train_set_val_set_layout_reads_codes_landmarks_and_affect(tmp_path: Path, lists: pd.DataFrame) -> None:
    root = sets_tree(tmp_path / "sets", lists)
    frame = read_affectnet(root)
    assert affectnet_layout(root) == frame.attrs["layout"] == "train_set/val_set"
    assert frame["split"].value_counts().to_dict() == {"train": 16, "dev": 8}
    assert _by_path_order(frame).equals(lists[["label", "split"]].reset_index(drop=True))
    first = frame.sort_values("path", key=lambda p: p.map(lambda q: int(Path(q).stem))).iloc[1]
    assert np.array_equal(first["landmarks"], lists.iloc[1]["landmarks"]) and first["landmarks"].dtype == np.float32
    assert first["valence"] == pytest.approx(lists.iloc[1]["valence"])
    assert first["sample_id"] == first["speaker"] == "train_set/1"
    # dataset landmarks are the layout's; dlib's drop them
    assert landmarks_from(frame, "dataset")["landmarks"].map(lambda p: p.shape == (68, 2)).all()
    assert "landmarks" not in landmarks_from(frame, "dlib").columns
    # a code of 8-10 is dropped and counted, an image missing on disk is dropped with a warning
    np.save(root / "val_set" / "annotations" / f"{len(lists) - 1}_exp.npy", np.array("9"))
    (root / "train_set" / "images" / "0.jpg").unlink()
    with pytest.warns(UserWarning, match="1 AffectNet image"):
        again = read_affectnet(root)
    assert len(again) == len(frame) - 2 and again.attrs["dropped_codes_8_10"] == 1
    np.save(root / "train_set" / "annotations" / "1_lnd.npy", np.zeros(10))
    with pytest.raises(ValueError, match="1_lnd.npy: expected 136 landmark numbers"):
        read_affectnet(root)


def test_dataset_landmarks_of_the_sets_layout_align_the_faces(tmp_path: Path, lists: pd.DataFrame) -> None:
    from moede.align.batch import align_images

    frame = read_affectnet(sets_tree(tmp_path / "sets", lists.iloc[:2]))
    aligned = align_images(landmarks_from(frame, "dataset"), tmp_path / "aligned", 48, workers=1)
    manifest = pd.read_csv(tmp_path / "aligned" / "manifest.csv")
    assert len(aligned) == 2 and set(manifest["status"]) == {"given"}


@pytest.mark.parametrize("names", [False, True], ids=["codes", "names"])
def test_class_folders_named_by_code_or_emotion(tmp_path: Path, lists: pd.DataFrame, names: bool) -> None:
    root = folders_tree(tmp_path / "folders", lists, names)
    frame = read_affectnet(root)
    assert frame.attrs["layout"] == "class folders" and "landmarks" not in frame.columns
    assert _by_path_order(frame).equals(lists[["label", "split"]].reset_index(drop=True))
    assert frame["sample_id"].str.match(r"^(train|val)/\w+/face_\d+$").all()
    dropped = root / "train" / "10"
    dropped.mkdir()
    shutil.copy(lists.iloc[0]["path"], dropped / "non_face.jpg")
    assert read_affectnet(root).attrs["dropped_codes_8_10"] == 1
    (root / "val" / "smirk").mkdir()
    with pytest.raises(ValueError, match="smirk: a class folder must be named by an AffectNet code 0-10"):
        read_affectnet(root)


def test_an_unknown_tree_is_one_line_naming_the_three_layouts(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "a.jpg").write_bytes(b"")
    with pytest.raises(FileNotFoundError) as error:
        read_affectnet(tmp_path)
    message = str(error.value)
    assert "\n" not in message and all(name in message for name in LAYOUTS)
    assert all(part in message for part in ("Manually_Annotated_file_lists", "train_set/", "_exp.npy", "val/<class>"))
    assert main(["info", "--affectnet", str(tmp_path)]) == 3
    assert "is not an AffectNet tree" in one_line_error(capsys, "info")


def test_info_names_the_layout_found(tmp_path: Path, lists: pd.DataFrame, capsys: pytest.CaptureFixture[str]) -> None:
    trees = {"file lists": Path(lists.attrs["root"]), "train_set/val_set": sets_tree(tmp_path / "sets", lists),
             "class folders": folders_tree(tmp_path / "folders", lists, names=True)}
    for layout, root in trees.items():
        assert main(["info", "--affectnet", str(root)]) == 0
        assert f"AffectNet ({layout} layout) at {root}: 24 of 24 labelled images found" in capsys.readouterr().out
