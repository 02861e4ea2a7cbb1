"""Test data and measurement helpers shared by the test modules."""

import contextlib
import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn

# (major, minor) of the installed scikit-learn; the minimum-versions job of
# .ci/run runs this suite on the oldest release pyproject.toml allows
SKLEARN_VERSION = tuple(int(v) for v in sklearn.__version__.split(".")[:2])


def needs_sklearn(version, what):
    """Skip mark for a test of ``what``, which needs scikit-learn >= ``version``."""
    wanted = tuple(int(v) for v in version.split("."))
    return pytest.mark.skipif(
        SKLEARN_VERSION < wanted, reason=f"{what} needs scikit-learn >= {version}"
    )


def sparse_matrix(n=400, d=60, density=0.1, fmt="csr", seed=0):
    """A random sparse matrix with normal values."""
    rng = np.random.default_rng(seed)
    X = sp.random(n, d, density=density, format=fmt, random_state=seed)
    X.data = rng.normal(size=X.nnz)
    return X


def labels_and_weights(X, K=4, seed=0):
    """Random labels ``0..K-1`` and positive row weights summing to one."""
    rng = np.random.default_rng(seed)
    n = X.shape[0]
    y = rng.integers(K, size=n)
    w = rng.uniform(0.5, 2.0, size=n)
    return y, w / w.sum()


def traced_peak(fn):
    """Bytes allocated at the peak of ``fn()``, above what was live before."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        fn()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


def central_differences(f, theta, h):
    """Gradient of scalar ``f`` at ``theta`` by central differences of step ``h``."""
    grad = np.empty_like(theta)
    for j in range(theta.size):
        e = np.zeros_like(theta)
        e[j] = h
        grad[j] = (f(theta + e) - f(theta - e)) / (2 * h)
    return grad


def objective_on(
    X,
    target,
    weights,
    n_classes,
    *,
    alpha,
    fit_intercept,
    n_threads=None,
    precondition=True,
    contrast=False,
):
    """The smooth objective on arrays (weights summing to one), built from the
    pieces the fit uses: row blocks, data statistics, their preconditioner.

    ``precondition=False`` gives plain coordinates (``D = 1``, ``mu = 0``);
    ``contrast=True`` the ``ContrastObjective`` of "newton-cholesky" (in
    contrast coordinates, with its exact Hessian).
    """
    from sklearn_softmax._blocks import RowBlocks
    from sklearn_softmax._objective import ContrastObjective, SoftmaxObjective
    from sklearn_softmax._precondition import (
        DataStatistics,
        Preconditioner,
        class_priors,
    )

    blocks = RowBlocks(X, target, weights, n_classes, n_threads)
    with blocks:
        if contrast:
            stats = DataStatistics.from_blocks(blocks, n_classes, center=fit_intercept)
            contrasts = stats.contrasts(alpha)
            return ContrastObjective(blocks, contrasts, alpha=alpha, dtype=X.dtype)
        if precondition:
            stats = DataStatistics.from_blocks(blocks, n_classes, center=fit_intercept)
            pre = stats.preconditioner(alpha)
        else:
            prior = class_priors(blocks, n_classes)
            pre = Preconditioner.identity(
                prior, X.shape[1], fit_intercept=fit_intercept
            )
    return SoftmaxObjective(blocks, pre, alpha=alpha, dtype=X.dtype)


def spd(n, cond, seed=0):
    """A random symmetric positive definite matrix of condition number ``cond``."""
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    return (Q * np.logspace(0, np.log10(cond), n)) @ Q.T


class Quadratic:
    """``f = c + g0.x + x'Hx / 2``: an ``ExactHessianObjective`` (written protocol).

    ``c`` defaults to the value that makes the minimum 2 (so that the stopping
    rule's threshold is ``tol`` itself near the optimum).
    """

    def __init__(self, H, g0, c=None, dtype=np.float64):
        if c is None:
            c = 2.0 + 0.5 * g0 @ np.linalg.solve(H, g0)
        self.H, self.g0, self.c = H, g0, c
        self.dtype = np.dtype(dtype)
        self.blocks = contextlib.nullcontext()
        self.n_classes, self.n_features = 1, H.shape[0]
        self.evaluations = 0

    @property
    def n_passes(self):
        return self.evaluations

    def loss_grad(self, x):
        self.evaluations += 1
        Hx = self.H @ x
        return self.c + self.g0 @ x + 0.5 * x @ Hx, self.g0 + Hx

    bounds = None

    def optimality(self, x, g):
        return g

    def canonical(self, x):
        return x

    def hessian_at(self, x):
        return (lambda v: self.H @ v), np.diag(self.H).copy()

    def hessian(self, x):
        return self.H

    def unpack(self, x):
        return x, None

    def pack(self, W, b):
        return W

    def initial(self):
        return np.zeros(self.H.shape[0])

    def minimum(self):
        x = np.linalg.solve(self.H, -self.g0)
        return x, self.loss_grad(x)[0]
