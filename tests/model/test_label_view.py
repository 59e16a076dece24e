"""The label as a view (dataset.label_view): one-hot columns, hidden labels, predicted labels and
their probabilities, per-view model settings."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from gplvm.config import ModelConfig, load_config
from gplvm.data.label_view import has_label, one_hot_view
from gplvm.data.loading import load_dataset
from gplvm.errors import ConfigError, DataError
from gplvm.evaluate.across_views import class_probabilities
from gplvm.inference.multiview import view_model_config, view_specs


def test_one_hot_view_marks_hidden_and_missing_labels():
    labels = np.array(["a", "b", "", "a", "nan", "c", "b", "a", "c", "b"])
    onehot, view = one_hot_view(labels, "label", 0.25, 0, "test")
    assert view.classes == ["a", "b", "c"] and view.column_names() == ["label=a", "label=b", "label=c"]
    np.testing.assert_array_equal(has_label(labels), [True, True, False, True, False] + [True] * 5)
    assert view.hidden.sum() == 2 and not view.hidden[[2, 4]].any()  # a quarter of the 8 labelled
    np.testing.assert_array_equal(view.unlabelled, view.hidden | ~has_label(labels))
    assert np.isnan(onehot[view.unlabelled]).all() and not np.isnan(onehot[~view.unlabelled]).any()
    kept = np.flatnonzero(~view.unlabelled)
    np.testing.assert_array_equal(
        np.argmax(onehot[kept], axis=1), [view.classes.index(x) for x in labels[kept]]
    )
    assert np.all(onehot[kept].sum(axis=1) == 1)


@pytest.mark.parametrize(
    ("labels", "message"),
    [(None, "has no labels"), (np.array(["a", "a", ""]), "1 class"), (np.array(["a", "b"]), None)],
)
def test_one_hot_view_refuses_what_cannot_make_a_view(labels, message):
    if message is None:  # hiding every label leaves no labelled row
        with pytest.raises(DataError, match="no row keeps its label"):
            one_hot_view(labels, "label", 0.99, 0, "test")
        return
    with pytest.raises(DataError, match=message):
        one_hot_view(labels, "label", 0.0, 0, "test")


def test_the_label_view_joins_the_data_as_its_own_view():
    cfg = load_config("dataset=iris", "dataset.label_view=species", "dataset.hide_labels=0.5")
    data = load_dataset(cfg.dataset)
    assert data.Y.shape == (150, 7) and list(data.views) == ["data", "species"]
    np.testing.assert_array_equal(data.views["species"], [4, 5, 6])
    assert data.feature_names[4:] == ["species=setosa", "species=versicolor", "species=virginica"]
    assert data.label_view.hidden.sum() == 75
    # the raw one-hot cells come back through the recorded units
    raw = data.to_original_units(data.Y)[:, 4:]
    kept = ~data.label_view.unlabelled
    np.testing.assert_allclose(raw[kept].sum(axis=1), 1.0)
    assert np.isnan(raw[~kept]).all()


@pytest.mark.parametrize(
    ("overrides", "error", "message"),
    [
        (["dataset.hide_labels=0.3"], ConfigError, "set dataset.label_view too"),
        (["+dataset.views.data=0:4", "dataset.label_view=data"], DataError, "already the name of a view"),
    ],
)
def test_label_view_settings_are_checked(overrides, error, message):
    with pytest.raises(error, match=message):
        load_dataset(load_config("dataset=iris", *overrides).dataset)


def test_class_probabilities_match_the_two_class_closed_form():
    """Two classes with f ~ N(m, v) each at every draw of z*: P(class 0) = Phi((m0 - m1) / sqrt(v0 + v1)),
    averaged over the draws; the Monte Carlo share within 4 standard errors."""
    rng = np.random.default_rng(0)
    n_draws, n_rows = 64, 5
    means = rng.normal(0, 0.6, (n_draws, n_rows, 2))
    f_var = rng.uniform(0.05, 0.5, (n_draws, n_rows, 2))

    class Predictor:
        def draws(self, mean_z, var_z, seed):
            return np.zeros((n_draws, n_rows, 1))

        def view_moments(self, view, draws):
            return means, f_var, np.zeros(2)

    p = class_probabilities(Predictor(), None, np.zeros((n_rows, 1)), np.ones((n_rows, 1)), 0)
    exact = norm.cdf((means[..., 0] - means[..., 1]) / np.sqrt(f_var.sum(axis=-1))).mean(axis=0)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    se = np.sqrt(exact * (1 - exact) / (n_draws * 16)) + 1e-3
    assert np.all(np.abs(p[:, 0] - exact) < 4 * se)


def test_per_view_model_settings():
    cfg = ModelConfig(kernel="rbf", ard=True, views={"b": {"kernel": "linear"}})
    cfg.learn.variance = cfg.learn.lengthscale = True
    own = view_model_config(cfg, "b")
    assert own.kernel == "linear" and not own.ard and not own.learn.variance and not own.learn.lengthscale
    # the label view's noise is fixed unless its settings say otherwise
    label = view_model_config(cfg, "label", label_view="label")
    assert label.beta == 10.0 and not label.learn.beta and label.kernel == "rbf" and not label.ard
    learned = view_model_config(
        ModelConfig(kernel="rbf", views={"label": {"learn": {"beta": True}}}), "label", label_view="label"
    )
    assert learned.learn.beta and learned.beta == 10.0
    specs = view_specs(cfg, 30, {"a": np.arange(3), "b": np.arange(3, 5)})
    assert [s.spec.kernel.name for s in specs] == ["rbf", "linear"]
    with pytest.raises(ConfigError, match=r"model\.views\.c names no view"):
        view_specs(ModelConfig(views={"c": {"beta": 2.0}}), 30, {"a": np.arange(3)})
    with pytest.raises(ConfigError, match=r"model\.views\.a\.latent_dim cannot differ"):
        ModelConfig(views={"a": {"latent_dim": 3}}).for_view("a")
    with pytest.raises(ConfigError, match=r"model\.views\.a: Key .kernl."):
        ModelConfig(views={"a": {"kernl": "rbf"}}).for_view("a")


def clusters(n_per_class: int = 20, seed: int = 0) -> pd.DataFrame:
    """Three classes at three points of a 2-D latent, mapped non-linearly into 6 columns."""
    rng = np.random.default_rng(seed)
    centres = np.array([[-1.5, 0.0], [1.5, 0.0], [0.0, 1.8]])
    Z = np.repeat(centres, n_per_class, axis=0) + 0.35 * rng.standard_normal((3 * n_per_class, 2))
    W = rng.standard_normal((2, 6))
    Y = np.tanh(Z @ W) + 0.1 * rng.standard_normal((len(Z), 6))
    frame = pd.DataFrame(Y, columns=[f"y{d}" for d in range(6)])
    return frame.assign(kind=np.repeat(["p", "q", "r"], n_per_class))


def test_a_semi_supervised_run_predicts_the_hidden_labels(tmp_path):
    """Half the labels hidden and two rows without one in the file: the run predicts a label and
    its probability for each, writes predicted_labels.csv, and records the accuracy."""
    from tests.cli.test_cli import run_gplvm

    frame = clusters()
    frame.loc[[0, 45], "kind"] = ""
    frame.to_csv(tmp_path / "clusters.csv", index=False)
    run = tmp_path / "run"
    done = run_gplvm(
        run,
        "dataset=file",
        f"dataset.path={tmp_path / 'clusters.csv'}",
        "dataset.label_column=kind",
        "dataset.label_view=label",
        "dataset.hide_labels=0.5",
        "model=rbf_ard",
        "model.num_inducing=12",
        "inference=variational",
        "inference.maxiter=400",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["label_view"] == "label" and metrics["labels_hidden"] == 29
    assert metrics["labels_predicted"] == 31 and metrics["label_accuracy"] > 0.9
    from gplvm.run.inspection import inspect

    assert "label view 'label': 31 rows without a label predicted; on the 29 hidden labels" in inspect(run)
    table = pd.read_csv(tmp_path / "run" / "predicted_labels.csv", keep_default_na=False)
    assert len(table) == 31 and {0, 45} <= set(table["obs"])
    probabilities = table[[f"probability_{c}" for c in "pqr"]].to_numpy()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)  # written to 6 digits
    np.testing.assert_allclose(table["probability"], probabilities.max(axis=1), rtol=1e-5)
    hidden = table["hidden_label"] != ""
    assert hidden.sum() == 29 and (table.loc[~hidden, "obs"].tolist() == [0, 45])
    assert np.mean(
        table.loc[hidden, "predicted_label"] == table.loc[hidden, "hidden_label"]
    ) == pytest.approx(metrics["label_accuracy"])
    # new rows without the label view: gplvm-project predicts their labels too
    from gplvm.cli.project import main as project

    rows = frame.loc[table.loc[hidden, "obs"], [f"y{d}" for d in range(6)]]
    rows.to_csv(tmp_path / "new.csv", index=False)
    assert project([str(run), str(tmp_path / "new.csv"), "--out", str(tmp_path / "out")]) == 0
    views = pd.read_csv(tmp_path / "out" / "predicted_views.csv")
    assert np.mean(views["predicted_label"].to_numpy() == table.loc[hidden, "hidden_label"].to_numpy()) > 0.9
    np.testing.assert_allclose(views[[f"probability_{c}" for c in "pqr"]].sum(axis=1), 1.0)
