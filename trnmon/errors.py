"""User-facing errors: one clear line, exit code 2, no traceback."""

from __future__ import annotations


class TrnmonError(Exception):
    """An error caused by the user's input (config, flags, ids); printed as one line."""

    exit_code = 2


class ConfigError(TrnmonError):
    """The configuration file, environment or flags are invalid."""
