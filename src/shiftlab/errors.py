"""Errors a user can cause and fix: shown as one paragraph, without a traceback."""


class ShiftlabError(Exception):
    """A problem with the user's config, data or files; the message says how to fix it."""


class ConfigError(ShiftlabError, ValueError):
    """A config value that cannot work (names the key and a valid alternative)."""


class DataError(ShiftlabError, ValueError):
    """Data that cannot be used as it is: missing, empty, malformed or inconsistent."""


class TrainingDiverged(ShiftlabError, FloatingPointError):
    """The loss became NaN or infinite: a setting to change, not a bug to trace."""
