"""How every command ends on a user's mistake: one paragraph, exit status 1, no traceback.

Two kinds of mistakes reach the user. Our own (:class:`ShiftlabError`, raised by the schema,
the data readers, the tasks) already say what to fix. Hydra's (an unknown option, an unknown
key, an override that does not parse) are rewritten here into the same one-paragraph form
with the nearest valid names ("did you mean"). ``HYDRA_FULL_ERROR=1`` shows the full trace
of either kind instead.
"""

from __future__ import annotations

import difflib
import logging
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from shiftlab.errors import ShiftlabError

FULL_ERROR = "HYDRA_FULL_ERROR"
# Says that HYDRA_FULL_ERROR was set by shiftlab, not by the user: processes a run starts
# (DDP ranks, launcher workers) inherit both and still explain errors in one paragraph.
SET_BY_US = "SHIFTLAB_SETS_HYDRA_FULL_ERROR"


@contextmanager
def reported(log: logging.Logger) -> Iterator[None]:
    try:
        yield
    except ShiftlabError as err:
        log.error("%s", err)
        raise SystemExit(1) from None


def run_app(app: Callable[[], Any], command: str) -> None:
    """Run a subcommand's Hydra app; a user's mistake ends as one paragraph and exit 1.

    Hydra prints its own errors and exits unless ``HYDRA_FULL_ERROR`` is set; it is set here
    for the call so that the error comes back to us to be explained. A user who set it
    gets the exception with its whole trace, as Hydra would give it.
    """
    wants_trace = _is_set(os.environ.get(FULL_ERROR)) and SET_BY_US not in os.environ
    if not wants_trace:
        os.environ[FULL_ERROR] = os.environ[SET_BY_US] = "1"
    try:
        app()
    except Exception as err:
        message = None if wants_trace else explain(err, command)
        if message is None:
            raise
        print(f"shiftlab {command}: {message}", file=sys.stderr)
        raise SystemExit(1) from None
    finally:
        if not wants_trace:
            os.environ.pop(FULL_ERROR, None)
            os.environ.pop(SET_BY_US, None)


def explain(err: Exception, command: str) -> str | None:
    """One paragraph for a mistake a user can fix; None for anything else (a bug: trace)."""
    from hydra.errors import (
        ConfigCompositionException,
        MissingConfigException,
        OverrideParseException,
    )

    if isinstance(err, ShiftlabError):
        return str(err)
    if isinstance(err, MissingConfigException):
        return _unknown_option(err, command)
    if isinstance(err, OverrideParseException):
        return (
            f"an override does not parse: {str(err).splitlines()[0]}. Write overrides as "
            "key=value (quote values with spaces or brackets: 'data.image_size=[64,64]'); "
            "see https://hydra.cc/docs/advanced/override_grammar/basic/."
        )
    if isinstance(err, ConfigCompositionException):
        return _unknown_key(err, command)
    return None


def _unknown_option(err: Any, command: str) -> str:
    missing = str(getattr(err, "missing_cfg_file", "") or "")
    options = list(getattr(err, "options", None) or [])
    if not missing or not options:
        return " ".join(str(err).split("Config search path")[0].split())
    group, _, option = missing.rpartition("/")
    return (
        f"{group}={option}: there is no option '{option}' in the group '{group}'."
        f"{did_you_mean(option, options)} Options: {', '.join(options)} "
        f"(`shiftlab {command} --help` lists every group and option)."
    )


def _unknown_key(err: Exception, command: str) -> str:
    cause = err.__cause__
    full_key = getattr(cause, "full_key", None)
    parent = getattr(cause, "parent_node", None)
    first_line = str(err).splitlines()[0] if str(err) else type(err).__name__
    if not full_key or parent is None:
        return f"{first_line} {getattr(cause, 'msg', '') or ''}".strip()
    key = full_key.rsplit(".", 1)[-1]
    siblings = [str(k) for k in parent if str(k) != "hydra"]
    where = full_key.rsplit(".", 1)[0] if "." in full_key else None
    place = f"under '{where}'" if where else "at the top level"
    return (
        f"{full_key}: there is no key '{key}' {place}.{did_you_mean(key, siblings)} "
        f"Keys there: {', '.join(siblings)}. To add a new key on purpose write "
        f"+{full_key}=...; `shiftlab {command} --cfg job` prints the whole config."
    )


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    near = difflib.get_close_matches(word, list(choices), n=2, cutoff=0.6)
    if not near:
        return ""
    return " Did you mean " + " or ".join(f"'{n}'" for n in near) + "?"


def _is_set(value: str | None) -> bool:
    return value == "1"  # as Hydra reads it
