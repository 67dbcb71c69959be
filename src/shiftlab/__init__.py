"""shiftlab: Hydra-composed deep-learning experiments.

Importing the package is cheap (no torch): the command line composes and prints configs
before any heavy import.
"""

from shiftlab.config.location import config_dir

__version__ = "0.1.0"

__all__ = ["__version__", "config_dir"]
