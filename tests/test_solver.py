"""Solver glue: row blocks, zero-copy sparse views, statistics passes, memory."""

import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp

from sklearn_softmax import _loss
from sklearn_softmax._solver import RowBlocks, SoftmaxObjective, feature_moments


def _sparse(n=400, d=60, density=0.1, fmt="csr", seed=0):
    rng = np.random.default_rng(seed)
    X = sp.random(n, d, density=density, format=fmt, random_state=seed)
    X.data = rng.normal(size=X.nnz)
    return X


def _problem(X, K=4, seed=0):
    rng = np.random.default_rng(seed)
    n = X.shape[0]
    y = rng.integers(K, size=n)
    w = rng.uniform(0.5, 2.0, size=n)
    return y, w / w.sum()


def _traced_peak(fn):
    """Bytes allocated at the peak of ``fn()``, above what was live before."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        fn()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_compressed_slice_and_transposed_share_buffers(fmt):
    X = _sparse(fmt=fmt)
    part = _loss.compressed_slice(X, 10, 35)
    expected = X[10:35] if fmt == "csr" else X[:, 10:35]
    assert np.shares_memory(part.data, X.data)
    assert np.shares_memory(part.indices, X.indices)
    np.testing.assert_array_equal(part.toarray(), expected.toarray())
    T = _loss.transposed(part)
    assert np.shares_memory(T.data, X.data)
    np.testing.assert_array_equal(T.toarray(), expected.T.toarray())
    # the products run on the shared buffers and give scipy's answers
    v = np.arange(T.shape[1], dtype=np.float64)
    np.testing.assert_allclose(T @ v, expected.T @ v, rtol=1e-14)


def test_csr_row_blocks_are_views_one_per_thread_balanced_by_entries():
    X = _sparse(n=3000, d=400, density=0.05)
    y, w = _problem(X)
    blocks = RowBlocks(X, [y, w], n_classes=50, n_threads=2)
    assert len(blocks.blocks) == 2
    nnz = [b[0].nnz for b in blocks.blocks]
    assert sum(nnz) == X.nnz and abs(nnz[0] - nnz[1]) <= X.nnz * 0.01
    for Xb, *_ in blocks.blocks:
        assert np.shares_memory(Xb.data, X.data)
    np.testing.assert_array_equal(
        sp.vstack([b[0] for b in blocks.blocks]).toarray(), X.toarray()
    )


def test_csc_stays_one_block():
    X = _sparse(n=3000, d=400, density=0.05, fmt="csc")
    y, w = _problem(X)
    blocks = RowBlocks(X, [y, w], n_classes=50, n_threads=2)
    assert len(blocks.blocks) == 1 and blocks.blocks[0][0] is X


@pytest.mark.parametrize("fmt", ["dense", "csr"])
def test_threaded_blocks_give_the_single_block_loss_and_gradient(fmt):
    X = _sparse(n=3000, d=400, density=0.05)
    if fmt == "dense":
        X = X.toarray()
    y, w = _problem(X, K=5)
    results = []
    for n_threads in (1, 2):
        obj = SoftmaxObjective(
            X, y, w, 5, alpha=1e-3, fit_intercept=True, n_threads=n_threads
        )
        theta = obj.initial() + 0.1 * np.random.default_rng(1).normal(size=obj.n_params)
        with obj.blocks:
            results.append(obj.loss_grad(theta))
    (f1, g1), (f2, g2) = results
    assert f1 == pytest.approx(f2, rel=1e-13)
    np.testing.assert_allclose(g1, g2, rtol=1e-11, atol=1e-15)


def test_map_sum_accumulates_block_results():
    X = np.arange(20.0).reshape(10, 2)
    blocks = RowBlocks(X, [np.ones(10)], n_classes=2, n_threads=1)
    blocks.blocks = [(X[:4], np.ones(4)), (X[4:], np.ones(6))]
    total, count = blocks.map_sum(lambda Xb, a: (Xb.sum(axis=0), float(a.sum())))
    np.testing.assert_array_equal(total, X.sum(axis=0))
    assert count == 10.0


@pytest.mark.parametrize("fmt", ["dense", "csr", "csc"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("exponent", [0, -140, 140])
def test_feature_moments_are_weighted_means_and_variances(fmt, dtype, exponent):
    dense = _sparse(n=500, d=30, density=0.3).toarray()
    dense[:, 3] = 0.0  # an empty column
    if dtype == np.float32:
        exponent = int(np.sign(exponent)) * 15  # float32 squares overflow past ~1e19
    dense = (dense * 10.0**exponent).astype(dtype)
    X = dense if fmt == "dense" else sp.csr_matrix(dense).asformat(fmt)
    y, w = _problem(X)
    blocks = RowBlocks(X, [y, w], n_classes=4, n_threads=1)
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
    y, w = _problem(X)
    blocks = RowBlocks(X, [y, w], n_classes=4, n_threads=1)
    size = X.nbytes if fmt == "dense" else X.data.nbytes
    assert _traced_peak(lambda: feature_moments(blocks, center=True)) < size / 8
    P = np.full((X.shape[0], 4), 0.25)
    mu = np.zeros(X.shape[1])
    peak = _traced_peak(lambda: _loss.hessian_diagonal(X, P, w, mu))
    assert peak < size / 8


@pytest.mark.parametrize("fmt", ["dense", "csr", "csc"])
def test_hessian_diagonal_matches_the_explicit_formula(fmt):
    dense = _sparse(n=300, d=20, density=0.4).toarray()
    X = dense if fmt == "dense" else sp.csr_matrix(dense).asformat(fmt)
    _, w = _problem(X)
    rng = np.random.default_rng(2)
    P = rng.dirichlet(np.ones(3), size=300)
    mu = rng.normal(size=20)
    dW, db = _loss.hessian_diagonal(X, P, w, mu)
    A = w[:, None] * P * (1 - P)
    np.testing.assert_allclose(dW, A.T @ (dense - mu) ** 2, rtol=1e-12)
    np.testing.assert_allclose(db, A.sum(axis=0), rtol=1e-12)
