"""The Hydra configs, installed with the package as ``gplvm.conf`` (see pyproject.toml)."""
