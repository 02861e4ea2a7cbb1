"""sklearn_softmax.inference: covariances against statsmodels, frequency weights,
the Hessian against finite differences, probability intervals by simulation,
the reference class, penalised fits, soft targets and the error paths.

statsmodels is an optional test dependency: the tests that compare with it skip
without it (the minimum-versions job); the others run everywhere.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn
from numpy.testing import assert_allclose
from scipy import stats
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression

from sklearn_softmax import SoftmaxRegression, SoftmaxRegressionCV
from sklearn_softmax._loss import loss_gradient
from sklearn_softmax._xp import ARRAY_API_SUPPORTED
from sklearn_softmax.inference import (
    InferenceResult,
    coef_inference,
    likelihood_ratio_test,
    predict_proba_interval,
)

# our fits are converged far below this; so are statsmodels' Newton fits
TIGHT = dict(tol=1e-10, solver="newton-cholesky")
SM_FIT = dict(method="newton", maxiter=100, tol=1e-14, disp=0)


def statsmodels_api():
    return pytest.importorskip("statsmodels.api", reason="statsmodels is optional")


@pytest.fixture(scope="module")
def anes96():
    """statsmodels' MNLogit test data: 944 voters, 5 features, 7 party ids."""
    sm = statsmodels_api()
    data = sm.datasets.anes96.load()
    X = np.asarray(data.exog, dtype=float)
    y = np.asarray(data.endog)
    model = SoftmaxRegression(C=np.inf, **TIGHT).fit(X, y)
    # statsmodels' layout: the constant last, as our intercept
    exog = sm.add_constant(X, prepend=False)
    return X, y, exog, model


def simulated(n=300, d=3, K=4, seed=0, soft=False):
    """Data from a softmax model: ``X`` normal, labels (or their probabilities)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    W = rng.normal(scale=0.7, size=(K, d))
    b = rng.normal(scale=0.3, size=K)
    Z = X @ W.T + b
    P = np.exp(Z - Z.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    if soft:
        return X, P
    y = np.array([rng.choice(K, p=p) for p in P])
    return X, y


def max_rel(a, b):
    return float(np.max(np.abs(np.asarray(a) - b) / np.abs(b)))


# -- statsmodels -----------------------------------------------------------------------
@pytest.mark.parametrize("cov_type", ["nonrobust", "HC0"])
def test_mnlogit_standard_errors_on_anes96(anes96, cov_type):
    sm = statsmodels_api()
    X, y, exog, model = anes96
    ref = sm.MNLogit(y, exog).fit(cov_type=cov_type, **SM_FIT)
    res = coef_inference(model, X, y, cov_type=cov_type)
    # statsmodels: (n_terms, n_contrasts); ours: (n_contrasts, n_terms)
    assert_allclose(res.params.T, ref.params, rtol=1e-8)
    assert max_rel(res.bse.T, ref.bse) < 1e-6
    assert_allclose(res.cov, ref.cov_params(), rtol=1e-6, atol=1e-12)
    assert_allclose(res.zvalues.T, ref.tvalues, rtol=1e-6)
    assert_allclose(res.pvalues.T, ref.pvalues, rtol=1e-5, atol=1e-14)
    lower, upper = res.conf_int(alpha=0.1)
    ref_ci = ref.conf_int(alpha=0.1)  # (n_contrasts, n_terms, 2)
    assert_allclose(lower, ref_ci[..., 0], rtol=1e-6, atol=1e-10)
    assert_allclose(upper, ref_ci[..., 1], rtol=1e-6, atol=1e-10)


def test_mnlogit_cluster_on_anes96(anes96):
    sm = statsmodels_api()
    X, y, exog, model = anes96
    groups = np.arange(len(y)) % 37
    ref = sm.MNLogit(y, exog).fit(
        cov_type="cluster",
        cov_kwds={"groups": groups, "use_correction": False},
        **SM_FIT,
    )
    res = coef_inference(model, X, y, cov_type="cluster", groups=groups)
    assert max_rel(res.bse.T, ref.bse) < 1e-6


def test_wald_and_likelihood_ratio_tests_match_statsmodels(anes96):
    sm = statsmodels_api()
    X, y, exog, model = anes96
    ref = sm.MNLogit(y, exog).fit(**SM_FIT)
    res = coef_inference(model, X, y)
    # "income (x4) is zero in every class", in statsmodels' parameter order
    R = np.zeros((6, 36))
    R[np.arange(6), np.arange(6) * 6 + 4] = 1.0
    expected = ref.wald_test(R, scalar=True)
    ours = res.wald_test(4)
    assert ours.df == 6
    assert_allclose(ours.statistic, float(np.squeeze(expected.statistic)), rtol=1e-6)
    assert_allclose(ours.pvalue, float(expected.pvalue), rtol=1e-5)
    assert_allclose(res.wald_test(R).statistic, ours.statistic, rtol=1e-12)

    keep = [0, 1, 2, 3]
    small = SoftmaxRegression(C=np.inf, **TIGHT).fit(X[:, keep], y)
    ref_small = sm.MNLogit(y, exog[:, keep + [5]]).fit(**SM_FIT)
    lr = likelihood_ratio_test(model, X, small, X[:, keep], y)
    assert lr.df == 6
    assert_allclose(lr.loglik_full, ref.llf, rtol=1e-10)
    assert_allclose(lr.loglik_restricted, ref_small.llf, rtol=1e-10)
    assert_allclose(lr.statistic, 2 * (ref.llf - ref_small.llf), rtol=1e-6)
    assert_allclose(lr.pvalue, stats.chi2.sf(lr.statistic, 6))


@pytest.mark.parametrize("cov_type", ["nonrobust", "HC0"])
def test_binary_matches_statsmodels_logit(cov_type):
    sm = statsmodels_api()
    data = sm.datasets.spector.load()
    X = np.asarray(data.exog, dtype=float)
    y = np.asarray(data.endog)
    ref = sm.Logit(y, sm.add_constant(X, prepend=False)).fit(
        cov_type=cov_type, **SM_FIT
    )
    model = SoftmaxRegression(C=np.inf, **TIGHT).fit(X, y)
    res = coef_inference(model, X, y, cov_type=cov_type)
    # two classes: the log-odds of classes_[1], the layout of coef_
    assert res.coef.shape == (1, 3) and res.intercept.shape == (1,)
    assert_allclose(res.coef, model.coef_, rtol=1e-12)
    assert_allclose(res.params.ravel(), ref.params, rtol=1e-7)
    assert max_rel(res.bse.ravel(), ref.bse) < 1e-6
    assert_allclose(res.pvalues.ravel(), ref.pvalues, rtol=1e-5)


# -- frequency weights, sparse input, soft targets -------------------------------------
@pytest.mark.parametrize("cov_type", ["nonrobust", "HC0", "cluster"])
def test_frequency_weights_equal_repeated_rows(cov_type):
    X, y = simulated(n=120, seed=1)
    counts = np.random.default_rng(1).integers(0, 4, size=len(y))
    rows = np.repeat(np.arange(len(y)), counts)
    groups = np.arange(len(y)) % 9
    cluster = cov_type == "cluster"
    model = SoftmaxRegression(C=np.inf, **TIGHT).fit(X, y, sample_weight=counts)
    weighted = coef_inference(
        model,
        X,
        y,
        sample_weight=counts,
        cov_type=cov_type,
        groups=groups if cluster else None,
    )

    def on_repeated_rows(model):
        groups_rows = groups[rows] if cluster else None
        return coef_inference(
            model, X[rows], y[rows], cov_type=cov_type, groups=groups_rows
        )

    repeated = on_repeated_rows(model)
    assert weighted.n_obs == repeated.n_obs == counts.sum()
    assert_allclose(weighted.cov, repeated.cov, rtol=1e-10, atol=1e-14)
    # and a fit on the repeated rows reaches the same optimum and errors
    again = on_repeated_rows(SoftmaxRegression(C=np.inf, **TIGHT).fit(X[rows], y[rows]))
    assert_allclose(again.bse, weighted.bse, rtol=1e-6)


def test_sparse_input_equals_dense():
    X, y = simulated(n=150, seed=2)
    X[np.abs(X) < 0.8] = 0.0
    model = SoftmaxRegression(C=2.0).fit(X, y)
    for fmt in ("csr", "csc"):
        sparse = coef_inference(
            model, sp.csr_matrix(X).asformat(fmt), y, cov_type="HC0"
        )
        dense = coef_inference(model, X, y, cov_type="HC0")
        assert_allclose(sparse.cov, dense.cov, rtol=1e-10, atol=1e-14)
        lo_s, up_s = predict_proba_interval(model, sparse, sp.csr_matrix(X[:5]))
        lo_d, up_d = predict_proba_interval(model, dense, X[:5])
        assert_allclose(lo_s, lo_d, rtol=1e-10)
        assert_allclose(up_s, up_d, rtol=1e-10)


@pytest.mark.parametrize("cov_type", ["nonrobust", "HC0"])
def test_one_hot_probability_rows_equal_labels(cov_type):
    X, y = simulated(n=200, seed=3)
    model = SoftmaxRegression(C=1.0).fit(X, y)
    Y = np.eye(4)[y]
    hard = coef_inference(model, X, y, cov_type=cov_type)
    soft = coef_inference(model, X, Y, cov_type=cov_type)
    assert_allclose(soft.cov, hard.cov, rtol=1e-12, atol=1e-15)


def test_soft_targets_equal_their_expansion_into_weighted_labels():
    """A probability row ``q_i`` has the loss of K weighted label rows
    (weights ``q_ik``): the same Hessian, so the same non-robust covariance;
    its score is theirs summed, so its HC0 is their cluster covariance with
    the original row as the cluster."""
    X, Q = simulated(n=150, K=3, seed=4, soft=True)
    model = SoftmaxRegression(C=3.0).fit(X, Q)
    n, K = Q.shape
    X_long = np.repeat(X, K, axis=0)
    y_long = np.tile(np.arange(K), n)
    w_long = Q.ravel()
    row = np.repeat(np.arange(n), K)
    soft = coef_inference(model, X, Q)
    long = coef_inference(model, X_long, y_long, sample_weight=w_long)
    assert_allclose(soft.cov, long.cov, rtol=1e-10, atol=1e-14)
    soft = coef_inference(model, X, Q, cov_type="HC0")
    long = coef_inference(
        model, X_long, y_long, sample_weight=w_long, cov_type="cluster", groups=row
    )
    assert_allclose(soft.cov, long.cov, rtol=1e-10, atol=1e-14)


# -- the Hessian and the penalised fits ------------------------------------------------
def contrast_gradient(X, target, weights, beta, ref, K, C, fit_intercept=True):
    """Gradient of ``sum_i s_i CE_i + ||W||^2 / (2 C)`` in the contrasts
    ``beta`` (class-major, non-reference classes in order), through the
    package's tested gradient of the full parameters and the chain rule of
    ``W = centre(W0)``, ``W0_ref = 0``, ``W0_others = beta``."""
    others = [k for k in range(K) if k != ref]
    d = X.shape[1]
    params = beta.reshape(K - 1, d + int(fit_intercept))
    W0 = np.zeros((K, d))
    W0[others] = params[:, :d]
    b0 = np.zeros(K)
    if fit_intercept:
        b0[others] = params[:, d]
    W = W0 - W0.mean(axis=0)
    _, gW, gb = loss_gradient(
        X, np.ascontiguousarray(W.T), b0 if fit_intercept else None, target, weights
    )
    if np.isfinite(C):
        gW = gW + W / C
    grad = gW[others] - gW.mean(axis=0)  # the chain rule of the centring
    if fit_intercept:
        grad = np.column_stack([grad, gb[others]])
    return grad.ravel()


@pytest.mark.parametrize(
    ("C", "soft", "ref", "fit_intercept"),
    [
        (np.inf, False, 0, True),
        (0.5, False, 2, True),
        (2.0, True, 1, True),
        (0.3, False, 1, False),
    ],
)
def test_covariance_is_the_inverse_of_the_finite_difference_hessian(
    C, soft, ref, fit_intercept
):
    K = 3
    X, y = simulated(n=200, d=3, K=K, seed=5, soft=soft)
    weights = np.random.default_rng(5).uniform(0.5, 2.0, size=len(X))
    model = SoftmaxRegression(C=C, fit_intercept=fit_intercept, **TIGHT)
    model.fit(X, y, sample_weight=weights)
    res = coef_inference(model, X, y, sample_weight=weights, reference=ref)
    beta = res.params.ravel()
    target = y if soft else y.astype(np.intp)

    def gradient(theta):
        return contrast_gradient(X, target, weights, theta, ref, K, C, fit_intercept)

    assert np.max(np.abs(gradient(beta))) < 1e-6  # the fit is the optimum
    h = 1e-5
    H = np.column_stack(
        [
            (gradient(beta + h * e) - gradient(beta - h * e)) / (2 * h)
            for e in np.eye(beta.size)
        ]
    )
    assert_allclose(res.cov, np.linalg.inv((H + H.T) / 2), rtol=1e-6, atol=1e-12)


def test_penalised_binary_uses_the_log_odds_penalty():
    """Two classes, C < inf: the log-odds problem's Hessian
    ``X1^T diag(s p (1-p)) X1 + I_W / (2C)``, and the sandwich around it."""
    X, y = simulated(n=150, d=2, K=2, seed=6)
    C = 0.2
    model = SoftmaxRegression(C=C, **TIGHT).fit(X, y)
    X1 = np.column_stack([X, np.ones(len(X))])
    p = model.predict_proba(X)[:, 1]
    H = (X1 * (p * (1 - p))[:, None]).T @ X1 + np.diag([1 / (2 * C)] * 2 + [0.0])
    H_inv = np.linalg.inv(H)
    res = coef_inference(model, X, y)
    assert_allclose(res.cov, H_inv, rtol=1e-10)
    scores = (y - p)[:, None] * X1
    res = coef_inference(model, X, y, cov_type="HC0")
    assert_allclose(res.cov, H_inv @ scores.T @ scores @ H_inv, rtol=1e-10)


@pytest.mark.parametrize("C", [np.inf, 0.7])
@pytest.mark.parametrize("cov_type", ["nonrobust", "HC0"])
def test_reference_choice_is_a_reparametrisation(C, cov_type):
    """Contrasts against another reference are a linear map of these: the
    covariance follows the map exactly, and probability intervals do not move
    (with a penalty too: its Hessian is that of the same function)."""
    X, y = simulated(n=250, seed=7)
    model = SoftmaxRegression(C=C, **TIGHT).fit(X, y)
    first = coef_inference(model, X, y, cov_type=cov_type)
    third = coef_inference(model, X, y, cov_type=cov_type, reference=2)
    assert first.reference == 0 and third.reference == 2
    assert third.classes.tolist() == [0, 1, 3]
    # beta^(2)_k = beta^(0)_k - beta^(0)_2 (beta^(0)_0 = 0): a matrix T
    n_terms = first.params.shape[1]
    T = np.zeros((3, 3))
    T[0, 1] = -1.0  # class 0 - class 2
    T[1, [0, 1]] = [1.0, -1.0]  # class 1 - class 2
    T[2, [2, 1]] = [1.0, -1.0]  # class 3 - class 2
    T = np.kron(T, np.eye(n_terms))
    assert_allclose(third.params.ravel(), T @ first.params.ravel(), atol=1e-12)
    assert_allclose(third.cov, T @ first.cov @ T.T, rtol=1e-8, atol=1e-13)
    for a, b in zip(
        predict_proba_interval(model, first, X[:20]),
        predict_proba_interval(model, third, X[:20]),
        strict=True,
    ):
        assert_allclose(a, b, rtol=1e-9)


def test_any_label_as_reference_matches_a_relabelled_fit():
    X, y = simulated(n=250, K=3, seed=8)
    labels = np.array(["low", "mid", "top"])[y]
    model = SoftmaxRegression(C=np.inf, **TIGHT).fit(X, labels)
    res = coef_inference(model, X, labels, reference="top")
    assert res.classes.tolist() == ["low", "mid"]
    # relabel so that "top" sorts first: the default reference of a new fit
    renamed = np.array(["a_top", "low", "mid"])[(y + 1) % 3]
    model2 = SoftmaxRegression(C=np.inf, **TIGHT).fit(X, renamed)
    res2 = coef_inference(model2, X, renamed)
    assert res2.reference == "a_top"
    assert_allclose(res.params, res2.params, rtol=1e-6)
    assert_allclose(res.bse, res2.bse, rtol=1e-6)


def test_finite_c_identifies_collinear_features():
    X, y = simulated(n=200, seed=9)
    X = np.column_stack([X, X[:, 0] + X[:, 1]])
    model = SoftmaxRegression(C=1.0).fit(X, y)
    res = coef_inference(model, X, y)
    assert np.all(np.isfinite(res.bse))


# -- probability intervals -------------------------------------------------------------
def test_probability_interval_is_the_delta_method_on_log_p():
    """Against a finite-difference Jacobian of log p in the contrasts."""
    X, y = simulated(n=200, K=3, seed=10)
    model = SoftmaxRegression(C=5.0, **TIGHT).fit(X, y)
    res = coef_inference(model, X, y, cov_type="HC0", reference=1)
    rows = X[:4]
    lower, upper = predict_proba_interval(model, res, rows, alpha=0.1)
    X1 = np.column_stack([rows, np.ones(len(rows))])
    order = [1, 0, 2]

    def log_p(theta):
        Z = np.column_stack([np.zeros(len(rows)), X1 @ theta.reshape(2, -1).T])
        logp = Z - np.log(np.exp(Z).sum(axis=1))[:, None]
        out = np.empty_like(logp)
        out[:, order] = logp
        return out

    beta = res.params.ravel()
    h = 1e-6
    J = np.stack(
        [(log_p(beta + h * e) - log_p(beta - h * e)) / (2 * h) for e in np.eye(8)],
        axis=-1,
    )
    se = np.sqrt(np.einsum("ikp,pq,ikq->ik", J, res.cov, J))
    z = stats.norm.ppf(0.95)
    assert_allclose(log_p(beta), model.predict_log_proba(rows), rtol=1e-10)
    assert_allclose(lower, np.exp(log_p(beta) - z * se), rtol=1e-6)
    assert_allclose(upper, np.minimum(np.exp(log_p(beta) + z * se), 1.0), rtol=1e-6)
    p = model.predict_proba(rows)
    assert np.all((0 <= lower) & (lower <= p) & (p <= upper) & (upper <= 1))


def test_probability_interval_coverage_by_simulation():
    """A well-specified softmax model, nominal 95 %: the empirical coverage of
    each (point, class) over 500 data sets is within Monte-Carlo error."""
    rng = np.random.default_rng(11)
    n, reps = 300, 500
    X = rng.normal(size=(n, 2))
    W = np.array([[0.0, 0.0], [1.0, -0.5], [-0.5, 1.0]])
    b = np.array([0.0, 0.3, -0.2])
    points = np.array([[0.0, 0.0], [1.0, 1.0], [-1.0, 0.5]])

    def softmax(Z):
        P = np.exp(Z - Z.max(axis=1, keepdims=True))
        return P / P.sum(axis=1, keepdims=True)

    P_true = softmax(X @ W.T + b)
    p_points = softmax(points @ W.T + b)
    cumulative = P_true.cumsum(axis=1)
    covered = np.zeros((len(points), 3))
    model = SoftmaxRegression(C=np.inf, solver="newton-cholesky", tol=1e-8)
    for _ in range(reps):
        y = (rng.uniform(size=(n, 1)) > cumulative).sum(axis=1)
        model.fit(X, y)
        lower, upper = predict_proba_interval(
            model, coef_inference(model, X, y), points
        )
        covered += (lower <= p_points) & (p_points <= upper)
    coverage = covered / reps
    mc_error = np.sqrt(0.95 * 0.05 / reps)  # ~0.0097
    assert np.all(np.abs(coverage - 0.95) < 4 * mc_error), coverage
    assert abs(coverage.mean() - 0.95) < 3 * mc_error, coverage


# -- results ---------------------------------------------------------------------------
def test_summary_table_with_feature_names():
    pd = pytest.importorskip("pandas")
    X, y = simulated(n=200, K=3, seed=12)
    frame = pd.DataFrame(X, columns=["age", "income", "score"])
    model = SoftmaxRegression(C=np.inf).fit(frame, y)
    res = coef_inference(model, frame, y, reference=1)
    table = res.summary(alpha=0.1)
    assert table.index.names == ["class", "term"]
    assert table.index.tolist()[:5] == [
        (0, "age"),
        (0, "income"),
        (0, "score"),
        (0, "intercept"),
        (2, "age"),
    ]
    assert table.columns.tolist() == ["coef", "std err", "z", "P>|z|", "[0.05", "0.95]"]
    assert table.attrs == {"reference": 1, "cov_type": "nonrobust"}
    assert_allclose(table["std err"].to_numpy(), res.bse.ravel())
    assert_allclose(table["[0.05"].to_numpy(), res.conf_int(0.1)[0].ravel())
    assert res.wald_test("income") == res.wald_test(1)
    assert res.wald_test(["income", "age"]).df == 4
    assert "reference=1" in repr(res)


def test_without_intercept():
    X, y = simulated(n=200, K=3, seed=13)
    model = SoftmaxRegression(C=np.inf, fit_intercept=False, **TIGHT).fit(X, y)
    res = coef_inference(model, X, y)
    assert res.intercept is None and res.intercept_se is None
    assert res.params.shape == res.coef.shape == (2, 3)
    assert res.term_names.tolist() == ["x0", "x1", "x2"]
    lower, upper = predict_proba_interval(model, res, X[:3])
    assert lower.shape == upper.shape == (3, 3)


def test_refitted_cross_validated_model():
    X, y = simulated(n=200, K=3, seed=14)
    cv = SoftmaxRegressionCV(Cs=[0.1, 1.0], cv=3).fit(X, y)
    res = coef_inference(cv, X, y)
    assert res.C == cv.C_
    with pytest.raises(ValueError, match="refit=False"):
        coef_inference(SoftmaxRegressionCV(Cs=[1.0], cv=3, refit=False).fit(X, y), X, y)


def test_l1_ratio_with_infinite_c_is_unpenalised():
    X, y = simulated(n=200, K=3, seed=15)
    plain = SoftmaxRegression(C=np.inf, **TIGHT).fit(X, y)
    with_ratio = SoftmaxRegression(C=np.inf, l1_ratio=0.5, **TIGHT).fit(X, y)
    assert_allclose(
        coef_inference(with_ratio, X, y).bse,
        coef_inference(plain, X, y).bse,
        rtol=1e-6,
    )


# -- error paths -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def fitted():
    X, y = simulated(n=200, K=3, seed=16)
    return X, y, SoftmaxRegression(C=1.0).fit(X, y)


def test_l1_penalty_is_refused(fitted):
    X, y, _ = fitted
    model = SoftmaxRegression(C=1.0, l1_ratio=0.5).fit(X, y)
    with pytest.raises(ValueError, match="L1 penalty.*selected"):
        coef_inference(model, X, y)


@pytest.mark.parametrize("intercept_column", [False, True])
def test_collinear_features_are_an_error_naming_the_columns(intercept_column):
    X, y = simulated(n=200, K=3, seed=17)
    if intercept_column:
        X = np.column_stack([X, np.full(len(X), 2.0)])
        culprit = r"\['x3', 'intercept'\]"
    else:
        X = np.column_stack([X, X[:, 0] - 2 * X[:, 2]])
        culprit = r"\['x0', 'x2', 'x3'\]"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a fit on collinear data may warn
        model = SoftmaxRegression(C=np.inf, max_iter=50).fit(X, y)
    with pytest.raises(ValueError, match=f"singular.*{culprit}.*not identified"):
        coef_inference(model, X, y)


def test_unfitted_model_is_an_error(fitted):
    X, y, _ = fitted
    with pytest.raises(NotFittedError):
        coef_inference(SoftmaxRegression(), X, y)
    with pytest.raises(TypeError, match="SoftmaxRegression"):
        coef_inference(LogisticRegression().fit(X, y), X, y)


def test_inputs_that_do_not_match_the_model(fitted):
    X, y, model = fitted
    with pytest.raises(ValueError, match="features"):
        coef_inference(model, X[:, :2], y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        coef_inference(model, X, y[:-1])
    with pytest.raises(ValueError, match="probability rows of 2 classes"):
        coef_inference(model, X, np.full((len(X), 2), 0.5))
    with pytest.raises(ValueError, match="labels not in"):
        coef_inference(model, X, np.where(y == 0, 7, y))
    with pytest.raises(ValueError, match="sample_weight"):
        coef_inference(model, X, y, sample_weight=np.ones(3))
    with pytest.raises(ValueError, match="not a class"):
        coef_inference(model, X, y, reference="z")
    with pytest.raises(ValueError, match="cov_type must be one of"):
        coef_inference(model, X, y, cov_type="HC3")
    with pytest.raises(ValueError, match="groups is required"):
        coef_inference(model, X, y, cov_type="cluster")
    with pytest.raises(ValueError, match="groups is required"):
        coef_inference(model, X, y, groups=np.zeros(len(y)))
    with pytest.raises(ValueError, match="at least 2 groups"):
        coef_inference(model, X, y, cov_type="cluster", groups=np.zeros(len(y)))


def test_data_the_model_was_not_fitted_on_warns(fitted):
    X, y, model = fitted
    with pytest.warns(UserWarning, match="not at the optimum"):
        coef_inference(model, X[::-1], y)


def test_nonrobust_with_class_weight_warns(fitted):
    X, y, _ = fitted
    model = SoftmaxRegression(class_weight="balanced").fit(X, y)
    with pytest.warns(UserWarning, match="HC0"):
        coef_inference(model, X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        coef_inference(model, X, y, cov_type="HC0")


def test_interval_and_test_arguments(fitted):
    X, y, model = fitted
    res = coef_inference(model, X, y)
    for alpha in (0, 1, -0.1, "0.05"):
        with pytest.raises(ValueError, match="alpha"):
            predict_proba_interval(model, res, X, alpha=alpha)
        with pytest.raises(ValueError, match="alpha"):
            res.conf_int(alpha)
    with pytest.raises(TypeError, match="InferenceResult"):
        predict_proba_interval(model, res.cov, X)
    with pytest.raises(ValueError, match="features"):
        predict_proba_interval(model, res, X[:, :2])
    other = SoftmaxRegression(C=0.5).fit(X, y)
    with pytest.raises(ValueError, match="another model"):
        predict_proba_interval(other, res, X)
    with pytest.raises(ValueError, match="No feature named"):
        res.wald_test("nope")
    with pytest.raises(ValueError, match="out of range"):
        res.wald_test(3)
    with pytest.raises(ValueError, match="columns"):
        res.wald_test(np.ones((1, 5)))
    with pytest.raises(ValueError, match="columns"):
        res.wald_test(True)
    with pytest.raises(ValueError, match="linearly dependent"):
        res.wald_test(np.ones((2, res.params.size)))
    with pytest.raises(ValueError, match="one per restriction"):
        res.wald_test(0, value=[1.0])
    assert isinstance(res, InferenceResult)


def test_likelihood_ratio_test_arguments(fitted):
    X, y, penalised = fitted
    full = SoftmaxRegression(C=np.inf).fit(X, y)
    small = SoftmaxRegression(C=np.inf).fit(X[:, :2], y)
    with pytest.raises(ValueError, match="penalised"):
        likelihood_ratio_test(penalised, X, small, X[:, :2], y)
    with pytest.raises(ValueError, match="fewer parameters"):
        likelihood_ratio_test(small, X[:, :2], full, X, y)
    weighted = SoftmaxRegression(C=np.inf, class_weight="balanced").fit(X[:, :2], y)
    with pytest.raises(ValueError, match="class_weight"):
        likelihood_ratio_test(full, X, weighted, X[:, :2], y)
    res = likelihood_ratio_test(full, X, small, X[:, :2], y)
    no_intercept = SoftmaxRegression(C=np.inf, fit_intercept=False).fit(X, y)
    assert likelihood_ratio_test(full, X, no_intercept, X, y).df == 2
    assert res.df == 2 and 0 <= res.pvalue <= 1


def test_dask_input_is_refused_with_advice(fitted):
    da = pytest.importorskip("dask.array")
    X, y, model = fitted
    with pytest.raises(TypeError, match=r"compute\(\)"):
        coef_inference(model, da.from_array(X, chunks=50), y)


@pytest.mark.skipif(not ARRAY_API_SUPPORTED, reason="needs array-API dispatch")
def test_array_api_input_is_refused_with_advice(fitted):
    xp = pytest.importorskip("array_api_strict")
    X, y, _ = fitted
    with sklearn.config_context(array_api_dispatch=True):
        model = SoftmaxRegression(C=1.0).fit(xp.asarray(X), xp.asarray(y))
        with pytest.raises(TypeError, match="NumPy"):
            coef_inference(model, xp.asarray(X), xp.asarray(y))
    # the device-fitted model itself is fine with the rows on the host
    res = coef_inference(model, X, y)
    assert res.classes.tolist() == [1, 2]
    lower, upper = predict_proba_interval(model, res, X[:3])
    assert np.all(lower <= upper)
