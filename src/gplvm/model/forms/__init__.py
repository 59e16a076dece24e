"""Likelihood forms: the ways of evaluating eq. 1 (woodbury, dense, sparse), one module each,
registered in :data:`FORMS` by name.

Every module of this folder is imported here, so a new form is one new file (a class with a
``name``) and a line in ``docs/model.md``.
"""

import importlib
import pkgutil

from gplvm.model.forms.base import FORMS, LikelihoodForm, describe, make_form

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["FORMS", "LikelihoodForm", "describe", "make_form"]
