"""Gaussian Process Latent Variable Models in PyMC, run as configurable Hydra experiments.

The library's front door: ``gplvm.load_config(*overrides)``, ``gplvm.fit_experiment(cfg)``,
``gplvm.save_experiment(exp, run_dir)``, ``gplvm.load_run(run_dir)``, and the array-in estimator
``gplvm.GPLVM``. They are imported on
first use (PEP 562), so that ``import gplvm`` stays light.
"""

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("gplvm")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"

_PUBLIC = {
    "load_config": "gplvm.config",
    "fit_experiment": "gplvm.run.pipeline",
    "save_experiment": "gplvm.run.pipeline",
    "load_run": "gplvm.run.loaded",
    "GPLVM": "gplvm.run.estimator",
}
__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str):
    if name in _PUBLIC:
        return getattr(import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'gplvm' has no attribute {name!r}")
