"""``model.likelihood=auto``: the likelihood form chosen by the data's size.

The dense form is exact but O(N^3) a step; the sparse form's O(N M^2) bound is far cheaper and
places the latents less well (1-NN error on 1,000 digits: 0.064 sparse, 0.031 dense started from
the sparse fit). ``auto`` takes the dense form while a dense fit started from a sparse one ends
in about a minute, and the sparse form above that size; the linear kernel keeps its exact
O(N Q^2) woodbury form at every size.
"""

from __future__ import annotations

from gplvm.model.forms.base import FORMS
from gplvm.model.kernels import KERNELS

AUTO = "auto"
# Dense rbf MAP from a sparse start on digits (2 cores, 2026-11-29): 1,000 rows in 49 s whole
# process; the cost grows as N^3 beyond that (docs/performance.md).
DENSE_MAX_OBS = 1000


def choose_likelihood(kernel: str, n_obs: int) -> tuple[str, str]:
    """(form name, why) for ``model.likelihood=auto`` with the kernel named ``kernel`` on ``n_obs`` rows."""
    if FORMS["woodbury"].supports(KERNELS[kernel]()):
        return "woodbury", "auto: the linear kernel's exact O(N Q^2) woodbury form"
    if n_obs <= DENSE_MAX_OBS:
        return "dense", f"auto: dense (exact) up to {DENSE_MAX_OBS:,} rows; N = {n_obs:,}"
    return "sparse", f"auto: sparse above {DENSE_MAX_OBS:,} rows, where dense (O(N^3)) is slow; N = {n_obs:,}"
