"""Elastic-net and L1 penalties (`l1_ratio`, `_l1`): optimality certificates
independent of any peer, agreement with scikit-learn's saga, exact zeros.

The certificate: at the returned point, the minimum-norm subgradient of the
objective (the KKT residual) is computed here from scratch (scipy's softmax,
numpy products) and must meet the stopping rule ``tol * min(1, sqrt(f))`` in
the solver's coordinates, which are re-derived here as well: coefficient
``(k, j)`` scaled by ``D_kj = sqrt(pi_k (1 - pi_k) var_j + alpha)`` with the
features centred at their weighted means (docs/user_guide/convergence.rst).
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn
from _oracle import full_parameters, objective
from scipy.special import softmax
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from test_optimum import LOADERS, _data
from threadpoolctl import threadpool_limits

from sklearn_softmax import SoftmaxRegression

# LogisticRegression(l1_ratio=r) means the elastic net from scikit-learn 1.8
SKLEARN_18 = tuple(int(v) for v in sklearn.__version__.split(".")[:2]) >= (1, 8)


def kkt_residual(model, X, y, C, l1_ratio, sample_weight=None, tol=1e-6):
    """``(max residual, threshold)`` of the KKT conditions in the solver's
    coordinates, computed independently of the package.

    ``y`` holds class indices or probability rows (e.g. smoothed labels).
    """
    X = np.asarray(X, dtype=np.float64)
    Y = np.eye(len(model.classes_))[y] if np.ndim(y) == 1 else np.asarray(y)
    s = np.ones(X.shape[0]) if sample_weight is None else np.asarray(sample_weight)
    S = s.sum()
    w = s / S
    W, b = full_parameters(model.coef_, model.intercept_)
    R = w[:, None] * (softmax(X @ W.T + b, axis=1) - Y)
    alpha, t = (1 - l1_ratio) / (C * S), l1_ratio / (C * S)
    gW = R.T @ X + alpha * W
    gb = R.sum(axis=0)
    # without intercept: no centring, the uncentred second moments
    mu = w @ X if model.fit_intercept else np.zeros(X.shape[1])
    prior = w @ Y
    D = np.sqrt(np.outer(prior * (1 - prior), w @ (X - mu) ** 2) + alpha)
    D = np.where(D > 0, D, 1.0)
    g = gW - np.outer(gb, mu)  # the gradient along theta_W, times D
    res = np.where(W != 0, np.abs(g + t * np.sign(W)), np.maximum(np.abs(g) - t, 0))
    f = objective(X, Y, model.coef_, model.intercept_, C, s, l1_ratio=l1_ratio)
    rule = tol * min(1.0, np.sqrt(f))
    intercepts = np.abs(gb).max() if model.fit_intercept else 0.0
    return max(np.abs(res / D).max(), intercepts), rule


CERTIFICATE = [
    (name, r, C) for name in LOADERS for r in (0.5, 1.0) for C in (0.01, 1.0, 100.0)
]


@pytest.mark.parametrize("name, l1_ratio, C", CERTIFICATE)
def test_kkt_certificate_at_defaults_on_unscaled_data(name, l1_ratio, C):
    X, y = _data(name)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model = SoftmaxRegression(C=C, l1_ratio=l1_ratio).fit(X, y)
    residual, rule = kkt_residual(model, X, y, C, l1_ratio)
    # 1 % above the rule allows for the rounding of this independent evaluation
    assert residual <= 1.01 * rule, (residual, rule)


# -- against scikit-learn's saga on standardised data ---------------------------
SAGA = [
    (name, r, C)
    for name in ("iris", "wine", "breast_cancer")
    for r in (0.5, 1.0)
    for C in (0.01, 1.0)
]


# where saga(tol=1e-12) hits max_iter=20000 on these standardised data
SAGA_STOPS = {("breast_cancer", 1.0, 1.0)}


@pytest.mark.parametrize("name, l1_ratio, C", SAGA)
@pytest.mark.skipif(not SKLEARN_18, reason="needs scikit-learn >= 1.8")
def test_matches_saga_where_it_converges(name, l1_ratio, C):
    X, y = _data(name)
    X = StandardScaler().fit_transform(X)
    K = np.unique(y).size
    # binary: the log-odds problem has L2 weight (1-r)/(2C) and L1 weight r/C
    C_lr, r_lr = (2 * C / (1 + l1_ratio), 2 * l1_ratio / (1 + l1_ratio))
    if K > 2:
        C_lr, r_lr = C, l1_ratio
    with warnings.catch_warnings(record=True) as caught, threadpool_limits(1):
        warnings.simplefilter("always")
        saga = LogisticRegression(
            C=C_lr,
            l1_ratio=r_lr,
            solver="saga",
            tol=1e-12,
            max_iter=20_000,
            random_state=0,
        ).fit(X, y)
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    ours = SoftmaxRegression(C=C, l1_ratio=l1_ratio).fit(X, y)
    f_ours = objective(X, y, ours.coef_, ours.intercept_, C, l1_ratio=l1_ratio)
    f_saga = objective(X, y, saga.coef_, saga.intercept_, C, l1_ratio=l1_ratio)
    assert f_ours <= f_saga + 1e-9 * abs(f_saga)
    if converged:  # a stopped saga has zeros in other places
        np.testing.assert_array_equal(ours.coef_ == 0, np.abs(saga.coef_) < 1e-10)
    else:
        assert (name, l1_ratio, C) in SAGA_STOPS  # known: saga's max_iter


def test_binary_mapping_to_logistic_regression():
    # the two-class objective is LogisticRegression's at C' = 2C/(1+r),
    # l1_ratio' = 2r/(1+r): its value at any log-odds w agrees
    X, y = _data("breast_cancer")
    rng = np.random.default_rng(0)
    coef, intercept = rng.normal(size=(1, X.shape[1])) * 1e-3, np.array([0.3])
    C, r = 0.7, 0.4
    ours = objective(X, y, coef, intercept, C, l1_ratio=r)
    C_lr, r_lr = 2 * C / (1 + r), 2 * r / (1 + r)
    z = X @ coef[0] + intercept[0]
    lr = np.mean(np.logaddexp(0, z) - y * z) + (
        (1 - r_lr) * coef @ coef[0] / 2 + r_lr * np.abs(coef).sum()
    ).item() / (C_lr * len(y))
    assert ours == pytest.approx(lr, rel=1e-13)


# -- exact zeros, gauge, the L2 path, parameters ----------------------------------
def test_exact_zeros_and_no_recentring():
    X, y = _data("wine")
    model = SoftmaxRegression(C=0.1, l1_ratio=1.0).fit(X, y)
    zeros = model.coef_ == 0
    assert zeros.any() and not zeros.all()
    small = np.abs(model.coef_[~zeros]).min()
    assert small > 1e-12  # no 1e-17 leftovers: the zeros are exact
    assert np.abs(model.coef_.sum(axis=0)).max() > 0  # not re-centred
    assert model.intercept_.sum() == pytest.approx(0.0, abs=1e-12)


def test_l1_ratio_zero_takes_the_l2_path(monkeypatch):
    # l1_ratio=0 builds the smooth objective with alpha = 1 / (C S), no bounds,
    # and "auto" still picks Newton on the exact Hessian on a small problem
    from sklearn_softmax import _path

    seen = {}
    real = _path.solve

    def spy(objective, theta0, settings):
        result = real(objective, theta0, settings)
        seen.update(objective=objective, solver=result.solver)
        return result

    monkeypatch.setattr(_path, "solve", spy)
    X, y = _data("wine")
    SoftmaxRegression(C=2.0, l1_ratio=0.0).fit(X, y)
    obj = seen["objective"]
    assert type(obj).__name__ == "ContrastObjective" and obj.bounds is None
    assert obj.alpha == 1.0 / (2.0 * len(y))
    assert seen["solver"] == "newton-cholesky"
    SoftmaxRegression(C=2.0, l1_ratio=0.3).fit(X, y)
    obj = seen["objective"]
    assert type(obj).__name__ == "L1Split" and seen["solver"] == "lbfgs"
    assert obj.smooth.alpha == pytest.approx(0.7 / (2.0 * len(y)), rel=1e-15)


def test_c_inf_means_no_penalty_whatever_l1_ratio():
    X, y = _data("iris")
    X = StandardScaler().fit_transform(X)
    a = SoftmaxRegression(C=np.inf).fit(X, y)
    b = SoftmaxRegression(C=np.inf, l1_ratio=0.7).fit(X, y)
    np.testing.assert_array_equal(a.coef_, b.coef_)


def test_newton_cholesky_with_l1_is_a_clear_error():
    X, y = _data("iris")
    with pytest.raises(ValueError, match="newton-cholesky.*l1_ratio"):
        SoftmaxRegression(solver="newton-cholesky", l1_ratio=0.5).fit(X, y)
    # C=inf has no penalty at all: the exact Hessian is fine
    Xs = StandardScaler().fit_transform(X)
    SoftmaxRegression(C=np.inf, solver="newton-cholesky", l1_ratio=0.5).fit(Xs, y)


@pytest.mark.parametrize(
    "name, l1_ratio, C",
    [
        ("iris", 0.5, 1.0),
        ("wine", 1.0, 0.01),
        ("wine", 0.5, 100.0),
        ("breast_cancer", 1.0, 1.0),
    ],
)
def test_newton_cg_with_l1_meets_the_kkt_rule_and_finds_the_split_optimum(
    name, l1_ratio, C
):
    X, y = _data(name)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        newton = SoftmaxRegression(
            C=C, l1_ratio=l1_ratio, solver="newton-cg", tol=1e-8
        ).fit(X, y)
        split = SoftmaxRegression(C=C, l1_ratio=l1_ratio, tol=1e-8).fit(X, y)
    residual, rule = kkt_residual(newton, X, y, C, l1_ratio, tol=1e-8)
    assert residual <= 1.01 * rule, (residual, rule)
    f_newton = objective(X, y, newton.coef_, newton.intercept_, C, l1_ratio=l1_ratio)
    f_split = objective(X, y, split.coef_, split.intercept_, C, l1_ratio=l1_ratio)
    assert f_newton == pytest.approx(f_split, rel=1e-10)
    if l1_ratio < 1:  # r = 1 may leave a segment of optima along the gauge
        np.testing.assert_array_equal(newton.coef_ == 0, split.coef_ == 0)


@pytest.mark.parametrize("name, l1_ratio", [("wine", 1.0), ("digits", 0.5)])
def test_tight_tol_is_reached_and_dense_equals_sparse(name, l1_ratio):
    # The split's line search stalls near 1e-10; the orthant Newton finishes.
    X, y = _data(name)
    fits = []
    for data in (X, sp.csr_matrix(X)):
        with warnings.catch_warnings():
            warnings.simplefilter("error", ConvergenceWarning)
            model = SoftmaxRegression(l1_ratio=l1_ratio, tol=1e-10).fit(data, y)
        residual, rule = kkt_residual(model, X, y, 1.0, l1_ratio, tol=1e-10)
        assert residual <= 1.01 * rule, (residual, rule)
        fits.append(model.coef_)
    scale = np.abs(fits[0]).max()
    np.testing.assert_allclose(fits[1], fits[0], rtol=0, atol=1e-8 * scale)


@pytest.mark.parametrize("bad", [-0.1, 1.5])
def test_l1_ratio_out_of_range(bad):
    X, y = _data("iris")
    with pytest.raises(ValueError, match="l1_ratio"):
        SoftmaxRegression(l1_ratio=bad).fit(X, y)


def test_more_penalty_gives_more_zeros():
    X, y = _data("wine")
    nonzero = [
        np.count_nonzero(SoftmaxRegression(C=C, l1_ratio=1.0).fit(X, y).coef_)
        for C in (1e-3, 1e-2, 1e-1, 1.0)
    ]
    assert nonzero == sorted(nonzero) and nonzero[0] < nonzero[-1]


# -- every input path: weights, soft targets, smoothing, sparse, float32, warm ------
def test_weights_soft_targets_smoothing_and_class_weights_meet_the_kkt_rule():
    X, y = _data("iris")
    rng = np.random.default_rng(1)
    sw = rng.uniform(0.2, 2.0, size=len(y))
    Y = rng.dirichlet(np.ones(3), size=len(y))
    C, r = 0.5, 0.6
    soft = SoftmaxRegression(C=C, l1_ratio=r).fit(X, Y, sample_weight=sw)
    residual, rule = kkt_residual(soft, X, Y, C, r, sw)
    assert residual <= 1.01 * rule and (soft.coef_ == 0).any()
    smooth = SoftmaxRegression(C=C, l1_ratio=r, label_smoothing=0.1).fit(X, y)
    Y_smooth = 0.9 * np.eye(3)[y] + 0.1 / 3
    residual, rule = kkt_residual(smooth, X, Y_smooth, C, r)
    assert residual <= 1.01 * rule
    # class weights are row weights: s_i = cw[y_i]
    cw = {0: 1.0, 1: 3.0, 2: 0.5}
    weighted = SoftmaxRegression(C=C, l1_ratio=r, class_weight=cw).fit(X, y)
    s = np.array([cw[k] for k in y])
    residual, rule = kkt_residual(weighted, X, y, C, r, s)
    assert residual <= 1.01 * rule


def test_no_intercept_and_binary():
    X, y = _data("breast_cancer")
    model = SoftmaxRegression(C=0.1, l1_ratio=0.5, fit_intercept=False).fit(X, y)
    assert model.intercept_.tolist() == [0.0] and (model.coef_ == 0).any()
    residual, rule = kkt_residual(model, X, y, 0.1, 0.5)
    assert residual <= 1.01 * rule


def test_convergence_warning_names_the_kkt_residual():
    X, y = _data("digits")
    with pytest.warns(ConvergenceWarning, match="KKT residual"):
        SoftmaxRegression(C=1.0, l1_ratio=0.5, max_iter=3).fit(X, y)


@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_sparse_input_gives_the_dense_answer(fmt):
    X, y = _data("wine")
    dense = SoftmaxRegression(C=0.1, l1_ratio=0.5, tol=1e-8).fit(X, y)
    sparse = SoftmaxRegression(C=0.1, l1_ratio=0.5, tol=1e-8).fit(
        sp.csr_matrix(X).asformat(fmt), y
    )
    np.testing.assert_array_equal(dense.coef_ == 0, sparse.coef_ == 0)
    np.testing.assert_allclose(sparse.coef_, dense.coef_, rtol=1e-5, atol=1e-8)


def test_float32_is_kept_and_close_to_float64():
    X, y = _data("iris")
    m64 = SoftmaxRegression(C=0.1, l1_ratio=0.5).fit(X, y)
    m32 = SoftmaxRegression(C=0.1, l1_ratio=0.5).fit(X.astype(np.float32), y)
    assert m32.coef_.dtype == np.float32
    f64 = objective(X, y, m64.coef_, m64.intercept_, 0.1, l1_ratio=0.5)
    f32 = objective(X, y, m32.coef_, m32.intercept_, 0.1, l1_ratio=0.5)
    assert f32 == pytest.approx(f64, rel=1e-5)


def test_warm_start_continues_from_the_previous_optimum():
    X, y = _data("wine")
    cold = SoftmaxRegression(C=1.0, l1_ratio=0.5).fit(X, y)
    warm = SoftmaxRegression(C=1.0, l1_ratio=0.5, warm_start=True)
    warm.fit(X, y)
    warm.fit(X, y)
    assert warm.n_iter_[0] < cold.n_iter_[0] / 4
    np.testing.assert_allclose(warm.coef_, cold.coef_, rtol=1e-4, atol=1e-6)


# -- the split objective alone (_l1.L1Split) ----------------------------------------
def _split(seed=0):
    from _helpers import objective_on

    from sklearn_softmax._l1 import L1Split

    rng = np.random.default_rng(seed)
    X = rng.normal(size=(60, 3)) * [1e-2, 1.0, 30.0]
    y = rng.integers(3, size=60)
    smooth = objective_on(X, y, np.full(60, 1 / 60), 3, alpha=0.01, fit_intercept=True)
    return L1Split(smooth, 0.05), smooth


def test_split_gradient_matches_finite_differences():
    from _helpers import central_differences

    obj, _ = _split()
    z = np.abs(np.random.default_rng(1).normal(size=obj.n_params))
    f, g = obj.loss_grad(z)
    fd = central_differences(lambda t: obj.loss_grad(t)[0], z, 1e-6)
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-9)


def test_split_value_is_smooth_plus_weighted_l1_of_the_model():
    obj, smooth = _split()
    rng = np.random.default_rng(2)
    W, b = rng.normal(size=(3, 3)), rng.normal(size=3)
    z = obj.pack(W, b)
    f_smooth = smooth.loss_grad(smooth.pack(W, b))[0]
    # lam = t / D on theta = W * D: the L1 term is t * ||W||_1
    assert obj.loss_grad(z)[0] == pytest.approx(
        f_smooth + 0.05 * np.abs(W).sum(), rel=1e-13
    )
    W2, b2 = obj.unpack(z)
    np.testing.assert_allclose(W2, W, rtol=1e-14)


def test_optimality_is_the_minimum_norm_subgradient():
    obj, _ = _split()
    n = obj.n_coef
    lam = obj.weight
    theta = np.zeros(n)
    theta[:3] = [1.0, -1.0, 0.0]
    z = np.concatenate([np.maximum(theta, 0), np.maximum(-theta, 0), np.zeros(3)])
    g_smooth = np.zeros(n)
    g_smooth[:3] = [0.5, 0.5, 2 * lam[2]]
    g_smooth[3] = 0.5 * lam[3]  # inside [-lam, lam] at zero: optimal
    grad = np.concatenate([g_smooth + lam, lam - g_smooth, [0.1, 0.0, -0.2]])
    res = obj.optimality(z, grad)
    np.testing.assert_allclose(res[0], abs(0.5 + lam[0]), rtol=1e-14)
    np.testing.assert_allclose(res[1], abs(0.5 - lam[1]), rtol=1e-14)
    np.testing.assert_allclose(res[2], lam[2], rtol=1e-12)
    assert res[3] == 0.0
    np.testing.assert_array_equal(res[n:], [0.1, 0.0, -0.2])


def test_canonical_keeps_the_model_and_lowers_the_penalty():
    obj, _ = _split()
    z = obj.initial()
    n = obj.n_coef
    z[:n] += 0.3  # u and v both positive: the same theta, a higher penalty
    z[n : 2 * n] += 0.3
    c = obj.canonical(z)
    np.testing.assert_allclose(obj.theta(c), obj.theta(z), atol=1e-15)
    assert np.all(np.minimum(c[:n], c[n : 2 * n]) == 0)
    assert obj.loss_grad(c)[0] < obj.loss_grad(z)[0]


# -- the orthant pieces (_l1.pseudo_gradient, orthant_search, gauge_shift) ----------
def _composite(theta, g, lam):
    """Brute-force minimum-norm subgradient of ``g . x + lam |x|`` at ``theta``."""
    out = np.empty_like(theta)
    for j, (x, gj, lj) in enumerate(zip(theta, g, lam, strict=True)):
        if x != 0:
            out[j] = gj + lj * np.sign(x)
        else:
            grid = gj + lj * np.linspace(-1, 1, 20001)
            out[j] = grid[np.argmin(np.abs(grid))]
    return out


def test_pseudo_gradient_is_the_minimum_norm_subgradient():
    from sklearn_softmax._l1 import pseudo_gradient

    rng = np.random.default_rng(3)
    theta = rng.normal(size=40) * (rng.random(40) < 0.5)
    g, lam = rng.normal(size=40), rng.random(40)
    lam[:5] = 0.0  # unpenalised coordinates (intercepts)
    np.testing.assert_allclose(
        pseudo_gradient(theta, g, lam), _composite(theta, g, lam), atol=1e-4
    )


def test_orthant_search_stops_coordinates_at_zero_and_descends():
    from sklearn_softmax._l1 import orthant_search, pseudo_gradient

    # f = |x - a|^2 / 2 with an L1 weight 1: the optimum is soft(a, 1)
    a = np.array([3.0, 0.5, -2.0, 0.0])
    lam = np.ones(4)

    def fun(x):
        r = x - a
        return 0.5 * r @ r + lam @ np.abs(x), r

    x = np.array([1.0, 1.0, -1.0, 0.0])
    f, g = fun(x)
    pg = pseudo_gradient(x, g, lam)
    x_new, f_new, g_new, at_rounding = orthant_search(fun, x, f, pg, -pg, 1e-16)
    assert not at_rounding and f_new < f
    # coordinate 1 would cross zero along -pg (1 - 1.5 < 0): it stops at 0
    assert x_new[1] == 0.0
    # coordinate 3 is at zero with |g| = 0 <= 1: held there
    assert x_new[3] == 0.0
    # the others moved to the optimum of their orthant
    np.testing.assert_allclose(x_new[[0, 2]], [2.0, -1.0])
    np.testing.assert_allclose(g_new, x_new - a)


def test_orthant_search_returns_none_along_an_ascent_direction():
    from sklearn_softmax._l1 import orthant_search, pseudo_gradient

    def fun(x):
        return 0.5 * x @ x + np.abs(x).sum(), x

    x = np.array([1.0, -2.0])
    f, g = fun(x)
    pg = pseudo_gradient(x, g, np.ones(2))
    assert orthant_search(fun, x, f, pg, pg, 1e-16) is None


@pytest.mark.parametrize("alpha", [0.0, 0.05, 2.0])
def test_gauge_shift_minimises_the_penalty_along_the_gauge(alpha):
    from sklearn_softmax._l1 import gauge_shift

    rng = np.random.default_rng(4)
    W = rng.normal(size=(4, 6)) * (rng.random((4, 6)) < 0.7)
    t = 0.3
    c = gauge_shift(W, t, alpha)

    def cost(shift):
        V = W + shift
        return t * np.abs(V).sum(axis=0) + 0.5 * alpha * (V**2).sum(axis=0)

    grid = np.linspace(-4, 4, 16001)[:, None]
    best = np.min([cost(s) for s in grid], axis=0)
    assert np.all(cost(c) <= best + 1e-12)
    # already at the minimum: no shift (no churn between iterations)
    np.testing.assert_array_equal(gauge_shift(W + c, t, alpha), 0.0)


def test_settle_keeps_the_probabilities_and_updates_value_and_gradient():
    from _helpers import objective_on

    from sklearn_softmax._l1 import L1Orthant

    rng = np.random.default_rng(5)
    X = rng.normal(size=(50, 4)) * [0.1, 1.0, 3.0, 10.0] + 2.0
    y = rng.integers(3, size=50)
    smooth = objective_on(X, y, np.full(50, 1 / 50), 3, alpha=0.02, fit_intercept=True)
    obj = L1Orthant(smooth, 0.05)
    W, b = rng.normal(size=(3, 4)) + 1.0, rng.normal(size=3)
    theta = obj.pack(W, b)
    f, g = obj.loss_grad(theta)
    settled, f_s, g_s = obj.settle(theta, f, g)
    assert f_s < f
    f_new, g_new = obj.loss_grad(settled)
    assert f_s == pytest.approx(f_new, rel=1e-12)
    np.testing.assert_allclose(g_s, g_new, rtol=1e-9, atol=1e-12)
    W_s, b_s = obj.unpack(settled)
    P = softmax(X @ W.T + b, axis=1)
    np.testing.assert_allclose(softmax(X @ W_s.T + b_s, axis=1), P, rtol=1e-12)


def test_penalty_solver_choice_with_an_l1_part():
    from sklearn_softmax._penalty import Penalty

    l1, l2 = Penalty(1.0, 0.5), Penalty(1.0, 0.0)
    assert l1.solver("auto", 150, 4, 3) == "lbfgs"  # the split's L-BFGS-B
    assert l1.solver("newton-cg", 150, 4, 3) == "newton-cg"  # orthant Newton
    assert l2.solver("auto", 150, 4, 3) == "newton-cholesky"
    with pytest.raises(ValueError, match="newton-cholesky"):
        l1.solver("newton-cholesky", 150, 4, 3)
