"""User-facing errors: one clear sentence, no traceback, non-zero exit."""

import logging
import sys
from collections.abc import Callable

log = logging.getLogger(__name__)


class UserError(Exception):
    """Something the user can fix (a bad param, a missing or corrupt file, a mirror down).

    The message must say what was wrong and what to do about it.
    """


def run_stage(main: Callable[[], None]) -> None:
    """Run a stage's `main`, turning a `UserError` into one message and exit status 1."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        main()
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(1)
