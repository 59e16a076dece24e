"""Fit methods: one class per ``inference=<name>`` option, each returning a :class:`Fit`.

Downstream code asks the fit what it holds (``Fit.has_draws``, ``Fit.start``, ``Fit.info``)
rather than branching on the method's name.
"""

from __future__ import annotations

from gplvm.config import InferenceConfig
from gplvm.inference.base import (
    Fit,
    FitMethod,
    compile_mode,
    compile_options,
    initial_latents,
    starting_point,
)
from gplvm.inference.map import MapMethod
from gplvm.inference.nuts import NutsMethod
from gplvm.inference.svi_method import SVIMethod
from gplvm.inference.variational import VariationalMethod

METHODS: dict[str, type[FitMethod]] = {
    m.name: m for m in (MapMethod, NutsMethod, SVIMethod, VariationalMethod)
}

__all__ = [
    "METHODS",
    "Fit",
    "FitMethod",
    "compile_mode",
    "compile_options",
    "initial_latents",
    "method_for",
    "starting_point",
]


def method_for(cfg: InferenceConfig) -> FitMethod:
    """The fit method that ``cfg`` (a MapConfig, NutsConfig, ...) configures."""
    return METHODS[cfg.method](cfg)
