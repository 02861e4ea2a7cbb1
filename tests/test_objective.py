"""The objective over blocks (`_objective`): value, gradient and Hessian in the
solver's coordinates, the reporting contract, the fitted-model value."""

import numpy as np
import pytest
import scipy.optimize
import scipy.sparse as sp
from _helpers import central_differences, objective_on
from _oracle import objective
from numpy.testing import assert_allclose

from sklearn_softmax._blocks import RowBlocks
from sklearn_softmax._objective import (
    ContrastObjective,
    ExactHessianObjective,
    full_parameters,
    objective_value,
    reported_parameters,
    separates,
)
from sklearn_softmax._solver import minimize_lbfgs


def _objective(
    fmt="dense",
    fit_intercept=True,
    precondition=True,
    kind="labels",
    scale=(1e-3, 1.0, 50.0),
):
    rng = np.random.default_rng(11)
    n, d, k = 40, 3, 3
    X = rng.normal(size=(n, d)) * np.array(scale) + np.array([5.0, 0, -2])
    y = np.arange(n) % k
    X[:, 1] += y
    target = y if kind == "labels" else rng.dirichlet(np.ones(k), size=n)
    w = rng.uniform(0.5, 2.0, size=n)
    Xf = sp.csr_matrix(X) if fmt == "csr" else X
    obj = objective_on(
        Xf,
        target,
        w / w.sum(),
        k,
        alpha=0.3 / w.sum(),
        fit_intercept=fit_intercept,
        precondition=precondition,
    )
    return obj, X, target, w / w.sum()


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("fmt", ["dense", "csr"])
def test_objective_gradient_in_preconditioned_coordinates(fit_intercept, fmt):
    obj, X, target, w = _objective(fmt, fit_intercept)
    assert not np.allclose(
        obj.preconditioner.D, 1.0
    )  # the test must exercise the preconditioner
    rng = np.random.default_rng(12)
    theta = rng.normal(scale=0.5, size=obj.n_params)
    f, g = obj.loss_grad(theta)
    fd = central_differences(lambda t: obj.loss_grad(t)[0], theta, 1e-6)
    assert_allclose(g, fd, rtol=1e-6, atol=1e-9)
    # the value is the penalised objective of the unpacked model
    W, b = obj.unpack(theta)
    ref = objective(X, target, W, np.zeros(3) if b is None else b, np.inf, w)
    assert f == pytest.approx(ref + 0.5 * obj.alpha * np.sum(W**2), rel=1e-12)


def _gradient_root(obj, theta):
    """Solve grad = 0 with MINPACK's hybrid method: it never looks at the
    objective's value, so it is not limited by the rounding of f that stops
    any line search near |grad| ~ 1e-8."""
    sol = scipy.optimize.root(lambda t: obj.loss_grad(t)[1], theta, method="hybr")
    assert sol.success, sol.message
    return sol.x


@pytest.mark.parametrize("kind", ["labels", "soft"])
def test_preconditioned_and_plain_objectives_share_the_optimum(kind):
    models, lbfgs = [], []
    for precondition in (True, False):
        obj, *_ = _objective(
            kind=kind, scale=(1.0, 1.0, 1.0), precondition=precondition
        )
        res = minimize_lbfgs(obj, obj.initial(), tol=1e-8, max_iter=1000)
        assert res.converged, res.message
        lbfgs.append(res)
        theta = _gradient_root(obj, obj.pack(res.W, res.b))
        assert np.abs(obj.loss_grad(theta)[1]).max() < 1e-13
        W, b = obj.unpack(theta)
        models.append((W - W.mean(0), b - b.mean(), obj.loss_grad(theta)[0]))
    (Wp, bp, fp), (Wq, bq, fq) = models
    assert fp == pytest.approx(fq, rel=1e-14)
    assert_allclose(Wp, Wq, atol=1e-8)
    assert_allclose(bp, bq, atol=1e-8)
    # the L-BFGS runs stopped at |grad| <= 1e-8, i.e. within ~1e-7 of it
    for res in lbfgs:
        assert_allclose(res.W - res.W.mean(0), Wp, atol=1e-7)
        assert res.fun == pytest.approx(fp, rel=1e-13)


def test_preconditioning_helps_on_badly_scaled_features():
    runs = {}
    for precondition in (True, False):
        obj, *_ = _objective(precondition=precondition)
        runs[precondition] = minimize_lbfgs(obj, obj.initial(), tol=1e-8, max_iter=1000)
    assert runs[True].converged
    assert runs[True].n_iter < runs[False].n_iter


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_hessian_products_match_gradient_differences(fit_intercept):
    obj, *_ = _objective(fit_intercept=fit_intercept)
    rng = np.random.default_rng(21)
    theta = rng.normal(scale=0.5, size=obj.n_params)
    with obj.blocks:
        hessp, diagonal = obj.hessian_at(theta)
        for _ in range(3):
            v = rng.normal(size=obj.n_params)
            h = 1e-6
            fd = (obj.loss_grad(theta + h * v)[1] - obj.loss_grad(theta - h * v)[1]) / (
                2 * h
            )
            assert_allclose(hessp(v), fd, rtol=1e-6, atol=1e-8)
        unit = np.eye(obj.n_params)
        explicit = np.array([hessp(e) @ e for e in unit])
    assert_allclose(diagonal, explicit, rtol=1e-10)


def _contrast_objective(K, fit_intercept, alpha, fmt="dense"):
    rng = np.random.default_rng(24)
    X = rng.normal(size=(60, 3)) * [1e-2, 1.0, 30.0] + [5.0, 0.0, -2.0]
    y = np.arange(60) % K
    X[:, 1] += y
    w = rng.uniform(0.5, 2.0, size=60)
    Xf = sp.csr_matrix(X) if fmt == "csr" else X
    obj = objective_on(
        Xf, y, w / w.sum(), K, alpha=alpha, fit_intercept=fit_intercept, contrast=True
    )
    return obj, X, y, w / w.sum()


@pytest.mark.parametrize("fmt", ["dense", "csr"])
@pytest.mark.parametrize("alpha", [0.01, 0.0])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("K", [2, 3])
def test_contrast_hessian_matches_gradient_differences(K, fit_intercept, alpha, fmt):
    obj, X, y, w = _contrast_objective(K, fit_intercept, alpha, fmt)
    assert isinstance(obj, ContrastObjective) and isinstance(obj, ExactHessianObjective)
    assert obj.n_params == (K - 1) * (3 + int(fit_intercept))
    theta = np.random.default_rng(25).normal(scale=0.5, size=obj.n_params)
    with obj.blocks:
        H = obj.hessian(theta)
        # central differences of the gradient, column by column
        h = 1e-5
        fd = np.empty_like(H)
        for j in range(obj.n_params):
            e = np.zeros(obj.n_params)
            e[j] = h
            fd[:, j] = (obj.loss_grad(theta + e)[1] - obj.loss_grad(theta - e)[1]) / (
                2 * h
            )
        assert_allclose(H, fd, rtol=1e-6, atol=1e-8 * np.abs(H).max())
        assert_allclose(H, H.T, rtol=0, atol=0)
        assert np.linalg.eigvalsh(H).min() > 0  # no gauge left: definite here
        # the products Newton-CG would use are the same matrix
        hessp, diagonal = obj.hessian_at(theta)
        v = np.random.default_rng(26).normal(size=obj.n_params)
        assert_allclose(hessp(v), H @ v, rtol=1e-14, atol=0)
        assert_allclose(diagonal, np.diag(H), rtol=0, atol=0)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_contrast_objective_is_the_softmax_objective_of_the_centred_model(
    fit_intercept,
):
    alpha = 0.01
    obj, X, y, w = _contrast_objective(3, fit_intercept, alpha)
    theta = np.random.default_rng(27).normal(scale=0.5, size=obj.n_params)
    with obj.blocks:
        f, g = obj.loss_grad(theta)
    fd = central_differences(lambda t: obj.loss_grad(t)[0], theta, 1e-6)
    assert_allclose(g, fd, rtol=1e-6, atol=1e-9)
    W, b = obj.unpack(theta)
    assert_allclose(W.sum(axis=0), 0.0, atol=1e-14)
    ref = objective(X, y, W, np.zeros(3) if b is None else b, np.inf, w)
    assert f == pytest.approx(ref + 0.5 * alpha * np.sum(W**2), rel=1e-12)


def test_initial_point_is_zero_coefficients_at_log_priors():
    obj, X, target, w = _objective()
    W, b = obj.unpack(obj.initial())
    assert_allclose(W, 0.0, atol=1e-15)
    prior = np.bincount(target, weights=w, minlength=3)
    assert_allclose(b, np.log(prior) - np.log(prior).mean(), rtol=1e-12)


@pytest.mark.parametrize("K", [2, 3])
def test_reported_and_full_parameters_are_inverse_in_the_centred_gauge(K):
    rng = np.random.default_rng(22)
    W, b = rng.normal(size=(K, 4)), rng.normal(size=K)
    coef, intercept = reported_parameters(W + 3.0, b - 1.0)  # any gauge
    assert coef.shape == ((1, 4) if K == 2 else (K, 4))
    W2, b2 = full_parameters(coef, intercept)
    assert_allclose(W2, W - W.mean(axis=0), atol=1e-14)
    assert_allclose(b2, b - b.mean(), atol=1e-14)
    if K == 2:  # the log-odds of the second class
        assert_allclose(coef[0], W[1] - W[0], rtol=1e-13)


@pytest.mark.parametrize("kind", ["labels", "soft"])
@pytest.mark.parametrize("K", [2, 4])
def test_objective_value_matches_the_oracle(kind, K):
    rng = np.random.default_rng(23)
    X = rng.normal(size=(50, 3))
    y = rng.integers(K, size=50)
    target = y if kind == "labels" else rng.dirichlet(np.ones(K), size=50)
    coef = rng.normal(size=(1 if K == 2 else K, 3))
    intercept = rng.normal(size=coef.shape[0])
    sw = rng.uniform(0, 3, size=50)
    for C, s in [(0.7, None), (0.7, sw), (np.inf, sw)]:
        got = objective_value(sp.csr_matrix(X), target, coef, intercept, C, s)
        assert got == pytest.approx(
            objective(X, target, coef, intercept, C, s), rel=1e-13
        )


def test_separates_counts_weighted_hard_rows_over_all_blocks():
    X = np.array([[1.0], [-1.0], [2.0], [-3.0]])
    y = np.array([1, 0, 1, 0])
    W, b = np.array([[-1.0], [1.0]]), np.zeros(2)
    w = np.ones(4)
    whole = RowBlocks.whole(X, y, w)
    assert separates(whole, W, b)
    y_bad = np.array([1, 0, 1, 1])  # the last row is on the wrong side
    blocks = RowBlocks(X, y_bad, w, n_classes=2, n_threads=1)
    blocks.blocks = [
        blocks.blocks[0]._replace(X=X[:2], target=y_bad[:2], weight=w[:2]),
        blocks.blocks[0]._replace(X=X[2:], target=y_bad[2:], weight=w[2:]),
    ]
    assert not separates(blocks, W, b)
    w_zero = np.array([1.0, 1.0, 1.0, 0.0])  # ... but it carries no weight
    assert separates(RowBlocks.whole(X, y_bad, w_zero), W, b)
    soft = np.eye(2)[y] * 0.9 + 0.05  # smoothed rows cannot be separated
    assert not separates(RowBlocks.whole(X, soft, w), W, b)
