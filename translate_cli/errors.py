"""The one family of user-facing errors: each becomes a single red line and exit code 2 (130 for
Interrupted)."""


class TcliError(Exception):
    """A problem the user can fix; the message names the file, line or key and what to do."""


class ConfigError(TcliError):
    """A config file or override is wrong."""


class DataError(TcliError):
    """A corpus or input file is unusable."""


class CheckpointError(TcliError):
    """A model or checkpoint directory is missing, incomplete or does not fit."""


class Interrupted(TcliError):
    """Training stopped by Ctrl-C or SIGTERM after saving `last` (exit code 130)."""


def reason(exc: BaseException) -> str:
    """The first line of a library exception's message, short enough to quote in a one-line error."""
    lines = str(exc).splitlines()
    return (lines[0] if lines else type(exc).__name__)[:200]
