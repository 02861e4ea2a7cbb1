"""SoftmaxRegression: the contract of docs/user_guide/objective.rst."""

import pickle
import re
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import sklearn
from _helpers import needs_sklearn
from _oracle import objective
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import log_softmax as scipy_log_softmax
from sklearn.base import clone
from sklearn.datasets import (
    load_breast_cancer,
    load_iris,
    load_wine,
    make_classification,
)
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.class_weight import compute_class_weight

from sklearn_softmax import SoftmaxRegression, SoftmaxRegressionCV
from sklearn_softmax._objective import objective_value

DATASETS = {
    "iris": load_iris(return_X_y=True),
    "wine": load_wine(return_X_y=True),
    "breast_cancer": load_breast_cancer(return_X_y=True),
}


def _blobs(n=90, d=4, k=3, seed=0):
    """Overlapping classes: a finite optimum even with C=inf."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % k
    X = rng.normal(size=(n, d))
    X[:, 0] += y
    X[:, 1] -= 0.5 * y
    return X, y


# -- agreement with LogisticRegression ------------------------------------------

# tol per solver: L-BFGS's line search compares objective values, which stop
# resolving progress near |grad| ~ 1e-9 (it then stops with a ConvergenceWarning
# at tol=1e-10); Newton-CG reaches 1e-10 on all three data sets.
SOLVER_TOL = {"newton-cg": 1e-10, "lbfgs": 1e-8}


@pytest.mark.parametrize("solver", ["newton-cg", "lbfgs"])
@pytest.mark.parametrize("scaled", [False, True], ids=["raw", "scaled"])
@pytest.mark.parametrize("name", list(DATASETS))
def test_matches_logistic_regression(name, scaled, solver):
    X, y = DATASETS[name]
    if scaled:
        X = StandardScaler().fit_transform(X)
    C = 1.0
    K = np.unique(y).size
    lr = LogisticRegression(
        C=C if K > 2 else 2 * C, solver="newton-cholesky", tol=1e-12, max_iter=1000
    ).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a ConvergenceWarning fails the test
        ours = SoftmaxRegression(C=C, solver=solver, tol=SOLVER_TOL[solver]).fit(X, y)
    assert ours.coef_.shape == lr.coef_.shape == ((1 if K == 2 else K), X.shape[1])
    assert_allclose(ours.predict_proba(X), lr.predict_proba(X), rtol=0, atol=1e-6)
    # LogisticRegression leaves the (unpenalised) intercept's gauge free
    lr_coef, lr_intercept = lr.coef_, lr.intercept_
    if K > 2:
        lr_coef = lr_coef - lr_coef.mean(axis=0)
        lr_intercept = lr_intercept - lr_intercept.mean()
    assert_allclose(ours.coef_, lr_coef, rtol=0, atol=1e-4)
    assert_allclose(ours.intercept_, lr_intercept, rtol=0, atol=1e-4)
    f_ours = objective(X, y, ours.coef_, ours.intercept_, C)
    f_lr = objective(X, y, lr_coef, lr_intercept, C)
    assert f_ours == pytest.approx(f_lr, rel=1e-12)
    assert_array_equal(ours.predict(X), lr.predict(X))


def test_binary_contract():
    X, y = DATASETS["breast_cancer"]
    X = StandardScaler().fit_transform(X)[:200]
    y = np.where(y[:200] == 1, "pos", "neg")
    clf = SoftmaxRegression(C=0.5).fit(X, y)
    assert_array_equal(clf.classes_, ["neg", "pos"])
    assert clf.coef_.shape == (1, X.shape[1]) and clf.intercept_.shape == (1,)
    z = clf.decision_function(X)
    assert z.shape == (200,)
    assert_allclose(z, X @ clf.coef_[0] + clf.intercept_[0], rtol=1e-12, atol=1e-12)
    proba = clf.predict_proba(X)
    # z is the log-odds of classes_[1]
    assert_allclose(np.log(proba[:, 1] / proba[:, 0]), z, rtol=1e-9, atol=1e-9)
    expected = scipy_log_softmax(np.column_stack([np.zeros_like(z), z]), axis=1)
    assert_allclose(clf.predict_log_proba(X), expected, rtol=1e-15, atol=0)
    assert_array_equal(clf.predict(X), np.where(z > 0, "pos", "neg"))


@pytest.mark.parametrize(
    "C, fit_intercept", [(1.0, True), (np.inf, True), (1.0, False)]
)
def test_multiclass_coef_and_intercept_are_centred(C, fit_intercept):
    X, y = _blobs()
    X = X + 3.0  # off-centre features, so that the intercepts are not trivial
    clf = SoftmaxRegression(C=C, fit_intercept=fit_intercept, tol=1e-8).fit(X, y)
    assert clf.coef_.shape == (3, 4)
    scale = np.abs(clf.coef_).max()
    assert scale > 0.1
    assert_allclose(clf.coef_.sum(axis=0), 0.0, atol=1e-12 * scale)
    assert abs(clf.intercept_.sum()) <= 1e-12 * max(1.0, np.abs(clf.intercept_).max())
    if not fit_intercept:
        assert_array_equal(clf.intercept_, 0.0)
    scores = clf.decision_function(X)
    assert_allclose(scores, X @ clf.coef_.T + clf.intercept_, rtol=1e-12, atol=1e-12)


def test_permuting_class_labels_permutes_outputs():
    X, y = _blobs()
    names = np.array(["b", "c", "a"])  # class 0 -> "b", 1 -> "c", 2 -> "a"
    ref = SoftmaxRegression(tol=1e-10).fit(X, y)
    clf = SoftmaxRegression(tol=1e-10).fit(X, names[y])
    assert_array_equal(clf.classes_, ["a", "b", "c"])
    order = [2, 0, 1]  # columns of ref in the order of clf.classes_
    assert_allclose(clf.predict_proba(X), ref.predict_proba(X)[:, order], atol=1e-12)
    assert_allclose(clf.coef_, ref.coef_[order], atol=1e-10)
    assert_array_equal(clf.predict(X), names[ref.predict(X)])


def test_repeated_rows_equal_integer_sample_weight():
    X, y = _blobs(n=60)
    twice = SoftmaxRegression(tol=1e-10).fit(np.repeat(X, 2, axis=0), np.repeat(y, 2))
    weighted = SoftmaxRegression(tol=1e-10).fit(X, y, sample_weight=np.full(60, 2.0))
    assert_allclose(weighted.coef_, twice.coef_, rtol=0, atol=1e-9)
    assert_allclose(weighted.intercept_, twice.intercept_, rtol=0, atol=1e-9)
    # general integer weights, zeros included
    sw = np.random.default_rng(1).integers(0, 4, size=60)
    rep = SoftmaxRegression(tol=1e-10).fit(np.repeat(X, sw, axis=0), np.repeat(y, sw))
    wtd = SoftmaxRegression(tol=1e-10).fit(X, y, sample_weight=sw)
    assert_allclose(wtd.predict_proba(X), rep.predict_proba(X), rtol=0, atol=1e-9)
    assert np.abs(wtd.coef_ - twice.coef_).max() > 1e-3  # the weights mattered


@needs_sklearn("1.7", "compute_class_weight(sample_weight=)")
def test_class_weight_balanced_equals_sklearn_dict_and_sample_weights():
    X, y = _blobs(n=90)
    keep = (y != 2) | (np.arange(90) % 3 == 0)  # class 2 rarer
    X, y = X[keep], y[keep]
    sw = np.random.default_rng(2).uniform(0.2, 2.0, size=y.size)
    cw = compute_class_weight("balanced", classes=np.unique(y), y=y, sample_weight=sw)
    balanced = SoftmaxRegression(class_weight="balanced", tol=1e-10).fit(X, y, sw)
    as_dict = SoftmaxRegression(class_weight=dict(enumerate(cw)), tol=1e-10).fit(
        X, y, sw
    )
    multiplied = SoftmaxRegression(tol=1e-10).fit(X, y, sample_weight=sw * cw[y])
    plain = SoftmaxRegression(tol=1e-10).fit(X, y, sample_weight=sw)
    assert_allclose(balanced.coef_, as_dict.coef_, rtol=1e-12, atol=1e-14)
    assert_allclose(balanced.coef_, multiplied.coef_, rtol=1e-10, atol=1e-12)
    assert_allclose(balanced.intercept_, multiplied.intercept_, rtol=1e-10, atol=1e-12)
    assert np.abs(balanced.intercept_ - plain.intercept_).max() > 1e-2


def test_warm_start_refit_needs_fewer_iterations():
    X, y = DATASETS["wine"]
    cold = SoftmaxRegression(C=1.0, tol=1e-8).fit(X, y)
    warm = SoftmaxRegression(C=1.0, tol=1e-8, warm_start=True).fit(X, y)
    assert warm.n_iter_[0] == cold.n_iter_[0] > 2
    coef = warm.coef_.copy()
    warm.fit(X, y)  # already at the optimum
    assert warm.n_iter_[0] == 0
    assert_allclose(warm.coef_, coef, rtol=1e-13, atol=1e-15)  # pack/unpack rounding
    warm.set_params(C=1.3).fit(X, y)
    cold13 = SoftmaxRegression(C=1.3, tol=1e-8).fit(X, y)
    assert warm.n_iter_[0] < cold13.n_iter_[0]
    assert_allclose(warm.predict_proba(X), cold13.predict_proba(X), atol=1e-6)
    # without warm_start a refit starts afresh
    cold.set_params(C=1.3).fit(X, y)
    assert cold.n_iter_[0] == cold13.n_iter_[0]


def test_warm_start_with_new_classes_or_features_starts_afresh():
    X, y = _blobs()
    clf = SoftmaxRegression(warm_start=True).fit(X, y)
    for X2, y2 in [(X[:, :2], y), (X, y % 2), (np.hstack([X, X]), y)]:
        clf.fit(X2, y2)
        ref = SoftmaxRegression().fit(X2, y2)
        assert clf.coef_.shape == ref.coef_.shape
        assert_allclose(clf.predict_proba(X2), ref.predict_proba(X2), atol=1e-5)


# -- input formats ---------------------------------------------------------------


def test_float32_input_keeps_float32():
    X, y = _blobs()
    X32 = X.astype(np.float32)
    clf = SoftmaxRegression().fit(X32, y)
    assert clf.coef_.dtype == np.float32 and clf.intercept_.dtype == np.float32
    assert clf.decision_function(X32).dtype == np.float32
    assert clf.predict_proba(X32).dtype == np.float32
    assert clf.predict_log_proba(X32).dtype == np.float32
    ref = SoftmaxRegression(tol=1e-10).fit(X, y)
    # float32: tol is floored at 1e-4, so ~1e-4 from the float64 optimum
    assert_allclose(clf.predict_proba(X32), ref.predict_proba(X), atol=1e-3)
    assert_allclose(clf.coef_, ref.coef_, atol=1e-3)
    assert_allclose(clf.predict_proba(X32).sum(axis=1), 1.0, rtol=1e-6)


@pytest.mark.parametrize(
    "convert",
    [
        lambda X: np.round(X * 3).astype(np.int64),
        lambda X: X > 0,
        np.asfortranarray,
        lambda X: np.repeat(X, 2, axis=1)[:, ::2],  # non-contiguous view
    ],
    ids=["int", "bool", "fortran", "strided"],
)
def test_int_bool_fortran_strided_inputs(convert):
    X, y = _blobs()
    Xc = convert(X)
    dense = np.ascontiguousarray(Xc, dtype=np.float64)
    clf = SoftmaxRegression(tol=1e-10).fit(Xc, y)
    ref = SoftmaxRegression(tol=1e-10).fit(dense, y)
    assert clf.coef_.dtype == np.float64
    assert_allclose(clf.coef_, ref.coef_, rtol=0, atol=1e-10)
    assert_allclose(clf.predict_proba(Xc), ref.predict_proba(dense), rtol=0, atol=1e-12)


@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_sparse_equals_dense(fmt):
    X, y = _blobs()
    X[np.abs(X) < 0.7] = 0.0
    Xs = sp.csr_matrix(X) if fmt == "csr" else sp.csc_matrix(X)
    for solver in ("lbfgs", "newton-cg"):
        tol = SOLVER_TOL[solver]
        clf = SoftmaxRegression(solver=solver, tol=tol).fit(Xs, y)
        ref = SoftmaxRegression(solver=solver, tol=tol).fit(X, y)
        assert_allclose(clf.coef_, ref.coef_, rtol=0, atol=1e-7)
        assert_allclose(clf.predict_proba(Xs), ref.predict_proba(X), atol=1e-8)
        assert_allclose(clf.predict_proba(X), clf.predict_proba(Xs), atol=1e-14)


def test_pandas_feature_names():
    X, y = _blobs()
    df = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    clf = SoftmaxRegression().fit(df, pd.Series(y))
    assert_array_equal(clf.feature_names_in_, ["a", "b", "c", "d"])
    assert clf.n_features_in_ == 4
    assert_allclose(
        clf.predict_proba(df), SoftmaxRegression().fit(X, y).predict_proba(X)
    )
    with pytest.raises(ValueError, match="Feature names unseen at fit time"):
        clf.predict(df.rename(columns={"a": "z"}))
    with pytest.raises(ValueError, match="must be in the same order"):
        clf.predict_proba(df[["b", "a", "c", "d"]])
    assert not hasattr(SoftmaxRegression().fit(X, y), "feature_names_in_")


# -- scikit-learn machinery --------------------------------------------------------


def _iris_cv():
    X, y = DATASETS["iris"]
    return X, y, KFold(4, shuffle=True, random_state=0)


def test_pipeline_in_cross_val_score_equals_manual_folds():
    X, y, cv = _iris_cv()
    pipe = make_pipeline(StandardScaler(), SoftmaxRegression(C=0.5))
    scores = cross_val_score(pipe, X, y, cv=cv)
    manual = [
        clone(pipe).fit(X[tr], y[tr]).score(X[te], y[te]) for tr, te in cv.split(X)
    ]
    assert_allclose(scores, manual, rtol=1e-15)
    assert scores.mean() > 0.85


def test_pipeline_in_grid_search_over_C():
    X, y, cv = _iris_cv()
    pipe = make_pipeline(StandardScaler(), SoftmaxRegression())
    grid = [0.01, 1.0, 100.0]
    search = GridSearchCV(pipe, {"softmaxregression__C": grid}, cv=cv).fit(X, y)
    for C, mean in zip(grid, search.cv_results_["mean_test_score"], strict=True):
        pipe.set_params(softmaxregression__C=C)
        assert mean == pytest.approx(
            cross_val_score(pipe, X, y, cv=cv).mean(), rel=1e-14
        )
    best = search.best_params_["softmaxregression__C"]
    assert best != 0.01  # C=0.01 underfits iris
    refit = clone(pipe).set_params(softmaxregression__C=best).fit(X, y)
    assert_allclose(search.predict_proba(X), refit.predict_proba(X), rtol=1e-15)


# older releases raise UnsetMetadataPassedError for Pipeline.score
@needs_sklearn("1.8", "routing sample_weight to a Pipeline's score")
def test_sample_weight_routed_with_metadata_routing():
    X, y, cv = _iris_cv()
    sw = np.random.default_rng(3).uniform(0.1, 3.0, size=y.size)
    with sklearn.config_context(enable_metadata_routing=True):
        pipe = make_pipeline(
            StandardScaler().set_fit_request(sample_weight=False),
            SoftmaxRegression()
            .set_fit_request(sample_weight=True)
            .set_score_request(sample_weight=True),
        )
        routed = clone(pipe).fit(X, y, sample_weight=sw)
        scores = cross_val_score(pipe, X, y, cv=cv, params={"sample_weight": sw})
        search = GridSearchCV(pipe, {"softmaxregression__C": [0.1, 1.0]}, cv=cv)
        search.fit(X, y, sample_weight=sw)
    Xs = StandardScaler().fit_transform(X)
    manual = SoftmaxRegression().fit(Xs, y, sample_weight=sw)
    assert_allclose(routed.predict_proba(X), manual.predict_proba(Xs), rtol=1e-14)
    unweighted = SoftmaxRegression().fit(Xs, y)
    assert np.abs(manual.predict_proba(Xs) - unweighted.predict_proba(Xs)).max() > 1e-3
    expected = []
    for tr, te in cv.split(X):
        scaler = StandardScaler().fit(X[tr])
        clf = SoftmaxRegression().fit(scaler.transform(X[tr]), y[tr], sw[tr])
        expected.append(clf.score(scaler.transform(X[te]), y[te], sw[te]))
    assert_allclose(scores, expected, rtol=1e-14)
    assert search.best_params_["softmaxregression__C"] in (0.1, 1.0)
    assert not sklearn.get_config()["enable_metadata_routing"]


def test_clone_and_pickle_round_trips():
    X, y = _blobs()
    clf = SoftmaxRegression(C=0.3, class_weight="balanced", tol=1e-9).fit(X, y)
    cloned = clone(clf)
    assert not hasattr(cloned, "coef_")
    assert cloned.get_params() == clf.get_params()
    assert_array_equal(cloned.fit(X, y).predict_proba(X), clf.predict_proba(X))
    restored = pickle.loads(pickle.dumps(clf))
    assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))
    assert_array_equal(restored.predict(X), clf.predict(X))
    assert_array_equal(restored.n_iter_, clf.n_iter_)


_LINE = re.compile(
    r"iter\s+(\d+)\s+loss\s+(\S+)\s+\|grad\|\s+(\S+)\s+threshold\s+(\S+)\s+"
    r"passes (\d+)"
)
_SUMMARY = re.compile(
    r"C=(\S+): (\S+) converged after (\d+) iterations: \|grad\| \S+ <= threshold "
    r"\S+ \(tol=\S+\); (\d+) passes over X in \S+ s"
)


@pytest.mark.parametrize("solver", ["lbfgs", "newton-cg"])
def test_verbose_prints_loss_and_gradient_each_iteration(solver, capsys):
    X, y = _blobs()
    capsys.readouterr()
    clf = SoftmaxRegression(C=2.0, solver=solver, tol=1e-8, verbose=1).fit(X, y)
    out = capsys.readouterr().out.splitlines()
    # Newton's gap-check notes: tests/test_messages.py
    lines = [ln for ln in out if ln.strip() and "gap estimate" not in ln]
    summary = _SUMMARY.fullmatch(lines.pop())
    assert summary and summary[2] == solver and int(summary[3]) == clf.n_iter_[0]
    matches = [_LINE.fullmatch(ln.strip()) for ln in lines]
    assert all(matches), lines
    passes = [int(m[5]) for m in matches]
    # an iteration costs at least one pass over X; Newton-CG's more (the
    # Hessian, its products, the line search)
    assert np.all(np.diff(passes) >= (3 if solver == "newton-cg" else 1))
    assert int(summary[4]) >= passes[-1]
    assert [int(m[1]) for m in matches] == list(range(1, clf.n_iter_[0] + 1))
    losses = np.array([float(m[2]) for m in matches])
    grads = np.array([float(m[3]) for m in matches])
    assert np.all(np.diff(losses) <= 1e-12)
    f = objective(X, y, clf.coef_, clf.intercept_, 2.0)
    assert losses[-1] == pytest.approx(f, rel=1e-11)  # printed to 12 digits
    assert grads[-1] <= 1e-8 < grads[0]
    capsys.readouterr()
    SoftmaxRegression().fit(X, y)
    assert capsys.readouterr().out == ""


# -- convergence ------------------------------------------------------------------


@pytest.mark.parametrize("solver", ["lbfgs", "newton-cg"])
def test_max_iter_1_warns_and_never_claims_convergence(solver):
    X, y = DATASETS["wine"]
    with pytest.warns(ConvergenceWarning, match="did not converge.*Increase max_iter"):
        clf = SoftmaxRegression(solver=solver, max_iter=1).fit(X, y)
    assert clf.n_iter_[0] == 1
    assert np.isfinite(clf.coef_).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert SoftmaxRegression(solver=solver).fit(X, y).n_iter_[0] > 1


@pytest.mark.parametrize("solver", ["lbfgs", "newton-cg"])
@pytest.mark.parametrize("k", [2, 3])
def test_separable_data_without_penalty_warns_and_stays_finite(solver, k):
    centres = np.array([[0.0, 0.0], [6.0, 6.0], [-6.0, 6.0]])[:k]
    rng = np.random.default_rng(4)
    y = np.repeat(np.arange(k), 10)
    X = centres[y] + rng.uniform(-1, 1, size=(y.size, 2))
    with pytest.warns(ConvergenceWarning, match="no finite optimum"):
        clf = SoftmaxRegression(C=np.inf, solver=solver).fit(X, y)
    assert np.isfinite(clf.coef_).all() and np.isfinite(clf.intercept_).all()
    assert not np.isnan(clf.predict_proba(X)).any()
    assert_array_equal(clf.predict(X), y)
    # with a penalty the optimum is finite: no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        SoftmaxRegression(C=1.0, solver=solver).fit(X, y)


def test_overlapping_data_without_penalty_converges_silently():
    X, y = _blobs()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf = SoftmaxRegression(C=np.inf, tol=1e-10).fit(X, y)
    lr = LogisticRegression(C=np.inf, solver="newton-cholesky", tol=1e-12).fit(X, y)
    assert_allclose(clf.predict_proba(X), lr.predict_proba(X), atol=1e-8)


# -- numerical range ----------------------------------------------------------------


@pytest.mark.parametrize("scale", [1e-150, 1e150])
@pytest.mark.parametrize("fmt", ["dense", "csr"])
def test_extreme_feature_scales(scale, fmt):
    X, y = _blobs()
    Xs = X * scale
    if fmt == "csr":
        Xs = sp.csr_matrix(Xs)
    ref = SoftmaxRegression(C=np.inf, tol=1e-10).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # without penalty the model is scale-equivariant
        clf = SoftmaxRegression(C=np.inf, tol=1e-10).fit(Xs, y)
        proba = clf.predict_proba(Xs)
        # with C=1 the penalty on W ~ 1/scale acts like C * scale^2
        proba_c1 = SoftmaxRegression(C=1.0, tol=1e-10).fit(Xs, y).predict_proba(Xs)
    assert np.isfinite(proba).all() and np.isfinite(proba_c1).all()
    assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-14)
    assert_allclose(proba_c1.sum(axis=1), 1.0, rtol=1e-14)
    assert_allclose(proba, ref.predict_proba(X), atol=1e-8)
    assert_allclose(clf.coef_ * scale, ref.coef_, rtol=1e-6, atol=1e-8)
    if scale > 1:  # effectively C = 1e300: no penalty
        assert_allclose(proba_c1, ref.predict_proba(X), atol=1e-8)
    else:  # effectively C = 1e-300: W = 0, probabilities are the class shares
        assert_allclose(proba_c1, 1 / 3, rtol=1e-10)


@pytest.mark.parametrize("k", [2, 3])
def test_huge_test_time_scores_give_exact_log_probabilities(k):
    X, y = _blobs(k=k)
    clf = SoftmaxRegression().fit(X, y)
    Xt = X[:10] * 1e6
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scores = clf.decision_function(Xt)
        log_proba = clf.predict_log_proba(Xt)
        proba = clf.predict_proba(Xt)
    scores = np.column_stack([np.zeros(10), scores]) if k == 2 else scores
    assert np.abs(scores).max() > 1e5
    assert np.isfinite(log_proba).all()
    assert_allclose(log_proba, scipy_log_softmax(scores, axis=1), rtol=1e-15)
    assert log_proba.min() < -1e5  # log(proba) would be -inf here
    assert np.isfinite(proba).all()
    assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-15)
    assert_array_equal(proba, np.exp(log_proba))


def test_callers_arrays_are_not_modified():
    X, y = _blobs()
    y_str = np.array(["u", "v", "w"])[y]
    sw = np.random.default_rng(5).uniform(0.5, 2.0, size=y.size)
    Xs = sp.csr_matrix(np.where(np.abs(X) > 0.5, X, 0.0))
    copies = X.copy(), y_str.copy(), sw.copy(), Xs.copy()
    clf = SoftmaxRegression(class_weight="balanced", label_smoothing=0.1)
    clf.fit(X, y_str, sample_weight=sw)
    clf.predict_proba(X)
    clf.fit(Xs, y_str, sample_weight=sw)
    clf.predict_log_proba(Xs)
    for before, after in zip(copies[:3], (X, y_str, sw), strict=True):
        assert_array_equal(before, after)
    assert_array_equal(copies[3].toarray(), Xs.toarray())
    assert_array_equal(copies[3].indices, Xs.indices)


# -- bad input: one test each -------------------------------------------------------


def _with(X, i, j, value):
    X = X.copy()
    X[i, j] = value
    return X


X0, Y0 = _blobs(n=30)


@pytest.mark.parametrize(
    "X, match",
    [
        (_with(X0, 3, 1, np.nan), "Input X contains NaN"),
        (_with(X0, 3, 1, np.inf), "Input X contains infinity"),
        (sp.csr_matrix(_with(X0, 3, 1, np.nan)), "Input X contains NaN"),
        (sp.csc_matrix(_with(X0, 3, 1, -np.inf)), "Input X contains infinity"),
    ],
    ids=["nan-dense", "inf-dense", "nan-csr", "inf-csc"],
)
def test_nonfinite_X_rejected(X, match):
    with pytest.raises(ValueError, match=match):
        SoftmaxRegression().fit(X, Y0)


def test_nonfinite_X_at_predict_rejected():
    clf = SoftmaxRegression().fit(X0, Y0)
    with pytest.raises(ValueError, match="Input X contains NaN"):
        clf.predict_proba(_with(X0, 0, 0, np.nan))


def test_nan_in_y_rejected():
    y = Y0.astype(float)
    y[5] = np.nan
    with pytest.raises(ValueError, match="Input y contains NaN"):
        SoftmaxRegression().fit(X0, y)


@pytest.mark.parametrize(
    "sample_weight, match",
    [
        (np.where(np.arange(30) == 2, np.nan, 1.0), "sample_weight contains NaN"),
        (np.where(np.arange(30) == 2, np.inf, 1.0), "sample_weight contains infinity"),
        (np.where(np.arange(30) == 2, -1.0, 1.0), "Negative values .* `sample_weight`"),
        pytest.param(
            np.zeros(30),
            "Sample weights must contain at least one non-zero",
            # older releases pass them on: the fit refuses them, in its own words
            marks=needs_sklearn("1.9", "_check_sample_weight's all-zero error"),
        ),
        (np.ones(29), r"sample_weight.shape == \(29,\), expected \(30,\)"),
    ],
    ids=["nan", "inf", "negative", "all-zero", "wrong-length"],
)
def test_bad_sample_weight_rejected(sample_weight, match):
    with pytest.raises(ValueError, match=match):
        SoftmaxRegression().fit(X0, Y0, sample_weight=sample_weight)


def test_single_class_rejected():
    with pytest.raises(ValueError, match="at least 2 classes"):
        SoftmaxRegression().fit(X0, np.full(30, "only"))


def test_single_class_with_positive_weight_rejected():
    with pytest.raises(ValueError, match=r"at least 2 classes .*got 1 class"):
        SoftmaxRegression().fit(X0, Y0, sample_weight=(Y0 == 1).astype(float))


def test_zero_samples_rejected():
    with pytest.raises(ValueError, match="0 sample"):
        SoftmaxRegression().fit(X0[:0], Y0[:0])


def test_zero_features_rejected():
    with pytest.raises(ValueError, match="0 feature"):
        SoftmaxRegression().fit(X0[:, :0], Y0)


def test_X_y_length_mismatch_rejected():
    with pytest.raises(
        ValueError, match=r"inconsistent numbers of samples: \[30, 29\]"
    ):
        SoftmaxRegression().fit(X0, Y0[:-1])


@pytest.mark.parametrize(
    "params, match",
    [
        ({"C": 0}, "'C' parameter"),
        ({"C": -1.0}, "'C' parameter"),
        ({"C": "1"}, "'C' parameter"),
        ({"max_iter": -1}, "'max_iter' parameter"),
        ({"tol": -1e-3}, "'tol' parameter"),
        ({"class_weight": "equal"}, "'class_weight' parameter"),
        ({"label_smoothing": 1.0}, "'label_smoothing' parameter"),
    ],
    ids=["C=0", "C<0", "C-str", "max_iter<0", "tol<0", "cw-str", "ls=1"],
)
def test_invalid_parameters_rejected(params, match):
    with pytest.raises(ValueError, match=match):
        SoftmaxRegression(**params).fit(X0, Y0)


SOLVER_PARAMS = [
    {"solver": "lbfgs"},
    {"solver": "newton-cg"},
    {"solver": "newton-cholesky"},
    {"l1_ratio": 0.5},  # L-BFGS-B on the split
]


@pytest.mark.parametrize("params", SOLVER_PARAMS, ids=lambda p: str(p))
def test_max_iter_zero_returns_the_start_with_a_warning(params):
    # as LogisticRegression(max_iter=0): no step, the start, a warning
    X, y = load_iris(return_X_y=True)
    with pytest.warns(ConvergenceWarning, match="after 0 iterations.*max_iter"):
        clf = SoftmaxRegression(max_iter=0, **params).fit(X, y)
    assert clf.n_iter_ == 0
    assert_array_equal(clf.coef_, 0.0)
    assert_allclose(clf.intercept_, 0.0, atol=1e-15)  # balanced: log priors
    # a warm start at the optimum: the start is an optimum, no warning
    clf = SoftmaxRegression(warm_start=True, **params).fit(X, y)
    coef, intercept = clf.coef_.copy(), clf.intercept_.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf.set_params(max_iter=0).fit(X, y)
    assert clf.n_iter_ == 0
    assert_array_equal(clf.coef_, coef)
    assert_array_equal(clf.intercept_, intercept)


@pytest.mark.parametrize("params", SOLVER_PARAMS, ids=lambda p: str(p))
def test_tol_zero_runs_until_no_progress_and_says_so(params):
    # tol=0: only a zero gradient meets the rule; the stall rules end the fit
    # long before max_iter, at the optimum to rounding, with a warning
    X, y = load_iris(return_X_y=True)
    with pytest.warns(ConvergenceWarning, match="With tol=0 only a zero gradient"):
        clf = SoftmaxRegression(tol=0, max_iter=100_000, **params).fit(X, y)
    assert 0 < clf.n_iter_ < 1000
    ref = SoftmaxRegression(tol=1e-10, max_iter=10_000, **params).fit(X, y)
    C, r = 1.0, params.get("l1_ratio", 0.0)
    f = objective(X, y, clf.coef_, clf.intercept_, C, l1_ratio=r)
    f_ref = objective(X, y, ref.coef_, ref.intercept_, C, l1_ratio=r)
    assert f <= f_ref * (1 + 1e-12)


def test_cv_accepts_max_iter_zero_and_tol_zero():
    X, y = load_iris(return_X_y=True)
    with pytest.warns(ConvergenceWarning, match="after 0 iterations"):
        cv = SoftmaxRegressionCV(Cs=2, cv=2, max_iter=0).fit(X, y)
    assert_array_equal(cv.n_iter_, 0)
    with pytest.warns(ConvergenceWarning, match="With tol=0"):
        cv = SoftmaxRegressionCV(Cs=2, cv=2, tol=0).fit(X, y)
    assert (cv.n_iter_ > 0).all()


@pytest.mark.parametrize("params", SOLVER_PARAMS, ids=lambda p: str(p))
@pytest.mark.parametrize("load", [load_iris, load_breast_cancer])
def test_warm_start_without_a_step_returns_the_model_bit_for_bit(params, load):
    X, y = load(return_X_y=True)
    clf = SoftmaxRegression(warm_start=True, max_iter=10_000, **params).fit(X, y)
    coef, intercept = clf.coef_.copy(), clf.intercept_.copy()
    clf.fit(X, y)
    assert clf.n_iter_ == 0
    assert_array_equal(clf.coef_, coef)
    assert_array_equal(clf.intercept_, intercept)


def test_float32_lbfgs_reaches_the_float64_optimum_past_the_rounding_level():
    # binary, class_weight="balanced", float32: where a step's decrease is
    # below float32 rounding of the objective, the search on the slope (not
    # scipy's Armijo test on rounding noise) carries L-BFGS to the 1e-5 rule
    X, y = make_classification(200, 7, n_informative=5, random_state=0)
    X = X * np.array([1.0, 30.0, 0.02, 1.0, 5.0, 1.0, 200.0])
    sw = np.random.default_rng(1).uniform(0.5, 2.0, size=X.shape[0])
    params = dict(C=0.3, class_weight="balanced")
    ref = SoftmaxRegression(solver="newton-cholesky", tol=1e-10, **params)
    ref.fit(X, y, sample_weight=sw)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf = SoftmaxRegression(solver="lbfgs", **params)
        clf.fit(X.astype(np.float32), y, sample_weight=sw)
    # before: stopped at the 1e-4 rounding rule, 2.8e-4 from the optimum
    assert_allclose(clf.intercept_, ref.intercept_, rtol=0, atol=1e-5)
    assert_allclose(clf.coef_, ref.coef_, rtol=0, atol=1e-5)


@pytest.mark.parametrize(
    "name, standardise, C",
    [
        ("wine", False, 1.0),
        ("wine", False, 100.0),
        ("wine", True, 100.0),
        ("breast_cancer", False, 1.0),
        ("breast_cancer", False, 100.0),
        ("breast_cancer", True, 100.0),
    ],
)
def test_float32_lbfgs_meets_the_float32_rule_where_its_search_stalls(
    name, standardise, C, monkeypatch
):
    # where L-BFGS's line search stalls on float32 rounding (the 1e-4 rounding
    # rule), Newton-CG takes it from there to the 1e-5 rule
    from sklearn_softmax import _path

    load = {"wine": load_wine, "breast_cancer": load_breast_cancer}[name]
    X, y = load(return_X_y=True)
    if standardise:
        X = StandardScaler().fit_transform(X)
    seen = {}
    real = _path.solve

    def spy(objective, theta0, settings):
        seen["result"] = real(objective, theta0, settings)
        return seen["result"]

    ref = SoftmaxRegression(C=C, solver="newton-cg", tol=1e-10, max_iter=10000)
    ref.fit(X, y)
    monkeypatch.setattr(_path, "solve", spy)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf = SoftmaxRegression(C=C, solver="lbfgs", max_iter=10000)
        clf.fit(X.astype(np.float32), y)
    assert seen["result"].tol == 1e-5 and seen["result"].converged
    # the relative objective gap (what the rule bounds; the raw features'
    # coefficients are ill conditioned): before 5.5e-8 to 1.1e-4, now < 1e-9
    f = objective_value(X, y, clf.coef_.astype(float), clf.intercept_, C)
    f_star = objective_value(X, y, ref.coef_, ref.intercept_, C)
    assert (f - f_star) / f_star <= 1e-8


def test_C_inf_is_accepted():
    assert np.isfinite(SoftmaxRegression(C=np.inf).fit(X0, Y0).coef_).all()


def test_class_weight_label_not_in_y_rejected():
    with pytest.raises(
        ValueError, match=r"class_weight names labels that are not in y: \[7\]"
    ):
        SoftmaxRegression(class_weight={0: 2.0, 7: 1.0}).fit(X0, Y0)


def test_non_numeric_X_rejected():
    X = np.array([["a", "b"]] * 30)
    with pytest.raises(ValueError, match="could not convert string to float"):
        SoftmaxRegression().fit(X, Y0)


def test_predict_with_wrong_number_of_features_rejected():
    clf = SoftmaxRegression().fit(X0, Y0)
    for method in (clf.predict, clf.predict_proba, clf.decision_function):
        with pytest.raises(ValueError, match="X has 3 features, but .* expecting 4"):
            method(X0[:, :3])


@pytest.mark.parametrize(
    "method", ["predict", "predict_proba", "predict_log_proba", "decision_function"]
)
def test_not_fitted_error(method):
    with pytest.raises(NotFittedError, match="not fitted yet"):
        getattr(SoftmaxRegression(), method)(X0)


# -- LogisticRegression's attributes and methods -------------------------------------

PREDICT_METHODS = ["predict", "predict_proba", "predict_log_proba", "decision_function"]


@pytest.mark.parametrize("k", [3, 2])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sparsify_predicts_the_same_and_densify_restores_coef(k, dtype):
    X, y = DATASETS["wine"]
    X, y = X[y < k].astype(dtype), y[y < k]
    clf = SoftmaxRegression(C=0.05, l1_ratio=1.0).fit(X, y)
    dense = clf.coef_.copy()
    assert (dense == 0).mean() > 0.5  # the L1 model the methods are for
    inputs = [X, sp.csr_matrix(X), sp.csc_matrix(X)]
    expected = [{m: getattr(clf, m)(Z) for m in PREDICT_METHODS} for Z in inputs]

    assert clf.sparsify() is clf
    assert sp.issparse(clf.coef_) and clf.coef_.format == "csr"
    assert clf.coef_.dtype == dtype and clf.coef_.nnz == np.count_nonzero(dense)
    for Z, values in zip(inputs, expected, strict=True):
        for method, value in values.items():
            assert_allclose(getattr(clf, method)(Z), value, rtol=1e-6, atol=1e-6)
    assert clf.score(X, y) == pytest.approx((expected[0]["predict"] == y).mean())
    restored = pickle.loads(pickle.dumps(clf))
    assert sp.issparse(restored.coef_)
    assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))

    assert clf.sparsify() is clf and sp.issparse(clf.coef_)  # twice: no-op
    assert clf.densify() is clf
    assert type(clf.coef_) is np.ndarray and clf.coef_.dtype == dtype
    assert_array_equal(clf.coef_, dense)
    assert clf.densify() is clf and type(clf.coef_) is np.ndarray  # no-op


@pytest.mark.skipif(
    "sparse_interface" not in sklearn.get_config(),
    reason="scikit-learn's sparse_interface setting is newer",
)
def test_sparsify_follows_sparse_interface():
    X, y = DATASETS["iris"]
    clf = SoftmaxRegression(C=0.1, l1_ratio=1.0).fit(X, y)
    proba = clf.predict_proba(X)
    with sklearn.config_context(sparse_interface="sparray"):
        clf.sparsify()
        assert isinstance(clf.coef_, sp.csr_array)
        assert_allclose(clf.predict_proba(sp.csr_array(X)), proba, rtol=1e-12)
    assert_allclose(clf.predict_proba(X), proba, rtol=1e-12)
    assert type(clf.densify().coef_) is np.ndarray


def test_warm_start_from_sparsified_coef():
    X, y = DATASETS["wine"]
    X = StandardScaler().fit_transform(X)
    dense = SoftmaxRegression(C=0.1, l1_ratio=0.5, warm_start=True).fit(X, y)
    sparse = clone(dense).fit(X, y).sparsify()
    dense.set_params(C=0.2).fit(X, y)
    sparse.set_params(C=0.2).fit(X, y)
    assert type(sparse.coef_) is np.ndarray  # a fit gives a dense coef_ again
    assert_array_equal(sparse.coef_, dense.coef_)
    assert sparse.n_iter_[0] == dense.n_iter_[0]
    cold = SoftmaxRegression(C=0.2, l1_ratio=0.5).fit(X, y)
    assert sparse.n_iter_[0] < cold.n_iter_[0]  # it did start from the old coef_


@pytest.mark.parametrize("method", ["sparsify", "densify"])
def test_sparsify_densify_need_a_fitted_model(method):
    with pytest.raises(NotFittedError, match="not fitted yet"):
        getattr(SoftmaxRegression(), method)()


@pytest.mark.parametrize("solver", ["auto", "lbfgs", "newton-cg", "newton-cholesky"])
@pytest.mark.parametrize("l1_ratio", [0.0, 1.0])
@pytest.mark.parametrize("k", [3, 2])
def test_n_iter_is_an_array_like_logistic_regressions(solver, l1_ratio, k):
    if l1_ratio and solver == "newton-cholesky":
        pytest.skip("the exact Hessian refuses an L1 penalty")
    X, y = DATASETS["iris"]
    X, y = X[y < k], y[y < k]
    ref = LogisticRegression().fit(StandardScaler().fit_transform(X), y).n_iter_
    n_iter = SoftmaxRegression(solver=solver, l1_ratio=l1_ratio).fit(X, y).n_iter_
    assert type(n_iter) is type(ref) is np.ndarray
    assert n_iter.shape == ref.shape == (1,)
    assert n_iter.dtype == ref.dtype == np.int32
    assert n_iter[0] == n_iter.max() >= 1


def _warning_sites(fit):
    """``(filename, category)`` of the warnings ``fit()`` raises."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit()
    return [(w.filename, w.category) for w in caught]


def test_convergence_warning_points_at_the_callers_line():
    from sklearn_softmax import SoftmaxRegressionCV

    X, y = DATASETS["wine"]
    fits = [
        lambda: SoftmaxRegression(max_iter=1).fit(X, y),
        lambda: SoftmaxRegression(max_iter=1, l1_ratio=1.0).fit(X, y),
        lambda: SoftmaxRegressionCV(Cs=[1.0], cv=2, max_iter=1).fit(X, y),
        lambda: make_pipeline(StandardScaler(), SoftmaxRegression(max_iter=1)).fit(
            X, y
        ),
    ]
    for fit in fits:
        sites = _warning_sites(fit)
        assert sites and sites == [(__file__, ConvergenceWarning)] * len(sites)
    # a filter on this module's warnings catches them
    with warnings.catch_warnings():
        warnings.filterwarnings("error", category=ConvergenceWarning)
        warnings.filterwarnings(
            "ignore", category=ConvergenceWarning, module=__name__.split(".")[-1]
        )
        SoftmaxRegression(max_iter=1).fit(X, y)
