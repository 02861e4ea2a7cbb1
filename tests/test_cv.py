"""SoftmaxRegressionCV against LogisticRegressionCV, cold fits and its contract."""

import warnings

import numpy as np
import pytest
import sklearn
from _helpers import needs_sklearn
from _oracle import objective
from sklearn.datasets import (
    load_breast_cancer,
    load_digits,
    load_iris,
    load_wine,
    make_blobs,
)
from sklearn.exceptions import ConvergenceWarning, UnsetMetadataPassedError
from sklearn.linear_model import LogisticRegressionCV
from sklearn.metrics import accuracy_score, get_scorer, log_loss
from sklearn.model_selection import GroupKFold, KFold, StratifiedKFold
from sklearn.utils.fixes import parse_version

from sklearn_softmax import SoftmaxRegression, SoftmaxRegressionCV
from sklearn_softmax._path import FitOptions, fit_path
from sklearn_softmax._penalty import Penalty
from sklearn_softmax.metrics import cross_entropy, make_cross_entropy_scorer

LOADERS = {
    "iris": load_iris,
    "wine": load_wine,
    "breast_cancer": load_breast_cancer,
    "digits": load_digits,
}
CS = np.logspace(-4, 4, 10)


def _data(name):
    return LOADERS[name](return_X_y=True)


def _split(cv, row, d):
    """``(coef, intercept)`` of a ``coefs_paths_`` entry."""
    return row[:, :d], row[:, d]


# -- the reference ----------------------------------------------------------------
@pytest.mark.parametrize("name", list(LOADERS))
@needs_sklearn("1.8", "the reference LogisticRegressionCV(use_legacy_attributes=)")
def test_scores_and_C_match_logistic_regression_cv(name):
    X, y = _data(name)
    folds = list(StratifiedKFold(5).split(X, y))
    binary = np.unique(y).size == 2
    ref = LogisticRegressionCV(
        Cs=CS * (2 if binary else 1),  # LogisticRegression's C is 2C for two
        l1_ratios=(0.0,),
        cv=folds,
        scoring="neg_log_loss",
        solver="newton-cholesky",
        tol=1e-12,
        max_iter=10_000,
        use_legacy_attributes=False,
    )
    with warnings.catch_warnings():
        # the reference's own warnings at tol=1e-12 (not ours: below)
        warnings.simplefilter("ignore")
        ref.fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        ours = SoftmaxRegressionCV(Cs=CS, cv=folds, scoring="neg_log_loss").fit(X, y)
    assert ours.scores_.shape == ref.scores_.shape == (5, 1, 10)
    np.testing.assert_allclose(ours.scores_, ref.scores_, rtol=0, atol=1e-6)
    assert ours.C_ == ref.C_ / (2 if binary else 1)
    assert ours.l1_ratio_ == ref.l1_ratio_ == 0.0
    assert ours.coefs_paths_.shape == ref.coefs_paths_.shape


# -- every fit of the path is at the optimum --------------------------------------
def _cold_objective(X, y, C, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # tight tol, rounding
        cold = SoftmaxRegression(C=C, tol=1e-10, **params).fit(X, y)
    return objective(X, y, cold.coef_, cold.intercept_, C, **_l1(params))


def _l1(params):
    return {"l1_ratio": params["l1_ratio"]} if "l1_ratio" in params else {}


@pytest.mark.parametrize(
    "name, l1_ratios",
    [("wine", (0.0,)), ("breast_cancer", (0.0,)), ("iris", (0.0, 0.5, 1.0))],
)
def test_every_path_fit_is_at_the_optimum(name, l1_ratios):
    X, y = _data(name)
    folds = list(StratifiedKFold(3).split(X, y))
    Cs = np.logspace(-3, 3, 5)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        cv = SoftmaxRegressionCV(Cs=Cs, l1_ratios=l1_ratios, cv=folds).fit(X, y)
    d = X.shape[1]
    for f, (train, _) in enumerate(folds):
        for r, l1_ratio in enumerate(l1_ratios):
            for c, C in enumerate(Cs):
                coef, intercept = _split(cv, cv.coefs_paths_[f, r, c], d)
                ours = objective(
                    X[train], y[train], coef, intercept, C, l1_ratio=l1_ratio
                )
                params = {"l1_ratio": l1_ratio} if l1_ratio else {}
                best = _cold_objective(X[train], y[train], C, **params)
                assert (ours - best) / best <= 1e-6, (f, l1_ratio, C)


def test_warm_starts_take_fewer_iterations_than_cold_fits():
    X, y = _data("wine")
    folds = list(StratifiedKFold(3).split(X, y))
    cv = SoftmaxRegressionCV(Cs=CS, cv=folds).fit(X, y)
    train = folds[0][0]
    cold = [SoftmaxRegression(C=C).fit(X[train], y[train]).n_iter_[0] for C in CS]
    assert cv.n_iter_[0, 0].sum() < 0.7 * sum(cold)


def test_path_in_any_order_of_Cs_is_stored_in_that_order():
    X, y = _data("iris")
    folds = list(StratifiedKFold(3).split(X, y))
    up = SoftmaxRegressionCV(Cs=[0.01, 1.0, 100.0], cv=folds).fit(X, y)
    down = SoftmaxRegressionCV(Cs=[100.0, 0.01, 1.0], cv=folds).fit(X, y)
    np.testing.assert_array_equal(down.Cs_, [100.0, 0.01, 1.0])
    np.testing.assert_array_equal(down.scores_, up.scores_[..., [2, 0, 1]])
    np.testing.assert_array_equal(down.coefs_paths_, up.coefs_paths_[:, :, [2, 0, 1]])


def test_path_starts_are_exact_in_new_coordinates():
    # From the optimum at one C, the path's fit at the same C takes no step:
    # the start was packed exactly into the new coordinates.
    X, y = _data("wine")
    from sklearn_softmax._blocks import FitInput, RowBlocks

    data = FitInput(
        RowBlocks.whole(X, y, np.ones(X.shape[0])), np.unique(y), *X.shape, X.dtype
    )
    path = fit_path(data, [Penalty(0.1), Penalty(0.1)], FitOptions(tol=1e-6))
    results = [point.result for point in path]
    assert results[0].n_iter > 0 and results[1].n_iter == 0
    np.testing.assert_array_equal(results[1].W, results[0].W)


# -- choice, refit, attributes ------------------------------------------------------
def test_refit_is_the_cold_fit_at_the_chosen_point():
    X, y = _data("wine")
    cv = SoftmaxRegressionCV(Cs=CS, cv=3).fit(X, y)
    best = np.argmax(cv.scores_.sum(axis=0)[0])
    assert cv.C_ == CS[best]
    ours = objective(X, y, cv.coef_, cv.intercept_, cv.C_)
    assert (ours - _cold_objective(X, y, cv.C_)) / ours <= 1e-6
    np.testing.assert_array_equal(
        cv.predict(X), cv.classes_[cv.decision_function(X).argmax(1)]
    )


def test_refit_false_averages_each_folds_best_model():
    X, y = _data("iris")
    cv = SoftmaxRegressionCV(Cs=CS, l1_ratios=(0.0, 0.5), cv=3, refit=False).fit(X, y)
    flat = cv.scores_.reshape(3, -1).argmax(axis=1)
    r, c = np.unravel_index(flat, (2, len(CS)))
    mean = cv.coefs_paths_[np.arange(3), r, c].mean(axis=0)
    np.testing.assert_allclose(cv.coef_, mean[:, :4])
    np.testing.assert_allclose(cv.intercept_, mean[:, 4])
    assert cv.C_ == pytest.approx(CS[c].mean())
    assert cv.l1_ratio_ == pytest.approx(np.array([0.0, 0.5])[r].mean())


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_binary_layout(fit_intercept):
    X, y = _data("breast_cancer")
    cv = SoftmaxRegressionCV(Cs=3, cv=4, fit_intercept=fit_intercept).fit(X, y)
    d = X.shape[1] + int(fit_intercept)
    assert cv.coefs_paths_.shape == (4, 1, 3, 1, d)
    assert cv.scores_.shape == cv.n_iter_.shape == (4, 1, 3)
    assert cv.coef_.shape == (1, X.shape[1]) and cv.intercept_.shape == (1,)
    assert isinstance(cv.C_, float) and isinstance(cv.l1_ratio_, float)
    np.testing.assert_array_equal(cv.Cs_, np.logspace(-4, 4, 3))
    np.testing.assert_array_equal(cv.l1_ratios_, [0.0])
    if not fit_intercept:
        assert np.all(cv.intercept_ == 0)


def test_default_scoring_is_the_exact_cross_entropy():
    X, y = _data("iris")
    folds = list(StratifiedKFold(3).split(X, y))
    cv = SoftmaxRegressionCV(Cs=[0.1, 10.0], cv=folds).fit(X, y)
    f, c = 1, 1
    test = folds[f][1]
    coef, intercept = _split(cv, cv.coefs_paths_[f, 0, c], 4)
    logits = X[test] @ coef.T + intercept
    expected = -cross_entropy(y[test], logits, from_logits=True)
    assert cv.scores_[f, 0, c] == pytest.approx(expected, rel=1e-12)
    assert cv.score(X, y) == pytest.approx(-cross_entropy(y, cv.predict_proba(X)))


def test_l1_path_has_exact_zeros():
    X, y = _data("wine")
    cv = SoftmaxRegressionCV(Cs=[0.01, 1.0], l1_ratios=(1.0,), cv=3).fit(X, y)
    assert np.any(cv.coefs_paths_[:, 0, 0, :, :-1] == 0.0)


# -- folds that miss a class, soft targets ------------------------------------------
def test_training_fold_missing_a_class_stays_finite():
    X, y = _data("iris")
    idx = np.arange(y.size)
    rest = idx[y != 2]
    folds = [(rest, idx[y == 2]), (idx[::2], idx[1::2])]
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        cv = SoftmaxRegressionCV(Cs=[0.01, 1.0, 100.0], cv=folds).fit(X, y)
    assert np.all(np.isfinite(cv.scores_)) and np.all(np.isfinite(cv.coefs_paths_))
    for c in range(3):
        coef, intercept = _split(cv, cv.coefs_paths_[0, 0, c], 4)
        model = SoftmaxRegression()
        model.classes_, model.coef_, model.intercept_ = cv.classes_, coef, intercept
        model.n_features_in_ = 4
        proba = model.predict_proba(X[rest])
        assert proba.shape == (rest.size, 3)
        assert proba[:, 2].max() < 1e-6  # the class the fold never saw


def _reference_cv(Cs, folds, scoring, binary):
    """LogisticRegressionCV searching the same models as ours (see the top)."""
    return LogisticRegressionCV(
        Cs=np.asarray(Cs) * (2 if binary else 1),
        cv=folds,
        scoring=scoring,
        solver="newton-cholesky",
        tol=1e-12,
        max_iter=10_000,
        use_legacy_attributes=False,
    )


@pytest.mark.parametrize("scoring", ["neg_log_loss", "neg_brier_score"])
@needs_sklearn("1.8", "the reference LogisticRegressionCV(use_legacy_attributes=)")
def test_held_out_fold_missing_classes_is_scored_on_all_classes(scoring):
    # The first held-out fold holds class 0 only: the metric needs the labels
    # of all of y to read predict_proba's columns (LogisticRegressionCV passes
    # labels=classes_ to such scorers).
    X, y = _data("iris")
    idx = np.arange(y.size)
    folds = [
        (idx[(y != 0) | (idx % 2 == 0)], idx[(y == 0) & (idx % 2 == 1)]),
        (idx[::2], idx[1::2]),
    ]
    Cs = [0.1, 10.0]
    ours = SoftmaxRegressionCV(Cs=Cs, cv=folds, scoring=scoring).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = _reference_cv(Cs, folds, scoring, binary=False).fit(X, y)
    np.testing.assert_allclose(ours.scores_, ref.scores_, rtol=0, atol=1e-6)
    assert ours.C_ == ref.C_


@pytest.mark.parametrize("name", ["breast_cancer", "iris"])
@needs_sklearn("1.8", "the reference LogisticRegressionCV(use_legacy_attributes=)")
def test_training_fold_with_one_class_fits_all_classes(name):
    # The first training fold holds class 0 only, its held-out fold the rest:
    # fitted on all classes (the others' intercepts towards -inf), as
    # LogisticRegressionCV does, instead of "needs samples of 2 classes".
    X, y = _data(name)
    binary = np.unique(y).size == 2
    idx = np.arange(y.size)
    folds = [(idx[y == 0], idx[y != 0]), *StratifiedKFold(2).split(X, y)]
    Cs = [0.1, 10.0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # neither ConvergenceWarning nor rounding
        acc = SoftmaxRegressionCV(Cs=Cs, cv=folds, scoring="accuracy").fit(X, y)
        nll = SoftmaxRegressionCV(Cs=Cs, cv=folds, scoring="neg_log_loss").fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref_acc = _reference_cv(Cs, folds, "accuracy", binary).fit(X, y)
        ref_nll = _reference_cv(Cs, folds, "neg_log_loss", binary).fit(X, y)
    np.testing.assert_array_equal(acc.scores_, ref_acc.scores_)
    np.testing.assert_array_equal(acc.scores_[0], 0.0)  # always predicts class 0
    # the degenerate fold's log-loss depends on where each solver stops the
    # intercepts on their way to -inf: finite, and very poor, for both
    assert np.all(np.isfinite(nll.scores_))
    assert np.all(nll.scores_[0] < -10) and np.all(ref_nll.scores_[0] < -10)
    np.testing.assert_allclose(nll.scores_[1:], ref_nll.scores_[1:], atol=1e-6)
    coef, intercept = _split(nll, nll.coefs_paths_[0, 0, 1], X.shape[1])
    model = SoftmaxRegression()
    model.classes_, model.coef_, model.intercept_ = nll.classes_, coef, intercept
    model.n_features_in_ = X.shape[1]
    assert model.predict_proba(X[folds[0][0]])[:, 1:].max() < 1e-6
    # all of y must still hold two classes
    with pytest.raises(ValueError, match="at least 2 classes"):
        SoftmaxRegressionCV(Cs=Cs, cv=folds).fit(X, np.zeros_like(y))


def test_soft_targets_equal_one_hot_labels_under_kfold():
    # One-hot rows and labels run different kernels (a product with Y, an
    # index gather): both fits stop within tol of the same optimum.
    X, y = _data("wine")
    Y = np.eye(3)[y]
    folds = list(KFold(4, shuffle=True, random_state=0).split(X))
    soft = SoftmaxRegressionCV(Cs=CS[::3], cv=folds).fit(X, Y)
    hard = SoftmaxRegressionCV(Cs=CS[::3], cv=folds).fit(X, y)
    np.testing.assert_allclose(soft.scores_, hard.scores_, rtol=0, atol=1e-6)
    assert soft.C_ == hard.C_


def test_soft_targets_default_to_plain_kfold():
    X, y = _data("iris")
    rng = np.random.default_rng(0)
    Y = rng.dirichlet(np.ones(3), size=y.size) * 0.3 + 0.7 * np.eye(3)[y]
    cv = SoftmaxRegressionCV(Cs=[0.1, 10.0]).fit(X, Y)
    folds = list(KFold(5).split(X))
    ref = SoftmaxRegressionCV(Cs=[0.1, 10.0], cv=folds).fit(X, Y)
    np.testing.assert_array_equal(cv.scores_, ref.scores_)
    np.testing.assert_array_equal(cv.classes_, [0, 1, 2])


# -- weights, metadata ---------------------------------------------------------------
def test_sample_weight_goes_to_the_fits_and_the_scorer():
    X, y = _data("iris")
    sw = np.random.default_rng(0).uniform(0.5, 2.0, y.size)
    folds = list(StratifiedKFold(3).split(X, y))
    cv = SoftmaxRegressionCV(Cs=[1.0], cv=folds, scoring="neg_log_loss")
    cv.fit(X, y, sample_weight=sw)
    train, test = folds[0]
    fold = SoftmaxRegression(C=1.0).fit(X[train], y[train], sample_weight=sw[train])
    coef, intercept = _split(cv, cv.coefs_paths_[0, 0, 0], 4)
    np.testing.assert_allclose(coef, fold.coef_, rtol=1e-4, atol=1e-6)
    proba = fold.predict_proba(X[test])
    expected = -log_loss(y[test], proba, sample_weight=sw[test])
    assert cv.scores_[0, 0, 0] == pytest.approx(expected, abs=1e-6)


def test_groups_go_to_the_splitter_without_routing():
    X, y = _data("iris")
    groups = np.arange(y.size) % 7
    cv = SoftmaxRegressionCV(Cs=[1.0], cv=GroupKFold(3)).fit(X, y, groups=groups)
    folds = list(GroupKFold(3).split(X, y, groups))
    ref = SoftmaxRegressionCV(Cs=[1.0], cv=folds).fit(X, y)
    np.testing.assert_array_equal(cv.scores_, ref.scores_)
    with pytest.raises(ValueError, match="unexpected_param"):
        SoftmaxRegressionCV(Cs=[1.0]).fit(X, y, unexpected_param=1)


def test_metadata_routing_groups_and_weights_to_the_scorer():
    X, y = _data("iris")
    groups = np.arange(y.size) % 7
    sw = np.random.default_rng(1).uniform(0.5, 2.0, y.size)
    folds = list(GroupKFold(3).split(X, y, groups))
    with sklearn.config_context(enable_metadata_routing=True):
        scorer = make_cross_entropy_scorer().set_score_request(sample_weight=True)
        cv = SoftmaxRegressionCV(Cs=[1.0], cv=GroupKFold(3), scoring=scorer)
        cv.fit(X, y, sample_weight=sw, groups=groups)
    train, test = folds[1]
    fold = SoftmaxRegression(C=1.0).fit(X[train], y[train], sample_weight=sw[train])
    expected = -cross_entropy(
        y[test], fold.predict_proba(X[test]), sample_weight=sw[test]
    )
    assert cv.scores_[1, 0, 0] == pytest.approx(expected, abs=1e-6)


def test_score_weights_the_scorer_refuses_raise_as_logistic_regression_cv():
    # With routing, weights passed to score go to the scorer or raise: never
    # dropped (LogisticRegressionCV raises the same TypeError).
    X, y = _data("iris")
    sw = np.random.default_rng(2).uniform(0.1, 2.0, y.size)
    estimators = [SoftmaxRegressionCV]
    recent = parse_version(sklearn.__version__) >= parse_version("1.9")
    # LogisticRegressionCV before 1.9 drops the weights itself (1.6 does)
    if recent:
        estimators.append(LogisticRegressionCV)
    with sklearn.config_context(enable_metadata_routing=True):
        for estimator in estimators:
            refused = get_scorer("accuracy").set_score_request(sample_weight=False)
            clf = estimator(Cs=[1.0], l1_ratios=(0.0,), cv=3, scoring=refused)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the reference's own warnings
                clf.fit(X, y)
            with pytest.raises(TypeError, match="not routed to any object"):
                clf.score(X, y, sample_weight=sw)
            assert clf.score(X, y) == accuracy_score(y, clf.predict(X))
        unset = SoftmaxRegressionCV(Cs=[1.0], cv=3, scoring="accuracy").fit(X, y)
        # an unset request raises: scikit-learn 1.9 says so by name, 1.6 by
        # its "not routed" TypeError
        unset_error = (
            UnsetMetadataPassedError
            if recent
            else (
                UnsetMetadataPassedError,
                TypeError,
            )
        )
        with pytest.raises(unset_error):
            unset.score(X, y, sample_weight=sw)
        wanted = get_scorer("accuracy").set_score_request(sample_weight=True)
        clf = SoftmaxRegressionCV(Cs=[1.0], cv=3, scoring=wanted).fit(X, y)
        expected = accuracy_score(y, clf.predict(X), sample_weight=sw)
        assert clf.score(X, y, sample_weight=sw) == expected
    # without routing the weights go to the scorer
    expected = accuracy_score(y, unset.predict(X), sample_weight=sw)
    assert unset.score(X, y, sample_weight=sw) == expected


def test_class_weight_balanced_is_computed_on_all_of_y():
    X, y = _data("wine")
    counts = np.bincount(y)
    weights = dict(enumerate(y.size / (3 * counts)))
    folds = list(StratifiedKFold(3).split(X, y))
    balanced = SoftmaxRegressionCV(Cs=[1.0], cv=folds, class_weight="balanced")
    explicit = SoftmaxRegressionCV(Cs=[1.0], cv=folds, class_weight=weights)
    # the weights agree to rounding, so the fits agree to tol (per-fold
    # balanced weights would move the coefficients by percents)
    np.testing.assert_allclose(
        balanced.fit(X, y).coefs_paths_,
        explicit.fit(X, y).coefs_paths_,
        rtol=0,
        atol=1e-5,
    )


# -- parallel, warnings, errors -------------------------------------------------------
def test_n_jobs_gives_the_same_result():
    X, y = _data("wine")
    one = SoftmaxRegressionCV(Cs=4, cv=3).fit(X, y)
    two = SoftmaxRegressionCV(Cs=4, cv=3, n_jobs=2).fit(X, y)
    np.testing.assert_array_equal(one.scores_, two.scores_)
    np.testing.assert_array_equal(one.coef_, two.coef_)


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_unconverged_fits_warn_in_the_parent(n_jobs):
    X, y = _data("digits")
    cv = SoftmaxRegressionCV(Cs=[100.0], cv=2, max_iter=1, n_jobs=n_jobs)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        cv.fit(X, y)
    messages = [str(w.message) for w in seen if w.category is ConvergenceWarning]
    assert len(messages) == 3, messages  # two folds and the refit
    assert messages[0].startswith("(fold 0) (C=100, l1_ratio=0) SoftmaxRegressionCV")
    assert messages[1].startswith("(fold 1) ")
    assert messages[2].startswith("(refit) ") and "max_iter" in messages[2]


def test_stall_at_the_rounding_level_is_no_warning():
    # scikit-learn's class-weight check: weights 1000 and 1e-4 make the loss
    # tiny next to the logits, where Newton's gap check is below rounding.
    X, y = make_blobs(centers=2, random_state=0, cluster_std=20)
    cv = SoftmaxRegressionCV(class_weight={0: 1000, 1: 0.0001}, cv=5)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        cv.fit(X[::2], y[::2])


@pytest.mark.parametrize(
    "params, match",
    [
        ({"Cs": [1.0, -1.0]}, "Cs must be"),
        ({"Cs": []}, "Cs must be"),
        ({"l1_ratios": [0.5, 2.0]}, "l1_ratios must be"),
        ({"l1_ratios": []}, "l1_ratios must be"),
        ({"solver": "newton-cholesky", "l1_ratios": [0.5]}, "newton-cholesky"),
        ({"Cs": 0}, "Cs"),
    ],
)
def test_bad_grids_raise(params, match):
    X, y = _data("iris")
    with pytest.raises(ValueError, match=match):
        SoftmaxRegressionCV(**params).fit(X, y)


def test_does_not_mutate_inputs():
    X, y = _data("iris")
    sw = np.ones(y.size)
    X0, y0, sw0 = X.copy(), y.copy(), sw.copy()
    SoftmaxRegressionCV(Cs=2, cv=3).fit(X, y, sample_weight=sw)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)
    np.testing.assert_array_equal(sw, sw0)


def test_n_iter_is_an_int32_array_like_logistic_regression_cvs():
    X, y = _data("iris")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its defaults' FutureWarnings
        ref = LogisticRegressionCV(Cs=2, cv=3).fit(X / X.std(axis=0), y)
    cv = SoftmaxRegressionCV(Cs=2, cv=3).fit(X, y)
    assert type(cv.n_iter_) is type(ref.n_iter_) is np.ndarray
    assert cv.n_iter_.dtype == ref.n_iter_.dtype == np.int32
    assert cv.n_iter_.shape == (3, 1, 2) and cv.n_iter_.size == ref.n_iter_.size
    assert np.all(cv.n_iter_ >= 1)
    # sparsify / densify, inherited, work on the refitted model
    proba = cv.predict_proba(X)
    np.testing.assert_allclose(cv.sparsify().predict_proba(X), proba, rtol=1e-12)
    assert type(cv.densify().coef_) is np.ndarray


def test_score_is_minus_the_cross_entropy_as_documented():
    # documented in the class docstring, the CV guide and the page of
    # differences from LogisticRegression: score follows scoring, and the
    # default is minus the mean cross-entropy, not accuracy
    X, y = load_iris(return_X_y=True)
    cv = SoftmaxRegressionCV(Cs=3, cv=3).fit(X, y)
    score = cv.score(X, y)
    assert score < 0
    assert score == pytest.approx(-cross_entropy(y, cv.predict_proba(X)), rel=1e-6)
    assert score != pytest.approx(accuracy_score(y, cv.predict(X)))
    by_accuracy = SoftmaxRegressionCV(Cs=3, cv=3, scoring="accuracy").fit(X, y)
    assert by_accuracy.score(X, y) == accuracy_score(y, by_accuracy.predict(X))
