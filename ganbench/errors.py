"""Errors a user can act on. The CLI prints these as one clear line, never a traceback."""


class GanbenchError(Exception):
    """Base class: anything raised as a GanbenchError is the user's to fix, and says how."""


class ConfigError(GanbenchError):
    """An unknown name, a bad value or an impossible combination of settings."""


class DataError(GanbenchError):
    """A dataset that cannot be found, read or decoded."""


class CheckpointError(GanbenchError):
    """A checkpoint that is missing, unreadable or does not match the config."""


class DivergenceError(GanbenchError):
    """Training produced a NaN/inf loss; the last good checkpoint is kept."""
