"""Shared fixtures. Compilation dominates the suite's time, so compiled functions are session-wide."""

from __future__ import annotations

import re

import pytensor
import pytensor.tensor as pt
import pytest

from gplvm.kernels import Linear
from gplvm.likelihood import FORMS, dense_log_likelihood_from_K
from tests.helpers import TEST_MODE
from tests.margins import MARGINS, Margin, table


def pytest_addoption(parser):
    parser.addoption(
        "--seeds",
        type=int,
        default=1,
        metavar="N",
        help="run each test that takes a `seed` with seeds 0..N-1 and print the worst margins",
    )


def pytest_configure(config):
    config.stash[MARGINS] = {}


def pytest_generate_tests(metafunc):
    """Seeded tests run once (seed 0), or over --seeds N; module fixtures may depend on the seed."""
    if "seed" in metafunc.fixturenames:
        n = metafunc.config.getoption("--seeds")
        metafunc.parametrize("seed", range(n), ids=[f"seed{s}" for s in range(n)], scope="module")


def pytest_collection_modifyitems(config, items):
    """Mark seeded tests ``seeded`` (``make test-seeds`` runs them over 10 seeds), and group tests
    for parallel runs (``-n 2 --dist loadgroup``): a module's tests share a worker, and so do all
    the modules that use the NUTS run, which costs a cold compile per worker."""
    nuts_modules = {item.module.__name__ for item in items if "nuts_run" in item.fixturenames}
    for item in items:
        if "seed" in item.fixturenames:
            item.add_marker(pytest.mark.seeded)
        module = item.module.__name__
        item.add_marker(pytest.mark.xdist_group("nuts_run" if module in nuts_modules else module))


@pytest.fixture
def margin(request, seed):
    """``margin(name, value, below=t)`` or ``above=t``: assert a statistic and record it per seed."""
    test = re.sub(r"seed\d+-|-?seed\d+", "", request.node.name).replace("[]", "")
    return Margin(request.config.stash[MARGINS], test, seed)


def pytest_terminal_summary(terminalreporter, config):
    store = config.stash[MARGINS]
    if store and config.getoption("--seeds") > 1:
        terminalreporter.section("seeds and margins (worst value over the seeds run)")
        for row in table(store):
            terminalreporter.write_line(row)


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
