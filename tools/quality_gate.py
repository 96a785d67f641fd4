"""CI quality gate: fail when the pipeline's test accuracy falls below the project's target.

Usage: python -m tools.quality_gate [--min-accuracy 0.925]
"""

import argparse
import json
import sys
from pathlib import Path

from apparel_classifier import paths
from apparel_classifier.errors import UserError

# Issue 3's target for the default params: at least 92.5 % test accuracy.
MIN_ACCURACY = 0.925


def check(metrics_file: Path, min_accuracy: float) -> float:
    """Return the test accuracy in `metrics_file`; raise UserError when it is below the target."""
    try:
        accuracy = float(json.loads(metrics_file.read_text(encoding="utf-8"))["accuracy"])
    except FileNotFoundError:
        raise UserError(f"{metrics_file} not found: run the pipeline first (`make run`)") from None
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise UserError(
            f"{metrics_file} has no readable `accuracy` ({exc}); rerun `dvc repro`"
        ) from None
    if accuracy < min_accuracy:
        raise UserError(
            f"test accuracy {accuracy:.4f} is below the required {min_accuracy:.4f}: "
            "this change makes the model worse; revert it or tune params.yaml"
        )
    return accuracy


def main(argv: list[str] | None = None) -> int:
    """Print the verdict; exit status 1 when the gate fails."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--metrics", type=Path, default=paths.METRICS_FILE)
    parser.add_argument("--min-accuracy", type=float, default=MIN_ACCURACY)
    args = parser.parse_args(argv)
    try:
        accuracy = check(args.metrics, args.min_accuracy)
    except UserError as err:
        print(f"quality gate FAILED: {err}", file=sys.stderr)
        return 1
    print(f"quality gate passed: test accuracy {accuracy:.4f} >= {args.min_accuracy:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
