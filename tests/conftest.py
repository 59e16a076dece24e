"""Shared fixtures. Compilation dominates the suite's time, so compiled functions are session-wide."""

from __future__ import annotations

import pytensor
import pytensor.tensor as pt
import pytest

from gplvm.kernels import Linear
from gplvm.likelihood import FORMS, dense_log_likelihood_from_K
from tests.helpers import TEST_MODE


@pytest.fixture(scope="session")
def value_and_grad():
    """Compiled (value, dl/dZ) of eq. 1 for each likelihood form, for any N, D and Q."""
    Z, Y, beta = pt.matrix("Z"), pt.matrix("Y"), pt.scalar("beta")
    fns = {}
    for form, cls in FORMS.items():
        if cls.parameter_dims:  # the sparse form has its own tests (test_sparse.py)
            continue
        ll = cls(Linear()).log_likelihood(Z, Y, {"beta": beta})
        fns[form] = pytensor.function([Z, Y, beta], [ll, pytensor.grad(ll, Z)], mode=TEST_MODE)
    return fns


@pytest.fixture(scope="session")
def grad_wrt_K():
    """Compiled PyTensor gradient of eq. 1 with respect to K itself."""
    K, Y = pt.matrix("K"), pt.matrix("Y")
    ll = dense_log_likelihood_from_K(K, Y)
    return pytensor.function([K, Y], pytensor.grad(ll, K), mode=TEST_MODE)


@pytest.fixture(scope="session")
def map_random():
    """A MAP fit from a random start on tiny synthetic data."""
    from gplvm.pipeline import fit_experiment
    from tests.helpers import tiny_config

    return fit_experiment(tiny_config("inference.init=random", "model.beta=4", "model.prior_scale=2"))


@pytest.fixture(scope="session")
def nuts_run():
    """A short NUTS fit (nutpie, 2 chains x 60 draws) on tiny synthetic data."""
    from gplvm.pipeline import fit_experiment
    from tests.helpers import NUTS_ARGS, tiny_config

    return fit_experiment(tiny_config(*NUTS_ARGS))
