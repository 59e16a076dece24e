"""The GPLVM itself: kernels, their expectations under q(Z), likelihood forms, the ModelSpec, its
checks against the registries, and the PyMC model."""
