"""Runs: one experiment end to end, the run directory and its life, sweeps, and what the console
scripts read back from run directories (loaded runs, inspection, sweep reports, comparisons,
projection files)."""
