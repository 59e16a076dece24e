#!/usr/bin/env bash
# beta x latent_dim sweep on digits (MAP, 20% of the pixels held out), then the report.
# Run from the repository root:  make experiment NAME=digits_beta_latent_sweep
# Extra arguments go to gplvm, e.g. hydra/launcher=joblib.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/output/sweep"
rm -rf "$out"
status=0
.venv/bin/gplvm -m +experiment=digits_beta_latent_sweep "hydra.sweep.dir=$out" "$@" || status=$?
.venv/bin/gplvm-report "$out"
exit "$status"
