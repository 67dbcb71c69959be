"""Running one job: the body of ``shiftlab train`` and what it needs.

Building objects from config nodes, the training body, resuming a run in place, DDP under
Hydra, which process writes (ranks), checkpoint files (written whole, read safely), and
what a run records about itself. Importing this package imports nothing heavy: the modules
that need torch or Lightning import them themselves.
"""
