"""Gaussian Process Latent Variable Models in PyMC, run as configurable Hydra experiments."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("gplvm")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"
