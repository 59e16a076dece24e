"""GPyTorch's Bayesian GPLVM on one data file, as its tutorial builds it (for ``make bench``).

Run by the bench with an interpreter that has torch and gpytorch (``GPYTORCH_PYTHON``): they are
not gplvm's dependencies, so this script imports nothing from gplvm. Usage:

    python gpytorch_bgplvm.py Y.npy OUT.npy LATENT_DIM NUM_INDUCING BATCH_SIZE EPOCHS

Y.npy holds the (centred) data; OUT.npy receives q(Z)'s means; the last line printed is JSON with
the seconds spent training. Settings as the tutorial's: Adam at 0.01, a Gaussian likelihood per
column, inducing inputs per column (GPyTorch's ``batch_shape``), rbf ARD kernel, PCA start, one
sampled batch of rows per step, N / BATCH_SIZE steps per epoch.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
import torch
from gpytorch.distributions import MultivariateNormal
from gpytorch.kernels import RBFKernel, ScaleKernel
from gpytorch.likelihoods import GaussianLikelihood
from gpytorch.means import ZeroMean
from gpytorch.mlls import VariationalELBO
from gpytorch.models.gplvm.bayesian_gplvm import BayesianGPLVM
from gpytorch.models.gplvm.latent_variable import VariationalLatentVariable
from gpytorch.priors import NormalPrior
from gpytorch.variational import CholeskyVariationalDistribution, VariationalStrategy


class TutorialGPLVM(BayesianGPLVM):
    def __init__(self, Y: torch.Tensor, latent_dim: int, num_inducing: int) -> None:
        n_obs, n_features = Y.shape
        self.n_obs = n_obs
        self.batch_shape = torch.Size([n_features])
        inducing = torch.randn(n_features, num_inducing, latent_dim)
        q_u = CholeskyVariationalDistribution(num_inducing, batch_shape=self.batch_shape)
        q_f = VariationalStrategy(self, inducing, q_u, learn_inducing_locations=True)
        prior_mean = torch.zeros(n_obs, latent_dim)
        prior = NormalPrior(prior_mean, torch.ones_like(prior_mean))
        U, _, _ = torch.linalg.svd(Y, full_matrices=False)
        start = torch.nn.Parameter(U[:, :latent_dim] * np.sqrt(n_obs))
        X = VariationalLatentVariable(n_obs, n_features, latent_dim, start, prior)
        super().__init__(X, q_f)
        self.mean_module = ZeroMean(ard_num_dims=latent_dim)
        self.covar_module = ScaleKernel(RBFKernel(ard_num_dims=latent_dim))

    def forward(self, X):
        return MultivariateNormal(self.mean_module(X), self.covar_module(X))


def main(argv: list[str]) -> None:
    path, out, latent_dim, num_inducing, batch_size, epochs = argv
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    Y = torch.tensor(np.load(path), dtype=torch.float64)
    torch.set_default_dtype(torch.float64)
    model = TutorialGPLVM(Y, int(latent_dim), int(num_inducing))
    likelihood = GaussianLikelihood(batch_shape=model.batch_shape)
    optimizer = torch.optim.Adam(
        [{"params": model.parameters()}, {"params": likelihood.parameters()}], lr=0.01
    )
    elbo = VariationalELBO(likelihood, model, num_data=len(Y))
    steps = int(epochs) * max(len(Y) // int(batch_size), 1)
    start = time.perf_counter()
    for _ in range(steps):
        rows = np.sort(rng.choice(len(Y), size=int(batch_size), replace=False))
        optimizer.zero_grad()
        sample = model.sample_latent_variable()
        loss = -elbo(model(sample[rows]), Y[rows].T).sum()
        loss.backward()
        optimizer.step()
    seconds = time.perf_counter() - start
    np.save(out, model.X.q_mu.detach().numpy())
    print(json.dumps({"seconds": seconds, "steps": steps}))


if __name__ == "__main__":
    main(sys.argv[1:])
