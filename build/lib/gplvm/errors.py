"""Errors that reach the user as one line and a nonzero exit, never as a traceback."""


class GPLVMError(Exception):
    """Base class: bad input that the user can fix. The message is shown as is."""


class ConfigError(GPLVMError):
    """A configuration value is out of range or inconsistent with the data."""


class DataError(GPLVMError):
    """A dataset cannot be loaded or is unusable (missing file, NaNs, non-numeric values...)."""


class RunDirectoryError(GPLVMError):
    """A run directory is missing, incomplete or failed, so there is nothing to inspect."""


class NumericalError(GPLVMError):
    """The covariance K cannot be factorised at the given latents and hyperparameters."""
