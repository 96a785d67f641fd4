"""CI quality gate: fail when the pipeline's accuracy falls below the project's targets.

Two gates: Fashion-MNIST test accuracy (metrics/metrics.json) and accuracy on the
field validation photos (metrics/field.json, any footwear right for `shoes`).

Usage: python -m tools.quality_gate [--min-accuracy 0.925] [--min-field-accuracy 0.78]
"""

import argparse
import json
import sys
from pathlib import Path

from apparel_classifier import paths
from apparel_classifier.errors import UserError

# Issue 3's target for the default params: at least 92.5 % test accuracy.
MIN_ACCURACY = 0.925
# A regression guard a little under what the default params reach on the field photos
# (0.81, see README, Results); issue 9's target is 0.85, not reached yet.
MIN_FIELD_ACCURACY = 0.78


def check(metrics_file: Path, minimum: float, what: str) -> float:
    """Return the `accuracy` in `metrics_file`; raise UserError when it is below `minimum`."""
    try:
        value = json.loads(metrics_file.read_text(encoding="utf-8"))["accuracy"]
        if value is None:  # evaluate found no photo to score (field.json on an empty folder)
            raise UserError(
                f"{metrics_file} scores no {what} images: check that the data is there "
                "(for field photos, data/field/validation/) and rerun `dvc repro`"
            )
        accuracy = float(value)
    except FileNotFoundError:
        raise UserError(f"{metrics_file} not found: run the pipeline first (`make run`)") from None
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise UserError(
            f"{metrics_file} has no readable `accuracy` ({exc}); rerun `dvc repro`"
        ) from None
    if accuracy < minimum:
        raise UserError(
            f"{what} accuracy {accuracy:.4f} is below the required {minimum:.4f}: "
            "this change makes the model worse; revert it or tune params.yaml"
        )
    return accuracy


def main(argv: list[str] | None = None) -> int:
    """Print the verdict of each gate; exit status 1 when any fails."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--metrics", type=Path, default=paths.METRICS_FILE)
    parser.add_argument("--min-accuracy", type=float, default=MIN_ACCURACY)
    parser.add_argument("--field-metrics", type=Path, default=paths.FIELD_METRICS_FILE)
    parser.add_argument("--min-field-accuracy", type=float, default=MIN_FIELD_ACCURACY)
    args = parser.parse_args(argv)
    gates = [
        ("test", args.metrics, args.min_accuracy),
        ("field", args.field_metrics, args.min_field_accuracy),
    ]
    failed = False
    for what, metrics_file, minimum in gates:
        try:
            accuracy = check(metrics_file, minimum, what)
        except UserError as err:
            print(f"quality gate FAILED: {err}", file=sys.stderr)
            failed = True
            continue
        print(f"quality gate passed: {what} accuracy {accuracy:.4f} >= {minimum:.4f}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
