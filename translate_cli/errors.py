"""The one family of user-facing errors: each becomes a single red line and exit code 2."""


class TcliError(Exception):
    """A problem the user can fix; the message names the file, line or key and what to do."""


class ConfigError(TcliError):
    """A config file or override is wrong."""


class DataError(TcliError):
    """A corpus or input file is unusable."""


class CheckpointError(TcliError):
    """A model or checkpoint directory is missing, incomplete or does not fit."""
