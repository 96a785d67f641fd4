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
from pathlib import Path

from apparel_classifier.errors import UserError
from apparel_classifier.serving.config import (
    DEFAULT_MAX_BATCH,
    DEFAULT_MAX_UPLOAD_BYTES,
    ServingConfig,
)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"  # read by prometheus_client when it is imported


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
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--workers", type=int, default=1, help="worker processes")
    parser.add_argument("--max-upload-bytes", type=int, default=DEFAULT_MAX_UPLOAD_BYTES)
    parser.add_argument("--max-batch", type=int, default=DEFAULT_MAX_BATCH)
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads per worker (1 is fastest per image)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Serve until interrupted."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    runtime = Path(tempfile.mkdtemp(prefix="apparel-serving-"))
    # Before prometheus_client is first imported (by the app, below): every worker then
    # writes its samples to files there, and a scrape adds them up.
    metrics_dir = runtime / "metrics"
    metrics_dir.mkdir()
    os.environ[MULTIPROC_ENV] = str(metrics_dir)
    try:
        config = ServingConfig(
            prod=args.prod, candidate=args.candidate, canary_share=args.canary_share,
            shadow=args.shadow, registry_repo=args.registry_repo,
            registry_cache=args.registry_cache, runtime_dir=runtime, log_dir=args.log_dir,
            log_max_bytes=args.log_max_bytes, log_backups=args.log_backups,
            log_images=args.log_images, drift_window=args.drift_window,
            max_upload_bytes=args.max_upload_bytes, max_batch=args.max_batch,
            num_threads=args.threads,
        )  # fmt: skip
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)

    from apparel_classifier.serving.fleet import Fleet

    try:
        # Once up front, so a missing or corrupt model is one line, not a traceback from
        # inside uvicorn's startup; it also publishes the state every worker then loads.
        Fleet(config)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(1)

    import uvicorn

    config.to_environment()
    # Each worker process imports the app factory by name and reads the settings back.
    uvicorn.run(
        "apparel_classifier.serving.app:app_from_environment", factory=True,
        host=args.host, port=args.port, workers=args.workers, access_log=False,
    )  # fmt: skip


if __name__ == "__main__":
    main()
