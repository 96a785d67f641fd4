"""`python -m apparel_classifier.serving`: run the API and web page with uvicorn (`make serve`).

    python -m apparel_classifier.serving                       # serve models/
    python -m apparel_classifier.serving --prod registry:prod --candidate registry:candidate \
        --canary-share 0.2 --shadow --log-dir logs/predictions --workers 2
"""

import argparse
import logging
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from pydantic import ValidationError

from apparel_classifier.errors import UserError
from apparel_classifier.serving.config import (
    DEFAULT_MAX_BATCH,
    DEFAULT_MAX_UPLOAD_BYTES,
    ServingConfig,
)
from apparel_classifier.serving.prediction_log import prepare_folder

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"  # read by prometheus_client when it is imported
# Each option's dest is its ServingConfig field; these flags are not that name with dashes.
_FLAGS = {"num_threads": "--threads"}
_WORDS = {"ge": "at least", "gt": "greater than", "le": "at most", "lt": "less than"}


def _int_from(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse type for uvicorn's own options: a whole number in range, or one line."""
    allowed = f"between {low} and {high}" if high is not None else f"at least {low}"

    def parse(text: str) -> int:
        try:
            value: int | None = int(text)
        except ValueError:
            value = None
        if value is None or value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"must be a whole number {allowed}, not {text!r}")
        return value

    return parse


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options; the model folder and port also come from MODEL_DIR and PORT."""
    parser = argparse.ArgumentParser(
        prog="python -m apparel_classifier.serving",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    models = parser.add_argument_group("models: a folder, or registry:<stage or version>")
    models.add_argument(
        "--prod", "--model-dir", dest="prod", default=os.environ.get("MODEL_DIR", "models"),
        help="the production model (default: models, or $MODEL_DIR)",
    )  # fmt: skip
    models.add_argument("--candidate", help="a candidate model, tried in shadow or canary mode")
    models.add_argument(
        "--canary-share", type=float, default=0.0,
        help="share of clients (sticky, by X-Client-Id or cookie) the candidate answers",
    )  # fmt: skip
    models.add_argument(
        "--shadow", action="store_true",
        help="the other model answers every request too; its answer is logged, not returned",
    )  # fmt: skip
    models.add_argument("--registry-repo", type=Path, default=Path(), help="the GTO registry repo")
    models.add_argument("--registry-cache", type=Path, default=Path(".registry"))
    log = parser.add_argument_group("prediction log (JSON lines, rotated)")
    log.add_argument("--log-dir", type=Path, help="where to write it (default: no log)")
    log.add_argument("--log-max-bytes", type=int, default=10 * 1024 * 1024)
    log.add_argument("--log-backups", type=int, default=5)
    log.add_argument("--log-images", action="store_true", help="keep each request's image too")
    parser.add_argument("--drift-window", type=int, default=200)
    parser.add_argument(
        "--host", default="127.0.0.1", help="interface to listen on (default: local only)"
    )
    # A string default goes through `type` too, so a bad $PORT is refused as --port is.
    parser.add_argument(
        "--port", type=_int_from(0, 65535), default=os.environ.get("PORT", "8000"),
        help="port to listen on (default: 8000, or $PORT)",
    )  # fmt: skip
    parser.add_argument("--workers", type=_int_from(1), default=1, help="worker processes")
    parser.add_argument("--max-upload-bytes", type=int, default=DEFAULT_MAX_UPLOAD_BYTES)
    parser.add_argument("--max-batch", type=int, default=DEFAULT_MAX_BATCH)
    parser.add_argument(
        "--threads", dest="num_threads", metavar="THREADS", type=int, default=1,
        help="torch threads per worker (1 is fastest per image)",
    )  # fmt: skip
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Serve until interrupted; a bad option or model is one line on stderr and exit 2 or 1."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        config = build_config(args)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    # Removed when the server exits, refused or not: it holds only what this run's worker
    # processes share (the serving state file and the Prometheus samples).
    with tempfile.TemporaryDirectory(prefix="apparel-serving-") as runtime:
        try:
            serve(config, Path(runtime), args)
        except UserError as err:
            print(f"error: {err}", file=sys.stderr)
            sys.exit(1)


def build_config(args: argparse.Namespace) -> ServingConfig:
    """The validated settings; a bad option raises UserError naming its flag and range."""
    fields = set(ServingConfig.model_fields) - {"runtime_dir"}  # set by `main` per run
    try:
        return ServingConfig(**{name: getattr(args, name) for name in fields})
    except ValidationError as err:
        raise UserError(_option_error(err)) from None


def flag_of(field: str) -> str:
    """The command-line flag that sets a ServingConfig field."""
    return _FLAGS.get(field, "--" + field.replace("_", "-"))


def _option_error(err: ValidationError) -> str:
    """One sentence for the first bad option, naming its flag and the allowed range."""
    first = err.errors()[0]
    if not first["loc"]:  # a rule across options (ServingConfig's validator) says it all
        return str(first.get("ctx", {}).get("error", first["msg"]))
    name = str(first["loc"][0])
    flag = flag_of(name)
    allowed = _allowed_range(name)
    if allowed is None:
        return f"{flag}: {first['msg'].lower()}"
    return f"{flag} must be {allowed}, not {first['input']}"


def _allowed_range(name: str) -> str | None:
    """The bounds ServingConfig puts on a field, in words (None when it has none)."""
    bounds: dict[str, object] = {}
    for constraint in ServingConfig.model_fields[name].metadata:  # Ge(ge=0), Le(le=1) …
        bounds |= {k: getattr(constraint, k) for k in _WORDS if hasattr(constraint, k)}
    if "ge" in bounds and "le" in bounds:
        return f"between {bounds['ge']} and {bounds['le']}"
    return " and ".join(f"{_WORDS[k]} {v}" for k, v in bounds.items()) or None


def serve(config: ServingConfig, runtime: Path, args: argparse.Namespace) -> None:
    """Check the log folder and the models, then run uvicorn until it is stopped."""
    config = config.model_copy(update={"runtime_dir": runtime})
    if config.log_dir is not None:
        # Here, not in each worker's startup, where a bad folder is a traceback from uvicorn.
        prepare_folder(config.log_dir)
    # Before prometheus_client is first imported (by the fleet, below): every worker then
    # writes its samples to files there, and a scrape adds them up.
    metrics_dir = runtime / "metrics"
    metrics_dir.mkdir()
    os.environ[MULTIPROC_ENV] = str(metrics_dir)

    from apparel_classifier.serving.fleet import Fleet

    # Once up front, so a missing or corrupt model is one line, not a traceback from
    # inside uvicorn's startup; it also publishes the state every worker then loads.
    Fleet(config)

    import uvicorn

    config.to_environment()
    # Each worker process imports the app factory by name and reads the settings back.
    uvicorn.run(
        "apparel_classifier.serving.app:app_from_environment", factory=True,
        host=args.host, port=args.port, workers=args.workers, access_log=False,
    )  # fmt: skip


if __name__ == "__main__":
    main()
