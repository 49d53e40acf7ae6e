"""`moede export` and `moede predict`: their argument parsers and command functions (torch is imported lazily)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from moede.errors import EXIT_INPUT, EXIT_OUTPUT, OutputWriteError

PREDICT_EPILOG = """\
examples:
  moede export runs/demo runs/demo/moede.moede
  moede predict clip.mp4 photo.jpg folder/ --model runs/demo/moede.moede --out predictions/
  moede predict clip.flv --run-dir runs/demo --window 2 --stride 0.5 --annotate

Per file, OUT gets <name>.windows.csv (or .photo.csv), <name>.frames.csv, <name>.json and <name>.png (the timeline);
--annotate adds <name>.annotated.mp4. OUT/summary.csv has one row per input file (status ok, or why not: missing,
empty, unreadable, no_face, not_written; crop with --crops: a photo without a face found, taken whole as the face).
A folder is searched for photos and videos; other files are ignored.
Exit code 0 when at least one file was predicted (the others' reasons are in summary.csv), 3 when none was, 4 when
an output could not be written.
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
    p.add_argument("--crops", action="store_true",
                   help="photos are face crops: one without a face found is taken whole as the face (status crop: "
                        "aligned on dlib's landmarks inside it when they look like a face, else resized as it is)")


def _fail(command: str, error: Exception) -> int:
    """Print a one-line error and return the input-data exit code (moede.errors)."""
    print(f"moede {command}: {error}", file=sys.stderr)
    return EXIT_INPUT


def cmd_export(args: argparse.Namespace) -> int:
    """Export a run directory to a bundle."""
    from moede.predict.bundle import card_path, export_bundle

    try:
        path = export_bundle(args.run_dir, args.bundle, args.partition)
    except OutputWriteError:
        raise  # exit code 4 (moede.cli)
    except (OSError, ValueError) as error:
        return _fail("export", error)
    print(f"bundle {path} ({path.stat().st_size / 2**20:.1f} MiB), model card {card_path(path)}")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    """Predict every given file, one line each, and write the summary table: exit 0 when at least one file was
    predicted and every other one has its reason in the table, 3 when none was, 4 when an output was not written."""
    from moede.predict.outputs import PREDICTED, SUMMARY, crops_hint, ensure_writable, failure_row, summary_row, \
        write_outputs, write_summary
    from moede.predict.pipeline import PredictError, Predictor, input_files, iter_predictions, open_models

    ensure_writable(args.out)
    files, ignored = input_files(args.paths)
    if ignored:
        print(f"moede predict: {len(ignored)} file(s) that are neither photos nor videos ignored (e.g. "
              f"{ignored[0]})")
    predictor = Predictor(open_models(args.model, args.run_dir), args.device, crops=args.crops)
    rows, unwritten = [], None
    for path, result in iter_predictions(files, predictor, args.window, args.stride):
        if isinstance(result, PredictError):
            rows.append(failure_row(path, result.status, str(result)))
            print(f"moede predict: {result}", file=sys.stderr)
            continue
        try:
            write_outputs(result, args.out, predictor.bundle, args.annotate)
        except OutputWriteError as error:
            unwritten = error
            rows.append(failure_row(path, "not_written", str(error)))
            print(f"moede predict: {error}", file=sys.stderr)
            continue
        rows.append(summary_row(result))
        print(f"{path}: {result.label}" + (f" ({result.note})" if result.note else ""))
    write_summary(rows, args.out)
    predicted = sum(row["status"] in PREDICTED for row in rows)
    taken = sum(row["status"] == "crop" for row in rows)
    crops = f" ({taken} photo(s) taken whole as face crops)" if taken else ""
    print(f"{predicted}/{len(files)} file(s) predicted{crops} -> {args.out}; one row per file in {args.out / SUMMARY}")
    hint = crops_hint(rows)  # None with --crops: every readable photo was predicted
    if hint:
        print(f"moede predict: {hint}", file=sys.stderr)
    if unwritten is not None:
        return EXIT_OUTPUT
    if not predicted:
        print(f"moede predict: not one of the {len(files)} file(s) gave a prediction (see the status column of "
              f"{args.out / SUMMARY})", file=sys.stderr)
        return EXIT_INPUT
    return 0
