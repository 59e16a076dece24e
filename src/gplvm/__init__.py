"""Gaussian Process Latent Variable Models in PyMC, run as configurable Hydra experiments."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("gplvm")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"


def __getattr__(name: str):
    """``gplvm.load_run``, imported on first use so that ``import gplvm`` stays light."""
    if name == "load_run":
        from gplvm.run.loaded import load_run

        return load_run
    raise AttributeError(f"module 'gplvm' has no attribute {name!r}")
