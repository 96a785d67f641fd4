"""The command line.

python -m apparel_classifier predict IMAGE [IMAGE ...]     classify photos
python -m apparel_classifier label-queue FOLDER [--out F]  rank photos for labelling
python -m apparel_classifier compare-log LOG_DIR [--json]  summarise the server's prediction log
"""

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from apparel_classifier import labelling
from apparel_classifier.errors import UserError
from apparel_classifier.images import ImageError
from apparel_classifier.paths import MODELS_DIR
from apparel_classifier.predictor import Predictor


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The commands and their options."""
    parser = argparse.ArgumentParser(prog="python -m apparel_classifier")
    commands = parser.add_subparsers(dest="command", required=True)
    predict = commands.add_parser("predict", help="classify garment photos")
    predict.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    predict.add_argument("--model-dir", type=Path, default=MODELS_DIR)
    predict.add_argument(
        "--json", action="store_true", help="print a JSON array instead of a table"
    )
    queue = commands.add_parser(
        "label-queue",
        help="rank a folder of unlabelled photos by how unsure the model is (a CSV)",
    )
    queue.add_argument("folder", type=Path, metavar="FOLDER")
    queue.add_argument("--out", type=Path, default=Path("labelling_queue.csv"))
    queue.add_argument("--by", choices=["entropy", "margin"], default="entropy")
    queue.add_argument("--model-dir", type=Path, default=MODELS_DIR)
    compare = commands.add_parser(
        "compare-log",
        help="summarise a server's prediction log: agreement of prod and candidate, classes, "
        "confidence and latency per model",
    )
    compare.add_argument("log_dir", type=Path, metavar="LOG_DIR")
    compare.add_argument("--json", action="store_true", help="print JSON instead of text")
    return parser.parse_args(argv)


def compare_log(args: argparse.Namespace) -> int:
    """Print the summary of the prediction log in `args.log_dir`."""
    from apparel_classifier.serving import prediction_log  # the server's own reader

    entries = prediction_log.read_entries(args.log_dir)
    if not entries:
        print(
            f"error: no prediction log in {args.log_dir}: start the server with --log-dir",
            file=sys.stderr,
        )
        return 1
    summary = prediction_log.summarise(entries)
    if args.json:
        print(json.dumps(summary.as_dict(), indent=2))
    else:
        print(prediction_log.format_summary(summary))
    return 0


def label_queue(predictor: Predictor, args: argparse.Namespace) -> int:
    """Write the labelling queue for `args.folder` to `args.out`; report what was skipped."""
    if not args.folder.is_dir():
        print(f"error: {args.folder} is not a folder of photos", file=sys.stderr)
        return 1
    if args.out.is_dir():  # checked before the photos are scored, not after
        print(f"error: --out {args.out} is a folder; name the CSV file to write", file=sys.stderr)
        return 1
    photos = labelling.find_photos(args.folder)
    queue, skipped = labelling.build_queue(predictor, photos, args.by)
    for path, why in skipped.items():
        print(f"skipped {path}: {why}", file=sys.stderr)
    if not queue:
        print(f"error: no readable photo in {args.folder}", file=sys.stderr)
        return 1
    try:
        labelling.write_queue(queue, args.out)
    except OSError as exc:  # a file where a folder of the path should be, no permission, …
        print(f"error: cannot write {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    unsure = sum(entry.uncertain for entry in queue)
    print(f"{args.out}: {len(queue)} photos, most uncertain first ({unsure} below the threshold)")
    return 0


def predict_files(predictor: Predictor, files: list[Path]) -> list[dict[str, Any]]:
    """One result per file, in order: the prediction, or the error that file alone hit."""
    results: list[dict[str, Any]] = []
    for path in files:
        try:
            p = predictor.predict(path)
        except ImageError as err:
            results.append({"file": str(path), "error": str(err)})
            continue
        results.append({
            "file": str(path), "category": p.category, "class_id": p.class_id,
            "confidence": round(p.confidence, 6), "uncertain": p.uncertain,
            "probabilities": dict(zip(predictor.classes, (round(q, 6) for q in p.probabilities),
                                      strict=True)),
        })  # fmt: skip
    return results


def format_table(results: list[dict[str, Any]]) -> str:
    """File, category, confidence and whether the model is sure, in aligned columns.

    An error takes the rest of its file's line.
    """
    width = max(len("FILE"), *(len(r["file"]) for r in results))
    lines = [f"{'FILE':<{width}}  {'CATEGORY':<12}  CONFIDENCE  SURE"]
    for r in results:
        if "error" in r:
            lines.append(f"{r['file']:<{width}}  error: {r['error']}")
        else:
            sure = "no, closest match" if r["uncertain"] else "yes"
            lines.append(
                f"{r['file']:<{width}}  {r['category']:<12}  {r['confidence']:>10.1%}  {sure}"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the command; exit status 1 when the model or any file could not be used."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.command == "compare-log":
        return compare_log(args)
    try:
        predictor = Predictor(args.model_dir)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    if args.command == "label-queue":
        return label_queue(predictor, args)
    results = predict_files(predictor, args.images)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(format_table(results))
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
