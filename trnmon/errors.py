"""User-facing errors: one clear line, exit code 2, no traceback."""

from __future__ import annotations

import sys
from collections.abc import Callable


class TrnmonError(Exception):
    """An error caused by the user's input (config, flags, ids); printed as one line."""

    exit_code = 2


class ConfigError(TrnmonError):
    """The configuration file, environment or flags are invalid."""


def run_main(prog: str, body: Callable[[], int]) -> int:
    """Run a console script's body: user errors become one line on stderr and their exit
    code, a closed pipe (`trnmon ls --fleet | head`) is not an error, Ctrl-C exits 130."""
    try:
        return body()
    except TrnmonError as exc:
        msg = str(exc)
        print(msg if msg.startswith(prog) else f"{prog}: {msg}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        return 130
