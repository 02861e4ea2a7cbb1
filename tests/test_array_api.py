"""Array-API inputs under ``array_api_dispatch=True``: the fit and the
predictions in the input's namespace equal the NumPy ones.

array-api-strict (CI) and torch on the CPU (where installed).  The root
conftest.py sets SCIPY_ARRAY_API=1, which scikit-learn's dispatch requires.
"""

import importlib

import numpy as np
import pytest
import sklearn
from _oracle import objective
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import StratifiedKFold
from sklearn.utils._array_api import get_namespace

from sklearn_softmax import SoftmaxRegression, SoftmaxRegressionCV
from sklearn_softmax._xp import ARRAY_API_MIN_SKLEARN, ARRAY_API_SUPPORTED
from sklearn_softmax.metrics import cross_entropy, kl_divergence

if not ARRAY_API_SUPPORTED:
    pytest.skip(
        f"array-API dispatch needs scikit-learn >= {ARRAY_API_MIN_SKLEARN}",
        allow_module_level=True,
    )
pytest.importorskip("array_api_strict")

NAMESPACES = [
    "array_api_strict",
    pytest.param(
        "torch",
        marks=pytest.mark.skipif(
            importlib.util.find_spec("torch") is None, reason="torch not installed"
        ),
    ),
]


@pytest.fixture(params=NAMESPACES)
def xp(request):
    return importlib.import_module(request.param)


@pytest.fixture(autouse=True)
def dispatch():
    with sklearn.config_context(array_api_dispatch=True):
        yield


def numpy_of(a):
    """A device array (or a NumPy one) as NumPy, for comparisons."""
    if hasattr(a, "cpu"):  # torch
        return a.cpu().numpy()
    return np.asarray(a)


def namespace_name(a):
    return get_namespace(a)[0].__name__


def data(n_classes, dtype, seed=0):
    X, y = make_classification(
        200, 7, n_informative=5, n_classes=n_classes, random_state=seed
    )
    # unscaled columns: the preconditioner's statistics matter
    X = X * np.array([1.0, 30.0, 0.02, 1.0, 5.0, 1.0, 200.0])
    return X.astype(dtype), y


def relative_gap(X, y, ref, model, C, **kw):
    coef, intercept = numpy_of(model.coef_), numpy_of(model.intercept_)
    f_ref = objective(X, y, ref.coef_, ref.intercept_, C, **kw)
    return abs(objective(X, y, coef, intercept, C, **kw) - f_ref) / f_ref


@pytest.mark.parametrize("n_classes", [2, 4])
@pytest.mark.parametrize("solver", ["lbfgs", "newton-cg"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_fit_and_predictions_match_numpy(xp, n_classes, solver, dtype):
    X, y = data(n_classes, dtype)
    sw = np.random.default_rng(1).uniform(0.5, 2.0, size=X.shape[0])
    params = dict(C=0.3, solver=solver, class_weight="balanced")
    if dtype == "float32":
        # Below 1e-4 float32 L-BFGS may stop where its line search meets the
        # rounding level, which differs between NumPy's float32 sums and the
        # device's float64 ones; at 1e-4 both run the same iterates to the rule.
        params["tol"] = 1e-4
    with sklearn.config_context(array_api_dispatch=False):
        ref = SoftmaxRegression(**params).fit(X, y, sample_weight=sw)
    Xd, yd = xp.asarray(X), xp.asarray(y)
    model = SoftmaxRegression(**params).fit(Xd, yd, sample_weight=xp.asarray(sw))

    # objective with the class weights folded into the sample weights
    cw = y.shape[0] / (n_classes * np.bincount(y, weights=sw))
    s = sw * cw[y] * np.bincount(y, weights=sw).sum() / y.shape[0]
    gap = relative_gap(X, y, ref, model, 0.3, sample_weight=s)
    assert gap <= (1e-10 if dtype == "float64" else 1e-6)
    for name in ("coef_", "intercept_"):
        attr = getattr(model, name)
        assert namespace_name(attr) == namespace_name(Xd)
        assert numpy_of(attr).dtype == getattr(ref, name).dtype
    assert namespace_name(model.n_iter_) == namespace_name(Xd)
    assert numpy_of(model.n_iter_).dtype == ref.n_iter_.dtype == np.int32
    assert numpy_of(model.n_iter_)[0] == ref.n_iter_[0] or dtype == "float32"

    np.testing.assert_array_equal(numpy_of(model.predict(Xd)), ref.predict(X))
    atol = 1e-9 if dtype == "float64" else 1e-4
    for method in ("decision_function", "predict_proba", "predict_log_proba"):
        out = getattr(model, method)(Xd)
        assert namespace_name(out) == namespace_name(Xd)
        expected = getattr(ref, method)(X)
        assert numpy_of(out).dtype == expected.dtype
        np.testing.assert_allclose(numpy_of(out), expected, rtol=1e-6, atol=atol)
    score = model.score(Xd, yd)
    assert isinstance(score, float)
    assert score == pytest.approx(ref.score(X, y), abs=1e-6)


@pytest.mark.parametrize(
    "params",
    [
        {"fit_intercept": False},
        {"l1_ratio": 0.5, "C": 0.2},
        {"label_smoothing": 0.1},
    ],
)
def test_options_match_numpy(xp, params):
    X, y = data(3, "float64", seed=3)
    with sklearn.config_context(array_api_dispatch=False):
        ref = SoftmaxRegression(**params).fit(X, y)
    model = SoftmaxRegression(**params).fit(xp.asarray(X), xp.asarray(y))
    np.testing.assert_allclose(numpy_of(model.coef_), ref.coef_, atol=1e-6)
    np.testing.assert_allclose(numpy_of(model.intercept_), ref.intercept_, atol=1e-6)
    if "label_smoothing" not in params:
        gap = relative_gap(
            X, y, ref, model, params.get("C", 1.0), l1_ratio=params.get("l1_ratio", 0)
        )
        assert gap <= 1e-10


def test_soft_targets_match_numpy(xp):
    X, y = data(3, "float64", seed=4)
    Y = np.random.default_rng(0).dirichlet(np.ones(3), size=X.shape[0])
    with sklearn.config_context(array_api_dispatch=False):
        ref = SoftmaxRegression().fit(X, Y)
    model = SoftmaxRegression().fit(xp.asarray(X), xp.asarray(Y))
    assert relative_gap(X, Y, ref, model, 1.0) <= 1e-10


def test_string_labels_stay_on_the_host(xp):
    X, y = data(3, "float64")
    labels = np.array(["a", "b", "c"])[y]
    model = SoftmaxRegression().fit(xp.asarray(X), labels)
    assert isinstance(model.classes_, np.ndarray)
    assert namespace_name(model.coef_) == namespace_name(xp.asarray(X))
    pred = model.predict(xp.asarray(X))
    with sklearn.config_context(array_api_dispatch=False):
        ref = SoftmaxRegression().fit(X, labels)
    np.testing.assert_array_equal(pred, ref.predict(X))


def test_classes_follow_y(xp):
    X, y = data(3, "float64")
    model = SoftmaxRegression().fit(xp.asarray(X), xp.asarray(y))
    assert namespace_name(model.classes_) == namespace_name(xp.asarray(y))
    # y on the host: classes_ stays NumPy, predictions follow X
    model = SoftmaxRegression().fit(xp.asarray(X), y)
    assert isinstance(model.classes_, np.ndarray)
    Xd = xp.asarray(X)
    assert namespace_name(model.predict(Xd)) == namespace_name(Xd)


def test_mixed_namespaces_raise(xp):
    X, y = data(3, "float64")
    model = SoftmaxRegression().fit(xp.asarray(X), xp.asarray(y))
    for method in ("predict", "predict_proba", "predict_log_proba"):
        with pytest.raises(ValueError, match="must use the same namespace"):
            getattr(model, method)(X)
    with sklearn.config_context(array_api_dispatch=False):
        host = SoftmaxRegression().fit(X, y)
    with pytest.raises(ValueError, match=r"SoftmaxRegression.decision_function\(\)"):
        host.decision_function(xp.asarray(X))


def test_sparsify_on_the_device_is_refused(xp):
    X, y = data(3, "float64")
    model = SoftmaxRegression().fit(xp.asarray(X), xp.asarray(y))
    with pytest.raises(TypeError, match="sparsify.*host memory.*array-API"):
        model.sparsify()
    assert namespace_name(model.coef_) == namespace_name(xp.asarray(X))
    assert model.densify() is model  # nothing to do: coef_ is dense
    assert namespace_name(model.coef_) == namespace_name(xp.asarray(X))


def test_warm_start_on_the_device(xp):
    X, y = data(3, "float64")
    Xd, yd = xp.asarray(X), xp.asarray(y)
    model = SoftmaxRegression(warm_start=True, C=0.5).fit(Xd, yd)
    n_first = int(numpy_of(model.n_iter_)[0])
    model.fit(Xd, yd)
    assert int(numpy_of(model.n_iter_)[0]) < n_first
    with sklearn.config_context(array_api_dispatch=False):
        ref = SoftmaxRegression(C=0.5).fit(X, y)
    assert relative_gap(X, y, ref, model, 0.5) <= 1e-10


def test_separable_data_without_penalty_warns(xp):
    X = np.array([[-2.0], [-1.0], [1.0], [2.0]])
    y = np.array([0, 0, 1, 1])
    with pytest.warns(ConvergenceWarning, match="perfectly separated"):
        SoftmaxRegression(C=np.inf).fit(xp.asarray(X), xp.asarray(y))


def test_without_dispatch_inputs_are_converted():
    torch = pytest.importorskip("torch")
    X, y = data(3, "float64")
    with sklearn.config_context(array_api_dispatch=False):
        ref = SoftmaxRegression().fit(X, y)
        model = SoftmaxRegression().fit(torch.asarray(X), torch.asarray(y))
    assert isinstance(model.coef_, np.ndarray)
    np.testing.assert_array_equal(model.coef_, ref.coef_)


@pytest.mark.parametrize("solver", ["lbfgs", "newton-cg"])
def test_float32_default_fits_reach_the_float64_optimum(xp, solver):
    # at the default tol each float32 fit, on the host or on the device,
    # ends within a relative gap of 1e-6 of the float64 optimum
    X, y = data(4, "float32")
    params = dict(C=0.3, solver=solver)
    with sklearn.config_context(array_api_dispatch=False):
        ref = SoftmaxRegression(C=0.3, solver="newton-cg", tol=1e-10)
        ref.fit(X.astype(np.float64), y)
        host = SoftmaxRegression(**params).fit(X, y)
    device = SoftmaxRegression(**params).fit(xp.asarray(X), xp.asarray(y))
    for model in (host, device):
        assert relative_gap(X.astype(np.float64), y, ref, model, 0.3) <= 1e-6


def test_numpy_under_dispatch_is_unchanged():
    X, y = data(4, "float32")
    model = SoftmaxRegression().fit(X, y)
    with sklearn.config_context(array_api_dispatch=False):
        ref = SoftmaxRegression().fit(X, y)
    np.testing.assert_array_equal(model.coef_, ref.coef_)
    np.testing.assert_array_equal(model.predict_proba(X), ref.predict_proba(X))


def _split(row):
    """``(coef, intercept)`` of a ``coefs_paths_`` entry (with intercept)."""
    return row[:, :-1], row[:, -1]


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("l1_ratios", [(0.0,), (0.0, 0.5)])
def test_cv_equals_the_numpy_cv(xp, n_classes, l1_ratios):
    X, y = data(n_classes, "float64")
    # tol=1e-8: at the default 1e-6 the stopping rule itself allows relative
    # gaps up to about tol^2 / (2 alpha f), 1e-8 at C=100 with an L1 part
    # (1.4e-8 and 2.9e-8 measured for the NumPy and device paths), and this
    # test compares the two paths, not the rule's slack.
    params = dict(Cs=[0.01, 1.0, 100.0], l1_ratios=l1_ratios, cv=3, tol=1e-8)
    with sklearn.config_context(array_api_dispatch=False):
        ref = SoftmaxRegressionCV(**params).fit(X, y)
    Xd = xp.asarray(X)
    cv = SoftmaxRegressionCV(**params).fit(Xd, xp.asarray(y))
    paths = numpy_of(cv.coefs_paths_)
    # The device kernel rounds differently from NumPy's BLAS, so the fits stop
    # at other points within tol of the same optima: every path point has the
    # same objective on its training fold to 1e-8, and the L2 scores agree to
    # 1e-6 (the bar against LogisticRegressionCV).  With an L1 part at weak
    # penalties the optimum is flat enough that the points, and so the scores,
    # differ more (2e-6 seen) at the same objective.
    folds = list(StratifiedKFold(3).split(X, y))
    for f, (train, _) in enumerate(folds):
        for r, l1_ratio in enumerate(l1_ratios):
            for c, C in enumerate(params["Cs"]):
                f_dev, f_ref = (
                    objective(
                        X[train],
                        y[train],
                        *_split(p[f, r, c]),
                        C,
                        l1_ratio=l1_ratio,
                    )
                    for p in (paths, ref.coefs_paths_)
                )
                assert abs(f_dev - f_ref) <= 1e-8 * f_ref, (f, l1_ratio, C)
    if l1_ratios == (0.0,):
        scores = numpy_of(cv.scores_)
        np.testing.assert_allclose(scores, ref.scores_, rtol=0, atol=1e-6)
    assert cv.C_ == ref.C_ and cv.l1_ratio_ == ref.l1_ratio_
    assert namespace_name(cv.coef_) == namespace_name(xp.asarray(X))
    for name in ("scores_", "coefs_paths_", "n_iter_", "Cs_", "l1_ratios_"):
        assert namespace_name(getattr(cv, name)) == namespace_name(Xd), name
        assert getattr(cv, name).shape == getattr(ref, name).shape
    f_dev = objective(
        X, y, numpy_of(cv.coef_), numpy_of(cv.intercept_), cv.C_, l1_ratio=cv.l1_ratio_
    )
    f_ref = objective(X, y, ref.coef_, ref.intercept_, ref.C_, l1_ratio=ref.l1_ratio_)
    assert abs(f_dev - f_ref) <= 1e-10 * f_ref
    np.testing.assert_array_equal(numpy_of(cv.predict(Xd)), ref.predict(X))
    assert cv.score(Xd, xp.asarray(y)) == pytest.approx(ref.score(X, y), abs=1e-6)


def test_cv_scorer_from_scikit_learn_on_device(xp):
    X, y = data(3, "float64")
    params = dict(Cs=[0.1, 10.0], cv=3, scoring="neg_log_loss")
    with sklearn.config_context(array_api_dispatch=False):
        ref = SoftmaxRegressionCV(**params).fit(X, y)
    cv = SoftmaxRegressionCV(**params).fit(xp.asarray(X), xp.asarray(y))
    np.testing.assert_allclose(numpy_of(cv.scores_), ref.scores_, rtol=0, atol=1e-6)


@pytest.mark.parametrize("from_logits", [True, False])
def test_metrics_match_numpy(xp, from_logits):
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(40, 3))
    pred = Z if from_logits else np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)
    y = rng.integers(3, size=40)
    Y = rng.dirichlet(np.ones(3), size=40)
    w = rng.uniform(size=40)
    for metric in (cross_entropy, kl_divergence):
        for target in (y, Y):
            got = metric(
                xp.asarray(target),
                xp.asarray(pred),
                from_logits=from_logits,
                sample_weight=xp.asarray(w),
            )
            with sklearn.config_context(array_api_dispatch=False):
                want = metric(target, pred, from_logits=from_logits, sample_weight=w)
            assert isinstance(got, float)
            assert got == want
