"""The layout of a run directory, written atomically.

A run directory holds (Hydra adds ``.hydra/`` with the composed config and overrides):

- ``metrics.json``: ``"status"`` is ``"running"`` while the job runs, then ``"completed"`` with
  the figures, ``"failed"`` with the error, or ``"interrupted"`` with the signal (see
  :mod:`gplvm.run.lifecycle`). It is written last on success.
- ``posterior.nc``: the DataTree, readable by ``arviz.from_netcdf``.
- ``latent.png``: the latent space.
- ``imputed.csv`` and ``imputed_sd.csv`` (data with missing cells only): the data table in its
  original units and row order, missing cells filled with their predictive means, and the
  predictive standard deviations (0 where a cell was observed).

Every file is written to a temporary name and renamed into place, so a reader never sees a
half-written file under its final name.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # xarray takes 0.4 s to import; the sweep callback and --help never need it
    from xarray import DataTree

METRICS = "metrics.json"
POSTERIOR = "posterior.nc"
LATENT_PLOT = "latent.png"
IMPUTED = "imputed.csv"
IMPUTED_SD = "imputed_sd.csv"
_UMASK = os.umask(0)
os.umask(_UMASK)


def write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` on a temporary path beside ``path``, then rename it to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp creates 0600; give the usual permissions
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _json_safe(value):
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str):  # numpy scalars
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN or inf
    return value


def write_metrics(run_dir: Path, metrics: dict) -> None:
    """Write ``metrics.json`` atomically; NaN and inf become null."""
    text = json.dumps(_json_safe(metrics), indent=2, sort_keys=False) + "\n"
    write_atomic(run_dir / METRICS, lambda p: p.write_text(text))


def mark_failed(run_dir: Path, error: BaseException) -> None:
    """Record a failed job with its error type and message."""
    write_metrics(run_dir, {"status": "failed", "error_type": type(error).__name__, "error": str(error)})


def write_posterior(run_dir: Path, idata: DataTree) -> None:
    """Write the DataTree as netCDF (h5netcdf engine)."""
    write_atomic(run_dir / POSTERIOR, lambda p: idata.to_netcdf(p, engine="h5netcdf"))


def write_imputed(run_dir: Path, imputed) -> None:
    """``imputed.csv`` and ``imputed_sd.csv`` from an ``imputed`` group (feature names as header)."""
    import pandas as pd

    names = [str(name) for name in imputed["feature"].values]
    for filename, variable in ((IMPUTED, "Y_imputed"), (IMPUTED_SD, "Y_imputed_sd")):
        frame = pd.DataFrame(imputed[variable].values, columns=names)
        write_atomic(
            # Shortest round-trip text: 5.1 stays 5.1 (not 5.0999999999999996), exactly the value.
            run_dir / filename,
            lambda p, frame=frame: frame.to_csv(p, index=False),
        )


def read_metrics(run_dir: Path) -> dict:
    """Read a run directory's ``metrics.json``."""
    return json.loads((run_dir / METRICS).read_text())
