"""Evaluation of a fit: metrics, rotation-aware diagnostics, elpd, baselines, projection of new
rows and imputation of missing cells."""
