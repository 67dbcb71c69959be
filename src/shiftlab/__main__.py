"""``python -m shiftlab`` is the same as the ``shiftlab`` command."""

from shiftlab.cli.main import main

if __name__ == "__main__":
    main()
