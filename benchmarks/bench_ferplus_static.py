"""The static chapters' stages on a fake FER+ of the real one's size, with the demo profile (its per-class cap).

The fake: Kaggle's fer2013.csv + FER+'s fer2013new.csv with FER2013's 28,709 / 3,589 / 3,589 Training / PublicTest
/ PrivateTest rows, each face a 48x48 grey crop of the middle of a ../shared/data/facial_expressions photo (shifted
and flipped so that no two are equal), its ten votes drawn so that the plurality emotions match FER+'s training
counts (issue 38: 9,400 neutral ... 165 contempt) and about 6% of the faces are dropped by the vote rules. It is
written once to --root (never into the repository). Each stage then runs from an empty run directory: the FER+
reading with the PNGs written, the alignment, the SFER, the eight experts and the FFE/FTFE fusions, and each one's
wall time and CPU time (this process's and its alignment workers') is printed: on a shared machine the CPU time
is the steadier measure. `--shared` runs the same stages on ../shared's facial_expressions, the static corpus of
today's book, for the comparison. The video chapters do not change with the static corpus beyond the experts they read.
Run: python benchmarks/bench_ferplus_static.py [--root /tmp/ferplus_fake] [--cap 500] [--labels majority]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from moede.config import RunConfig
from moede.data.ferplus import VOTES
from moede.sources import shared_data_root

ROWS = {"Training": 28709, "PublicTest": 3589, "PrivateTest": 3589}
TRAIN_COUNTS = (9400, 7400, 3400, 3400, 2400, 175, 650, 165)  # FER+'s vote order: neutral happiness surprise sadness
# anger disgust fear contempt
DROPPED = 0.06


def _faces(count: int, seed: int) -> np.ndarray:
    """`count` distinct 48x48 grey faces from the middles of ../shared's photos."""
    folder = shared_data_root() / "facial_expressions" / "images"
    photos = [cv2.resize(cv2.imread(str(p), cv2.IMREAD_GRAYSCALE), (350, 350)) for p in sorted(folder.glob("*.jpg"))]
    rng = np.random.default_rng(seed)
    faces = np.empty((count, 48, 48), dtype=np.uint8)
    for index in range(count):
        photo = photos[index % len(photos)]
        dx, dy = rng.integers(-12, 13, 2)
        crop = photo[95 + dy:255 + dy, 95 + dx:255 + dx]
        face = cv2.resize(crop, (48, 48), interpolation=cv2.INTER_AREA)
        faces[index] = face[:, ::-1] if rng.random() < 0.5 else face
    return faces


def _votes(count: int, rng: np.random.Generator) -> np.ndarray:
    """Ten votes per face: 6-9 for an emotion drawn with FER+'s training shares, the rest spread; DROPPED of the faces
    voted unknown or not a face."""
    shares = np.array(TRAIN_COUNTS, dtype=float) / sum(TRAIN_COUNTS)
    votes = np.zeros((count, 10), dtype=int)
    top = rng.choice(8, size=count, p=shares)
    dropped = rng.random(count) < DROPPED
    top[dropped] = rng.choice([8, 9], size=int(dropped.sum()))
    for index, column in enumerate(top):
        votes[index, column] = rng.integers(6, 10)
        for other in rng.choice(10, size=10 - votes[index, column]):
            if other != column:
                votes[index, other] += 1
            else:
                votes[index, (other + 1) % 10] += 1
    return votes


def write_fake(root: Path, seed: int = 0) -> Path:
    """Write the fake fer2013.csv and fer2013new.csv under `root` (kept when they are there)."""
    if (root / "fer2013new.csv").is_file():
        return root
    root.mkdir(parents=True, exist_ok=True)
    usage = [name for name, count in ROWS.items() for _ in range(count)]
    rng = np.random.default_rng(seed)
    faces = _faces(len(usage), seed)
    pd.DataFrame({"emotion": 0, "pixels": [" ".join(map(str, f.ravel())) for f in faces], "Usage": usage}).to_csv(
        root / "fer2013.csv", index=False)
    votes = _votes(len(usage), rng)
    table = pd.DataFrame(votes, columns=list(VOTES))
    table.insert(0, "Image name", [f"fer{i:07d}.png" for i in range(len(usage))])
    table.insert(0, "Usage", usage)
    table.to_csv(root / "fer2013new.csv", index=False)
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(tempfile.gettempdir()) / "ferplus_fake")
    parser.add_argument("--cap", type=int, default=500, help="ferplus_per_class_cap (0: none)")
    parser.add_argument("--labels", default="majority")
    parser.add_argument("--run-dir", type=Path, default=None)
    parser.add_argument("--shared", action="store_true", help="../shared's facial_expressions instead of FER+")
    args = parser.parse_args()
    root = None
    if not args.shared:
        start = time.perf_counter()
        root = write_fake(args.root)
        print(f"fake FER+ at {root}: {time.perf_counter() - start:.1f} s")
    from moede.stages.static import prepare_static, train_experts_stage, train_fusion_stage, train_sfer_stage

    run = args.run_dir or Path(tempfile.mkdtemp(prefix="ferplus_run_"))
    cfg = RunConfig.for_profile("demo", run_dir=run, ferplus_root=root, ferplus_per_class_cap=args.cap or None,
                                ferplus_labels=args.labels)
    rows = {}
    for name, stage in (("read + align", prepare_static), ("SFER", train_sfer_stage),
                        ("experts", train_experts_stage), ("fusions", train_fusion_stage)):
        start, cpu = time.perf_counter(), os.times()
        result = stage(cfg)
        done = os.times()
        rows[name] = {"wall s": time.perf_counter() - start, "cpu s": sum(done[:4]) - sum(cpu[:4]),
                      "load": os.getloadavg()[0]}
        print(name, {k: round(v, 1) for k, v in rows[name].items()}, flush=True)
        if name == "read + align":
            print(result.attrs["source"].banner(), f"{len(result)} faces", flush=True)
    table = pd.DataFrame(rows).T
    print(table.round(1).to_string(), f"\ntotal {table['wall s'].sum():.1f} s wall, {table['cpu s'].sum():.1f} s "
          f"CPU (run dir {run})")


if __name__ == "__main__":
    main()
