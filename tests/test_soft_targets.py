"""Fitting class-probability targets and label smoothing."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from _oracle import objective
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import log_softmax as scipy_log_softmax
from sklearn.exceptions import ConvergenceWarning, DataConversionWarning

from sklearn_softmax import SoftmaxRegression


def _soft_problem(n=40, d=3, k=3, seed=0, concentration=1.0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    logits = X @ rng.normal(size=(d, k)) + rng.normal(scale=0.5, size=(n, k))
    Y = rng.dirichlet(np.full(k, concentration), size=n) * 0.3
    Y += 0.7 * np.exp(scipy_log_softmax(logits, axis=1))
    Y[0] = np.eye(k)[0]  # rows with exact zeros too
    Y[1, :2] = [0.5, 0.5]
    Y[1, 2:] = 0.0
    return X, Y


@pytest.mark.parametrize("solver", ["lbfgs", "newton-cg"])
@pytest.mark.parametrize("k", [2, 3, 5])
def test_soft_row_equals_k_weighted_copies(k, solver):
    X, Y = _soft_problem(k=k)
    n = len(Y)
    tol = 1e-8 if solver == "lbfgs" else 1e-10
    soft = SoftmaxRegression(solver=solver, tol=tol).fit(X, Y)
    copies = SoftmaxRegression(solver=solver, tol=tol).fit(
        np.repeat(X, k, axis=0), np.tile(np.arange(k), n), sample_weight=Y.ravel()
    )
    assert_array_equal(soft.classes_, np.arange(k))
    assert soft.coef_.shape == ((1, 3) if k == 2 else (k, 3))
    assert_allclose(soft.predict_proba(X), copies.predict_proba(X), rtol=0, atol=1e-6)
    assert_allclose(soft.coef_, copies.coef_, rtol=0, atol=1e-5)
    assert objective(X, Y, soft.coef_, soft.intercept_, soft.C) == pytest.approx(
        objective(X, Y, copies.coef_, copies.intercept_, copies.C), rel=1e-12
    )


def test_soft_targets_with_sample_weight_equal_weighted_copies():
    X, Y = _soft_problem(seed=1)
    n, k = Y.shape
    sw = np.random.default_rng(2).uniform(0.2, 3.0, size=n)
    soft = SoftmaxRegression(tol=1e-10).fit(X, Y, sample_weight=sw)
    copies = SoftmaxRegression(tol=1e-10).fit(
        np.repeat(X, k, axis=0),
        np.tile(np.arange(k), n),
        sample_weight=(sw[:, None] * Y).ravel(),
    )
    assert_allclose(soft.predict_proba(X), copies.predict_proba(X), rtol=0, atol=1e-9)
    unweighted = SoftmaxRegression(tol=1e-10).fit(X, Y)
    assert np.abs(unweighted.predict_proba(X) - soft.predict_proba(X)).max() > 1e-3


@pytest.mark.parametrize("fmt", ["dense", "csr", "csc"])
def test_one_hot_rows_equal_labels(fmt):
    X, _ = _soft_problem()
    y = np.random.default_rng(3).integers(0, 3, size=len(X))
    Xf = X if fmt == "dense" else getattr(sp, f"{fmt}_matrix")(X)
    labels = SoftmaxRegression(tol=1e-10).fit(Xf, y)
    onehot = SoftmaxRegression(tol=1e-10).fit(Xf, np.eye(3)[y])
    assert_array_equal(onehot.classes_, labels.classes_)
    assert_allclose(onehot.coef_, labels.coef_, rtol=0, atol=1e-10)
    assert_allclose(onehot.intercept_, labels.intercept_, rtol=0, atol=1e-10)
    # integer one-hot rows are probabilities too
    as_int = SoftmaxRegression(tol=1e-10).fit(Xf, np.eye(3, dtype=int)[y])
    assert_allclose(as_int.coef_, labels.coef_, rtol=0, atol=1e-10)


@pytest.mark.parametrize("eps", [0.1, 0.5])
def test_label_smoothing_equals_smoothed_targets(eps):
    X, Y = _soft_problem(seed=4)
    y = Y.argmax(axis=1)
    k = Y.shape[1]
    sw = np.random.default_rng(5).uniform(0.5, 2.0, size=len(y))
    for target in (y, Y):
        onehot = np.eye(k)[target] if target.ndim == 1 else target
        smoothed = (1 - eps) * onehot + eps / k
        for cw in (None, "balanced", {0: 3.0}):
            a = SoftmaxRegression(label_smoothing=eps, class_weight=cw, tol=1e-10)
            b = SoftmaxRegression(class_weight=cw, tol=1e-10)
            a.fit(X, target, sample_weight=sw)
            b.fit(X, smoothed, sample_weight=sw)
            assert_allclose(a.predict_proba(X), b.predict_proba(X), rtol=0, atol=1e-10)
            assert_allclose(a.coef_, b.coef_, rtol=0, atol=1e-9)
    plain = SoftmaxRegression(tol=1e-10).fit(X, y).predict_proba(X)
    smooth = SoftmaxRegression(label_smoothing=eps, tol=1e-10).fit(X, y)
    assert smooth.predict_proba(X).max() < plain.max()  # smoothing tempers the fit


def test_label_smoothing_keeps_separable_data_finite():
    X = np.array([[0.0], [1.0], [2.0], [3.0]])
    y = np.array([0, 0, 1, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # smoothed targets: a finite optimum
        clf = SoftmaxRegression(C=np.inf, label_smoothing=0.1, tol=1e-10).fit(X, y)
    assert np.isfinite(clf.coef_).all() and np.abs(clf.coef_).max() < 100
    # the unpenalised optimum: X1^T (P - Y) = 0 with X1 = [1, x]
    residual = clf.predict_proba(X) - (0.9 * np.eye(2)[y] + 0.05)
    assert_allclose(residual.sum(axis=0), 0.0, atol=1e-9)
    assert_allclose(X[:, 0] @ residual, 0.0, atol=1e-9)


def test_classes_name_the_columns_in_the_given_order():
    X, Y = _soft_problem(seed=6)
    names = np.array(["cat", "ant", "bee"])  # deliberately not sorted
    clf = SoftmaxRegression(tol=1e-10).fit(X, Y, classes=names)
    ref = SoftmaxRegression(tol=1e-10).fit(X, Y)
    assert_array_equal(clf.classes_, names)
    assert_allclose(clf.predict_proba(X), ref.predict_proba(X), rtol=0, atol=1e-12)
    assert_array_equal(clf.predict(X), names[ref.predict(X)])
    assert set(clf.predict(X)) == set(names)
    assert clf.score(X, names[Y.argmax(axis=1)]) == pytest.approx(
        ref.score(X, Y.argmax(axis=1))
    )


@pytest.mark.parametrize(
    "classes, match",
    [
        (["a", "b"], "classes must name the 3 columns"),
        (["a", "b", "a"], "distinct labels"),
        ([["a", "b", "c"]], "classes must name"),
    ],
)
def test_bad_classes_rejected(classes, match):
    X, Y = _soft_problem()
    with pytest.raises(ValueError, match=match):
        SoftmaxRegression().fit(X, Y, classes=classes)


def test_classes_with_1d_labels_rejected():
    X, Y = _soft_problem()
    with pytest.raises(ValueError, match="classes= is only used with"):
        SoftmaxRegression().fit(X, Y.argmax(axis=1), classes=[0, 1, 2])


def test_warm_start_from_label_fit_to_soft_fit():
    X, Y = _soft_problem(n=200, seed=7, concentration=5.0)
    y = Y.argmax(axis=1)
    Y_near = 0.9 * np.eye(3)[y] + 0.1 * Y  # soft targets close to the labels
    cold = SoftmaxRegression(tol=1e-8).fit(X, Y_near)
    clf = SoftmaxRegression(warm_start=True, tol=1e-8).fit(X, y)
    label_coef = clf.coef_.copy()
    clf.fit(X, Y_near)
    assert np.abs(clf.coef_ - label_coef).max() > 1e-3  # it did refit
    assert_allclose(clf.predict_proba(X), cold.predict_proba(X), rtol=0, atol=1e-6)
    assert clf.n_iter_[0] < cold.n_iter_[0]
    # and back: the label fit warm-started from the soft fit
    clf.fit(X, y)
    assert_allclose(clf.coef_, label_coef, rtol=0, atol=1e-6)


def test_column_vector_y_is_labels_with_warning():
    X, Y = _soft_problem()
    y = Y.argmax(axis=1)
    with pytest.warns(DataConversionWarning, match="column-vector y"):
        col = SoftmaxRegression().fit(X, y[:, None])
    flat = SoftmaxRegression().fit(X, y)
    assert_array_equal(col.classes_, flat.classes_)
    assert_array_equal(col.coef_, flat.coef_)


def test_multilabel_indicator_rejected():
    X, _ = _soft_problem(n=6)
    Y = np.array([[1, 0, 1], [0, 1, 0], [1, 1, 0], [0, 0, 1], [1, 0, 0], [0, 1, 1]])
    with pytest.raises(ValueError, match="multilabel targets are not supported"):
        SoftmaxRegression().fit(X, Y)
    with pytest.raises(ValueError, match="multilabel targets are not supported"):
        SoftmaxRegression().fit(X, np.zeros((6, 3)))  # rows summing to 0


def test_nan_in_soft_targets_rejected():
    X, Y = _soft_problem()
    Y[3, 1] = np.nan
    with pytest.raises(ValueError, match="y contains NaN"):
        SoftmaxRegression().fit(X, Y)


def test_negative_soft_targets_rejected():
    X, Y = _soft_problem()
    Y[3] = [1.2, -0.2, 0.0]
    with pytest.raises(ValueError, match="negative values"):
        SoftmaxRegression().fit(X, Y)


def test_rows_not_summing_to_one_rejected():
    X, Y = _soft_problem()
    Y[5] = [0.3, 0.3, 0.3]
    with pytest.raises(ValueError, match="must sum to 1 .*row 5 sums to 0.9"):
        SoftmaxRegression().fit(X, Y)


@pytest.mark.parametrize("solver", ["lbfgs", "newton-cg"])
def test_rows_summing_to_one_within_tolerance_used_as_given(solver):
    X, Y = _soft_problem(seed=14)
    n, k = Y.shape
    # rows off by up to 5e-5, e.g. float32 rounding or a teacher's output
    Y = Y * (1 + np.random.default_rng(15).uniform(-5e-5, 5e-5, size=(n, 1)))
    Y_given = Y.copy()
    tol = 1e-8 if solver == "lbfgs" else 1e-10
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and it converges
        clf = SoftmaxRegression(solver=solver, tol=tol).fit(X, Y)
    assert_array_equal(Y, Y_given)
    # the loss of row i is -sum_k Y_ik log p_ik exactly: K weighted copies
    copies = SoftmaxRegression(solver=solver, tol=tol).fit(
        np.repeat(X, k, axis=0), np.tile(np.arange(k), n), sample_weight=Y.ravel()
    )
    assert_allclose(clf.predict_proba(X), copies.predict_proba(X), rtol=0, atol=1e-7)
    assert_allclose(clf.coef_, copies.coef_, rtol=0, atol=1e-6)


def test_class_weight_dict_multiplies_rows_by_expected_class_weight():
    # documented: a soft row's weight is multiplied by sum_k Y_ik cw_k
    X, Y = _soft_problem(seed=8)
    sw = np.random.default_rng(9).uniform(0.5, 2.0, size=len(Y))
    cw = np.array([4.0, 1.0, 0.25])
    a = SoftmaxRegression(class_weight={0: 4.0, 2: 0.25}, tol=1e-10)
    a.fit(X, Y, sample_weight=sw)
    b = SoftmaxRegression(tol=1e-10).fit(X, Y, sample_weight=sw * (Y @ cw))
    assert_allclose(a.predict_proba(X), b.predict_proba(X), rtol=0, atol=1e-10)
    assert_allclose(a.coef_, b.coef_, rtol=0, atol=1e-9)
    plain = SoftmaxRegression(tol=1e-10).fit(X, Y, sample_weight=sw)
    assert np.abs(plain.coef_ - a.coef_).max() > 1e-2
    # on one-hot rows this is the label fit's class_weight
    y = Y.argmax(axis=1)
    labels = SoftmaxRegression(class_weight={0: 4.0, 2: 0.25}, tol=1e-10)
    onehot = SoftmaxRegression(class_weight={0: 4.0, 2: 0.25}, tol=1e-10)
    labels.fit(X, y, sw)
    onehot.fit(X, np.eye(3)[y], sw)
    assert_allclose(onehot.coef_, labels.coef_, rtol=0, atol=1e-9)


def test_class_weight_balanced_counts_soft_mass():
    X, Y = _soft_problem(seed=10)
    sw = np.random.default_rng(11).uniform(0.5, 2.0, size=len(Y))
    mass = sw @ Y  # S_k: the class's total (soft) sample weight
    cw = mass.sum() / (3 * mass)
    a = SoftmaxRegression(class_weight="balanced", tol=1e-10).fit(X, Y, sw)
    b = SoftmaxRegression(class_weight=dict(enumerate(cw)), tol=1e-10).fit(X, Y, sw)
    c = SoftmaxRegression(tol=1e-10).fit(X, Y, sample_weight=sw * (Y @ cw))
    assert_allclose(a.coef_, b.coef_, rtol=1e-12, atol=1e-14)
    assert_allclose(a.predict_proba(X), c.predict_proba(X), rtol=0, atol=1e-10)


def test_class_weight_dict_names_columns_by_classes():
    X, Y = _soft_problem(seed=12)
    names = ["x", "y", "z"]
    a = SoftmaxRegression(class_weight={"z": 3.0}, tol=1e-10).fit(X, Y, classes=names)
    b = SoftmaxRegression(class_weight={2: 3.0}, tol=1e-10).fit(X, Y)
    assert_allclose(a.coef_, b.coef_, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="not in y"):
        SoftmaxRegression(class_weight={2: 3.0}).fit(X, Y, classes=names)


def test_soft_targets_leave_callers_arrays_unchanged():
    X, Y = _soft_problem()
    sw = np.linspace(0.5, 1.5, len(Y))
    copies = X.copy(), Y.copy(), sw.copy()
    SoftmaxRegression(label_smoothing=0.2, class_weight="balanced").fit(X, Y, sw)
    SoftmaxRegression().fit(X, Y, sw)
    for before, after in zip(copies, (X, Y, sw), strict=True):
        assert_array_equal(before, after)


def test_soft_targets_float32_and_binary_contract():
    X, Y = _soft_problem(k=2, seed=13)
    clf = SoftmaxRegression().fit(X.astype(np.float32), Y)
    assert clf.coef_.dtype == np.float32 and clf.coef_.shape == (1, 3)
    z = clf.decision_function(X.astype(np.float32))
    assert z.shape == (len(X),)
    p = clf.predict_proba(X.astype(np.float32))
    assert p.dtype == np.float32
    assert_allclose(np.log(p[:, 1] / p[:, 0]), z, rtol=1e-4, atol=1e-4)


def test_soft_targets_separable_one_hot_without_penalty_warns():
    X = np.array([[0.0], [1.0], [2.0], [3.0]])
    Y = np.eye(2)[[0, 0, 1, 1]]
    with pytest.warns(ConvergenceWarning, match="no finite optimum"):
        clf = SoftmaxRegression(C=np.inf).fit(X, Y)
    assert np.isfinite(clf.coef_).all()


def test_cross_val_score_on_soft_targets_with_cross_entropy_scorer():
    from sklearn.datasets import load_iris
    from sklearn.model_selection import KFold, cross_val_score

    from sklearn_softmax.metrics import cross_entropy, make_cross_entropy_scorer

    X, y = load_iris(return_X_y=True)
    rng = np.random.default_rng(0)
    Y = rng.dirichlet(np.ones(3), size=X.shape[0]) * 0.3
    Y[np.arange(X.shape[0]), y] += 0.7
    cv = KFold(4, shuffle=True, random_state=0)
    scores = cross_val_score(
        SoftmaxRegression(), X, Y, cv=cv, scoring=make_cross_entropy_scorer(base=2)
    )
    # each fold's score is minus the cross-entropy in bits of that fold's model
    for score, (train, test) in zip(scores, cv.split(X), strict=True):
        model = SoftmaxRegression().fit(X[train], Y[train])
        expected = cross_entropy(Y[test], model.predict_proba(X[test]), base=2)
        assert score == pytest.approx(-expected, rel=1e-12)
    # soft targets carry entropy, so the cross-entropy is bounded below by it
    assert np.all(-scores > 0.5)


def test_float16_soft_targets_fit_as_their_float64_values():
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    P = SoftmaxRegression(C=0.5).fit(X, y).predict_proba(X)
    P16 = P.astype(np.float16)
    mass = P16.sum(axis=1, dtype=np.float64)
    # float16 rounding moves the row sums by more than float32's 1e-4
    assert np.abs(mass - 1).max() > 1e-4
    fitted = SoftmaxRegression(tol=1e-10).fit(X, P16)
    # the rows as given: their sums act as weights, never renormalised away
    ref = SoftmaxRegression(tol=1e-10).fit(
        X, P16.astype(np.float64) / mass[:, None], sample_weight=mass
    )
    assert_allclose(fitted.coef_, ref.coef_, rtol=1e-7, atol=1e-8)
    # and the model is the float64 targets' one to float16 accuracy
    exact = SoftmaxRegression(tol=1e-10).fit(X, P)
    eps16 = float(np.finfo(np.float16).eps)
    assert_allclose(fitted.predict_proba(X), exact.predict_proba(X), atol=eps16)
