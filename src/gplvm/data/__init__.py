"""Data: the bundled datasets and user files, centred, as a Dataset; missing cells; the held-out
column split; the training data stored in (or referenced by) a run."""
