"""How every command ends on a user's mistake: one paragraph, exit status 1, no traceback."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from shiftlab.errors import ShiftlabError


@contextmanager
def reported(log: logging.Logger) -> Iterator[None]:
    try:
        yield
    except ShiftlabError as err:
        log.error("%s", err)
        raise SystemExit(1) from None
