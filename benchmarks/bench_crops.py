"""How many photos of a folder `moede predict` labels without and with --crops, and how long each takes: the status
of every readable photo (ok, no_face; with --crops ok or crop, and how each crop was aligned).

    python benchmarks/bench_crops.py                 # ../shared/data/facial_expressions/images
    python benchmarks/bench_crops.py FOLDER --model BUNDLE

Without --model, randomly initialised models shaped like the demo's bundle at --size pixels (which photos get a face
does not depend on the weights or the size). Outputs are not written (the per-photo figures would dominate the time).
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

from moede.predict.bundle import load_bundle
from moede.predict.pipeline import PredictError, Predictor, input_files, iter_predictions
from moede.sources import shared_data_root
from bench_predict import untrained_bundle


def statuses(files: list[Path], predictor: Predictor) -> Counter:
    """Status -> count over `files` (a crop counted by how it was aligned)."""
    counts: Counter = Counter()
    for _, result in iter_predictions(files, predictor):
        if isinstance(result, PredictError):
            counts[result.status] += 1
        else:
            counts[result.status if result.status == "ok" else f"crop ({result.note.rsplit(', ', 1)[-1]})"] += 1
    return counts


def main() -> None:
    """Print the statuses of the folder's photos without and with --crops."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    shared = shared_data_root()
    parser.add_argument("folder", type=Path, nargs="?",
                        default=shared / "facial_expressions" / "images" if shared else None)
    parser.add_argument("--model", type=Path, default=None, help="a bundle (default: untrained models)")
    parser.add_argument("--size", type=int, default=64, help="face size of the untrained models (default 64)")
    args = parser.parse_args()
    if args.folder is None:
        parser.error("no ../shared/data: give a folder of photos")
    files = input_files([args.folder])[0]
    bundle = load_bundle(args.model) if args.model else untrained_bundle(args.size, 14)
    for crops in (False, True):
        began = time.perf_counter()
        counts = statuses(files, Predictor(bundle, crops=crops))
        print(f"{'--crops' if crops else 'without --crops'}: {len(files)} photos in "
              f"{time.perf_counter() - began:.0f} s: {dict(sorted(counts.items()))}", flush=True)


if __name__ == "__main__":
    main()
