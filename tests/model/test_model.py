"""The PyMC model for every kernel: its log density and gradients against independent NumPy.

The gradient test generalises the seed's answer through the real model graph: for learned
hyperparameters theta (log-transformed by PyMC), d logp / d log(theta) = theta * (G : dK/dtheta +
d log prior / dtheta), and dl/dZ = G : dK/dZ, with G = dl/dK from eq. 3.
"""

from __future__ import annotations

import numpy as np
import pytest

from gplvm.config import PriorDist
from gplvm.data.loading import load_dataset
from gplvm.model import reference as ref
from gplvm.model.pymc_model import build_model
from gplvm.model.spec import ModelSpec
from tests.helpers import TEST_MODE, tiny_config
from tests.model.derivatives import grad_hyper, grad_Z

CASES = {
    "rbf": ("model=rbf",),
    "rbf_ard_bias": ("model=rbf_ard", "model.learn.bias=true", "model.bias=0.3", "model.latent_dim=3"),
    "rbf_fixed": ("model=rbf", "model.learn.beta=false", "model.learn.variance=false"),
    "matern52_ard": ("model=matern52", "model.ard=true", "model.latent_dim=3"),
    "linear_learned_beta": ("model=linear", "model.learn.beta=true", "model.likelihood=dense"),
    "linear_learned_beta_woodbury": ("model=linear", "model.learn.beta=true"),
}
VALUES = {"beta": 3.0, "variance": 1.7, "lengthscale": 1.3, "bias": 0.3}


@pytest.fixture(scope="module", params=sorted(CASES))
def case(request):
    """Model, data, config and compiled logp/dlogp (no Jacobian) for one kernel setting."""
    cfg = tiny_config("dataset.n_obs=12", "dataset.n_features=5", *CASES[request.param])
    data = load_dataset(cfg.dataset)
    spec = ModelSpec.from_config(cfg.model, data.n_obs)
    model = build_model(data, spec)
    logp = model.compile_logp(jacobian=False, mode=TEST_MODE)
    dlogp = model.compile_dlogp(jacobian=False, mode=TEST_MODE)
    return request.param, spec, data, model, logp, dlogp


def _point(spec: ModelSpec, seed: int = 0) -> tuple[dict, dict]:
    """A random point: (PyMC's point in the transformed space, the hyperparameter values)."""
    rng = np.random.default_rng(seed)
    hyper = dict(spec.configured)
    for name in spec.learned:
        hyper[name] = VALUES[name] * np.exp(0.3 * rng.standard_normal(np.shape(hyper[name])))
    point = {"Z": rng.standard_normal((12, spec.latent_dim))}
    point.update({f"{name}_log__": np.log(hyper[name]) for name in spec.learned})
    return point, hyper


def _prior_grad(value, prior) -> np.ndarray:
    """d/dtheta of the log prior density, by hand."""
    if prior.dist == PriorDist.lognormal:
        return -(1.0 + (np.log(value) - prior.mu) / prior.sigma**2) / value
    return -value / prior.sigma**2


def test_model_log_density_equals_numpy(case):
    """PyMC's logp (no Jacobian) equals the NumPy log posterior with SciPy's prior densities."""
    _name, spec, data, _model, logp, _ = case
    for seed in range(3):
        point, hyper = _point(spec, seed)
        expected = spec.log_posterior(point["Z"], data.Y, hyper)
        np.testing.assert_allclose(logp(point), expected, rtol=1e-12)


def test_model_gradients_equal_eq3_chained_through_dK(case):
    _name, spec, data, model, _, dlogp = case
    point, hyper = _point(spec, seed=1)
    Z = point["Z"]
    G = ref.dl_dK(spec.kernel.K_np(Z, hyper), data.Y)
    # Each kernel's own derivatives (tested against finite differences in test_kernels).
    dK_dtheta = grad_hyper(spec.kernel, G, Z, hyper)
    expected = {"Z": grad_Z(spec.kernel, G, Z, hyper) - Z / spec.prior_scale**2}
    for p in spec.learned:
        prior_grad = _prior_grad(hyper[p], spec.priors[p])
        expected[f"{p}_log__"] = hyper[p] * (dK_dtheta[p] + prior_grad)  # chain rule through log
    flat = dlogp(point)
    sizes = {v.name: int(np.prod(point[v.name].shape)) for v in model.value_vars}
    offsets = np.cumsum([0, *list(sizes.values())])
    for (vname, size), start in zip(sizes.items(), offsets, strict=False):
        got = flat[start : start + size].reshape(np.shape(point[vname]))
        np.testing.assert_allclose(got, expected[vname], rtol=1e-8, atol=1e-10, err_msg=vname)


def test_model_gradients_match_finite_differences(case):
    """Every learned parameter, in PyMC's transformed space, against central differences of logp."""
    _name, spec, _data, model, logp, dlogp = case
    point, _ = _point(spec, seed=2)
    grad = dlogp(point)
    h, i = 1e-6, 0
    for v in model.value_vars:
        for idx in np.ndindex(np.shape(point[v.name])):
            up, down = dict(point), dict(point)
            step = np.zeros(np.shape(point[v.name]))
            step[idx] = h
            up[v.name], down[v.name] = point[v.name] + step, point[v.name] - step
            numeric = (logp(up) - logp(down)) / (2 * h)
            np.testing.assert_allclose(grad[i], numeric, rtol=1e-5, atol=1e-6, err_msg=f"{v.name}{idx}")
            i += 1
    assert i == len(grad)


def test_learned_hyperparameters_are_free_variables_with_named_dims(case):
    _name, spec, _, model, _, _ = case
    free = {rv.name for rv in model.free_RVs}
    assert free == {"Z", *spec.learned}
    fixed = set(spec.names) - set(spec.learned)
    assert fixed <= set(model.named_vars)  # as pm.Data
    if spec.kernel.ard:
        assert model.named_vars_to_dims["lengthscale"] == ("latent_dim",)


@pytest.mark.parametrize("dist", list(PriorDist))
def test_hyperparameter_prior_density_equals_scipys(dist):
    """The written-out lognormal and half-normal log densities against scipy.stats, for an array
    (summed) and a scalar; outside the support (<= 0 for the lognormal, < 0 for the half-normal)
    -inf."""
    from scipy import stats

    from gplvm.config import PriorConfig
    from gplvm.model.spec import prior_log_density

    prior = PriorConfig(dist=dist, mu=0.4, sigma=1.7)
    if dist == PriorDist.lognormal:
        reference = stats.lognorm(s=prior.sigma, scale=np.exp(prior.mu))
    else:
        reference = stats.halfnorm(scale=prior.sigma)
    values = np.array([1e-3, 0.2, 1.0, 3.5, 40.0])
    assert prior_log_density(values, prior) == pytest.approx(np.sum(reference.logpdf(values)), rel=1e-13)
    assert prior_log_density(2.0, prior) == pytest.approx(reference.logpdf(2.0), rel=1e-13)
    assert prior_log_density(np.array([1.0, -0.5]), prior) == -np.inf
