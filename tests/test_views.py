"""Zero-copy sparse views and chunk iterators (`_views`)."""

import numpy as np
import pytest
import scipy.sparse as sp
from _helpers import sparse_matrix

from sklearn_softmax import _views


@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_compressed_slice_and_transposed_share_buffers(fmt):
    X = sparse_matrix(fmt=fmt)
    part = _views.compressed_slice(X, 10, 35)
    expected = X[10:35] if fmt == "csr" else X[:, 10:35]
    assert np.shares_memory(part.data, X.data)
    assert np.shares_memory(part.indices, X.indices)
    np.testing.assert_array_equal(part.toarray(), expected.toarray())
    T = _views.transposed(part)
    assert np.shares_memory(T.data, X.data)
    np.testing.assert_array_equal(T.toarray(), expected.T.toarray())
    # the products run on the shared buffers and give scipy's answers
    v = np.arange(T.shape[1], dtype=np.float64)
    np.testing.assert_allclose(T @ v, expected.T @ v, rtol=1e-14)


@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_sparse_chunks_cover_every_entry_once_as_views(fmt):
    X = sparse_matrix(n=3000, d=500, density=0.1, fmt=fmt)
    parts = list(_views.sparse_chunks(X))
    assert len(parts) > 1  # 150k entries: several chunks of 2^16
    for _, _, part in parts:
        assert part.nnz <= _views.CHUNK_ELEMENTS + max(X.shape)
        assert np.shares_memory(part.data, X.data)
    stack = sp.vstack if fmt == "csr" else sp.hstack
    np.testing.assert_array_equal(stack([p for *_, p in parts]).toarray(), X.toarray())
    assert [a for a, *_ in parts] == sorted({a for a, *_ in parts})


def test_dense_chunks_and_row_slice_are_views():
    X = np.arange(3000.0).reshape(300, 10)
    chunks = list(_views.dense_chunks(X))
    assert all(np.shares_memory(c, X) for _, c in chunks)
    np.testing.assert_array_equal(np.vstack([c for _, c in chunks]), X)
    Xs = sp.csr_matrix(X)
    part = _views.row_slice(Xs, 5, 9)
    assert np.shares_memory(part.data, Xs.data)
    np.testing.assert_array_equal(part.toarray(), X[5:9])


def test_with_data_keeps_structure_and_shares_indices():
    X = sparse_matrix()
    Y = _views.with_data(X, X.data * 2)
    assert np.shares_memory(Y.indices, X.indices)
    np.testing.assert_allclose(Y.toarray(), 2 * X.toarray())
