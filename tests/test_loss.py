"""The maths kernel (`_loss`) checked against finite differences and
independent scipy references."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from _helpers import central_differences, labels_and_weights, sparse_matrix
from _oracle import objective
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import softmax as scipy_softmax

from sklearn_softmax import _loss

N, D, K = 9, 4, 3


def _problem(seed=0, n=N, d=D, k=K):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    X[rng.random((n, d)) < 0.4] = 0.0  # zeros, so that CSR has structure
    Wt = rng.normal(scale=0.7, size=(d, k))
    b = rng.normal(size=k)
    labels = rng.integers(0, k, size=n)
    labels[:k] = np.arange(k)
    soft = rng.dirichlet(np.full(k, 0.6), size=n)
    soft[0] = np.eye(k)[1]  # a row with exact zeros
    weights = rng.uniform(0.2, 3.0, size=n)
    return X, Wt, b, labels, soft, weights


def _flat_loss(X, target, weights, d, k, dtype=np.float64):
    """Loss as a function of the flat vector (Wt.ravel(), b)."""

    def f(theta):
        Wt = theta[: d * k].reshape(d, k).astype(dtype)
        b = theta[d * k :].astype(dtype)
        return _loss.loss_gradient(X, Wt, b, target, weights)[0]

    return f


def _flat_grad(gW, gb):
    # gW is (K, d) = gradient w.r.t. W; the flat vector holds Wt = W.T
    return np.concatenate([gW.T.ravel(), gb])


def _reference_loss(X, Wt, b, target, weights):
    """-sum_i w_i sum_k Y_ik log p_ik: the tests' oracle, unnormalised."""
    return objective(X, target, Wt.T, b, np.inf, weights) * weights.sum()


# -- loss and gradient ---------------------------------------------------------


@pytest.mark.parametrize("kind", ["labels", "soft"])
@pytest.mark.parametrize("fmt", ["dense", "csr"])
def test_loss_gradient_matches_finite_differences(kind, fmt):
    X, Wt, b, labels, soft, weights = _problem()
    target = labels if kind == "labels" else soft
    Xf = sp.csr_matrix(X) if fmt == "csr" else X
    loss, gW, gb = _loss.loss_gradient(Xf, Wt, b, target, weights)
    assert gW.shape == (K, D) and gb.shape == (K,)
    theta = np.concatenate([Wt.ravel(), b])
    fd = central_differences(_flat_loss(Xf, target, weights, D, K), theta, 1e-5)
    # central differences: O(h^2) truncation + O(eps/h) rounding, ~1e-9 here
    assert_allclose(_flat_grad(gW, gb), fd, rtol=1e-7, atol=1e-8)
    assert loss == pytest.approx(_reference_loss(X, Wt, b, target, weights), rel=1e-13)


def test_loss_gradient_float32_matches_float64_and_finite_differences():
    X, Wt, b, labels, soft, weights = _problem(seed=3)
    X32, Wt32, b32 = X.astype(np.float32), Wt.astype(np.float32), b.astype(np.float32)
    for target in (labels, soft.astype(np.float32)):
        loss32, gW32, gb32 = _loss.loss_gradient(X32, Wt32, b32, target, weights)
        assert gW32.dtype == np.float64 and isinstance(loss32, float)
        t64 = target.astype(np.float64) if target.ndim == 2 else target
        loss64, gW64, gb64 = _loss.loss_gradient(
            X32.astype(np.float64), Wt32.astype(np.float64), b32.astype(np.float64),
            t64, weights,
        )  # fmt: skip
        # Stated float32 tolerance: scores rounded to ~6e-8 relative, summed
        # over d=4 features and 9 rows of unit-size terms.
        assert loss32 == pytest.approx(loss64, rel=1e-5)
        assert_allclose(gW32, gW64, rtol=1e-5, atol=1e-5)
        assert_allclose(gb32, gb64, rtol=1e-5, atol=1e-5)
        # finite differences of the float32 loss need a large step (rounding
        # ~1e-7 * |loss| / h); with h = 1e-2 both error terms are ~1e-4.
        theta = np.concatenate([Wt32.ravel(), b32]).astype(np.float64)
        f32 = _flat_loss(X32, target, weights, D, K, dtype=np.float32)
        fd = central_differences(f32, theta, 1e-2)
        assert_allclose(_flat_grad(gW32, gb32), fd, rtol=2e-3, atol=2e-3)


def test_loss_without_intercept_and_weights_scale_linearly():
    X, Wt, b, labels, soft, weights = _problem(seed=1)
    l1, gW1, gb1 = _loss.loss_gradient(X, Wt, None, soft, weights)
    assert l1 == pytest.approx(_reference_loss(X, Wt, 0.0, soft, weights), rel=1e-13)
    assert_allclose(gb1, _loss.loss_gradient(X, Wt, np.zeros(K), soft, weights)[2])
    l3, gW3, gb3 = _loss.loss_gradient(X, Wt, None, soft, 3 * weights)
    assert l3 == pytest.approx(3 * l1, rel=1e-13)
    assert_allclose(gW3, 3 * gW1, rtol=1e-13)
    # a zero weight removes the row exactly
    w0 = weights.copy()
    w0[4] = 0.0
    keep = np.arange(N) != 4
    lz, gWz, _ = _loss.loss_gradient(X, Wt, b, labels, w0)
    lk, gWk, _ = _loss.loss_gradient(X[keep], Wt, b, labels[keep], weights[keep])
    assert lz == pytest.approx(lk, rel=1e-13)
    assert_allclose(gWz, gWk, rtol=1e-12, atol=1e-14)


def test_one_hot_rows_equal_labels():
    X, Wt, b, labels, _, weights = _problem(seed=2)
    hard = _loss.loss_gradient(X, Wt, b, labels, weights)
    onehot = _loss.loss_gradient(X, Wt, b, np.eye(K)[labels], weights)
    assert hard[0] == pytest.approx(onehot[0], rel=1e-14)
    assert_allclose(hard[1], onehot[1], rtol=1e-13, atol=1e-15)
    assert_allclose(hard[2], onehot[2], rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("kind", ["labels", "soft"])
def test_loss_invariant_to_per_row_shift_of_scores(kind):
    X, Wt, b, labels, soft, weights = _problem(seed=4)
    target = labels if kind == "labels" else soft
    v = np.array([5.0, -3.0, 0.5, 40.0])  # adds x_i . v to every score of row i
    loss, gW, gb = _loss.loss_gradient(X, Wt, b, target, weights)
    loss_s, gW_s, gb_s = _loss.loss_gradient(
        X, Wt + v[:, None], b + 123.0, target, weights
    )
    assert loss_s == pytest.approx(loss, rel=1e-11)
    assert_allclose(gW_s, gW, atol=1e-11)
    assert_allclose(gb_s, gb, atol=1e-11)
    Z = X @ Wt + b
    shift = np.linspace(-1e3, 1e3, N)[:, None]
    assert_allclose(_loss.log_softmax(Z + shift), _loss.log_softmax(Z), atol=1e-10)


@pytest.mark.parametrize("kind", ["labels", "soft"])
def test_permuting_classes_permutes_gradient(kind):
    X, Wt, b, labels, soft, weights = _problem(seed=5)
    perm = np.array([2, 0, 1])  # new class j is old class perm[j]
    inverse = np.argsort(perm)
    if kind == "labels":
        target, target_p = labels, inverse[labels]
    else:
        target, target_p = soft, soft[:, perm]
    loss, gW, gb = _loss.loss_gradient(X, Wt, b, target, weights)
    loss_p, gW_p, gb_p = _loss.loss_gradient(X, Wt[:, perm], b[perm], target_p, weights)
    assert loss_p == pytest.approx(loss, rel=1e-14)
    assert_allclose(gW_p, gW[perm], rtol=1e-13, atol=1e-15)
    assert_allclose(gb_p, gb[perm], rtol=1e-13, atol=1e-15)


def test_softmax_at_is_exp_log_softmax():
    X, Wt, b, *_ = _problem(seed=6)
    P = _loss.softmax_at(X, Wt, b)
    assert_allclose(P, scipy_softmax(X @ Wt + b, axis=1), rtol=1e-14)
    assert_allclose(P.sum(axis=1), 1.0, rtol=1e-15)
    assert_allclose(_loss.softmax_at(X, Wt, None), scipy_softmax(X @ Wt, axis=1))


# -- Hessian-vector product ----------------------------------------------------


@pytest.mark.parametrize("fmt", ["dense", "csr"])
@pytest.mark.parametrize("kind", ["labels", "soft"])
def test_hessp_matches_finite_differences_of_gradient(fmt, kind):
    X, Wt, b, labels, soft, weights = _problem(seed=7)
    target = labels if kind == "labels" else soft
    Xf = sp.csr_matrix(X) if fmt == "csr" else X
    rng = np.random.default_rng(8)
    Vt, c = rng.normal(size=(D, K)), rng.normal(size=K)
    P = _loss.softmax_at(Xf, Wt, b)
    hW, hb = _loss.hessp(Xf, P, weights, Vt, c)
    h = 1e-5
    plus = _loss.loss_gradient(Xf, Wt + h * Vt, b + h * c, target, weights)
    minus = _loss.loss_gradient(Xf, Wt - h * Vt, b - h * c, target, weights)
    assert_allclose(hW, (plus[1] - minus[1]) / (2 * h), rtol=1e-6, atol=1e-8)
    assert_allclose(hb, (plus[2] - minus[2]) / (2 * h), rtol=1e-6, atol=1e-8)
    # and without intercept
    hW0, hb0 = _loss.hessp(Xf, _loss.softmax_at(Xf, Wt, None), weights, Vt, None)
    plus = _loss.loss_gradient(Xf, Wt + h * Vt, None, target, weights)
    minus = _loss.loss_gradient(Xf, Wt - h * Vt, None, target, weights)
    assert_allclose(hW0, (plus[1] - minus[1]) / (2 * h), rtol=1e-6, atol=1e-8)


def test_hessp_is_positive_semidefinite_and_null_on_gauge():
    X, Wt, b, _, _, weights = _problem(seed=9)
    P = _loss.softmax_at(X, Wt, b)
    rng = np.random.default_rng(10)
    for _ in range(5):
        Vt, c = rng.normal(size=(D, K)), rng.normal(size=K)
        hW, hb = _loss.hessp(X, P, weights, Vt, c)
        assert np.vdot(hW, Vt.T) + np.vdot(hb, c) >= -1e-12
    # the same vector added to every class (a gauge shift) has no curvature
    hW, hb = _loss.hessp(X, P, weights, np.repeat(rng.normal(size=(D, 1)), K, 1), None)
    assert_allclose(hW, 0.0, atol=1e-14)


# -- cross_entropy_rows and log_softmax at the edges ---------------------------


def test_cross_entropy_rows_zero_log_zero_is_zero():
    logp = np.array([[0.0, -np.inf, -np.inf], [np.log(0.25), np.log(0.75), -np.inf]])
    target = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0]])
    ce = _loss.cross_entropy_rows(logp, target)
    expected = -(0.5 * np.log(0.25) + 0.5 * np.log(0.75))
    assert_allclose(ce, [0.0, expected], rtol=1e-15)
    assert_array_equal(
        _loss.cross_entropy_rows(logp, np.array([0, 1])), [0.0, -logp[1, 1]]
    )


def test_cross_entropy_rows_positive_mass_on_zero_probability_is_inf():
    logp = np.array([[0.0, -np.inf], [np.log(0.5), np.log(0.5)]])
    soft = _loss.cross_entropy_rows(logp, np.array([[0.9, 0.1], [0.5, 0.5]]))
    assert soft[0] == np.inf
    assert soft[1] == pytest.approx(np.log(2), rel=1e-15)
    hard = _loss.cross_entropy_rows(logp, np.array([1, 0]))
    assert hard[0] == np.inf and not np.isnan(hard).any()


def test_log_softmax_huge_equal_logits_give_log2():
    out = _loss.log_softmax(np.array([[1e17, 1e17], [-1e17, -1e17]]))
    assert_allclose(out, -np.log(2), rtol=1e-15)
    ce = _loss.cross_entropy_rows(out, np.array([0, 1]))
    assert_allclose(ce, np.log(2), rtol=1e-15)


def test_log_softmax_extreme_logits_without_runtime_warning():
    Z = np.array([[1e308, -1e308], [-1e308, 1e308], [-1e308, -1e308], [0.0, -np.inf]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = _loss.log_softmax(Z)
    assert_array_equal(out[0], [0.0, -np.inf])
    assert_array_equal(out[1], [-np.inf, 0.0])
    assert_allclose(out[2], -np.log(2), rtol=1e-15)
    assert_array_equal(out[3], [0.0, -np.inf])


def test_loss_gradient_huge_scores_stay_finite():
    X = np.array([[1.0], [-1.0]])
    Wt = np.array([[0.0, 1e6]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss, gW, gb = _loss.loss_gradient(
            X, Wt, np.zeros(2), np.array([0, 0]), np.ones(2)
        )
    assert loss == pytest.approx(1e6, rel=1e-12)  # row 0: -log p_0 = 1e6; row 1: 0
    assert np.isfinite(gW).all() and np.isfinite(gb).all()
    assert_allclose(gW, [[-1.0], [1.0]])


@pytest.mark.parametrize("fmt", ["dense", "csr"])
def test_hessian_diagonal_matches_hessp_on_unit_vectors(fmt):
    X, Wt, b, _, _, w = _problem(seed=3)
    if fmt == "csr":
        X = sp.csr_matrix(X)
    mu = np.random.default_rng(3).normal(size=D)
    P = _loss.softmax_at(X, Wt, b)
    dW, db = _loss.hessian_diagonal(X, P, w, mu)
    for k in range(K):
        for j in range(D):
            # coefficient (k, j) with the intercept absorbing the centring
            Vt = np.zeros((D, K))
            Vt[j, k] = 1.0
            c = np.zeros(K)
            c[k] = -mu[j]
            hW, hb = _loss.hessp(X, P, w, Vt, c)
            assert_allclose(dW[k, j], hW[k, j] - mu[j] * hb[k], rtol=1e-10)
        c = np.zeros(K)
        c[k] = 1.0
        _, hb = _loss.hessp(X, P, w, np.zeros((D, K)), c)
        assert_allclose(db[k], hb[k], rtol=1e-12)


@pytest.mark.parametrize("fmt", ["dense", "csr", "csc"])
def test_hessian_diagonal_matches_the_explicit_formula(fmt):
    dense = sparse_matrix(n=300, d=20, density=0.4).toarray()
    X = dense if fmt == "dense" else sp.csr_matrix(dense).asformat(fmt)
    _, w = labels_and_weights(X)
    rng = np.random.default_rng(2)
    P = rng.dirichlet(np.ones(3), size=300)
    mu = rng.normal(size=20)
    dW, db = _loss.hessian_diagonal(X, P, w, mu)
    A = w[:, None] * P * (1 - P)
    np.testing.assert_allclose(dW, A.T @ (dense - mu) ** 2, rtol=1e-12)
    np.testing.assert_allclose(db, A.sum(axis=0), rtol=1e-12)


# -- the exact Hessian in contrast coordinates -------------------------------------


def _brute_contrast_hessian(X, P, w, mu, scale, fit_intercept):
    """``sum_i w_i kron(diag(p'_i) - p'_i p'_i^T, x1_i x1_i^T)`` row by row."""
    X = np.asarray(X.toarray() if sp.issparse(X) else X, dtype=np.float64)
    Pc = np.asarray(P, dtype=np.float64)[:, 1:]
    H = 0.0
    for x, p, wi in zip(X, Pc, w, strict=True):
        x1 = (x - mu) / scale
        if fit_intercept:
            x1 = np.append(x1, 1.0)
        H = H + wi * np.kron(np.diag(p) - np.outer(p, p), np.outer(x1, x1))
    return H


@pytest.mark.parametrize("chunked", [False, True])
@pytest.mark.parametrize("k", [2, 4])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("fmt", ["dense", "csr", "csc"])
def test_contrast_hessian_is_the_sum_over_rows(fmt, dtype, fit_intercept, k, chunked):
    dense = sparse_matrix(n=60, d=5, density=0.5, seed=4).toarray().astype(dtype)
    dense[:, 1] += 3.0  # a column far from centred
    X = dense if fmt == "dense" else sp.csr_matrix(dense).asformat(fmt)
    _, w = labels_and_weights(X, K=k, seed=4)
    rng = np.random.default_rng(5)
    P = rng.dirichlet(np.ones(k), size=60).astype(dtype)
    mu = rng.normal(size=5)
    scale = rng.uniform(0.5, 3.0, size=5)
    if chunked:  # rows in several chunks (at least m per chunk)
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(_loss, "CHUNK_ELEMENTS", 1)
            H = _loss.contrast_hessian(X, P, w, mu, scale, fit_intercept)
    else:
        H = _loss.contrast_hessian(X, P, w, mu, scale, fit_intercept)
    d1 = 5 + int(fit_intercept)
    assert H.shape == ((k - 1) * d1, (k - 1) * d1) and H.dtype == np.float64
    ref = _brute_contrast_hessian(dense, P, w, mu, scale, fit_intercept)
    # the same float64 products in another order
    assert_allclose(H, ref, rtol=1e-12, atol=1e-14 * np.abs(ref).max())
    assert_allclose(H, H.T, rtol=0, atol=1e-15 * np.abs(ref).max())


@pytest.mark.parametrize("kind", ["labels", "soft"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_loss_gradient_hessian_is_loss_gradient_and_contrast_hessian(
    kind, fit_intercept
):
    X, Wt, b, labels, soft, weights = _problem(seed=6)
    target = labels if kind == "labels" else soft
    b = b if fit_intercept else None
    rng = np.random.default_rng(6)
    contrasts = (rng.normal(size=D), rng.uniform(0.5, 2.0, size=D), fit_intercept)
    loss, gW, gb, H = _loss.loss_gradient_hessian(X, Wt, b, target, weights, contrasts)
    ref_loss, ref_gW, ref_gb = _loss.loss_gradient(X, Wt, b, target, weights)
    assert loss == pytest.approx(ref_loss, rel=1e-14)
    assert_allclose(gW, ref_gW, rtol=1e-13, atol=1e-15)
    assert_allclose(gb, ref_gb, rtol=1e-13, atol=1e-15)
    P = _loss.softmax_at(X, Wt, b)
    ref_H = _brute_contrast_hessian(X, P, weights, *contrasts)
    assert_allclose(H, ref_H, rtol=1e-12, atol=1e-14 * np.abs(ref_H).max())
