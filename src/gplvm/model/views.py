"""Several views of the same rows (manifold relevance determination): one q(Z), a bound per view.

Each view v is a block of Y's columns with its own kernel (ARD rbf or linear), hyperparameters,
noise precision and inducing inputs: a single-view :class:`~gplvm.model.spec.ModelSpec` of its
own. The Bayesian GPLVM's objective becomes

    sum_v F_v(q(Z); theta_v, U_v) - KL(q(Z) || p(Z)),

F_v the sparse bound of view v's columns with Z integrated over the shared q(Z). Its ARD
relevances then say which latent dims each view uses: dims used by several views are shared,
by one private. A view's missing rows are NaN cells in its columns, so they contribute nothing to
its bound (the missing-cell bound sums each column over its observed rows).

In the PyMC model a view's variables carry its name as a suffix: ``beta_<view>``,
``lengthscale_<view>``, ``inducing_<view>`` (dims ``inducing_point_<view>``), ``Y_<view>``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gplvm.model.spec import ModelSpec

RELEVANCE_THRESHOLD = (
    0.05  # a dim is used by a view when its relevance is above this share of the view's largest
)


@dataclass(frozen=True)
class ViewSpec:
    """One view: its name, its columns of Y and its single-view model."""

    name: str
    columns: np.ndarray
    spec: ModelSpec

    def variable(self, name: str) -> str:
        """The PyMC name of one of this view's variables."""
        return f"{name}_{self.name}"

    def dim(self, name: str) -> str:
        """The name of one of this view's dims (``inducing_point`` -> ``inducing_point_<view>``)."""
        return f"{name}_{self.name}"

    def parameter_dims(self, name: str) -> tuple[str, ...]:
        """A form parameter's dims with this view's own ones renamed (``latent_dim`` is shared)."""
        return tuple(d if d == "latent_dim" else self.dim(d) for d in self.spec.form.parameter_dims[name])

    def values(self, point: dict) -> dict:
        """This view's hyperparameters and form parameters from a point's (suffixed) values,
        under their single-view names."""
        out = {name: point.get(self.variable(name), value) for name, value in self.spec.configured.items()}
        out |= {
            name: point[self.variable(name)]
            for name in self.spec.form.parameters
            if self.variable(name) in point
        }
        return out


def relevance_matrix(views: list[ViewSpec], values: dict) -> np.ndarray:
    """Views x latent dims: each view's ARD relevance (variance / lengthscale^2), divided by its
    largest, so 1 marks the dim a view uses most. A view without ARD gets ones (it uses every dim)."""
    rows = []
    for view in views:
        relevance = view.spec.kernel.relevance(view.values(values))
        if relevance is None:
            rows.append(np.ones(view.spec.latent_dim))
        else:
            relevance = np.asarray(relevance, dtype=float)
            rows.append(relevance / relevance.max())
    return np.array(rows)


def shared_and_private(matrix: np.ndarray, names: list[str], threshold: float = RELEVANCE_THRESHOLD) -> dict:
    """Which views use each latent dim (relevance above ``threshold``), and whether it is shared
    (two or more views), private (one) or unused."""
    out = {}
    for q in range(matrix.shape[1]):
        users = [name for name, row in zip(names, matrix, strict=True) if row[q] > threshold]
        kind = "shared" if len(users) > 1 else ("private" if users else "unused")
        out[q] = {"views": users, "kind": kind}
    return out
