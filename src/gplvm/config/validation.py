"""Range checks shared by the config schemas: one line that names the bad value and what is valid."""

from __future__ import annotations

import math
from typing import Any

from gplvm.errors import ConfigError


def require(ok: bool, key: str, value: Any, valid: str) -> None:
    """Raise a :class:`~gplvm.errors.ConfigError` ``key=value is invalid: valid`` unless ``ok``."""
    if not ok:
        raise ConfigError(f"{key}={value!r} is invalid: {valid}")


def positive_finite(key: str, value: float) -> None:
    """Require a finite number > 0."""
    require(math.isfinite(value) and value > 0, key, value, "it must be a finite number > 0")


def non_negative_finite(key: str, value: float) -> None:
    """Require a finite number >= 0."""
    require(math.isfinite(value) and value >= 0, key, value, "it must be >= 0")
