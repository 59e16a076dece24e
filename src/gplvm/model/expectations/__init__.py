"""Expectations of kernels under a Gaussian q(Z) (psi statistics), one module per kernel that has
them in closed form (as GPflow's ``expectations``).

Every module of this folder is imported here, so closed forms for a new kernel are one new file.
"""

import importlib
import pkgutil

from gplvm.model.expectations.base import Expectations, expectations_of, has_psi_statistics

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["Expectations", "expectations_of", "has_psi_statistics"]
