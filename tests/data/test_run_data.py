"""Large training data is referenced by source and hash instead of copied into the run."""

from __future__ import annotations

import numpy as np
import pytest

from gplvm.cli.inspect import main
from gplvm.config import load_config
from gplvm.data.run_data import fingerprint, training_data
from gplvm.run.loaded import load_run
from gplvm.run.pipeline import fit_experiment, save_experiment


@pytest.fixture(scope="module")
def referenced_run(tmp_path_factory):
    """A linear MAP on a .npy file, saved with a threshold below the data's 2.5 KB."""
    root = tmp_path_factory.mktemp("ref")
    rng = np.random.default_rng(0)
    Y = rng.standard_normal((40, 2)) @ rng.standard_normal((2, 8)) + 0.1 * rng.standard_normal((40, 8))
    np.save(root / "data.npy", Y)
    args = ("dataset=file", f"dataset.path={root / 'data.npy'}", "copy_data_max_mb=0.001", "plot=false")
    exp = fit_experiment(load_config(*args, "heldout.fraction=0.25"))
    save_experiment(exp, root / "run", plot=False)
    return root, exp


def test_large_data_is_referenced_not_copied(referenced_run):
    root, exp = referenced_run
    run = load_run(root / "run")
    assert "Y" not in run.tree.constant_data and "Y_heldout" not in run.tree.constant_data
    attrs = run.tree.attrs
    assert attrs["data_stored"] == 0 and attrs["data_source"] == str(root / "data.npy")
    assert attrs["data_shape"] == "40 x 6" and attrs["data_dtype"] == "float64"  # 2 of 8 columns held out
    assert attrs["data_sha256"] == fingerprint(exp.data.Y)
    # Reloaded from the file, centred and split as in the run: the very array the model saw.
    np.testing.assert_array_equal(training_data(run.tree), exp.data.Y)


def test_inspect_reloads_referenced_data_and_refuses_it_once_changed(referenced_run, capsys, tmp_path):
    root, _ = referenced_run
    assert main([str(root / "run"), "--no-plots"]) == 0
    assert "analytic optimum: gap" in capsys.readouterr().out
    assert main([str(root / "run")]) == 0  # the latent plot overlays the analytic optimum from the data
    changed = np.load(root / "data.npy")
    changed[0, 0] += 1e-9
    np.save(root / "data.npy", changed)
    assert main([str(root / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("gplvm-inspect: error:") and "has changed since the run" in err and "\n" not in err
    (root / "data.npy").unlink()
    assert main([str(root / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert "cannot be reloaded" in err and "no such file" in err and "\n" not in err


def test_small_data_is_stored_with_its_hash(map_random):
    run_attrs = map_random.idata.attrs
    assert run_attrs["data_stored"] == 1 and "Y" in map_random.idata.constant_data
    assert run_attrs["data_sha256"] == fingerprint(map_random.data.Y)
    np.testing.assert_array_equal(training_data(map_random.idata), map_random.data.Y)
