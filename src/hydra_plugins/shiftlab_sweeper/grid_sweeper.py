"""Hydra's grid sweeper, except that a failed job is recorded and the other jobs go on.

Hydra's ``BasicSweeper`` re-raises the first failed job once its batch ends, which stops the
sweep before the remaining batches and before the end-of-sweep report. Here a job that raises
(diverged to NaN, out of memory, a combination that cannot work) is logged with its error;
its directory keeps ``metrics.json`` with ``status: failed``, and the report lists it.

Composition errors (a misspelt option or key) still stop the sweep before any job starts:
every job's config is checked up front, as Hydra does.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import JobReturn, JobStatus
from omegaconf import OmegaConf

from shiftlab.sweeps.jobs import write_plan

log = logging.getLogger(__name__)


class GridSweeper(BasicSweeper):
    """Every combination of the swept values, in order; failures do not stop the sweep."""

    def sweep(self, arguments: list[str]) -> Any:
        assert self.config is not None and self.launcher is not None
        assert self.hydra_context is not None
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        overrides = parser.parse_overrides([*self._parse_config(), *arguments])
        self.overrides = self.split_arguments(overrides, self.max_batch_size)

        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        write_plan(sweep_dir, [job for batch in self.overrides for job in batch])

        returns: list[list[JobReturn]] = []
        first_index = 0
        while not self.is_done():
            batch = self.get_job_batch()
            self.validate_batch_is_legal(batch)
            results = list(self.launcher.launch(batch, initial_job_idx=first_index))
            for number, result in enumerate(results, start=first_index):
                if result.status == JobStatus.FAILED:
                    log.warning(
                        "Job %d failed and the sweep goes on: %s: %s",
                        number,
                        type(result._return_value).__name__,
                        result._return_value,
                    )
            first_index += len(batch)
            returns.append(results)
        return returns
