"""The ``shiftlab`` command: subcommands, each a Hydra app. Nothing heavy is imported here."""
