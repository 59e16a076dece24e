#!/usr/bin/env bash
# Q on digits by 8-fold cross-validation over the pixels, then gplvm-compare and the report.
# Run from the repository root:  make experiment NAME=digits_choose_q
# Extra arguments go to gplvm, e.g. hydra/launcher=joblib.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/output/sweep"
rm -rf "$out"
status=0
.venv/bin/gplvm -m +experiment=digits_choose_q "hydra.sweep.dir=$out" "$@" || status=$?
.venv/bin/gplvm-compare "$out" --out "$here/output/comparison"
.venv/bin/gplvm-report "$out"
exit "$status"
