"""Peak memory and throughput of the full profile's SFER path as the corpus grows (issue 36): synthetic
official-layout AffectNet corpora of 2,000, 8,000 and 32,000 training faces.

    python benchmarks/bench_scale.py [--sizes 2000,8000,32000] [--steps 2] [--workers 2] [--precision fp32]
                                     [--recompute] [--formats] [--keep DIR]

Each corpus lists the real faces of ../shared/data/facial_expressions many times (file names are links to the 2,756
photos; a centred face box is given, so dlib only places landmarks in it), or drawn demo faces with their landmarks
when ../shared is absent; every corpus has the same 128 development faces. The corpora are prefixes of one listing
and share one folder of aligned crops, so each size aligns only the faces the previous one had not (the alignment's
own reuse of crops made from the same photo and settings). Per size, in subprocesses of the full profile
(`--set align_landmarks=dataset --set sfer_epochs=1 --device cpu`): the alignment, then the SFER stage for `--steps`
batches of 64 faces at 224 px (its sampler cut to that many draws), while the peak memory of the whole process tree
(workers included) is sampled with psutil: the sum of RSS (pages shared by forked workers counted in each) and of
PSS (shared pages divided among the processes that map them). The augmenting loader (faces decoded by `--workers`
DataLoader workers, augmented batch-wise in the training process) is timed apart over 10 batches. `--recompute`
trains with recompute_activations=true. `--formats` also times one training step in the default memory format,
channels-last, channels-last with recomputed activations and channels-last under bf16.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import torch

from moede.config import RunConfig
from moede.data.emotions import AFFECTNET, SYNONYMS
from moede.sources import shared_data_root

DEV_FACES = 128
BATCH = 64
SIZE = 224
CODES = {"neutral": 0, "happy": 1, "sad": 2, "surprise": 3, "fear": 4, "disgust": 5, "anger": 6, "contempt": 7}
ROW_COLUMNS = ["subDirectory_filePath", "face_x", "face_y", "face_width", "face_height", "facial_landmarks",
               "expression", "valence", "arousal"]


def _photos(folder: Path) -> pd.DataFrame:
    """The photos to list (path, label, box, landmarks text): ../shared's real faces, else drawn demo faces."""
    shared = shared_data_root()
    if shared is not None:
        labels = pd.read_csv(shared / "facial_expressions" / "labels.csv")
        labels["label"] = labels["emotion"].str.lower().map(SYNONYMS)
        labels = labels[labels["label"].isin(AFFECTNET)]
        return pd.DataFrame({"path": [str(shared / "facial_expressions" / "images" / n) for n in labels["image"]],
                             "label": labels["label"].to_numpy(), "box": [(75, 75, 200, 200)] * len(labels),
                             "landmarks": ""})
    from moede.data.demo import demo_static

    root = demo_static(folder / "drawn", per_class=dict.fromkeys(AFFECTNET, 16), dev_per_class=1, size=SIZE)
    table = pd.read_csv(root / "Manually_Annotated_file_lists" / "training.csv", dtype={"facial_landmarks": str})
    names = {code: name for name, code in CODES.items()}
    return pd.DataFrame({"path": [str(root / "Manually_Annotated_Images" / p) for p in table["subDirectory_filePath"]],
                         "label": table["expression"].map(names).to_numpy(),
                         "box": list(table[["face_x", "face_y", "face_width", "face_height"]].itertuples(index=False)),
                         "landmarks": table["facial_landmarks"].fillna("").to_numpy()})


def _listing(photos: pd.DataFrame, folder: Path, n: int) -> pd.DataFrame:
    """n listings cycling over the photos, each a link folder/NNNNNN.jpg to its photo, as file-list rows."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for k in range(n):
        photo = photos.iloc[k % len(photos)]
        link = folder / f"{k:06d}.jpg"
        if not link.exists():
            link.symlink_to(photo["path"])
        rows.append([f"faces/{k:06d}.jpg", *photo["box"], photo["landmarks"], CODES[photo["label"]], 0.0, 0.0])
    return pd.DataFrame(rows, columns=ROW_COLUMNS)


def _corpus(base: Path, listing: pd.DataFrame, n: int) -> Path:
    """An official-layout corpus of the first n training listings and the last DEV_FACES as validation.csv."""
    root = base / f"affectnet_{n}"
    lists = root / "Manually_Annotated_file_lists"
    lists.mkdir(parents=True, exist_ok=True)
    images = root / "Manually_Annotated_Images"  # one photo folder for every size: the same sources, crops reused
    if not images.exists():
        images.symlink_to(base / "images")
    listing.iloc[:n].to_csv(lists / "training.csv", index=False)
    listing.iloc[-DEV_FACES:].to_csv(lists / "validation.csv", index=False)
    return root


def _config(root: Path, run_dir: Path, cache: Path, workers: int, precision: str, recompute: bool) -> RunConfig:
    """The full profile on `root`, as `moede train sfer --profile full` with the issue's --set options."""
    return RunConfig.for_profile("full", affectnet_root=root, run_dir=run_dir, cache_dir=cache,
                                 align_landmarks="dataset", sfer_epochs=1, device="cpu", loader_workers=workers,
                                 precision=precision, recompute_activations=recompute)


def _child(args: argparse.Namespace) -> None:
    """In a subprocess: align the corpus, or train the SFER for args.steps batches; print a JSON line."""
    from torch.utils.data import RandomSampler

    import moede.training.static as training
    from moede.stages.static import prepare_static, train_sfer_stage

    cfg = _config(Path(args.root), Path(args.run_dir), Path(args.cache), args.workers, args.precision,
                  args.recompute)
    start = time.perf_counter()
    if args.child == "align":
        frame = prepare_static(cfg)
        print(json.dumps({"faces": len(frame), "seconds": time.perf_counter() - start}))
        return
    draws = args.steps * BATCH
    training.RandomSampler = lambda data, generator: RandomSampler(data, num_samples=draws, generator=generator)
    sfer = train_sfer_stage(cfg)
    print(json.dumps({"train_seconds": float(sfer.history["seconds"].iloc[0]), "images": draws}))


def _tree_memory(pid: int) -> tuple[int, int]:
    """(sum of RSS, sum of PSS) in bytes of process `pid` and all its descendants."""
    rss = pss = 0
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0, 0
    for process in processes:
        try:
            info = process.memory_full_info()
            rss, pss = rss + info.rss, pss + getattr(info, "pss", info.rss)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return rss, pss


def _run_child(argv: list[str]) -> tuple[dict, int, int]:
    """Run this script with `argv` in a subprocess; return its JSON line and the peak tree RSS and PSS."""
    process = subprocess.Popen([sys.executable, __file__, *argv], stdout=subprocess.PIPE, text=True)
    peak = [0, 0]

    def sample() -> None:
        while process.poll() is None:
            rss, pss = _tree_memory(process.pid)
            peak[0], peak[1] = max(peak[0], rss), max(peak[1], pss)
            time.sleep(0.25)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, _ = process.communicate()
    sampler.join()
    if process.returncode:
        raise SystemExit(f"child {argv[:2]} failed with exit status {process.returncode}")
    return json.loads(out.strip().splitlines()[-1]), peak[0], peak[1]


def _loader_rate(cfg: RunConfig, batches: int = 10) -> float:
    """Augmented faces per second delivered by the SFER's loader (cfg.loader_workers workers)."""
    from torch.utils.data import DataLoader

    from moede.stages.static import _aligned_static, _datasets
    from moede.training.augment import BatchAffine
    from moede.training.static import loader_options

    train, _ = _datasets(_aligned_static(cfg), cfg)
    loader = DataLoader(train, batch_size=BATCH, shuffle=True, **loader_options(train, cfg.loader_workers, "cpu"))
    augmenter, seen = BatchAffine(train.normalisation, 0), 0
    start = time.perf_counter()
    for images, _ in loader:
        seen += len(augmenter(images))
        if seen >= batches * BATCH:
            break
    return seen / (time.perf_counter() - start)


def _store_cost(cfg: RunConfig, n: int = 200) -> dict[str, float]:
    """The on-disk store's mean bytes per face and decode milliseconds per face (one core) against raw uint8."""
    from moede.data.face_store import read_face
    from moede.stages.static import _aligned_static

    paths = list(_aligned_static(cfg)["path"].iloc[:n])
    start = time.perf_counter()
    for path in paths:
        read_face(path, SIZE)
    return {"png_kb": np.mean([os.path.getsize(p) for p in paths]) / 1000, "raw_kb": 3 * SIZE * SIZE / 1000,
            "decode_ms": 1000 * (time.perf_counter() - start) / n}


def _formats(cfg: RunConfig) -> pd.DataFrame:
    """Seconds of one training step of 64 faces at 224 px: default format, channels-last, channels-last with
    recomputed activations, channels-last + bf16."""
    from moede.models.backbone import build_backbone
    from moede.models.recompute import recomputing
    from moede.training.precision import autocast

    rows = []
    for name, layout, precision, recompute in (("default format, fp32", torch.contiguous_format, "fp32", False),
                                               ("channels-last, fp32", torch.channels_last, "fp32", False),
                                               ("channels-last, fp32, recomputed", torch.channels_last, "fp32", True),
                                               ("channels-last, bf16", torch.channels_last, "bf16", False)):
        torch.manual_seed(0)
        model = build_backbone("mobilenet_v2", len(AFFECTNET), cfg.initialisation()).module.train()
        model.to(memory_format=layout)
        optimizer = torch.optim.Adam(model.parameters(), 1e-3)
        images = torch.randn(BATCH, 3, SIZE, SIZE).contiguous(memory_format=layout)
        targets = torch.arange(BATCH) % len(AFFECTNET)
        seconds = []
        for _ in range(3):
            start = time.perf_counter()
            with autocast(precision, "cpu"), recomputing(model, recompute):
                loss = torch.nn.functional.cross_entropy(model(images).float(), targets)
                optimizer.zero_grad()
                loss.backward()
            optimizer.step()
            seconds.append(time.perf_counter() - start)
        rows.append({"step": name, "best of 2 s": min(seconds[1:]), "img/s": BATCH / min(seconds[1:])})
    return pd.DataFrame(rows)


def main() -> None:
    """Build the corpora, run each size's alignment and bounded SFER run, print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="2000,8000,32000")
    parser.add_argument("--steps", type=int, default=2, help="SFER training batches per size")
    parser.add_argument("--workers", type=int, default=2, help="loader_workers")
    parser.add_argument("--precision", default="fp32")
    parser.add_argument("--recompute", action="store_true", help="recompute_activations=true")
    parser.add_argument("--formats", action="store_true", help="also time a step per memory format and bf16")
    parser.add_argument("--keep", type=Path, help="build (and keep) the corpora and runs in this folder")
    for name in ("child", "root", "run_dir", "cache"):
        parser.add_argument(f"--{name.replace('_', '-')}", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args)
        return
    sizes = sorted(int(s) for s in args.sizes.split(","))
    base = args.keep or Path(tempfile.mkdtemp(prefix="bench_scale_"))
    base.mkdir(parents=True, exist_ok=True)
    cache = base / "cache"
    photos = _photos(base)
    listing = _listing(photos, base / "images" / "faces", sizes[-1] + DEV_FACES)
    shared_crops = base / "aligned_static"
    rows = []
    try:
        for n in sizes:
            root, run_dir = _corpus(base, listing, n), base / f"run_{n}"
            (run_dir / "aligned").mkdir(parents=True, exist_ok=True)
            if not (run_dir / "aligned" / "static").exists():
                shared_crops.mkdir(exist_ok=True)
                (run_dir / "aligned" / "static").symlink_to(shared_crops)
            cfg = _config(root, run_dir, cache, args.workers, args.precision, args.recompute)
            cfg.initialisation()  # converts the shipped ImageNet weights once, outside the measured runs
            common = ["--root", str(root), "--run-dir", str(run_dir), "--cache", str(cache), "--workers",
                      str(args.workers), "--precision", args.precision, "--steps", str(args.steps),
                      *(["--recompute"] if args.recompute else [])]
            aligned, align_rss, _ = _run_child(["--child", "align", *common])
            for trained_before in ("models", "results"):  # a kept run's SFER would be reused, not trained
                shutil.rmtree(run_dir / trained_before, ignore_errors=True)
            trained, rss, pss = _run_child(["--child", "train", *common])
            rows.append({"train faces": n, "aligned s": aligned["seconds"], "align peak RSS GB": align_rss / 1e9,
                         "SFER peak RSS GB": rss / 1e9, "SFER peak PSS GB": pss / 1e9,
                         "loader img/s": _loader_rate(cfg),
                         "train step img/s": trained["images"] / trained["train_seconds"]})
            print(rows[-1], flush=True)
        table = pd.DataFrame(rows)
        table["loader / step"] = table["loader img/s"] / table["train step img/s"]
        print(f"\nfull profile SFER at {SIZE} px, batch {BATCH}, {args.steps} steps per size, loader_workers "
              f"{args.workers}, precision {args.precision}, recompute_activations {args.recompute}, "
              f"{torch.get_num_threads()} torch threads, "
              f"{len(photos)} distinct photos ({'../shared' if shared_data_root() else 'drawn'})")
        print(table.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
        print(f"peak PSS from {sizes[0]} to {sizes[-1]} faces: "
              f"{(table['SFER peak PSS GB'].iloc[-1] - table['SFER peak PSS GB'].iloc[0]) * 1000:+.0f} MB")
        print("face store (aligned PNG crops):", {k: round(v, 2) for k, v in _store_cost(cfg).items()})
        if args.formats:
            print(_formats(cfg).to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    finally:
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
