"""Shared fixtures. Compilation dominates the suite's time, so compiled functions are session-wide."""

from __future__ import annotations

import re
from pathlib import Path

import pytensor
import pytensor.tensor as pt
import pytest

from gplvm.model.forms import FORMS
from gplvm.model.forms.dense import dense_log_likelihood_from_K
from gplvm.model.kernels.linear import Linear
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


# Rough seconds per work unit on 2 cores with empty caches, measured 2026-11-29. Parallel runs start
# the costliest units first, so that no worker is left with a long one at the end; only the order
# depends on these numbers.
COST_SECONDS = {
    "nuts_run": 70,
    "tests/inference/test_variational.py": 55,
    "tests/cli/test_cli.py": 30,
    "tests/run/test_lifecycle.py": 28,
    "tests/model/test_missing.py": 26,
    "tests/run/test_sweep.py": 24,
    "tests/model/test_sparse.py": 17,
}


def _nuts_modules() -> set[str]:
    """The test modules that use the shared NUTS run, by their text (the controller collects nothing)."""
    here = Path(__file__).parent
    return {
        f"tests/{p.relative_to(here).as_posix()}"
        for p in here.rglob("test_*.py")
        if "nuts_run" in p.read_text()
    }


def _work_unit(nodeid: str, nuts_modules: set[str]) -> str:
    module = nodeid.split("::", 1)[0]
    return "nuts_run" if module in nuts_modules else module


def pytest_collection_modifyitems(config, items):
    """Seeded tests are marked ``seeded`` (``make test-seeds`` runs them over 10 seeds); the
    costliest work units come first."""
    for item in items:
        if "seed" in item.fixturenames:
            item.add_marker(pytest.mark.seeded)
    nuts = _nuts_modules()
    items.sort(key=lambda item: -COST_SECONDS.get(_work_unit(item.nodeid, nuts), 0))


def pytest_xdist_make_scheduler(config, log):
    """Parallel runs (``-n 2``) send each module whole to one worker, and all the modules that use
    the NUTS run to the same one: that run costs a cold numba compile in every worker that builds
    it. (pytest-xdist's ``xdist_group`` marks would say the same, but do not take under pytest 9.2,
    whose node ids no longer come from the attribute that xdist 3.8 rewrites.)"""
    from xdist.scheduler import LoadScopeScheduling

    nuts = _nuts_modules()
    config.option.loadscopereorder = False  # keep the order above: costliest first

    class ByModuleAndSharedRun(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _work_unit(nodeid, nuts)

    return ByModuleAndSharedRun(config, log)


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
    from gplvm.run.pipeline import fit_experiment
    from tests.helpers import tiny_config

    return fit_experiment(tiny_config("inference.init=random", "model.beta=4", "model.prior_scale=2"))


@pytest.fixture(scope="session")
def nuts_run():
    """A short NUTS fit (nutpie, 2 chains x 60 draws) on tiny synthetic data."""
    from gplvm.run.pipeline import fit_experiment
    from tests.helpers import NUTS_ARGS, tiny_config

    return fit_experiment(tiny_config(*NUTS_ARGS))
