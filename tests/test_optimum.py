"""The optimum at default settings: unscaled real data, badly scaled data.

``SoftmaxRegression`` at its default ``tol``/``max_iter`` must end within a
relative objective gap ``(f - f*) / |f*| <= 1e-6`` of the optimum, without a
``ConvergenceWarning``.  ``f*`` comes from an independent second-order solver,
``LogisticRegression(solver="newton-cholesky", tol=1e-12)`` with ``C`` (``2C``
for two classes, see docs/user_guide/objective.rst), and every model is scored
by the tests' one reference objective of its coefficients
(:func:`_oracle.objective`).

Data: scikit-learn's bundled data sets used unscaled, as users do, and a
synthetic problem whose columns are multiplied by ``10 ** U(-3, 3)``.  ``C=inf``
is tested where the optimum is finite: on ``load_iris`` and the synthetic data.
``load_wine``, ``load_breast_cancer`` and ``load_digits`` are linearly separable
(newton-cholesky reaches training accuracy 1 with a loss of ~1e-14 or
diverging coefficients), so they have no optimum at ``C=inf``; there the
estimator must warn instead (last test).

For ``C=inf`` the reference is solved on standardised features: without a
penalty, rescaling and shifting columns is an exact reparametrisation that
leaves ``f*`` unchanged, and newton-cholesky fails on the badly scaled
columns themselves (singular Hessian, then an L-BFGS fallback that stops
early).

The reference fits run with BLAS limited to one thread: on small problems
scikit-learn is many times slower when numpy's and scipy's OpenBLAS pools
contend, and the timing does not matter here.
"""

import functools
import warnings

import numpy as np
import pytest
from _helpers import objective_on
from _oracle import objective
from sklearn.datasets import (
    load_breast_cancer,
    load_digits,
    load_iris,
    load_wine,
    make_classification,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from sklearn_softmax import SoftmaxRegression
from sklearn_softmax._solver import minimize_newton_cg

GAP = 1e-6


def _badly_scaled():
    X, y = make_classification(
        n_samples=2000,
        n_features=20,
        n_informative=10,
        n_redundant=0,
        n_classes=4,
        random_state=0,
    )
    scale = 10.0 ** np.random.default_rng(0).uniform(-3, 3, size=X.shape[1])
    return X * scale, y


LOADERS = {
    "wine": lambda: load_wine(return_X_y=True),
    "breast_cancer": lambda: load_breast_cancer(return_X_y=True),
    "digits": lambda: load_digits(return_X_y=True),
    "iris": lambda: load_iris(return_X_y=True),
    "badly_scaled": _badly_scaled,
}
FINITE_AT_C_INF = ("iris", "badly_scaled")
SEPARABLE = ("wine", "breast_cancer", "digits")

CASES = [(name, C) for name in LOADERS for C in (0.01, 1.0, 100.0)]
CASES += [(name, np.inf) for name in FINITE_AT_C_INF]


@functools.cache
def _data(name):
    X, y = LOADERS[name]()
    return X, y


@functools.cache
def f_star(name, C):
    """The optimum by ``LogisticRegression(solver="newton-cholesky", tol=1e-12)``."""
    X, y = _data(name)
    if np.isinf(C):  # f* does not depend on an affine map of the columns
        X = StandardScaler().fit_transform(X)
    n_classes = len(np.unique(y))
    ref = LogisticRegression(
        C=2 * C if n_classes == 2 else C,
        solver="newton-cholesky",
        tol=1e-12,
        max_iter=500,
    )
    with threadpool_limits(limits=1, user_api="blas"), warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        ref.fit(X, y)
    return objective(X, y, ref.coef_, ref.intercept_, C)


def _fit_gap(name, C, **params):
    """Relative gap of ``SoftmaxRegression(C=C, **params)``; a ConvergenceWarning
    is an error."""
    X, y = _data(name)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model = SoftmaxRegression(C=C, **params).fit(X, y)
    f = objective(X, y, model.coef_, model.intercept_, C)
    reference = f_star(name, C)
    return (f - reference) / abs(reference)


def _case_id(case):
    name, C = case
    return f"{name}-C={C:g}"


# Measured misses of the package at the time of writing (strict: when the
# package is fixed, the XPASS fails and the marker must go).  Explicit L-BFGS
# is not what "auto" picks here: digits is ill-conditioned for it.
_KNOWN = {
    ("lbfgs", "digits", 1.0): "L-BFGS hits max_iter=1000 (gap 8.0e-08, "
    "ConvergenceWarning)",
    ("lbfgs", "digits", 100.0): "L-BFGS hits max_iter=1000 (gap 2e-03, "
    "ConvergenceWarning)",
}


def _cases_for(solver):
    params = []
    for name, C in CASES:
        marks = []
        reason = _KNOWN.get((solver, name, C))
        if reason is not None:
            marks.append(pytest.mark.xfail(reason=reason, strict=True))
        params.append(pytest.param(name, C, marks=marks, id=_case_id((name, C))))
    return params


@pytest.mark.parametrize(("name", "C"), _cases_for("auto"))
def test_defaults_reach_the_optimum(name, C):
    gap = _fit_gap(name, C)
    assert gap <= GAP, f"relative gap {gap:.2e}"


@pytest.mark.parametrize(("name", "C"), _cases_for("newton-cg"))
def test_newton_cg_reaches_the_optimum(name, C):
    gap = _fit_gap(name, C, solver="newton-cg")
    assert gap <= GAP, f"relative gap {gap:.2e}"


@pytest.mark.parametrize(("name", "C"), _cases_for("lbfgs"))
def test_lbfgs_reaches_the_optimum(name, C):
    gap = _fit_gap(name, C, solver="lbfgs")
    assert gap <= GAP, f"relative gap {gap:.2e}"


@pytest.mark.parametrize("name", SEPARABLE)
def test_separable_data_at_C_inf_warn(name):
    # no finite optimum: the estimator must not claim convergence
    X, y = _data(name)
    with pytest.warns(ConvergenceWarning):
        SoftmaxRegression(C=np.inf).fit(X, y)


# -- the preconditioning is an exact reparametrisation ---------------------------
def _objectives(name, C):
    X, y = _data(name)
    n, K = len(y), len(np.unique(y))
    return [
        objective_on(
            X,
            y,
            np.full(n, 1.0 / n),
            K,
            alpha=1.0 / (C * n),
            fit_intercept=True,
            precondition=precondition,
        )
        for precondition in (True, False)
    ]


def _centred(res):
    return res.W - res.W.mean(axis=0), res.b - res.b.mean()


@pytest.mark.parametrize(
    ("name", "C"), [("breast_cancer", 1.0), ("breast_cancer", 100.0), ("digits", 1.0)]
)
def test_preconditioned_and_plain_problems_share_the_optimum(name, C):
    # data on which plain Newton-CG also converges: both solves, from their
    # own starting points, end at the same optimum
    pre, plain = _objectives(name, C)
    assert not np.allclose(pre.preconditioner.D, 1.0)
    a = minimize_newton_cg(pre, pre.initial(), tol=1e-10, max_iter=200)
    b = minimize_newton_cg(plain, plain.initial(), tol=1e-10, max_iter=200)
    assert a.fun == pytest.approx(b.fun, rel=1e-8)
    (Wa, ba), (Wb, bb) = _centred(a), _centred(b)
    scale = np.abs(Wa).max()
    np.testing.assert_allclose(Wa, Wb, atol=1e-4 * scale)
    np.testing.assert_allclose(ba, bb, atol=1e-4 * max(np.abs(ba).max(), 1.0))


@pytest.mark.parametrize(
    ("name", "C"), [("wine", 1.0), ("wine", 100.0), ("badly_scaled", 1.0)]
)
def test_preconditioned_optimum_is_optimal_for_the_plain_problem(name, C):
    # where plain solvers stall (unscaled columns), the preconditioned optimum
    # has the same objective in plain coordinates, and plain Newton-CG started
    # there finds nothing lower
    pre, plain = _objectives(name, C)
    a = minimize_newton_cg(pre, pre.initial(), tol=1e-10, max_iter=200)
    theta = plain.pack(a.W, a.b)
    f_plain, _ = plain.loss_grad(theta)
    assert f_plain == pytest.approx(a.fun, rel=1e-12)
    b = minimize_newton_cg(plain, theta, tol=1e-10, max_iter=50)
    assert b.fun >= a.fun * (1 - 1e-8)
    assert a.fun == pytest.approx(f_star(name, C), rel=1e-8)
