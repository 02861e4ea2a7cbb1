"""The regularisation path and its choices (`_path`): the rotated preconditioner."""

from functools import partial

import numpy as np
import pytest
import scipy.sparse as sp
from _oracle import objective
from sklearn.linear_model import LogisticRegression

from sklearn_softmax import SoftmaxRegression, _path


def _embeddings(n=3000, d=16, K=8, seed=0):
    """Overlapping clusters, then correlated, anisotropic, shifted features."""
    rng = np.random.default_rng(seed)
    y = rng.integers(K, size=n)
    Z = 0.6 * rng.normal(size=(K, d))[y] + rng.normal(size=(n, d))
    Q = np.linalg.qr(rng.normal(size=(d, d)))[0]
    X = (Z / np.arange(1, d + 1)) @ Q.T + 2.0
    return X, y


def test_rotation_pays_only_for_l2_lbfgs_with_few_features_per_class():
    pays = partial(_path.rotation_pays, n_samples=10**5, l1_ratio=0.0)
    assert pays(8, 16, solver="lbfgs")
    assert pays(100, 256, solver="auto")  # large: "auto" takes L-BFGS
    assert not pays(8, 16, solver="auto", n_samples=3000)  # "auto": Newton-CG
    assert not pays(8, 16, solver="newton-cg")
    assert not pays(8, 16, solver="lbfgs", l1_ratio=0.5)
    assert not pays(3, 16, solver="lbfgs")  # d = 16 > 4 K: the covariance costs


def test_sparse_data_are_fitted_unrotated(monkeypatch):
    X, y = _embeddings()
    seen = []
    real = _path.DataStatistics.rotated

    def recording(self, blocks):
        out = real(self, blocks)
        seen.append(out.U is not None)
        return out

    monkeypatch.setattr(_path.DataStatistics, "rotated", recording)
    dense = SoftmaxRegression(solver="lbfgs", tol=1e-8).fit(X, y)
    sparse = SoftmaxRegression(solver="lbfgs", tol=1e-8).fit(sp.csr_matrix(X), y)
    assert seen == [True, False]
    f = [objective(X, y, m.coef_, m.intercept_, 1.0) for m in (dense, sparse)]
    assert f[0] == pytest.approx(f[1], rel=1e-8)


def _fit(X, y, rotate, monkeypatch, sample_weight=None, **params):
    with monkeypatch.context() as m:
        if not rotate:
            m.setattr(_path, "rotation_pays", lambda *a, **k: False)
        model = SoftmaxRegression(solver="lbfgs", **params)
        return model.fit(X, y, sample_weight=sample_weight)


@pytest.mark.filterwarnings("error::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("C", [0.01, 1.0, 100.0])
def test_rotated_and_diagonal_preconditioners_reach_the_same_optimum(
    C, fit_intercept, monkeypatch
):
    X, y = _embeddings()
    w = np.random.default_rng(1).uniform(0.5, 2.0, size=y.size)
    params = dict(C=C, tol=1e-8, fit_intercept=fit_intercept, max_iter=5000)

    def objectives(sample_weight):
        """Objectives of the rotated and the diagonal fit."""
        return [
            objective(X, y, m.coef_, m.intercept_, C, sample_weight=sample_weight)
            for m in (
                _fit(X, y, r, monkeypatch, sample_weight, **params)
                for r in (True, False)
            )
        ]

    f = objectives(None)
    assert f[0] == pytest.approx(f[1], rel=1e-8)
    reference = LogisticRegression(
        C=C,
        solver="newton-cholesky",
        tol=1e-12,
        max_iter=1000,
        fit_intercept=fit_intercept,
    ).fit(X, y)
    f_star = objective(X, y, reference.coef_, reference.intercept_, C)
    assert f[0] == pytest.approx(f_star, rel=1e-8)
    # and with sample weights (the covariance is weighted)
    fw = objectives(w)
    assert fw[0] == pytest.approx(fw[1], rel=1e-8)


@pytest.mark.filterwarnings("error::sklearn.exceptions.ConvergenceWarning")
def test_rotation_takes_fewer_iterations_on_correlated_features(monkeypatch):
    X, y = _embeddings()
    rotated, diagonal = (_fit(X, y, r, monkeypatch) for r in (True, False))
    assert rotated.n_iter_[0] < 0.7 * diagonal.n_iter_[0]


@pytest.mark.filterwarnings("error::sklearn.exceptions.ConvergenceWarning")
def test_float32_rotation_stays_float32_and_reaches_the_float64_optimum(monkeypatch):
    X, y = _embeddings()
    m32 = _fit(X.astype(np.float32), y, True, monkeypatch, tol=1e-5)
    m64 = _fit(X, y, True, monkeypatch, tol=1e-8)
    assert m32.coef_.dtype == np.float32
    f32 = objective(X, y, m32.coef_, m32.intercept_, 1.0)
    f64 = objective(X, y, m64.coef_, m64.intercept_, 1.0)
    assert f32 == pytest.approx(f64, rel=1e-6)


def test_a_path_point_without_a_step_is_the_previous_model_exactly():
    # a loose tol: the second C (almost the first) needs no step, and its
    # model is the first's bit for bit, not its round trip through the
    # solver's coordinates (which made coefficient norms along C not monotone)
    from sklearn.datasets import load_wine

    from sklearn_softmax._blocks import FitInput, RowBlocks
    from sklearn_softmax._penalty import Penalty

    X, y = load_wine(return_X_y=True)
    classes = np.unique(y)
    blocks = RowBlocks.whole(X, y, np.ones(len(y)))
    data = FitInput(blocks, classes, *X.shape, X.dtype)
    for solver in ("lbfgs", "newton-cg", "newton-cholesky"):
        options = _path.FitOptions(solver=solver, tol=1e-3)
        first, second = _path.fit_path(
            data, [Penalty(1.0), Penalty(1.0 + 1e-9)], options
        )
        assert second.result.n_iter == 0
        np.testing.assert_array_equal(second.result.W, first.result.W)
        np.testing.assert_array_equal(second.result.b, first.result.b)
