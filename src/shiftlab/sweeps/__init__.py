"""Multirun sweeps: the sweep report, its Hydra callback, and threads per parallel job.

Nothing here imports torch: the report callback (and the grid sweeper in
``hydra_plugins.shiftlab_sweeper``, which Hydra requires to live there) run in Hydra's launching
process, and ``shiftlab report`` rebuilds a report without loading a model.
"""
