"""Covariance functions over the latent positions, one module per kernel, registered in
:data:`KERNELS` by name.

Every module of this folder is imported here, so a new kernel is one new file (a class with a
``name``), a preset in ``conf/model/`` and a line in ``docs/model.md``.
"""

import importlib
import pkgutil

from gplvm.model.kernels.base import KERNELS, Hyper, Kernel, conditional_variance, make_kernel

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["KERNELS", "Hyper", "Kernel", "conditional_variance", "make_kernel"]
