"""`python -m apparel_classifier predict IMAGE [IMAGE ...]`: classify image files from the shell."""

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from apparel_classifier.errors import UserError
from apparel_classifier.images import ImageError
from apparel_classifier.paths import MODELS_DIR
from apparel_classifier.predictor import Predictor


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The `predict` command and its options."""
    parser = argparse.ArgumentParser(prog="python -m apparel_classifier")
    commands = parser.add_subparsers(dest="command", required=True)
    predict = commands.add_parser("predict", help="classify garment photos")
    predict.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    predict.add_argument("--model-dir", type=Path, default=MODELS_DIR)
    predict.add_argument(
        "--json", action="store_true", help="print a JSON array instead of a table"
    )
    return parser.parse_args(argv)


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
    try:
        predictor = Predictor(args.model_dir)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    results = predict_files(predictor, args.images)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(format_table(results))
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
