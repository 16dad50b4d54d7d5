"""The errors ganzoo raises for user mistakes and bad files, importable by every layer.

Each message says what was wrong and how to fix it; the CLI prints it as one line and exits 2
(`TrainingDiverged` and `WorkerLost`: exit 1, the run failed rather than the request).
"""


class ConfigError(ValueError):
    """A user mistake in the training configuration."""


class DatasetError(ValueError):
    """A dataset could not be loaded because of the request or the data; the message says
    what was wrong and how to fix it."""


class ExportError(ValueError):
    """A generator that cannot be exported, or an export that is missing, corrupt or wrong."""


class RunDirError(ValueError):
    """A run directory that cannot be used as it is: in use by another run, or a damaged file."""


class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite."""


class WorkerLost(RuntimeError):
    """Under --strategy multi_worker, another worker of the cluster stopped mid-run."""
