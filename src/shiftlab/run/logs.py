"""Library log output under Hydra's logging (console and the run's log file)."""

from __future__ import annotations

import logging
import warnings


def route_library_logs() -> None:
    """Send Lightning's messages through Hydra's handlers only (console and run log file).

    The ``lightning`` package adds a console handler of its own at import, which prints every
    message twice under Hydra's logging. Also silence one deprecation notice that Lightning
    raises from its own code under recent torch (nothing a user can act on).
    """
    if logging.getLogger().handlers:
        logging.getLogger("lightning").handlers.clear()
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")
