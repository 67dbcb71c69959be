"""shiftlab's grid sweeper, where Hydra looks for plugins (it loads them from ``hydra_plugins``)."""
