"""`moede export` and `moede predict`: their argument parsers and command functions (torch is imported lazily)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from moede.errors import EXIT_INPUT

PREDICT_EPILOG = """\
examples:
  moede export runs/demo runs/demo/moede.moede
  moede predict clip.mp4 photo.jpg folder/ --model runs/demo/moede.moede --out predictions/
  moede predict clip.flv --run-dir runs/demo --window 2 --stride 0.5 --annotate

Per file, OUT gets <name>.windows.csv (or .photo.csv), <name>.frames.csv, <name>.json and <name>.png (the timeline);
--annotate adds <name>.annotated.mp4.
"""


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Register the `export` and `predict` subcommands."""
    p = sub.add_parser("export", help="write a run directory's trained models as one bundle file + model card",
                       description="Write the eight experts, MoEDE and the SFER of a run directory trained by the "
                                   "book into one bundle file (weights, classes, input size, normalisation, "
                                   "alignment, data sources, metrics, sha256) and a markdown model card beside it.")
    p.add_argument("run_dir", type=Path, help="the run directory (e.g. runs/demo after `moede book`)")
    p.add_argument("bundle", type=Path, help="the bundle file to write (the card goes beside it as .md)")
    p.add_argument("--partition", type=int, default=1, help="take the MoEDE of this partition (default 1)")

    p = sub.add_parser("predict", help="emotions of face videos and photos, with a timeline",
                       description="Align the largest face, run the eight experts once per frame, MoEDE over the "
                                   "whole clip and over sliding windows (videos), the SFER (photos).",
                       epilog=PREDICT_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("paths", type=Path, nargs="+", metavar="PATH", help="videos, photos or folders of them")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--model", type=Path, metavar="BUNDLE", help="a bundle written by `moede export`")
    which.add_argument("--run-dir", type=Path, metavar="DIR", help="use a trained run directory directly")
    p.add_argument("--out", type=Path, default=Path("predictions"), help="output folder (default: predictions)")
    p.add_argument("--window", type=float, default=None, metavar="SECONDS",
                   help="window length (default: the training clips' length)")
    p.add_argument("--stride", type=float, default=None, metavar="SECONDS", help="window stride (default: half)")
    p.add_argument("--annotate", action="store_true", help="also write the video with face box and emotion")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda ...")


def _fail(command: str, error: Exception) -> int:
    """Print a one-line error and return the input-data exit code (moede.errors)."""
    print(f"moede {command}: {error}", file=sys.stderr)
    return EXIT_INPUT


def cmd_export(args: argparse.Namespace) -> int:
    """Export a run directory to a bundle."""
    from moede.predict.bundle import card_path, export_bundle

    try:
        path = export_bundle(args.run_dir, args.bundle, args.partition)
    except (OSError, ValueError) as error:
        return _fail("export", error)
    print(f"bundle {path} ({path.stat().st_size / 2**20:.1f} MiB), model card {card_path(path)}")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    """Predict every given file; one line per file; exit code 3 (bad input data) when any failed."""
    from moede.predict.bundle import BundleError
    from moede.predict.outputs import ensure_writable, write_outputs
    from moede.predict.pipeline import PredictError, Predictor, input_files, iter_predictions, open_models

    try:
        ensure_writable(args.out)
        files = input_files(args.paths)
        predictor = Predictor(open_models(args.model, args.run_dir), args.device)
    except (BundleError, PredictError, OSError) as error:
        return _fail("predict", error)
    failed = 0
    for path, result in iter_predictions(files, predictor, args.window, args.stride):
        if isinstance(result, PredictError):
            failed += 1
            print(f"moede predict: {result}", file=sys.stderr)
            continue
        try:
            write_outputs(result, args.out, predictor.bundle, args.annotate)
        except OSError as error:
            failed += 1
            print(f"moede predict: cannot write the outputs of {path} to {args.out} ({error}); free space or "
                  "choose another --out", file=sys.stderr)
            continue
        print(f"{path}: {result.label}" + (f" ({result.note})" if result.note else ""))
    print(f"{len(files) - failed}/{len(files)} file(s) predicted -> {args.out}")
    return EXIT_INPUT if failed else 0
