"""Zero-copy views and chunk iterators of dense and CSR/CSC arrays.

Array plumbing, no maths: the kernel (``_loss``), the row blocks (``_blocks``)
and the statistics passes (``_precondition``) use these so that no pass over
``X`` copies it or makes a temporary of its size.
"""

import scipy.sparse as sp

__all__ = [
    "CHUNK_ELEMENTS",
    "compressed_slice",
    "dense_chunks",
    "row_slice",
    "sparse_chunks",
    "transposed",
    "with_data",
]


def _compressed(fmt, shape, data, indices, indptr):
    """A CSR or CSC matrix on the given buffers, never copying them.

    scipy's constructor copies a view of a much larger buffer
    (``_prune_array``), so the buffers are set after construction.
    """
    cls = sp.csr_matrix if fmt == "csr" else sp.csc_matrix
    out = cls(shape, dtype=data.dtype)
    out.indptr, out.indices, out.data = indptr, indices, data
    return out


def compressed_slice(X, a, b):
    """Major slices ``a:b`` (rows of CSR, columns of CSC) as views of ``X``.

    Only the ``b - a + 1`` pointers are new; values and indices are shared.

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.sparse as sp
    >>> X = sp.csr_matrix([[1.0, 0.0], [0.0, 2.0], [3.0, 4.0]])
    >>> part = compressed_slice(X, 1, 3)
    >>> part.toarray(), np.shares_memory(part.data, X.data)
    (array([[0., 2.],
           [3., 4.]]), True)
    """
    lo, hi = X.indptr[a], X.indptr[b]
    if X.format == "csr":
        shape = (b - a, X.shape[1])
    else:
        shape = (X.shape[0], b - a)
    indptr = (X.indptr[a : b + 1] - lo).astype(X.indices.dtype, copy=False)
    return _compressed(X.format, shape, X.data[lo:hi], X.indices[lo:hi], indptr)


def with_data(X, data):
    """CSR or CSC ``X``'s sparsity structure with other values (no copies).

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.sparse as sp
    >>> with_data(sp.csr_matrix([[0.0, 3.0]]), np.array([9.0])).toarray()
    array([[0., 9.]])
    """
    return _compressed(X.format, X.shape, data, X.indices, X.indptr)


def transposed(X):
    """``X.T`` for CSR or CSC ``X``, sharing its buffers (scipy's ``.T`` copies views).

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> transposed(sp.csr_matrix([[1.0, 2.0]])).toarray()
    array([[1.],
           [2.]])
    """
    fmt = "csc" if X.format == "csr" else "csr"
    return _compressed(fmt, X.shape[::-1], X.data, X.indices, X.indptr)


# Elements per chunk of the passes that must not make X-sized temporaries
# (statistics, squares, the chain rule): 512 kB of float64, so they add
# nothing measurable to a fit's peak memory.
CHUNK_ELEMENTS = 1 << 16


def sparse_chunks(X):
    """Chunks of the stored entries of CSR or CSC ``X``: ``(a, b, part)``.

    ``part`` holds major slices ``a:b`` (rows for CSR, columns for CSC) as
    views of ``X``'s buffers (:func:`compressed_slice`): no copy of ``X``, and
    whatever a caller derives from ``part.data`` is chunk-sized.
    """
    n_major = X.indptr.shape[0] - 1
    step = max(1, CHUNK_ELEMENTS * n_major // max(X.nnz, 1))
    for a in range(0, n_major, step):
        b = min(a + step, n_major)
        yield a, b, compressed_slice(X, a, b)


def dense_chunks(X):
    """Row chunks ``(a, X[a:a + rows])`` of dense ``X``, views of about
    :data:`CHUNK_ELEMENTS` elements each."""
    rows = max(1, CHUNK_ELEMENTS // max(X.shape[1], 1))
    for a in range(0, X.shape[0], rows):
        yield a, X[a : a + rows]


def row_slice(X, a, b):
    """Rows ``a:b`` of dense or CSR ``X``, a view of its buffers (no copy).

    Examples
    --------
    >>> import numpy as np
    >>> row_slice(np.arange(6).reshape(3, 2), 1, 2)
    array([[2, 3]])
    """
    return X[a:b] if not sp.issparse(X) else compressed_slice(X, a, b)
