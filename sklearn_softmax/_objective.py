"""The penalised objective, evaluated over row blocks in preconditioned coordinates.

With row weights ``w_i = s_i / S`` summing to one and ``alpha = 1 / (C S)``
(docs/user_guide/objective.rst)::

    f(W, b) = sum_i w_i CE_i + alpha / 2 * ||W||_F^2.

:class:`SoftmaxObjective` only evaluates: the blocks and the preconditioner are
built beforehand (``_blocks``, ``_precondition``).  This module also holds the
reporting contract (centred gauge, binary log-odds) and its inverse, and the
objective value of a fitted model.
"""

from typing import Protocol, runtime_checkable

import numpy as np
from sklearn.utils.extmath import safe_sparse_dot

from . import _loss, _xp_kernels
from ._xp import is_host

__all__ = [
    "ContrastObjective",
    "ExactHessianObjective",
    "Objective",
    "SmoothObjective",
    "SoftmaxObjective",
    "full_parameters",
    "objective_value",
    "reported_parameters",
    "separates",
]


# -- the interface the minimisers (``_solver``) and the path (``_path``) use ----
@runtime_checkable
class Objective(Protocol):
    """An objective over a flat parameter vector ``theta``, as minimised.

    :class:`SoftmaxObjective` and the L1 wrapper ``_l1.L1Split`` implement it;
    the minimisers and the regularisation path use nothing else.

    Attributes
    ----------
    blocks : Blocks
        The row blocks: a context manager, held open during a solve.
    dtype : numpy.dtype
        The working precision of ``X`` (float32 or float64); it sets the
        rounding level the stopping rules allow for.
    bounds : scipy.optimize.Bounds or None
        Bounds on ``theta``; None where it is free (only L-BFGS-B handles
        bounds).
    n_passes : int
        Passes over ``X`` so far (reported, never used to decide).
    """

    blocks: object
    dtype: np.dtype
    bounds: object
    n_passes: int

    def loss_grad(self, theta):
        """Evaluate the objective and its gradient: one pass over ``X``.

        Parameters
        ----------
        theta : ndarray of shape (n_params,)
            The point.

        Returns
        -------
        f : float
            The objective.
        grad : ndarray of shape (n_params,)
            Its gradient with respect to ``theta``.
        """

    def optimality(self, theta, grad):
        """What the stopping rule bounds: the gradient, or a KKT residual.

        Parameters
        ----------
        theta : ndarray of shape (n_params,)
            The point.
        grad : ndarray of shape (n_params,)
            The gradient :meth:`loss_grad` returned at ``theta``.

        Returns
        -------
        ndarray
            Zero exactly at an optimum; its max-norm is compared with the
            threshold.
        """

    def canonical(self, theta):
        """The same model in the form a fresh L-BFGS run should start from.

        Parameters
        ----------
        theta : ndarray of shape (n_params,)
            The point.

        Returns
        -------
        ndarray of shape (n_params,)
            A point with the same model and an objective no higher.
        """

    def unpack(self, theta):
        """Model parameters from ``theta``.

        Parameters
        ----------
        theta : ndarray of shape (n_params,)
            The point.

        Returns
        -------
        W : ndarray of shape (n_classes, n_features)
            Coefficients.
        b : ndarray of shape (n_classes,) or None
            Intercepts; None without them.
        """

    def pack(self, W, b):
        """``theta`` from model parameters: the inverse of :meth:`unpack`.

        Parameters
        ----------
        W : ndarray of shape (n_classes, n_features)
            Coefficients.
        b : ndarray of shape (n_classes,) or None
            Intercepts; None without them.

        Returns
        -------
        ndarray of shape (n_params,)
            The point.
        """

    def initial(self):
        """The point a path starts from without a model to warm-start from.

        Returns
        -------
        ndarray of shape (n_params,)
            The point.
        """


@runtime_checkable
class SmoothObjective(Objective, Protocol):
    """An :class:`Objective` with Hessian products (what Newton-CG needs).

    :class:`SoftmaxObjective` is one; ``_l1.L1Split`` (bounded, and not
    twice differentiable in ``theta``) is not.
    """

    def hessian_at(self, theta):
        """The Hessian at ``theta``, as products and their diagonal.

        Parameters
        ----------
        theta : ndarray of shape (n_params,)
            The point.

        Returns
        -------
        hessp : callable
            ``hessp(v)`` applies the Hessian to ``v`` of shape ``(n_params,)``.
        diagonal : ndarray of shape (n_params,)
            The Hessian's diagonal (to precondition conjugate gradients).
        """


@runtime_checkable
class ExactHessianObjective(SmoothObjective, Protocol):
    """A :class:`SmoothObjective` whose whole Hessian is small enough to form
    (what Newton on the exact Hessian needs); :class:`ContrastObjective` is one.
    """

    def hessian(self, theta):
        """The Hessian at ``theta``: one pass over ``X``.

        Parameters
        ----------
        theta : ndarray of shape (n_params,)
            The point.

        Returns
        -------
        ndarray of shape (n_params, n_params)
            Symmetric, positive semi-definite.
        """


class SoftmaxObjective:
    """Objective, gradient and Hessian products in ``theta`` coordinates.

    Parameters
    ----------
    blocks : Blocks
        Row blocks ``(X, target, weight)`` with weights summing to one.
    preconditioner : Preconditioner
        The change of coordinates ``theta <-> (W, b)``.
    alpha : float
        ``1 / (C * S)``; 0 for no penalty.
    dtype : dtype
        ``X``'s dtype (float32 or float64): the kernel's working precision.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_softmax._blocks import RowBlocks
    >>> from sklearn_softmax._precondition import DataStatistics
    >>> X, y = np.array([[0.0], [1.0]]), np.array([0, 1])
    >>> blocks = RowBlocks.whole(X, y, np.full(2, 0.5))
    >>> stats = DataStatistics.from_blocks(blocks, 2, center=True)
    >>> obj = SoftmaxObjective(blocks, stats.preconditioner(0.1), alpha=0.1,
    ...                        dtype=X.dtype)
    >>> f, g = obj.loss_grad(obj.initial())
    >>> float(round(f, 6)), g.shape  # log 2 at zero scores
    (0.693147, (4,))
    """

    # no bounds on theta (the L1 wrapper, ``_l1.L1Split``, has some)
    bounds = None

    def __init__(self, blocks, preconditioner, *, alpha, dtype):
        self.blocks = blocks
        self.preconditioner = preconditioner
        self.alpha = alpha
        self.dtype = np.dtype(dtype)
        self.n_classes, self.n_features = preconditioner.shape
        self.fit_intercept = preconditioner.fit_intercept
        self.n_params = preconditioner.n_params
        # passes over X so far: evaluations, Hessian set-ups and products
        self.n_passes = 0

    # -- coordinates ---------------------------------------------------------
    def unpack(self, theta):
        """Model parameters ``(W, b)`` (b None without intercept) from ``theta``."""
        return self.preconditioner.unpack(theta)

    def pack(self, W, b):
        """``theta`` from model parameters (inverse of :meth:`unpack`)."""
        return self.preconditioner.pack(W, b)

    def initial(self):
        """Zero coefficients, intercepts at the log class priors (centred)."""
        W = np.zeros((self.n_classes, self.n_features))
        b = None
        if self.fit_intercept:
            b = np.log(np.maximum(self.preconditioner.prior, 1e-12))
            b -= b.mean()
        return self.pack(W, b)

    # -- evaluations ---------------------------------------------------------
    def optimality(self, theta, grad):
        """What the stopping rule bounds: the gradient itself (smooth problem)."""
        return grad

    def canonical(self, theta):
        """``theta`` itself: it represents the model uniquely."""
        return theta

    def _model(self, theta):
        W, b = self.unpack(theta)
        Wt = np.ascontiguousarray(W.T, dtype=self.dtype)
        bd = None if b is None else b.astype(self.dtype)
        return W, Wt, bd

    def loss_grad(self, theta):
        """Objective and gradient in ``theta`` coordinates."""
        W, Wt, b = self._model(theta)
        self.n_passes += 1
        penalty = 0.5 * self.alpha * float(np.vdot(W, W))
        if Wt.dtype == np.float64:
            W = None  # Wt holds the same numbers: one (K, d) array less
        loss, gW, gb, *more = self.blocks.map_sum(
            lambda blk: self._block_terms(blk, Wt, b)
        )
        self._evaluated(theta, more)
        gW += self.alpha * (Wt.T if W is None else W)
        return loss + penalty, self.preconditioner.chain(gW, gb)

    def _block_terms(self, block, Wt, b):
        """What one block adds to an evaluation: ``(loss, grad_W, grad_b)``."""
        return _loss.loss_gradient(block.X, Wt, b, block.target, block.weight)

    def _evaluated(self, theta, more):
        """Keep what an evaluation summed beyond ``(loss, grad_W, grad_b)``."""

    def hessian_at(self, theta):
        """Return ``(hessp, diagonal)`` for the Hessian at ``theta``.

        ``hessp(v)`` applies the Hessian to ``v``; ``diagonal`` is its diagonal
        (a preconditioner for conjugate gradients).  ``hessp`` keeps the
        (n, K) probabilities at ``theta`` while it is alive.  Two passes over
        ``X`` (probabilities, diagonal), one per product.  In rotated
        coordinates (``U`` set) the diagonal is not computed: ones (the
        coordinates are scaled to curvature about 1), and one pass.
        """
        _, Wt, b = self._model(theta)
        pre = self.preconditioner
        P = self.blocks.map(lambda blk: _loss.softmax_at(blk.X, Wt, b))
        self.n_passes += 1
        if pre.U is not None:
            diagonal = np.ones(self.n_params)
        else:
            self.n_passes += 1
            mu = pre.mu.astype(self.dtype)
            dW, db = self.blocks.map_sum(
                lambda blk, Pb: _loss.hessian_diagonal(blk.X, Pb, blk.weight, mu),
                extra=P,
            )
            diagonal = ((dW + self.alpha) / pre.D**2).ravel()
            if self.fit_intercept:
                diagonal = np.concatenate([diagonal, db])

        def hessp(v):
            self.n_passes += 1
            V, c = pre.unpack(v)
            if c is not None:
                c = c.astype(self.dtype)
            Vt = np.ascontiguousarray(V.T, dtype=self.dtype)
            hW, hb = self.blocks.map_sum(
                lambda blk, Pb: _loss.hessp(blk.X, Pb, blk.weight, Vt, c), extra=P
            )
            hW += self.alpha * V
            return pre.chain(hW, hb)

        return hessp, diagonal


class ContrastObjective(SoftmaxObjective):
    """:class:`SoftmaxObjective` in contrast coordinates, with its exact Hessian.

    The coordinates (``_precondition.ContrastCoordinates``) drop the softmax's
    gauge: ``(K - 1) (d + 1)`` parameters (for two classes the log-odds), on
    which the Hessian is positive definite wherever the problem has a unique
    optimum.  Formed whole (docs/user_guide/convergence.rst), it is meant for
    problems where ``n ((K - 1) (d + 1))^2`` multiply-adds are cheap.

    Parameters
    ----------
    blocks : Blocks
        Row blocks ``(X, target, weight)`` with weights summing to one.
    preconditioner : ContrastCoordinates
        The change of coordinates ``theta <-> (W, b)``.
    alpha : float
        ``1 / (C * S)``; 0 for no penalty.
    dtype : dtype
        ``X``'s dtype.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_softmax._blocks import RowBlocks
    >>> from sklearn_softmax._precondition import DataStatistics
    >>> X, y = np.array([[0.0], [1.0]]), np.array([0, 1])
    >>> blocks = RowBlocks.whole(X, y, np.full(2, 0.5))
    >>> stats = DataStatistics.from_blocks(blocks, 2, center=True)
    >>> obj = ContrastObjective(blocks, stats.contrasts(0.1), alpha=0.1,
    ...                         dtype=X.dtype)
    >>> obj.n_params, obj.hessian(obj.initial()).shape  # the log-odds only
    (2, (2, 2))
    """

    def __init__(self, blocks, preconditioner, *, alpha, dtype):
        super().__init__(blocks, preconditioner, alpha=alpha, dtype=dtype)
        pre = preconditioner
        self._contrasts = (pre.mu, pre.scale, pre.fit_intercept)
        # the L2 term's Hessian, the same at every point
        self._penalty_hessian = pre.penalty_hessian(alpha) if alpha else None
        # (theta, H) of the last evaluation: Newton asks for the Hessian where
        # the line search accepted a point, so the pass that evaluated it
        # forms the Hessian too
        self._last = None

    def loss_grad(self, theta):
        """Objective and gradient in ``theta``; the Hessian kept for :meth:`hessian`."""
        self._last = None  # free the previous point's Hessian first
        return super().loss_grad(theta)

    def _block_terms(self, block, Wt, b):
        """One block's loss, gradient and Hessian: the same pass."""
        return _loss.loss_gradient_hessian(
            block.X, Wt, b, block.target, block.weight, self._contrasts
        )

    def _evaluated(self, theta, more):
        (H,) = more
        self._last = (theta.copy(), H)

    def hessian(self, theta):
        """The exact Hessian at ``theta`` (free where ``theta`` was just evaluated)."""
        if self._last is None or not np.array_equal(self._last[0], theta):
            self.loss_grad(theta)
        H = self._last[1]
        H = (H + H.T) / 2
        if self._penalty_hessian is not None:
            H += self._penalty_hessian
        return H

    def hessian_at(self, theta):
        """``(hessp, diagonal)`` from the exact Hessian (one pass over ``X``)."""
        H = self.hessian(theta)

        def hessp(v):
            return H @ v

        return hessp, np.diag(H).copy()


# -- what the estimator reports --------------------------------------------------
def reported_parameters(W, b, center=True):
    """``(coef, intercept)`` in the reported gauge, from solver parameters.

    Centred (``sum_k W_k = 0``, ``sum_k b_k = 0``: the optimum of the L2
    penalty along the softmax's shift invariance); for two classes the
    log-odds ``W_1 - W_0`` of the second class.  ``b`` None gives zero
    intercepts.  ``center=False`` leaves ``W`` as solved (an L1 penalty fixes
    the gauge itself, and centring would move exact zeros); the intercepts,
    never penalised, are centred in any case.

    Examples
    --------
    >>> import numpy as np
    >>> reported_parameters(np.array([[1.0, 2.0], [3.0, 2.0]]), None)
    (array([[2., 0.]]), array([0.]))
    """
    K = W.shape[0]
    if center:
        W = W - W.mean(axis=0)
    b = np.zeros(K) if b is None else b - b.mean()
    if K == 2:
        W, b = W[1:] - W[:1], b[1:] - b[:1]
    return W, b


def full_parameters(coef, intercept):
    """``(K, d)`` coefficients and ``(K,)`` intercepts (float64) of a reported model.

    Inverse of :func:`reported_parameters`: binary log-odds are split
    symmetrically, ``W_0 = -w / 2``, ``W_1 = w / 2``.

    Examples
    --------
    >>> import numpy as np
    >>> full_parameters(np.array([[2.0, 0.0]]), np.array([1.0]))
    (array([[-1., -0.],
           [ 1.,  0.]]), array([-0.5,  0.5]))
    """
    W = np.asarray(coef, dtype=np.float64)
    b = np.asarray(intercept, dtype=np.float64)
    if W.shape[0] == 1:
        W = np.vstack([-W / 2, W / 2])
        b = np.concatenate([-b / 2, b / 2])
    return W, b


def objective_value(X, target, coef, intercept, C, sample_weight=None, l1_ratio=0.0):
    """The objective ``f`` of a reported model, in float64.

    ``f = (1/S) sum_i s_i CE_i + (1 - r) ||W||_F^2 / (2 C S) + r ||W||_1 / (C S)``
    with ``s`` the sample weights (default ones), ``S`` their sum, ``r`` the
    ``l1_ratio`` and ``W`` the full coefficients (:func:`full_parameters`; for
    two classes ``||W||^2 = ||coef||^2 / 2`` and ``||W||_1 = ||coef||_1``).

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n, d)
    target : ndarray of shape (n,) of int, or of shape (n, K)
        Class indices, or probability rows.
    coef, intercept : ndarray
        ``coef_`` and ``intercept_`` as the estimator reports them.
    C : float
        ``np.inf`` for no penalty.
    sample_weight : ndarray of shape (n,), default=None
    l1_ratio : float in [0, 1], default=0.0

    Returns
    -------
    f : float

    Examples
    --------
    >>> import numpy as np
    >>> X, y = np.array([[0.0], [1.0]]), np.array([0, 1])
    >>> f = objective_value(X, y, np.zeros((1, 1)), np.zeros(1), 1.0)
    >>> bool(np.isclose(f, np.log(2)))
    True
    """
    W, b = full_parameters(coef, intercept)
    Z = np.asarray(safe_sparse_dot(X, W.T, dense_output=True), dtype=np.float64)
    ce = _loss.cross_entropy_rows(_loss.log_softmax(Z + b), target)
    s = np.ones(X.shape[0]) if sample_weight is None else np.asarray(sample_weight)
    S = s.sum()
    f = float(s @ ce) / S
    if np.isinf(C):
        return f
    r = l1_ratio
    l2, l1 = float(np.vdot(W, W)), float(np.abs(W).sum())
    return f + ((1 - r) * l2 / 2 + r * l1) / (C * S)


def separates(blocks, W, b):
    """Whether ``(W, b)`` puts every weighted hard-labelled row strictly on its class.

    Only hard targets (indices, or one-hot rows) can be separated; a row with
    probability mass on two classes has a finite optimum along any direction.
    """
    (violations,) = blocks.map_sum(lambda blk: (_violations(blk, W, b),))
    return violations == 0


def _violations(block, W, b):
    """1 if some weighted row of the block is not strictly on its class, else 0."""
    if not is_host(block.X):
        return _xp_kernels.violations(block.X, block.target, block.weight, W, b)
    rows = block.weight > 0
    target = block.target
    if target.ndim == 2:
        if not np.all(target[rows].max(axis=1) == 1.0):
            return 1
        target = target.argmax(axis=1)
    X = block.X
    Z = safe_sparse_dot(X, W.T.astype(X.dtype), dense_output=True)
    Z = np.asarray(Z, dtype=np.float64)
    if b is not None:
        Z += b
    Z, target = Z[rows], target[rows]
    idx = np.arange(Z.shape[0])
    true = Z[idx, target]
    Z[idx, target] = -np.inf
    return 0 if np.all(true > Z.max(axis=1)) else 1
