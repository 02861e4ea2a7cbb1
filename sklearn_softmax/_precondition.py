"""The diagonal preconditioner: data statistics and the change of coordinates.

The solvers run on an exact reparametrisation of the objective (nothing about
the model or the penalty changes; docs/user_guide/convergence.rst):

    W = Wp / D,        b = bp - W @ mu,

with ``mu`` the weighted feature means (*implicit centring*: ``X`` is never
copied or densified) and ``D[k, j] = sqrt(pi_k (1 - pi_k) var_j + alpha)``, an
estimate of the square root of the Hessian's diagonal (``pi_k`` the weighted
class priors).  In these coordinates every coefficient sees a curvature near 1,
which is what lets L-BFGS reach the optimum on unscaled data.
"""

from dataclasses import dataclass
from functools import partial

import numpy as np
import scipy.sparse as sp

from . import _xp_kernels
from ._targets import mass_and_total
from ._views import (
    CHUNK_ELEMENTS,
    dense_chunks,
    sparse_chunks,
    transposed,
    with_data,
)
from ._xp import is_host

__all__ = [
    "MAX_ROTATED_SPREAD",
    "ContrastCoordinates",
    "DataStatistics",
    "Preconditioner",
    "class_priors",
    "feature_covariance",
    "feature_moments",
]

# Rotation only where the features' standard deviations are within this
# factor: wider, the covariance's small eigenvalues drown in the large ones'
# rounding, and the diagonal scaling already does the work.
MAX_ROTATED_SPREAD = 1e4


def _maxabs_block(X):
    """Column-wise max of ``|x|``, float64, without a block-sized ``abs(X)``."""
    if not is_host(X):
        return (_xp_kernels.maxabs(X),)
    d = X.shape[1]
    out = np.zeros(d)
    if sp.issparse(X):
        for a, b, part in sparse_chunks(X):
            if part.format == "csr":
                np.maximum.at(out, part.indices, np.abs(part.data))
            else:
                out[a:b] = abs(part).max(axis=0).toarray().ravel()
        return (out,)
    if X.shape[0]:
        np.maximum(X.max(axis=0), -X.min(axis=0), out=out, dtype=np.float64)
    return (out,)


def _moments_block(X, w, scale):
    """Weighted sums of ``x / scale`` and ``(x / scale)^2``, in float64.

    Scaled first so that columns of 1e-200 or 1e200 neither underflow nor
    overflow when squared; computed in chunks so that no temporary has the
    size of the block.
    """
    if not is_host(X):
        return _xp_kernels.moments(X, w, scale)
    w = w.astype(np.float64, copy=False)
    d = X.shape[1]
    m1, m2 = np.zeros(d), np.zeros(d)
    if sp.issparse(X):
        for a, b, part in sparse_chunks(X):
            csr = part.format == "csr"
            if csr:  # rows a:b, all columns
                col_scale, rows, out = scale[part.indices], w[a:b], slice(None)
            else:  # all rows, columns a:b
                col_scale = np.repeat(scale[a:b], np.diff(part.indptr))
                rows, out = w, slice(a, b)
            # the chunk's values, scaled, on the chunk's index arrays
            part = with_data(part, part.data / col_scale)
            m1[out] += np.asarray(transposed(part) @ rows).ravel()
            part.data *= part.data
            m2[out] += np.asarray(transposed(part) @ rows).ravel()
        return m1, m2
    for a, chunk in dense_chunks(X):
        xs = chunk / scale
        wc = w[a : a + chunk.shape[0]]
        m1 += wc @ xs
        xs *= xs
        m2 += wc @ xs
    return m1, m2


def _correlation_block(X, w, mu, sd):
    """``(sum_i w_i z_i z_i^T, 0)`` with ``z = (x - mu) / sd``, products in
    ``X``'s dtype; ``(0.0, 1)`` for a sparse block (not computed)."""
    if sp.issparse(X):
        return 0.0, 1
    if not is_host(X):
        return _xp_kernels.correlation(X, w, mu, sd), 0
    d = X.shape[1]
    out = np.zeros((d, d))
    mu, sd = mu.astype(X.dtype), sd.astype(X.dtype)
    for a, chunk in dense_chunks(X):
        z = (chunk - mu) / sd
        out += (z * w[a : a + chunk.shape[0], None].astype(X.dtype)).T @ z
    return out, 0


def feature_covariance(blocks, mu, var):
    """Weighted feature covariance ``sum_i w_i (x_i - mu)(x_i - mu)^T`` (dense blocks).

    Accumulated on standardised features (so no column under- or overflows)
    with products in ``X``'s dtype (a preconditioner needs no more), summed
    over blocks in float64.  Columns of zero variance get zero rows.  None
    for sparse blocks (a dense ``(d, d)`` matrix of sparse features would not
    fit, and rotating them would make ``X`` dense).
    """
    sd = np.sqrt(var)
    safe = np.where(sd > 0, sd, 1.0)
    R, sparse = blocks.map_sum(lambda b: _correlation_block(b.X, b.weight, mu, safe))
    if sparse:
        return None
    R = (R + R.T) / 2
    return (sd[:, None] * R) * sd[None, :]


def feature_moments(blocks, center):
    """Weighted feature means and variances (uncentred second moments if not
    ``center``), robust to columns scaled by 1e-150 or 1e150.

    Parameters
    ----------
    blocks : Blocks
        Blocks whose weights sum to one.
    center : bool

    Returns
    -------
    mu, var : ndarray of shape (d,)
        ``mu`` is zero when not ``center``.
    """
    (scale,) = blocks.map_sum(lambda b: _maxabs_block(b.X))
    # map_sum adds the block maxima; any positive upper bound works as a scale
    scale = np.where(scale > 0, scale, 1.0)
    m1, m2 = blocks.map_sum(lambda b: _moments_block(b.X, b.weight, scale))
    if center:
        var = np.maximum(m2 - m1 * m1, 0.0) * scale**2
        return m1 * scale, var
    return np.zeros_like(m1), m2 * scale**2


def class_priors(blocks, n_classes):
    """Weighted class priors ``pi_k = sum_i w_i Y_ik / sum_i w_i``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_softmax._blocks import RowBlocks
    >>> blocks = RowBlocks.whole(np.zeros((3, 1)), np.array([0, 1, 1]), np.ones(3))
    >>> class_priors(blocks, 2)
    array([0.33333333, 0.66666667])
    """
    mass, total = blocks.map_sum(partial(mass_and_total, n_classes=n_classes))
    return mass / total


@dataclass(frozen=True)
class DataStatistics:
    """What the preconditioner needs from the data, whatever the penalty.

    Computed once per training set (two or three passes), then turned into a
    :class:`Preconditioner` for each ``alpha`` without touching the data: a
    path over ``C`` pays for the passes once.

    Parameters
    ----------
    prior : ndarray of shape (K,)
        Weighted class priors.
    mu : ndarray of shape (d,)
        Weighted feature means (zeros when not centred).
    var : ndarray of shape (d,)
        Weighted feature variances (uncentred second moments when not centred).
    center : bool
        Whether the features are centred (the model has intercepts).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_softmax._blocks import RowBlocks
    >>> X = np.array([[0.0], [2.0]])
    >>> blocks = RowBlocks.whole(X, np.array([0, 1]), np.full(2, 0.5))
    >>> stats = DataStatistics.from_blocks(blocks, 2, center=True)
    >>> stats.mu, stats.var
    (array([1.]), array([1.]))
    >>> stats.preconditioner(alpha=0.75).D  # sqrt(1/4 * 1 + 0.75)
    array([[1.],
           [1.]])
    """

    prior: np.ndarray
    mu: np.ndarray
    var: np.ndarray
    center: bool
    U: np.ndarray = None

    @classmethod
    def from_blocks(cls, blocks, n_classes, *, center):
        """Priors and feature moments of blocks whose weights sum to one."""
        prior = class_priors(blocks, n_classes)
        mu, var = feature_moments(blocks, center=center)
        return cls(prior, mu, var, center)

    def rotated(self, blocks):
        """The same statistics in the eigenbasis ``U`` of the feature covariance.

        One more pass (``n d^2`` multiply-adds); ``var`` become the
        eigenvalues.  ``self`` unchanged where the blocks are sparse, or the
        features' spreads differ by more than :data:`MAX_ROTATED_SPREAD`.
        """
        spread = np.sqrt(self.var[self.var > 0])
        if spread.size == 0 or spread.max() > MAX_ROTATED_SPREAD * spread.min():
            return self
        cov = feature_covariance(blocks, self.mu, self.var)
        if cov is None:
            return self
        eigenvalues, U = np.linalg.eigh(cov)
        return DataStatistics(
            self.prior, self.mu, np.maximum(eigenvalues, 0.0), self.center, U
        )

    def preconditioner(self, alpha):
        """The :class:`Preconditioner` for the L2 weight ``alpha``."""
        pq = np.maximum(self.prior * (1.0 - self.prior), 0.0)
        D = np.sqrt(pq[:, None] * self.var[None, :] + alpha)
        D = np.where(D > 0, D, 1.0)
        return Preconditioner(self.prior, self.mu, D, self.center, self.U)

    def contrasts(self, alpha):
        """The :class:`ContrastCoordinates` for the L2 weight ``alpha``.

        A feature's scale is ``sqrt(q var_j + alpha)``, with ``q`` the mean of
        ``pi_k (1 - pi_k)``: the curvature along each contrast is then about 1.
        """
        # max: a prior of 1 (one class carries all weight) may round above 1
        q = max(float(np.mean(self.prior * (1.0 - self.prior))), 0.0)
        scale = np.sqrt(q * self.var + alpha)
        scale = np.where(scale > 0, scale, 1.0)
        return ContrastCoordinates(self.prior, self.mu, scale, self.center)


@dataclass(frozen=True)
class Preconditioner:
    """The change of coordinates ``theta <-> (W, b)`` and the class priors.

    Parameters
    ----------
    prior : ndarray of shape (K,)
        Weighted class priors (the start's intercepts are their logs).
    mu : ndarray of shape (d,)
        Centring of the features (zeros without intercept).
    D : ndarray of shape (K, d)
        Positive scales of the coefficients.
    fit_intercept : bool

    Examples
    --------
    >>> import numpy as np
    >>> pre = Preconditioner.identity(np.array([0.5, 0.5]), 3, fit_intercept=True)
    >>> pre.n_params
    8
    >>> W, b = pre.unpack(np.arange(8.0))
    >>> W.shape, b
    ((2, 3), array([6., 7.]))
    """

    prior: np.ndarray
    mu: np.ndarray
    D: np.ndarray
    fit_intercept: bool
    U: np.ndarray = None

    @classmethod
    def identity(cls, prior, n_features, *, fit_intercept):
        """Plain coordinates (``D = 1``, ``mu = 0``), for comparisons."""
        K = prior.shape[0]
        return cls(prior, np.zeros(n_features), np.ones((K, n_features)), fit_intercept)

    @property
    def shape(self):
        """``(K, d)``: the shape of the coefficients ``W``."""
        return self.D.shape

    @property
    def n_params(self):
        """Length of ``theta``: ``K * d`` coefficients, plus ``K`` intercepts."""
        K, d = self.D.shape
        return K * d + (K if self.fit_intercept else 0)

    def unpack(self, theta):
        """Model parameters ``(W, b)`` (b None without intercept) from ``theta``."""
        K, d = self.D.shape
        W = theta[: K * d].reshape(K, d) / self.D
        if self.U is not None:
            W = W @ self.U.T
        if not self.fit_intercept:
            return W, None
        return W, theta[K * d :] - W @ self.mu

    def pack(self, W, b):
        """``theta`` from model parameters (inverse of :meth:`unpack`)."""
        parts = [((W if self.U is None else W @ self.U) * self.D).ravel()]
        if self.fit_intercept:
            parts.append(b + W @ self.mu)
        return np.concatenate(parts)

    def chain(self, gW, gb):
        """Map a gradient w.r.t. ``(W, b)`` to one w.r.t. ``theta``.

        ``gW`` is overwritten.
        """
        # In place, a group of classes at a time: at 10^6 parameters every
        # temporary of the gradient's size is 8 MB of peak memory.
        K, d = self.D.shape
        out = np.empty(self.n_params)
        if self.fit_intercept:
            rows = max(1, CHUNK_ELEMENTS // max(d, 1))  # classes per chunk
            for k in range(0, K, rows):
                gW[k : k + rows] -= np.outer(gb[k : k + rows], self.mu)
            out[K * d :] = gb
        if self.U is not None:
            gW = gW @ self.U
        np.divide(gW, self.D, out=out[: K * d].reshape(K, d))
        return out


@dataclass(frozen=True)
class ContrastCoordinates:
    """Contrasts against class 0 on centred, scaled features: no gauge left.

    ``theta`` holds, for each class ``k = 1..K-1``, ``(W_k - W_0) * scale``
    and, with intercepts, ``c_k - c_0`` where ``c = b + W @ mu`` (the
    intercepts of the centred features).  :meth:`unpack` returns the centred
    model (``sum_k W_k = 0``, ``sum_k c_k = 0``), which is the optimum of the
    L2 penalty along the softmax's shift invariance, so nothing the objective
    can reach is lost: ``(K - 1) (d + 1)`` parameters instead of ``K (d + 1)``,
    and for two classes exactly the log-odds.  The Hessian in these
    coordinates (``_loss.contrast_hessian`` plus the penalty's
    ``alpha (I - 1 1^T / K) / scale^2``) is positive definite wherever the
    centred features have full rank or ``alpha > 0``; the diagonal
    :class:`Preconditioner`'s full coordinates always leave the intercepts'
    shift as an exact null direction.

    Parameters
    ----------
    prior : ndarray of shape (K,)
        Weighted class priors (the start's intercepts are their logs).
    mu : ndarray of shape (d,)
        Centring of the features (zeros without intercept).
    scale : ndarray of shape (d,)
        Positive scales of the centred features.
    fit_intercept : bool

    Examples
    --------
    >>> import numpy as np
    >>> coords = ContrastCoordinates(np.full(2, 0.5), np.zeros(1), np.ones(1), True)
    >>> coords.n_params  # two classes: the log-odds coefficient and intercept
    2
    >>> coords.unpack(np.array([2.0, 1.0]))
    (array([[-1.],
           [ 1.]]), array([-0.5,  0.5]))
    """

    prior: np.ndarray
    mu: np.ndarray
    scale: np.ndarray
    fit_intercept: bool

    @property
    def shape(self):
        """``(K, d)``: the shape of the coefficients ``W``."""
        return self.prior.shape[0], self.scale.shape[0]

    @property
    def n_params(self):
        """Length of ``theta``: ``(K - 1) * (d + 1)``, or ``(K - 1) * d``."""
        K, d = self.shape
        return (K - 1) * (d + int(self.fit_intercept))

    def unpack(self, theta):
        """Centred model parameters ``(W, b)`` (b None without intercept)."""
        K, d = self.shape
        B = theta.reshape(K - 1, -1)
        W = np.empty((K, d))
        np.divide(B[:, :d], self.scale, out=W[1:])
        W[0] = 0.0
        W -= W.sum(axis=0) / K
        if not self.fit_intercept:
            return W, None
        c = np.empty(K)
        c[0] = 0.0
        c[1:] = B[:, d]
        c -= c.sum() / K
        return W, c - W @ self.mu

    def pack(self, W, b):
        """``theta`` from model parameters in any gauge."""
        K, d = self.shape
        B = np.empty((K - 1, d + int(self.fit_intercept)))
        B[:, :d] = (W[1:] - W[0]) * self.scale
        if self.fit_intercept:
            c = b + W @ self.mu
            B[:, d] = c[1:] - c[0]
        return B.ravel()

    def chain(self, gW, gb):
        """Map a gradient w.r.t. ``(W, b)`` to one w.r.t. ``theta``."""
        K, d = self.shape
        B = np.empty((K - 1, d + int(self.fit_intercept)))
        if self.fit_intercept:
            gW = gW - np.outer(gb, self.mu)
            B[:, d] = gb[1:] - gb.sum() / K
        np.subtract(gW[1:], gW.sum(axis=0) / K, out=B[:, :d])
        B[:, :d] /= self.scale
        return B.ravel()

    def penalty_hessian(self, alpha):
        """The L2 term's Hessian ``alpha (I - 1 1^T / K) (x) diag(1 / scale^2)``
        (zero on the intercepts), as an ``(n_params, n_params)`` array."""
        K, d = self.shape
        d1 = d + int(self.fit_intercept)
        per_feature = np.zeros(d1)
        per_feature[:d] = alpha / self.scale**2
        classes = np.eye(K - 1) - 1.0 / K
        return np.kron(classes, np.diag(per_feature))
