"""Library log output under Hydra's logging (console and the run's log file)."""

from __future__ import annotations

import logging
import warnings

# Lightning's lines a user cannot act on: adverts, hardware banners (shiftlab says the
# device in one line of its own), and notes about defaults shiftlab already chose
UNACTIONABLE = (
    "💡",
    "litlogger",
    "litmodels",
    "GPU available:",
    "TPU available:",
    "HPU available:",
    "IPU available:",
    "Trainer already configured with model summary callbacks",
)
LIGHTNING_LOGGERS = (
    "lightning.pytorch.utilities.rank_zero",
    "lightning.fabric.utilities.rank_zero",
    "lightning.pytorch.accelerators.cuda",
)


class DropUnactionable(logging.Filter):
    """Drops the records of :data:`UNACTIONABLE`."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(text in message for text in UNACTIONABLE)


def route_library_logs() -> None:
    """Send Lightning's messages through Hydra's handlers only (console and run log file),
    without its adverts and banners.

    The ``lightning`` package adds a console handler of its own at import, which prints every
    message twice under Hydra's logging. Also silence one deprecation notice that Lightning
    raises from its own code under recent torch (nothing a user can act on).
    """
    if logging.getLogger().handlers:
        logging.getLogger("lightning").handlers.clear()
    for name in LIGHTNING_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, DropUnactionable) for f in logger.filters):
            logger.addFilter(DropUnactionable())
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")
