"""Softmax cross-entropy on plain arrays: loss, gradient, Hessian-vector product.

Pure maths, no estimator state and no scikit-learn imports. Every function works
on one block of rows, so the same code serves the in-memory fit (blocks run on
threads), the metrics (one block) and the Dask wing (blocks run on workers).
An array-API block (torch, CuPy, array-api-strict under scikit-learn's
``array_api_dispatch``) goes to its twin in ``_xp_kernels``, written with the
array's namespace ``xp``: the same maths on the device, while NumPy keeps its
fast path.  The parameters come in as host NumPy arrays and are moved to the
device there; results stay on the device (the blocks bring the ``K * d + K``
numbers back).

Notation (docs/user_guide/objective.rst): ``X`` is (n, d) dense or
scipy-sparse, ``Wt = W.T`` is (d, K), ``b`` is (K,), scores ``Z = X @ Wt + b``
and ``log p = log_softmax(Z)``.  A *target* is either a 1-D integer array of
class indices (hard labels) or an (n, K) float array of class probabilities
(one-hot or soft rows).  ``weights`` are per-row weights ``w_i``; the block
functions return *sums* over rows, so the caller decides the normalisation.
"""

import numpy as np
import scipy.sparse as sp
import scipy.special

from . import _xp_kernels
from ._views import (
    CHUNK_ELEMENTS,
    dense_chunks,
    sparse_chunks,
    transposed,
    with_data,
)
from ._xp import is_host

__all__ = [
    "log_softmax",
    "cross_entropy_rows",
    "loss_gradient",
    "hessp",
    "hessian_diagonal",
    "contrast_hessian",
    "loss_gradient_hessian",
    "softmax_at",
]


def log_softmax(Z):
    """Row-wise log-softmax, exact for finite and ``-inf`` logits.

    Parameters
    ----------
    Z : ndarray of shape (n, K)
        Logits.

    Returns
    -------
    logp : ndarray of shape (n, K)
        ``Z - logsumexp(Z, axis=1)``, computed after a max shift.

    Examples
    --------
    >>> import numpy as np
    >>> log_softmax(np.array([[1e17, 1e17], [0.0, -np.inf]]))
    array([[-0.69314718, -0.69314718],
           [ 0.        ,        -inf]])
    """
    if not is_host(Z):
        return _xp_kernels.log_softmax(Z)
    # z - max(z) can overflow to -inf for logits of opposite sign near 1e308;
    # -inf is the exact answer there (probability 0), so the warning is noise.
    with np.errstate(over="ignore"):
        return scipy.special.log_softmax(Z, axis=1)


def cross_entropy_rows(logp, target):
    """Per-row cross-entropy ``-sum_k Y_ik log p_ik`` with ``0 * log 0 = 0``.

    Parameters
    ----------
    logp : ndarray of shape (n, K)
        Log-probabilities (e.g. from :func:`log_softmax`); may hold ``-inf``.
    target : ndarray of shape (n,) of int, or of shape (n, K) of float
        Class indices, or probability rows.

    Returns
    -------
    ce : ndarray of shape (n,)
        ``+inf`` where positive target mass meets a zero probability.

    Examples
    --------
    >>> import numpy as np
    >>> logp = np.array([[np.log(0.5), np.log(0.5), -np.inf]])
    >>> cross_entropy_rows(logp, np.array([[0.5, 0.5, 0.0]]))
    array([0.69314718])
    >>> cross_entropy_rows(logp, np.array([2]))
    array([inf])
    """
    if not is_host(logp):
        return _xp_kernels.cross_entropy_rows(logp, target)
    if target.ndim == 1:
        return -logp[np.arange(logp.shape[0]), target]
    # Entries with zero target contribute exactly 0, even where log p = -inf.
    prod = np.zeros(np.broadcast_shapes(logp.shape, target.shape), dtype=np.float64)
    np.multiply(target, logp, out=prod, where=target != 0)
    return -prod.sum(axis=1)


def _scores_t(X, Wt, b):
    """Transposed scores ``(X @ Wt + b).T`` as a C-contiguous (K, n) array.

    The kernel works on the (K, n) layout: its reductions over classes then
    run along contiguous rows, which for small K is several times faster than
    reducing along the short axis of an (n, K) array.
    """
    if isinstance(X, np.ndarray):
        Zt = Wt.T @ X.T
    else:
        Zt = np.ascontiguousarray(np.asarray(X @ Wt).T)
    if b is not None:
        Zt += b[:, None]
    return Zt


def _exp_normalise(Zt):
    """Turn max-shifted (K, n) scores into probabilities in place; return lse.

    With ``Zt`` already shifted by its column max, ``log p = Zt - lse``
    (docs/user_guide/numerics.rst).  This is ``scipy.special.log_softmax``
    fused with the softmax: on the hot path log_softmax followed by ``exp``
    would evaluate the exponential twice.
    """
    np.exp(Zt, out=Zt)
    norm = Zt.sum(axis=0)
    Zt /= norm
    return np.log(norm)


def _squares_product_t(At, X):
    """``At @ (X * X)`` as a dense (K, d) float64 array, without ``X * X``.

    The squares are formed chunk by chunk (rows of dense or CSR ``X``, columns
    of CSC ``X``), so no temporary has the size of ``X``.
    """
    out = np.zeros((At.shape[0], X.shape[1]))
    if not sp.issparse(X):
        for a, chunk in dense_chunks(X):
            out += _product_t(At[:, a : a + chunk.shape[0]], chunk * chunk)
        return out
    for a, b, part in sparse_chunks(X):
        part = with_data(part, part.data * part.data)
        if part.format == "csr":
            out += _product_t(At[:, a:b], part)
        else:
            out[:, a:b] = _product_t(At, part)
    return out


def _product_t(Gt, X):
    """``Gt @ X`` as a dense (K, d) float64 array, for dense or sparse ``X``."""
    if isinstance(X, np.ndarray):
        out = Gt @ X
    else:
        out = np.asarray(transposed(X) @ Gt.T).T
    return out.astype(np.float64, copy=False)


def loss_gradient(X, Wt, b, target, weights):
    """Weighted cross-entropy sum of one row block and its gradient.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n, d)
        Rows of the block, float32 or float64.
    Wt : ndarray of shape (d, K)
        Transposed coefficients, same dtype as ``X`` (C-contiguous is fastest).
    b : ndarray of shape (K,) or None
        Intercepts; None for no intercept.
    target : ndarray of shape (n,) of int, or of shape (n, K)
        Class indices, or probability rows summing to 1.
    weights : ndarray of shape (n,)
        Row weights ``w_i >= 0``.

    Returns
    -------
    loss : float
        ``sum_i w_i CE_i`` accumulated in float64.
    grad_W : ndarray of shape (K, d), float64
        ``G.T @ X`` with ``G = w * (P - Y)``.
    grad_b : ndarray of shape (K,), float64
        ``G.sum(axis=0)``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0, 2.0], [0.0, -1.0]])
    >>> loss, gW, gb = loss_gradient(X, np.zeros((2, 3)), np.zeros(3),
    ...                              np.array([0, 2]), np.ones(2))
    >>> float(round(loss / np.log(3), 12))  # two rows, log(3) each at uniform scores
    2.0
    """
    if not is_host(X):
        return _xp_kernels.loss_gradient(X, Wt, b, target, weights)
    loss, Gt, _ = _loss_terms(X, Wt, b, target, weights, keep_probabilities=False)
    return loss, _product_t(Gt, X), Gt.sum(axis=1, dtype=np.float64)


def _loss_terms(X, Wt, b, target, weights, keep_probabilities):
    """``(loss, Gt, P)``: the weighted loss sum, ``G.T`` with ``G = w (P - Y)``,
    and a copy of the probabilities (None unless ``keep_probabilities``)."""
    Zt = _scores_t(X, Wt, b)
    Zt -= Zt.max(axis=0)
    # CE_i = lse_i - <Y_i, z_i> on the shifted scores (rows of Y sum to 1).
    if target.ndim == 1:
        cols = np.arange(Zt.shape[1])
        picked = Zt[target, cols].astype(np.float64)
    else:
        picked = np.einsum("ik,ki->i", target, Zt, dtype=np.float64)
    lse = _exp_normalise(Zt)  # Zt now holds P.T
    P = Zt.T.copy() if keep_probabilities else None
    Gt = Zt
    if target.ndim == 1:
        Gt[target, cols] -= 1.0
    else:
        Gt -= target.T
    loss = float(weights.astype(np.float64, copy=False) @ (lse - picked))
    Gt *= weights.astype(Gt.dtype, copy=False)
    return loss, Gt, P


def loss_gradient_hessian(X, Wt, b, target, weights, contrasts):
    """:func:`loss_gradient` and :func:`contrast_hessian` at one point, one pass.

    Parameters
    ----------
    X, Wt, b, target, weights
        As :func:`loss_gradient`.
    contrasts : tuple
        ``(mu, scale, fit_intercept)`` as :func:`contrast_hessian` takes them.

    Returns
    -------
    loss, grad_W, grad_b
        As :func:`loss_gradient`.
    H : ndarray, float64
        As :func:`contrast_hessian`.

    Examples
    --------
    >>> import numpy as np
    >>> X, contrasts = np.array([[2.0]]), (np.zeros(1), np.ones(1), True)
    >>> *_, H = loss_gradient_hessian(X, np.zeros((1, 2)), np.zeros(2),
    ...                               np.array([1]), np.ones(1), contrasts)
    >>> H
    array([[1.  , 0.5 ],
           [0.5 , 0.25]])
    """
    if not is_host(X):
        P = _xp_kernels.softmax_at(X, Wt, b)
        H = _xp_kernels.contrast_hessian(X, P, weights, *contrasts)
        return (*_xp_kernels.loss_gradient(X, Wt, b, target, weights), H)
    loss, Gt, P = _loss_terms(X, Wt, b, target, weights, keep_probabilities=True)
    H = contrast_hessian(X, P, weights, *contrasts)
    return loss, _product_t(Gt, X), Gt.sum(axis=1, dtype=np.float64), H


def softmax_at(X, Wt, b):
    """Class probabilities ``softmax(X @ Wt + b)`` of a row block.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n, d)
    Wt : ndarray of shape (d, K)
    b : ndarray of shape (K,) or None

    Returns
    -------
    P : ndarray of shape (n, K)

    Examples
    --------
    >>> import numpy as np
    >>> softmax_at(np.ones((1, 1)), np.array([[0.0, np.log(3.0)]]), None)
    array([[0.25, 0.75]])
    """
    if not is_host(X):
        return _xp_kernels.softmax_at(X, Wt, b)
    Zt = _scores_t(X, Wt, b)
    Zt -= Zt.max(axis=0)
    _exp_normalise(Zt)
    return Zt.T  # a view: P.T is C-contiguous again for hessp


def hessp(X, P, weights, Vt, c):
    """Hessian of the weighted cross-entropy sum applied to a direction.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n, d)
    P : ndarray of shape (n, K)
        Probabilities at the point where the Hessian is taken
        (see :func:`softmax_at`).
    weights : ndarray of shape (n,)
    Vt : ndarray of shape (d, K)
        Direction for the coefficients, transposed.
    c : ndarray of shape (K,) or None
        Direction for the intercepts, or None without intercept.

    Returns
    -------
    hW : ndarray of shape (K, d), float64
    hb : ndarray of shape (K,), float64

    Examples
    --------
    >>> import numpy as np
    >>> P = np.full((1, 2), 0.5)
    >>> hW, hb = hessp(np.ones((1, 1)), P, np.ones(1), np.array([[1.0, 0.0]]),
    ...                np.zeros(2))
    >>> hW  # p(1 - p) = 1/4 on the diagonal, -1/4 off it
    array([[ 0.25],
           [-0.25]])
    """
    if not is_host(X):
        return _xp_kernels.hessp(X, P, weights, Vt, c)
    Ut = _scores_t(X, Vt, c)
    Pt = P.T
    Ut -= np.einsum("ki,ki->i", Pt, Ut)
    Ut *= Pt
    Ut *= weights.astype(Ut.dtype, copy=False)
    return _product_t(Ut, X), Ut.sum(axis=1, dtype=np.float64)


def hessian_diagonal(X, P, weights, mu):
    """Diagonal of the weighted cross-entropy Hessian, features centred at ``mu``.

    ``sum_i w_i p_ik (1 - p_ik) (x_ij - mu_j)^2`` for the coefficients and
    ``sum_i w_i p_ik (1 - p_ik)`` for the intercepts: the curvature along each
    coordinate when the intercepts absorb the centring (a preconditioner for
    conjugate gradients).

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n, d)
    P : ndarray of shape (n, K)
        Probabilities (see :func:`softmax_at`).
    weights : ndarray of shape (n,)
    mu : ndarray of shape (d,)

    Returns
    -------
    dW : ndarray of shape (K, d), float64
    db : ndarray of shape (K,), float64

    Examples
    --------
    >>> import numpy as np
    >>> dW, db = hessian_diagonal(np.array([[2.0]]), np.full((1, 2), 0.5),
    ...                           np.ones(1), np.zeros(1))
    >>> dW.ravel(), db
    (array([1., 1.]), array([0.25, 0.25]))
    """
    if not is_host(X):
        return _xp_kernels.hessian_diagonal(X, P, weights, mu)
    Pt = P.T
    At = Pt * (1.0 - Pt)
    At *= weights.astype(At.dtype, copy=False)
    ax2 = _squares_product_t(At, X)
    ax = _product_t(At, X)
    db = At.sum(axis=1, dtype=np.float64)
    dW = ax2 - 2.0 * ax * mu + db[:, None] * (mu * mu)
    return np.maximum(dW, 0.0), db


def contrast_hessian(X, P, weights, mu, scale, fit_intercept):
    """The weighted cross-entropy Hessian of a row block in contrast coordinates.

    With ``p'_i`` the probabilities of classes ``1..K-1`` (class 0 is the
    reference, which removes the softmax's shift invariance) and
    ``x1_i = [(x_i - mu) / scale, 1]`` (the 1 only with intercepts)::

        H = sum_i w_i (diag(p'_i) - p'_i p'_i^T) (x) x1_i x1_i^T,

    class-major: entry ``(k * d1 + j, l * d1 + m)`` pairs class ``k + 1``,
    feature ``j`` with class ``l + 1``, feature ``m`` (docs/user_guide/
    convergence.rst).  Built from ``B = [w^1/2 p'_k x1]_k`` as ``-B^T B`` plus
    the diagonal blocks ``B_k^T (w^1/2 x1)``: a few large matrix products,
    in float64 whatever ``X``'s dtype, over row chunks.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n, d)
    P : ndarray of shape (n, K)
        Probabilities at the point (see :func:`softmax_at`).
    weights : ndarray of shape (n,)
    mu : ndarray of shape (d,)
        Centring of the features.
    scale : ndarray of shape (d,)
        Positive scales of the centred features.
    fit_intercept : bool
        Whether ``x1`` carries the constant 1.

    Returns
    -------
    H : ndarray of shape ((K - 1) * d1, (K - 1) * d1), float64
        ``d1 = d + fit_intercept``; symmetric.

    Examples
    --------
    >>> import numpy as np
    >>> H = contrast_hessian(np.array([[2.0]]), np.full((1, 2), 0.5), np.ones(1),
    ...                      np.zeros(1), np.ones(1), True)
    >>> H  # p (1 - p) = 1/4 times [x, 1] [x, 1]^T
    array([[1.  , 0.5 ],
           [0.5 , 0.25]])
    """
    if not is_host(X):
        return _xp_kernels.contrast_hessian(X, P, weights, mu, scale, fit_intercept)
    n, d = X.shape
    K = P.shape[1]
    d1 = d + int(fit_intercept)
    m = (K - 1) * d1
    H = np.zeros((m, m))
    # chunks of B no larger than H itself (or one host chunk): enough rows
    # for the products to run at matrix-matrix speed
    rows = max(1, m, CHUNK_ELEMENTS // max(m, 1))
    inverse_scale = 1.0 / scale
    for a in range(0, n, rows):
        part = X[a : a + rows]
        A = np.empty((part.shape[0], d1))
        np.subtract(part.toarray() if sp.issparse(part) else part, mu, out=A[:, :d])
        A[:, :d] *= inverse_scale
        if fit_intercept:
            A[:, d] = 1.0
        w = weights[a : a + rows].astype(np.float64, copy=False)
        Pc = P[a : a + rows, 1:].astype(np.float64, copy=False)
        if K == 2:  # one product: sum_i w_i p_i (1 - p_i) x1_i x1_i^T
            H += (A * (w * Pc[:, 0] * (1.0 - Pc[:, 0]))[:, None]).T @ A
            continue
        A *= np.sqrt(w)[:, None]
        B = (Pc[:, :, None] * A[:, None, :]).reshape(part.shape[0], m)
        H -= B.T @ B
        for k in range(K - 1):
            block = slice(k * d1, (k + 1) * d1)
            H[block, block] += B[:, block].T @ A
    return H
