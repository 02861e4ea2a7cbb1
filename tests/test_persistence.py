"""Saving and loading fitted models: pickle, joblib and skops."""

import pickle

import joblib
import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import sklearn_softmax
from sklearn_softmax import SoftmaxRegression

METHODS = ["predict", "predict_proba", "predict_log_proba", "decision_function"]


def models():
    """Fitted models whose state covers the cases: two and three classes,
    string labels, feature names, dict class weights, the L1 path, a pipeline."""
    pd = pytest.importorskip("pandas", reason="pandas is not installed")
    X, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])
    frame = pd.DataFrame(X, columns=["sl", "sw", "pl", "pw"])
    out = {
        "binary": SoftmaxRegression().fit(X, y == 2),
        "strings": SoftmaxRegression(C=10.0).fit(X, names[y]),
        "frame": SoftmaxRegression().fit(frame, y),
        "float32": SoftmaxRegression().fit(X.astype(np.float32), y),
        "class_weight": SoftmaxRegression(class_weight={0: 2.0, 1: 1.0}).fit(X, y),
        "l1": SoftmaxRegression(l1_ratio=1.0, C=0.5).fit(X, y),
        "pipeline": Pipeline(
            [("scale", StandardScaler()), ("clf", SoftmaxRegression())]
        ).fit(X, names[y]),
    }
    cv = getattr(sklearn_softmax, "SoftmaxRegressionCV", None)
    if cv is not None:
        out["cv"] = cv().fit(X, y)
    return out, X, frame


@pytest.fixture(scope="module")
def fitted():
    return models()


def softmax_step(model):
    return model[-1] if isinstance(model, Pipeline) else model


def inputs(name, X, frame):
    return frame if name == "frame" else X


def assert_same_state(loaded, model):
    """Equal parameters and every fitted attribute, of the same types."""
    assert type(loaded) is type(model)
    assert loaded.get_params(deep=False).keys() == model.get_params(deep=False).keys()
    original = softmax_step(model)
    copy = softmax_step(loaded)
    fitted_names = [k for k in vars(original) if k.endswith("_")]
    assert {"classes_", "coef_", "intercept_", "n_iter_"} <= set(fitted_names)
    assert fitted_names == [k for k in vars(copy) if k.endswith("_")]
    for name in fitted_names:
        a, b = getattr(original, name), getattr(copy, name)
        assert type(a) is type(b), name
        if isinstance(a, np.ndarray):
            assert a.dtype == b.dtype, name
            np.testing.assert_array_equal(a, b, err_msg=name)
        else:
            assert a == b, name


def assert_same_predictions(loaded, model, X):
    for method in METHODS:
        np.testing.assert_array_equal(
            getattr(loaded, method)(X), getattr(model, method)(X), err_msg=method
        )


def test_pickle_round_trip(fitted):
    models_, X, frame = fitted
    for name, model in models_.items():
        loaded = pickle.loads(pickle.dumps(model))
        assert_same_state(loaded, model)
        assert_same_predictions(loaded, model, inputs(name, X, frame))


def test_joblib_round_trip(fitted, tmp_path):
    models_, X, frame = fitted
    for name, model in models_.items():
        path = tmp_path / f"{name}.joblib"
        joblib.dump(model, path)
        loaded = joblib.load(path)
        assert_same_state(loaded, model)
        assert_same_predictions(loaded, model, inputs(name, X, frame))


def test_skops_round_trip(fitted, tmp_path):
    sio = pytest.importorskip(
        "skops.io", reason="skops (in the 'test' extra) is not installed"
    )
    models_, X, frame = fitted
    for name, model in models_.items():
        path = tmp_path / f"{name}.skops"
        sio.dump(model, path)
        # the fitted state is arrays and numbers: only our classes are unknown
        step = softmax_step(model)
        ours = f"{type(step).__module__}.{type(step).__qualname__}"
        assert ours.startswith("sklearn_softmax.")
        untrusted = sio.get_untrusted_types(file=path)
        assert untrusted == [ours], name
        with pytest.raises(sio.exceptions.UntrustedTypesFoundException):
            sio.load(path)
        loaded = sio.load(path, trusted=untrusted)
        assert_same_state(loaded, model)
        assert_same_predictions(loaded, model, inputs(name, X, frame))


def test_sparsified_model_round_trips(tmp_path):
    X, y = load_iris(return_X_y=True)
    model = SoftmaxRegression(l1_ratio=1.0, C=0.1).fit(X, y).sparsify()
    for loaded in (
        pickle.loads(pickle.dumps(model)),
        joblib.load(joblib.dump(model, tmp_path / "sparse.joblib")[0]),
    ):
        assert type(loaded.coef_) is type(model.coef_)
        assert (loaded.coef_ != model.coef_).nnz == 0
        assert_same_predictions(loaded, model, X)
    sio = pytest.importorskip(
        "skops.io", reason="skops (in the 'test' extra) is not installed"
    )
    path = tmp_path / "sparse.skops"
    sio.dump(model, path)
    # skops does not trust SciPy's sparse matrices by default: the one extra type
    untrusted = sio.get_untrusted_types(file=path)
    sparse_type = f"{type(model.coef_).__module__}.{type(model.coef_).__qualname__}"
    assert set(untrusted) == {sparse_type, "sklearn_softmax._softmax.SoftmaxRegression"}
    loaded = sio.load(path, trusted=untrusted)
    assert type(loaded.coef_) is type(model.coef_)
    assert (loaded.coef_ != model.coef_).nnz == 0
    assert_same_predictions(loaded, model, X)
    assert_same_predictions(loaded.densify(), model.densify(), X)
