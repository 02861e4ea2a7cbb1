"""The preconditioner alone (`_precondition`): statistics, scales, coordinates."""

import numpy as np
import pytest
import scipy.sparse as sp
from _helpers import central_differences, labels_and_weights, sparse_matrix, traced_peak

from sklearn_softmax import _loss
from sklearn_softmax._blocks import RowBlocks
from sklearn_softmax._precondition import (
    MAX_ROTATED_SPREAD,
    ContrastCoordinates,
    DataStatistics,
    Preconditioner,
    class_priors,
    feature_covariance,
    feature_moments,
)


@pytest.mark.parametrize("fmt", ["dense", "csr", "csc"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("exponent", [0, -140, 140])
def test_feature_moments_are_weighted_means_and_variances(fmt, dtype, exponent):
    dense = sparse_matrix(n=500, d=30, density=0.3).toarray()
    dense[:, 3] = 0.0  # an empty column
    if dtype == np.float32:
        exponent = int(np.sign(exponent)) * 15  # float32 squares overflow past ~1e19
    dense = (dense * 10.0**exponent).astype(dtype)
    X = dense if fmt == "dense" else sp.csr_matrix(dense).asformat(fmt)
    y, w = labels_and_weights(X)
    blocks = RowBlocks(X, y, w, n_classes=4, n_threads=1)
    mu, var = feature_moments(blocks, center=True)
    ref = dense.astype(np.float64)
    ref_mu = w @ ref
    ref_var = w @ (ref - ref_mu) ** 2
    scale = 10.0**exponent
    np.testing.assert_allclose(mu / scale, ref_mu / scale, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(var / scale**2, ref_var / scale**2, rtol=1e-5)
    mu0, m2 = feature_moments(blocks, center=False)
    assert not mu0.any()
    np.testing.assert_allclose(m2 / scale**2, w @ (ref / scale) ** 2, rtol=1e-6)


@pytest.mark.parametrize("fmt", ["dense", "csr", "csc"])
def test_statistics_passes_add_no_block_sized_temporaries(fmt):
    # 16 MB of X as one block: the moment pass, the Hessian diagonal and the
    # column maxima must stay far below the block's size.
    rng = np.random.default_rng(0)
    if fmt == "dense":
        X = rng.normal(size=(20_000, 100))
    else:
        X = sp.random(20_000, 2_000, density=0.05, format=fmt, random_state=0)
    y, w = labels_and_weights(X)
    blocks = RowBlocks(X, y, w, n_classes=4, n_threads=1)
    size = X.nbytes if fmt == "dense" else X.data.nbytes
    assert traced_peak(lambda: feature_moments(blocks, center=True)) < size / 8
    P = np.full((X.shape[0], 4), 0.25)
    mu = np.zeros(X.shape[1])
    peak = traced_peak(lambda: _loss.hessian_diagonal(X, P, w, mu))
    assert peak < size / 8


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_preconditioner_scales_are_the_hessian_diagonal_estimate(fit_intercept):
    rng = np.random.default_rng(5)
    X = rng.normal(size=(300, 4)) * [1e-3, 1.0, 30.0, 1e4] + [5.0, 0.0, -2.0, 1e4]
    y = rng.integers(3, size=300)
    w = rng.uniform(0.5, 2.0, size=300)
    w /= w.sum()
    alpha = 0.01
    blocks = RowBlocks(X, y, w, n_classes=3, n_threads=1)
    stats = DataStatistics.from_blocks(blocks, 3, center=fit_intercept)
    pre = stats.preconditioner(alpha)
    prior = np.bincount(y, weights=w, minlength=3)
    np.testing.assert_allclose(pre.prior, prior, rtol=1e-14)
    np.testing.assert_allclose(class_priors(blocks, 3), prior, rtol=1e-14)
    mu = w @ X if fit_intercept else np.zeros(4)
    var = w @ (X - mu) ** 2
    D = np.sqrt(np.outer(prior * (1 - prior), var) + alpha)
    np.testing.assert_allclose(pre.mu, mu, rtol=1e-10)
    np.testing.assert_allclose(pre.D, D, rtol=1e-8)
    assert pre.n_params == 12 + (3 if fit_intercept else 0)


def test_constant_column_without_penalty_gets_unit_scale():
    X = np.column_stack([np.ones(50), np.arange(50.0)])
    y = np.arange(50) % 2
    blocks = RowBlocks(X, y, np.full(50, 1 / 50), n_classes=2, n_threads=1)
    pre = DataStatistics.from_blocks(blocks, 2, center=True).preconditioner(0.0)
    np.testing.assert_array_equal(pre.D[:, 0], 1.0)  # zero variance: D would be 0
    assert np.all(pre.D[:, 1] > 1.0)


def _rotation(rng, rotate, d=4):
    return np.linalg.qr(rng.normal(size=(d, d)))[0] if rotate else None


@pytest.mark.parametrize("rotate", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_pack_unpack_round_trip(fit_intercept, rotate):
    rng = np.random.default_rng(13)
    pre = Preconditioner(
        prior=np.full(3, 1 / 3),
        mu=rng.normal(size=4),
        D=rng.uniform(0.1, 10.0, size=(3, 4)),
        fit_intercept=fit_intercept,
        U=_rotation(rng, rotate),
    )
    W = rng.normal(size=(3, 4))
    b = rng.normal(size=3) if fit_intercept else None
    W2, b2 = pre.unpack(pre.pack(W, b))
    np.testing.assert_allclose(W2, W, rtol=1e-14)
    if fit_intercept:
        np.testing.assert_allclose(b2, b, rtol=1e-13, atol=1e-14)
    else:
        assert b2 is None
    theta = rng.normal(size=pre.n_params)
    np.testing.assert_allclose(
        pre.pack(*pre.unpack(theta)), theta, rtol=1e-13, atol=1e-14
    )


@pytest.mark.parametrize("rotate", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_chain_is_the_transpose_of_the_change_of_coordinates(fit_intercept, rotate):
    # theta -> (W, b) is linear, so the chain rule is its adjoint:
    # <grad_(W, b), d(W, b)/dtheta v> == <chain(grad), v> for every v.
    rng = np.random.default_rng(14)
    pre = Preconditioner(
        np.full(3, 1 / 3),
        rng.normal(size=4),
        rng.uniform(0.1, 10.0, (3, 4)),
        fit_intercept,
        _rotation(rng, rotate),
    )
    gW, gb = rng.normal(size=(3, 4)), rng.normal(size=3)
    v = rng.normal(size=pre.n_params)
    W, b = pre.unpack(v)
    lhs = np.vdot(gW, W) + (gb @ b if fit_intercept else 0.0)
    rhs = pre.chain(gW.copy(), gb) @ v
    assert lhs == pytest.approx(rhs, rel=1e-12)


def test_identity_is_plain_coordinates():
    pre = Preconditioner.identity(np.array([0.2, 0.8]), 3, fit_intercept=True)
    theta = np.arange(8.0)
    W, b = pre.unpack(theta)
    np.testing.assert_array_equal(W.ravel(), theta[:6])
    np.testing.assert_array_equal(b, theta[6:])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("exponent", [0, -100, 100])
def test_feature_covariance_is_the_weighted_covariance(dtype, exponent):
    rng = np.random.default_rng(15)
    if dtype == np.float32:
        exponent = int(np.sign(exponent)) * 15  # float32 squares overflow past ~1e19
    scale = 10.0**exponent
    base = rng.normal(size=(600, 5)) @ rng.normal(size=(5, 5)) + 3.0
    base[:, 2] = 1.0  # a constant column: (numerically) zero row and column
    X = (base * scale).astype(dtype)
    y, w = labels_and_weights(X)
    blocks = RowBlocks(X, y, w, n_classes=4, n_threads=2)
    with blocks:
        mu, var = feature_moments(blocks, center=True)
        cov = feature_covariance(blocks, mu, var)
    ref = X.astype(np.float64) / scale
    centred = ref - w @ ref
    expected = (centred * w[:, None]).T @ centred
    rtol = 1e-5 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(cov / scale**2, expected, rtol=rtol, atol=1e-12)


def test_rotated_statistics_are_the_covariance_eigenbasis():
    rng = np.random.default_rng(16)
    X = rng.normal(size=(500, 6)) @ rng.normal(size=(6, 6))
    y, w = labels_and_weights(X)
    blocks = RowBlocks(X, y, w, n_classes=4)
    with blocks:
        stats = DataStatistics.from_blocks(blocks, 4, center=True).rotated(blocks)
        mu, var = feature_moments(blocks, center=True)
        cov = feature_covariance(blocks, mu, var)
    U, eigenvalues = stats.U, stats.var
    np.testing.assert_allclose(U.T @ U, np.eye(6), atol=1e-12)
    np.testing.assert_allclose(U @ np.diag(eigenvalues) @ U.T, cov, atol=1e-10)
    # in the rotated coordinates the Hessian estimate is diagonal and D is its root
    pre = stats.preconditioner(alpha=0.01)
    pq = stats.prior * (1 - stats.prior)
    np.testing.assert_allclose(pre.D**2, pq[:, None] * eigenvalues + 0.01)
    assert pre.U is U


def test_no_rotation_for_features_on_very_different_scales():
    rng = np.random.default_rng(17)
    X = rng.normal(size=(300, 3)) * np.array([1.0, 1.0, 10 * MAX_ROTATED_SPREAD])
    y, w = labels_and_weights(X)
    blocks = RowBlocks(X, y, w, n_classes=4)
    with blocks:
        stats = DataStatistics.from_blocks(blocks, 4, center=True).rotated(blocks)
    assert stats.U is None
    np.testing.assert_allclose(stats.var, w @ (X - w @ X) ** 2)


def test_no_rotation_for_sparse_blocks():
    X = sparse_matrix(n=300, d=8, density=0.5)
    y, w = labels_and_weights(X)
    blocks = RowBlocks(X, y, w, n_classes=4)
    with blocks:
        stats = DataStatistics.from_blocks(blocks, 4, center=True)
        assert stats.rotated(blocks) is stats
        assert feature_covariance(blocks, stats.mu, stats.var) is None


# -- contrast coordinates (newton-cholesky) -------------------------------------------
def _contrasts(K, fit_intercept, seed=30, d=4):
    rng = np.random.default_rng(seed)
    return ContrastCoordinates(
        prior=rng.dirichlet(np.ones(K)),
        mu=rng.normal(size=d) if fit_intercept else np.zeros(d),
        scale=rng.uniform(0.1, 10.0, size=d),
        fit_intercept=fit_intercept,
    )


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("K", [2, 3, 5])
def test_contrast_pack_unpack_round_trip_and_centred_gauge(K, fit_intercept):
    coords = _contrasts(K, fit_intercept)
    assert coords.n_params == (K - 1) * (4 + int(fit_intercept))
    rng = np.random.default_rng(31)
    theta = rng.normal(size=coords.n_params)
    np.testing.assert_allclose(
        coords.pack(*coords.unpack(theta)), theta, rtol=1e-13, atol=1e-14
    )
    # a centred model, then the same model in another gauge (softmax shift)
    W = rng.normal(size=(K, 4))
    W -= W.mean(axis=0)
    b = rng.normal(size=K)
    b -= b.mean()
    shifted_W = W + rng.normal(size=4)
    shifted_b = b + 2.5
    W2, b2 = coords.unpack(coords.pack(shifted_W, shifted_b if fit_intercept else None))
    np.testing.assert_allclose(W2, W, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(W2.sum(axis=0), 0.0, atol=1e-14)
    if fit_intercept:
        np.testing.assert_allclose(b2, b, rtol=1e-13, atol=1e-14)
    else:
        assert b2 is None


def test_binary_contrasts_are_the_log_odds():
    coords = _contrasts(2, True)
    rng = np.random.default_rng(32)
    W, b = rng.normal(size=(2, 4)), rng.normal(size=2)
    theta = coords.pack(W, b)
    w, c = W[1] - W[0], b[1] - b[0]
    # log-odds coefficients scaled, and the log-odds intercept of centred features
    np.testing.assert_allclose(theta[:4], w * coords.scale, rtol=1e-14)
    assert theta[4] == pytest.approx(c + w @ coords.mu, rel=1e-13)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("K", [2, 4])
def test_contrast_chain_is_the_chain_rule(K, fit_intercept):
    # F(W, b) depends on the gauge, so the check covers every part of chain
    coords = _contrasts(K, fit_intercept)
    rng = np.random.default_rng(33)
    A, a = rng.normal(size=(K, 4)), rng.normal(size=K)

    def F(W, b):
        value = np.sum(A * np.sin(W)) + 0.5 * np.sum(W**2 * A**2)
        return value + (np.sum(a * b**3) if b is not None else 0.0)

    def gradient(W, b):
        gW = A * np.cos(W) + W * A**2
        return gW, (3 * a * b**2 if b is not None else None)

    theta = rng.normal(size=coords.n_params)
    fd = central_differences(lambda t: F(*coords.unpack(t)), theta, 1e-6)
    g = coords.chain(*gradient(*coords.unpack(theta)))
    np.testing.assert_allclose(g, fd, rtol=1e-7, atol=1e-8)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_contrast_penalty_hessian_is_the_l2_term_in_theta(fit_intercept):
    # theta -> W is linear (J), so the Hessian of alpha/2 ||W||^2 is alpha J^T J
    coords = _contrasts(3, fit_intercept)
    alpha = 0.3
    J = np.column_stack([coords.unpack(e)[0].ravel() for e in np.eye(coords.n_params)])
    np.testing.assert_allclose(
        coords.penalty_hessian(alpha), alpha * J.T @ J, rtol=1e-12, atol=1e-15
    )


def test_contrasts_scale_features_to_unit_curvature():
    rng = np.random.default_rng(34)
    X = rng.normal(size=(200, 3)) * [1e-3, 1.0, 1e3]
    X[:, 0] = 7.0  # a constant column: zero variance
    y = rng.integers(3, size=200)
    w = np.full(200, 1 / 200)
    blocks = RowBlocks(X, y, w, n_classes=3, n_threads=1)
    stats = DataStatistics.from_blocks(blocks, 3, center=True)
    prior = np.bincount(y, minlength=3) / 200
    q = np.mean(prior * (1 - prior))
    var = X.var(axis=0)
    for alpha in (0.0, 0.05):
        coords = stats.contrasts(alpha)
        expected = np.sqrt(q * var + alpha)
        if alpha == 0:
            expected[0] = 1.0  # zero scale replaced by one
        np.testing.assert_allclose(coords.scale, expected, rtol=1e-8)
        np.testing.assert_allclose(coords.mu, X.mean(axis=0), rtol=1e-12)
        assert coords.fit_intercept
