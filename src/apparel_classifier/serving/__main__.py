"""`python -m apparel_classifier.serving`: run the API and web page with uvicorn (`make serve`)."""

import argparse
import logging
import os
import sys
from pathlib import Path

import uvicorn

from apparel_classifier.errors import UserError
from apparel_classifier.model_card import load_model
from apparel_classifier.paths import MODELS_DIR
from apparel_classifier.serving.app import DEFAULT_MAX_BATCH, DEFAULT_MAX_UPLOAD_BYTES, create_app


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options; the model directory and port also come from MODEL_DIR and PORT."""
    parser = argparse.ArgumentParser(
        prog="python -m apparel_classifier.serving", description=__doc__
    )
    parser.add_argument(
        "--model-dir", type=Path, default=Path(os.environ.get("MODEL_DIR", MODELS_DIR))
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="interface to listen on (default: local only)"
    )
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--max-upload-bytes", type=int, default=DEFAULT_MAX_UPLOAD_BYTES)
    parser.add_argument("--max-batch", type=int, default=DEFAULT_MAX_BATCH)
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (1 is fastest per image)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Serve until interrupted."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        # Checked once up front, so a missing or corrupt models/ is one line, not a traceback
        # from inside uvicorn's startup; the app then loads it for real in its lifespan.
        load_model(args.model_dir)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(1)
    app = create_app(args.model_dir, args.max_upload_bytes, args.max_batch, args.threads)
    # One worker process: the model is loaded once; requests share it through a thread pool.
    uvicorn.run(app, host=args.host, port=args.port, access_log=False)


if __name__ == "__main__":
    main()
