"""ONNX export (sklearn_softmax.onnx) checked against the estimator's methods."""

import subprocess
import sys
from functools import cache

import numpy as np
import pytest

REASON = "the 'onnx' extra (skl2onnx, onnx, onnxruntime) is not installed"
pytest.importorskip("onnx", reason=REASON)
pytest.importorskip("skl2onnx", reason=REASON)
ort = pytest.importorskip("onnxruntime", reason=REASON)

from scipy.special import expit, log_softmax  # noqa: E402
from skl2onnx import convert_sklearn, to_onnx  # noqa: E402
from skl2onnx.common.data_types import (  # noqa: E402
    DoubleTensorType,
    Int64TensorType,
)
from sklearn.compose import ColumnTransformer  # noqa: E402
from sklearn.datasets import make_classification  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import MinMaxScaler, StandardScaler  # noqa: E402

import sklearn_softmax  # noqa: E402
import sklearn_softmax.onnx as softmax_onnx  # noqa: E402
from sklearn_softmax import SoftmaxRegression  # noqa: E402

# Stated tolerances: probabilities within 1e-6 (float64) and 1e-5 (float32).
TOL = {np.float64: 1e-6, np.float32: 1e-5}
ALL_OUTPUTS = {"zipmap": False, "log_proba": True, "decision_function": True}


@cache
def data(n_classes, labels="int"):
    """Features on scales from 1e-2 to 1e2 (the scaler has work to do)."""
    X, y = make_classification(
        n_samples=300,
        n_features=8,
        n_informative=6,
        n_redundant=0,
        n_classes=n_classes,
        n_clusters_per_class=1,
        random_state=n_classes,
    )
    X = X * np.logspace(-2, 2, 8)
    if labels == "str":
        y = np.array([f"class {k}" for k in range(n_classes)])[y]
    return X, y


@cache
def fitted(n_classes, labels, pipeline):
    X, y = data(n_classes, labels)
    clf = SoftmaxRegression(C=10.0)
    model = Pipeline([("scale", StandardScaler()), ("clf", clf)]) if pipeline else clf
    return model.fit(X, y)


def run(onx, X):
    """onnxruntime's outputs by name."""
    sess = ort.InferenceSession(
        onx.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    outputs = sess.run(None, {sess.get_inputs()[0].name: X})
    return dict(zip([o.name for o in sess.get_outputs()], outputs, strict=True))


def scores_of(model, X):
    """The scores whose softmax is ``predict_proba``: ``[0, z]`` for K = 2."""
    z = model.decision_function(X)
    return np.column_stack([np.zeros_like(z), z]) if z.ndim == 1 else z


def assert_log_proba_close(actual, expected, scores, tol):
    """Log-probabilities are differences of scores: their rounding error
    scales with the largest score of the row, not with the log-probability."""
    scale = np.maximum(1.0, np.abs(scores).max(axis=1, keepdims=True))
    assert np.isfinite(actual).all()
    err = np.abs(actual - expected) / scale
    assert err.max() <= tol, err.max()


@pytest.mark.parametrize("pipeline", [False, True], ids=["alone", "pipeline"])
@pytest.mark.parametrize("labels", ["int", "str"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_classes", [2, 3, 10])
def test_outputs_match_the_estimator(n_classes, dtype, labels, pipeline):
    model = fitted(n_classes, labels, pipeline)
    X = data(n_classes, labels)[0].astype(dtype)
    onx = to_onnx(model, X[:1], options={SoftmaxRegression: ALL_OUTPUTS})
    out = run(onx, X)
    assert list(out) == ["label", "probabilities", "log_probabilities", "scores"]

    expected = model.predict(X)
    assert out["label"].dtype == (object if labels == "str" else np.int64)
    assert out["label"].tolist() == expected.tolist()
    for name in ("probabilities", "log_probabilities", "scores"):
        assert out[name].dtype == dtype, name
    proba = model.predict_proba(X)
    assert out["probabilities"].shape == proba.shape == (len(X), n_classes)
    assert np.abs(out["probabilities"] - proba).max() <= TOL[dtype]
    scores = scores_of(model, X)
    assert_log_proba_close(
        out["log_probabilities"], model.predict_log_proba(X), scores, TOL[dtype]
    )
    # decision_function's shape: (N,) log-odds for two classes
    assert out["scores"].shape == model.decision_function(X).shape
    assert_log_proba_close(
        out["scores"].reshape(len(X), -1),
        model.decision_function(X).reshape(len(X), -1),
        scores,
        TOL[dtype],
    )


def test_binary_probabilities_are_the_sigmoid_of_the_log_odds():
    model = fitted(2, "int", False)
    X = data(2)[0]
    out = run(to_onnx(model, X[:1], options={id(model): ALL_OUTPUTS}), X)
    z = model.decision_function(X)
    np.testing.assert_allclose(out["scores"], z, rtol=1e-13, atol=1e-13)
    p = out["probabilities"]
    np.testing.assert_allclose(p[:, 1], expit(z), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(p[:, 0], expit(-z), rtol=1e-13, atol=1e-15)
    # skl2onnx's generic linear converter would give sigmoid(2z): far off here
    assert np.abs(p[:, 1] - expit(2 * z)).max() > 0.1
    ties = np.zeros((1, X.shape[1]))
    ties_model = SoftmaxRegression().fit(X, data(2)[1])
    ties_model.coef_[:] = 0.0
    ties_model.intercept_[:] = 0.0
    tie = run(to_onnx(ties_model, X[:1], options={"zipmap": False}), ties)
    # z == 0: predict gives classes_[0], and so does the graph
    assert tie["label"].tolist() == ties_model.predict(ties).tolist() == [0]
    assert tie["probabilities"].tolist() == [[0.5, 0.5]]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_classes", [2, 3, 10])
def test_log_proba_exact_where_log_of_proba_underflows(n_classes, dtype):
    model = fitted(n_classes, "int", True)
    X = data(n_classes)[0]
    centre = X.mean(axis=0)
    # 300 times farther from the centre: scores of order 1e3
    X_far = (centre + 300.0 * (X - centre)).astype(dtype)
    options = {"clf__zipmap": False, "clf__log_proba": True}  # by step name
    out = run(to_onnx(model, X_far[:1], options=options), X_far)
    assert list(out) == ["label", "probabilities", "log_probabilities"]
    proba = out["probabilities"]
    scores = scores_of(model, X_far.astype(np.float64))
    assert np.abs(scores).max() > 1e3
    with np.errstate(divide="ignore"):
        assert np.isinf(np.log(proba)).sum() > len(X) // 2  # underflowed
    log_proba = out["log_probabilities"]
    assert log_proba.max() <= 0.0
    # against the exact log-softmax of the float64 scores of the same inputs
    assert_log_proba_close(log_proba, log_softmax(scores, axis=1), scores, TOL[dtype])
    assert log_proba.min() < -1e3
    assert out["label"].tolist() == model.predict(X_far).tolist()


def test_zipmap_options():
    model = fitted(3, "str", False)
    X = data(3, "str")[0].astype(np.float32)
    classes = model.classes_.tolist()
    out = run(to_onnx(model, X[:1]), X)
    assert list(out) == ["output_label", "output_probability"]
    # the extra outputs pass by the ZipMap
    log_options = {id(model): {"log_proba": True}}
    names = list(run(to_onnx(model, X[:1], options=log_options), X))
    assert names == ["output_label", "output_probability", "log_probabilities"]
    assert out["output_label"].tolist() == model.predict(X).tolist()
    rows = out["output_probability"]
    assert [list(row) for row in rows[:2]] == [classes, classes]
    proba = np.array([[row[c] for c in classes] for row in rows])
    assert np.abs(proba - model.predict_proba(X)).max() <= TOL[np.float32]

    options = {id(model): {"zipmap": "columns", "decision_function": True}}
    out = run(to_onnx(model, X[:1], options=options), X)
    assert list(out) == ["output_label", *(f"s{c}" for c in classes), "scores"]
    proba = np.column_stack([out[f"s{c}"] for c in classes])
    assert np.abs(proba - model.predict_proba(X)).max() <= TOL[np.float32]


def test_zipmap_with_float64_inputs_says_what_to_do():
    model = fitted(3, "int", False)
    X = data(3)[0]
    with pytest.raises(RuntimeError, match="zipmap=False"):
        to_onnx(model, X[:1])


def test_zipmap_given_to_the_pipeline_reaches_the_classifier():
    model = fitted(3, "int", True)
    X = data(3)[0]
    out = run(to_onnx(model, X[:1], options={id(model): {"zipmap": False}}), X)
    assert list(out) == ["label", "probabilities"]


@pytest.mark.parametrize("target_opset", [13, 15, 18, None])
@pytest.mark.parametrize("n_classes", [2, 10])
def test_convert_sklearn_and_target_opset(n_classes, target_opset):
    model = fitted(n_classes, "int", True)
    X = data(n_classes)[0]
    onx = convert_sklearn(
        model,
        initial_types=[("features", DoubleTensorType([None, X.shape[1]]))],
        options={SoftmaxRegression: {"zipmap": False, "log_proba": True}},
        target_opset=target_opset,
    )
    if target_opset is not None:
        opsets = {o.domain: o.version for o in onx.opset_import}
        assert opsets[""] <= target_opset
    out = run(onx, X)
    assert out["label"].tolist() == model.predict(X).tolist()
    assert np.abs(out["probabilities"] - model.predict_proba(X)).max() <= 1e-6
    assert_log_proba_close(
        out["log_probabilities"],
        model.predict_log_proba(X),
        scores_of(model, X),
        1e-6,
    )


def test_column_transformer():
    X, y = data(3)
    model = Pipeline(
        [
            (
                "columns",
                ColumnTransformer(
                    [
                        ("standard", StandardScaler(), [0, 1, 2, 3]),
                        ("minmax", MinMaxScaler(), [4, 5, 6, 7]),
                    ]
                ),
            ),
            ("clf", SoftmaxRegression(C=10.0)),
        ]
    ).fit(X, y)
    X32 = X.astype(np.float32)
    out = run(to_onnx(model, X32[:1], options={"clf__zipmap": False}), X32)
    assert out["label"].tolist() == model.predict(X32).tolist()
    assert np.abs(out["probabilities"] - model.predict_proba(X32)).max() <= 1e-5


def test_integer_inputs_are_cast_to_float32():
    X, y = data(3)
    X_int = np.round(X).astype(np.int64)
    model = SoftmaxRegression().fit(X_int, y)
    onx = convert_sklearn(
        model,
        initial_types=[("X", Int64TensorType([None, X.shape[1]]))],
        options={id(model): {"zipmap": False}},
    )
    out = run(onx, X_int)
    assert out["probabilities"].dtype == np.float32
    expected = model.predict_proba(X_int.astype(np.float32))
    assert np.abs(out["probabilities"] - expected).max() <= 1e-5


@pytest.mark.parametrize(
    "classes, kind",
    [
        (np.array([0.0, 1.0, 2.0]), np.int64),
        (np.array([-1, 1, 5]), np.int64),
        (np.array([False, True]), np.int64),
    ],
)
def test_label_types(classes, kind):
    X, y = data(len(classes))
    model = SoftmaxRegression().fit(X, classes[y])
    X32 = X.astype(np.float32)
    out = run(to_onnx(model, X32[:1], options={id(model): {"zipmap": False}}), X32)
    assert out["label"].dtype == kind
    assert out["label"].tolist() == model.predict(X32).astype(kind).tolist()


def test_non_integer_float_labels_are_refused():
    X, y = data(3)
    model = SoftmaxRegression().fit(X, y)
    model.classes_ = np.array([0.5, 1.0, 2.0])  # scikit-learn fits no such labels
    with pytest.raises(RuntimeError, match="integers or strings"):
        to_onnx(model, X[:1].astype(np.float32), options={id(model): {"zipmap": False}})


def test_nocl_gives_class_indices():
    model = fitted(3, "str", False)
    X = data(3, "str")[0].astype(np.float32)
    options = {id(model): {"zipmap": False, "nocl": True}}
    out = run(to_onnx(model, X[:1], options=options), X)
    index = np.searchsorted(model.classes_, model.predict(X))
    assert out["label"].dtype == np.int64
    assert out["label"].tolist() == index.tolist()


def test_unknown_options_are_refused():
    model = fitted(3, "int", False)
    X = data(3)[0].astype(np.float32)
    # skl2onnx's raw_scores replaces the probabilities: not ours, refused
    with pytest.raises(NameError, match="raw_scores"):
        to_onnx(model, X[:1], options={id(model): {"raw_scores": True}})
    with pytest.raises(ValueError, match="log_proba"):
        to_onnx(model, X[:1], options={id(model): {"log_proba": "yes"}})


def test_registered_classes():
    registered = softmax_onnx.register_converters()
    assert SoftmaxRegression in registered
    cv = getattr(sklearn_softmax, "SoftmaxRegressionCV", None)
    assert (cv in registered) == (cv is not None)


def test_cv_estimator_converts():
    cv = getattr(sklearn_softmax, "SoftmaxRegressionCV", None)
    if cv is None:
        pytest.skip("sklearn_softmax has no SoftmaxRegressionCV yet")
    X, y = data(3)
    model = cv().fit(X, y)
    out = run(to_onnx(model, X[:1], options={id(model): ALL_OUTPUTS}), X)
    assert out["label"].tolist() == model.predict(X).tolist()
    assert np.abs(out["probabilities"] - model.predict_proba(X)).max() <= 1e-6


def test_the_core_package_does_not_import_onnx():
    code = (
        "import sys, sklearn_softmax\n"
        "from sklearn.datasets import load_iris\n"
        "sklearn_softmax.SoftmaxRegression().fit(*load_iris(return_X_y=True))\n"
        "top = {'skl2onnx', 'onnx', 'onnxruntime', 'skops'}\n"
        "loaded = [m for m in sys.modules if m.split('.')[0] in top]\n"
        "loaded += [m for m in sys.modules if m == 'sklearn_softmax.onnx']\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_sparsified_model_exports_like_the_dense_one(n_classes):
    X, y = data(n_classes)
    model = SoftmaxRegression(C=0.01, l1_ratio=1.0).fit(X, y)
    dense = run(to_onnx(model, X[:1], options={id(model): ALL_OUTPUTS}), X)
    model.sparsify()
    assert sklearn_softmax.SoftmaxRegression is type(model)
    out = run(to_onnx(model, X[:1], options={id(model): ALL_OUTPUTS}), X)
    for name, value in dense.items():
        np.testing.assert_array_equal(out[name], value, err_msg=name)
    assert out["label"].tolist() == model.predict(X).tolist()
    proba = model.predict_proba(X)
    assert np.abs(out["probabilities"] - proba).max() <= TOL[np.float64]
