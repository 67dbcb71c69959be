"""Experiment trackers beside TensorBoard (``logger=mlflow``, ``logger=wandb``): Lightning's
loggers, given the run's files as artefacts and a sweep's jobs grouped together."""
