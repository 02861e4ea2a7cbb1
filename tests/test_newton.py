"""Newton on the exact Hessian (`_newton`, solver="newton-cholesky"): the PSD
solve, the loop on a known quadratic, and the fits against the other solvers.

The fits are scored by the package's value of a reported model
(``_objective.objective_value``; ``tests/_oracle.py`` checks it), and every
comparison is with the best of "newton-cg" and "lbfgs" at the same settings.
"""

import functools
import warnings

import numpy as np
import pytest
from _helpers import Quadratic, spd
from numpy.testing import assert_allclose
from sklearn.datasets import load_breast_cancer, load_iris, load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from sklearn.utils.class_weight import compute_sample_weight
from threadpoolctl import threadpool_limits

from sklearn_softmax import SoftmaxRegression, _newton
from sklearn_softmax._newton import newton_exact, psd_solve
from sklearn_softmax._objective import ExactHessianObjective, objective_value
from sklearn_softmax._solver import (
    SolverSettings,
    minimize_newton_exact,
    solve,
    stop_threshold,
)


# -- psd_solve ----------------------------------------------------------------------
@pytest.mark.parametrize("cond", [1.0, 1e3, 1e8])
def test_psd_solve_matches_solve_on_spd(cond):
    H = spd(20, cond, seed=1)
    rhs = np.random.default_rng(2).normal(size=20)
    ref = np.linalg.solve(H, rhs)
    # backward-stable solves agree to ~cond * eps
    assert_allclose(psd_solve(H, rhs), ref, rtol=cond * 1e-13)


@pytest.mark.parametrize("rank", [1, 5, 19])
def test_psd_solve_singular_is_the_minimum_norm_solution(rank):
    rng = np.random.default_rng(rank)
    A = np.linalg.qr(rng.normal(size=(20, rank)))[0] * rng.uniform(1, 3, size=rank)
    H = A @ A.T  # PSD of rank `rank`, eigenvalues in [1, 9]
    rhs = rng.normal(size=20)  # not in the range: least squares, least norm
    ref = np.linalg.pinv(H, hermitian=True) @ rhs
    assert_allclose(psd_solve(H, rhs), ref, rtol=1e-10, atol=1e-10 * np.abs(ref).max())


def test_psd_solve_duplicated_column_gives_equal_shares():
    # the Gram matrix of a design with a duplicated column: Cholesky may succeed
    # with a pivot at rounding level, which must not be trusted
    X = np.random.default_rng(3).normal(size=(50, 4))
    X = np.column_stack([X, X[:, 1]])
    H = X.T @ X
    rhs = X.T @ np.random.default_rng(4).normal(size=50)
    p = psd_solve(H, rhs)
    assert_allclose(p, np.linalg.pinv(H, hermitian=True) @ rhs, rtol=1e-8)
    assert p[1] == pytest.approx(p[4], rel=1e-8)


def test_psd_solve_zero_matrix_gives_zero_step():
    p = psd_solve(np.zeros((3, 3)), np.array([1.0, -2.0, 3.0]))
    assert p.shape == (3,)
    assert_allclose(p, 0.0, atol=0)


# -- Newton on a known quadratic -------------------------------------------------------
def test_quadratic_is_an_exact_hessian_objective():
    assert isinstance(Quadratic(np.eye(2), np.ones(2)), ExactHessianObjective)


@pytest.mark.parametrize("cond", [10.0, 1e6])
def test_exact_newton_minimises_a_quadratic_in_one_step(cond):
    H = spd(15, cond, seed=5)
    obj = Quadratic(H, np.random.default_rng(6).normal(size=15))
    x_star, f_star = obj.minimum()
    res = minimize_newton_exact(obj, np.zeros(15), tol=1e-8, max_iter=50)
    assert res.converged and res.message == "converged"
    assert res.n_iter == 1
    assert_allclose(res.W, x_star, rtol=cond * 1e-12, atol=1e-12)
    assert res.fun == pytest.approx(f_star, rel=1e-14)
    # the loop itself, and solve() with the solver's name
    theta, f, g, n_iter, converged, _ = newton_exact(
        Quadratic(H, obj.g0),
        np.zeros(15),
        threshold=lambda f: stop_threshold(1e-8, f),
        max_iter=50,
        report=lambda *args: None,
    )
    assert n_iter == 1 and converged
    assert_allclose(theta, x_star, rtol=cond * 1e-12, atol=1e-12)
    via_solve = solve(
        Quadratic(H, obj.g0),
        np.zeros(15),
        SolverSettings("newton-cholesky", tol=1e-8, max_iter=50),
    )
    assert via_solve.solver == "newton-cholesky" and via_solve.n_iter == 1
    assert via_solve.converged and via_solve.reason is None


def test_exact_newton_on_a_flat_quadratic_goes_to_the_minimum_norm_minimiser():
    # rank-deficient H with the linear term in its range: a valley of minimisers;
    # from 0 the one Newton step is the one of least norm
    rng = np.random.default_rng(7)
    A = rng.normal(size=(10, 6))
    H = A @ A.T
    g0 = A @ rng.normal(size=6)
    x_star = -np.linalg.pinv(H, hermitian=True) @ g0
    obj = Quadratic(H, g0, c=2.0 - 0.5 * g0 @ x_star)  # minimum value 2
    res = minimize_newton_exact(obj, np.zeros(10), tol=1e-8, max_iter=50)
    assert res.converged and res.n_iter == 1
    assert_allclose(res.W, x_star, rtol=1e-9, atol=1e-12)
    assert res.fun == pytest.approx(2.0, rel=1e-14)


# -- binary problems: the log-odds ---------------------------------------------
@functools.cache
def _breast_cancer_standardised():
    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def test_binary_fit_is_the_log_odds_fit():
    X, y = _breast_cancer_standardised()
    C = 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        exact = SoftmaxRegression(C=C, solver="newton-cholesky", tol=1e-10).fit(X, y)
        cg = SoftmaxRegression(C=C, solver="newton-cg", tol=1e-10).fit(X, y)
    assert_allclose(exact.predict_proba(X), cg.predict_proba(X), rtol=0, atol=1e-10)
    # scikit-learn's objective is C' sum_i CE_i + ||w||^2 / 2: ours at C' = 2 C
    with threadpool_limits(limits=1, user_api="blas"):
        ref = LogisticRegression(C=2 * C, tol=1e-12, solver="newton-cholesky").fit(X, y)
    assert exact.coef_.shape == (1, X.shape[1])
    scale = np.abs(ref.coef_).max()
    assert_allclose(exact.coef_, ref.coef_, rtol=0, atol=1e-6 * scale)
    assert_allclose(exact.intercept_, ref.intercept_, rtol=0, atol=1e-6 * scale)


def test_binary_contrast_objective_has_d_plus_one_parameters(monkeypatch):
    X, y = _breast_cancer_standardised()
    seen = []
    real = minimize_newton_exact

    def recording(objective, theta0, **kwargs):
        seen.append((objective.n_params, theta0.size))
        return real(objective, theta0, **kwargs)

    monkeypatch.setattr("sklearn_softmax._solver.minimize_newton_exact", recording)
    SoftmaxRegression(solver="newton-cholesky").fit(X, y)
    d = X.shape[1]
    assert seen == [(d + 1, d + 1)]
    seen.clear()
    SoftmaxRegression(solver="newton-cholesky", fit_intercept=False).fit(X, y)
    assert seen == [(d, d)]


@pytest.mark.parametrize(
    "loader", [load_iris, load_wine, load_breast_cancer], ids=lambda f: f.__name__
)
def test_auto_fits_small_data_by_exact_newton(loader, monkeypatch):
    X, y = loader(return_X_y=True)
    calls = []
    real = minimize_newton_exact

    def recording(objective, theta0, **kwargs):
        calls.append(objective.n_params)
        return real(objective, theta0, **kwargs)

    monkeypatch.setattr("sklearn_softmax._solver.minimize_newton_exact", recording)
    SoftmaxRegression(solver="auto", max_iter=10000).fit(X, y)
    assert len(calls) == 1


# -- singular Hessians: collinear and constant columns without a penalty ---------------
def _noisy_labels(n_classes, seed=8):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(200, 3))
    logits = X @ rng.normal(size=(3, n_classes))
    u = rng.random((200, 1))
    P = np.exp(logits - logits.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    y = (u > P.cumsum(axis=1)).sum(axis=1)  # sampled: not separable
    return X, y


def _fit_quietly(X, y, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning of any kind
        return SoftmaxRegression(tol=1e-10, max_iter=10000, **params).fit(X, y)


@pytest.mark.parametrize("kind", ["duplicated", "constant"])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_singular_hessian_at_c_inf(kind, n_classes, monkeypatch):
    X, y = _noisy_labels(n_classes)
    extra = X[:, 0] if kind == "duplicated" else np.full(len(y), 3.0)
    X = np.column_stack([X, extra])
    # record how singular the Hessians Newton solved were
    ratios = []
    real = _newton.psd_solve

    def recording(H, rhs):
        eigenvalues = np.linalg.eigvalsh(H)
        ratios.append(eigenvalues.min() / eigenvalues.max())
        return real(H, rhs)

    monkeypatch.setattr(_newton, "psd_solve", recording)
    exact = _fit_quietly(X, y, C=np.inf, solver="newton-cholesky")
    monkeypatch.undo()
    assert ratios and max(ratios) < 1e-12  # every Hessian singular to rounding
    f_exact = objective_value(X, y, exact.coef_, exact.intercept_, np.inf)
    refs = []
    for solver in ("newton-cg", "lbfgs"):
        model = _fit_quietly(X, y, C=np.inf, solver=solver)
        refs.append(objective_value(X, y, model.coef_, model.intercept_, np.inf))
    assert abs(f_exact - min(refs)) <= 1e-10 * abs(min(refs))
    coef = exact.coef_
    if kind == "duplicated":  # minimum norm: the copies share equally
        assert_allclose(coef[:, 0], coef[:, 3], rtol=1e-8)
    else:  # minimum norm: nothing on a column the model cannot use
        assert_allclose(coef[:, 3], 0.0, atol=1e-10 * np.abs(coef).max())


# -- same optimum as the other solvers ---------------------------------------
LOADERS = {"iris": load_iris, "wine": load_wine, "breast_cancer": load_breast_cancer}
VARIANTS = ("plain", "sample_weight", "balanced", "soft", "float32", "no_intercept")
# float64: the solvers agree to rounding (measured < 1e-14); float32: tol is
# floored at 1e-5 (effective_tol) and the gradient carries float32 rounding, so
# the fits agree only to about float32 eps (measured < 2e-8)
RTOL = {"float64": 1e-10, "float32": 1e-7}


@functools.cache
def _problem(name, standardised, variant):
    """``(X, target, sample_weight for the objective, fit params, est. params)``."""
    X, y = LOADERS[name](return_X_y=True)
    if standardised:
        X = StandardScaler().fit_transform(X)
    K = len(np.unique(y))
    rng = np.random.default_rng(9)
    target, sw, fit, params = y, None, {}, {}
    if variant == "sample_weight":
        sw = rng.uniform(0.1, 3.0, size=len(y))
        fit = {"sample_weight": sw}
    elif variant == "balanced":
        params = {"class_weight": "balanced"}
        sw = compute_sample_weight("balanced", y)
    elif variant == "soft":  # probability rows
        target = 0.8 * np.eye(K)[y] + 0.2 * rng.dirichlet(np.ones(K), size=len(y))
    elif variant == "float32":
        X = X.astype(np.float32)
    elif variant == "no_intercept":
        params = {"fit_intercept": False}
    return X, target, sw, fit, params


def _cases():
    for name in LOADERS:
        for standardised in (False, True):
            for variant in VARIANTS:
                for C in (0.01, 1.0, 100.0):
                    tag = "std" if standardised else "raw"
                    case_id = f"{name}-{tag}-{variant}-C={C:g}"
                    yield pytest.param(name, standardised, variant, C, id=case_id)


@pytest.mark.parametrize(("name", "standardised", "variant", "C"), list(_cases()))
def test_same_optimum_as_the_other_solvers(name, standardised, variant, C):
    X, target, sw, fit, params = _problem(name, standardised, variant)
    common = dict(C=C, tol=1e-10, max_iter=10000, **params)

    def value(model):
        return objective_value(X, target, model.coef_, model.intercept_, C, sw)

    with threadpool_limits(limits=1, user_api="blas"):
        with warnings.catch_warnings():
            warnings.simplefilter("error", ConvergenceWarning)
            exact = SoftmaxRegression(solver="newton-cholesky", **common).fit(
                X, target, **fit
            )
        references = []
        for solver in ("newton-cg", "lbfgs"):
            # at tol=1e-10 L-BFGS often stalls at the rounding level and warns:
            # that only makes it a weaker reference
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                model = SoftmaxRegression(solver=solver, **common).fit(X, target, **fit)
            references.append(value(model))
    best = min(references)
    rtol = RTOL[np.dtype(X.dtype).name]
    assert value(exact) - best <= rtol * abs(best), (value(exact), references)
