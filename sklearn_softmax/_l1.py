"""The L1 part of the elastic-net penalty, solved smoothly over bounded variables.

With ``t = l1_ratio / (C S)`` the objective gains ``t ||W||_1``
(docs/user_guide/objective.rst).  In the solver's coordinates
``W = theta_W / D`` this is ``sum_kj lam_kj |theta_kj|`` with
``lam = t / D``: a positive diagonal scaling keeps the L1 form.  Writing
``theta_W = u - v`` with ``u, v >= 0`` makes it the linear, smooth term
``lam . (u + v)`` over the bounds that scipy's L-BFGS-B handles exactly; at an
optimum at most one of ``u_kj``, ``v_kj`` is positive, and a coefficient whose
optimum is zero has both at the bound, i.e. exactly ``0.0``.  The intercepts
are never penalised and stay free.

Optimality is measured on ``theta`` itself, independent of the split: the
minimum-norm subgradient, per coefficient ``|g + lam sign(theta)|`` where
``theta != 0`` and ``max(0, |g| - lam)`` where ``theta == 0`` (``g`` the
gradient of the smooth part): the KKT residual, which the stopping rule bounds.
"""

import numpy as np
import scipy.optimize

__all__ = ["L1Orthant", "L1Split", "kkt_residual", "orthant_search", "pseudo_gradient"]

# The objective's rounding, in units of its dtype's epsilon times |f|: the
# slack of the orthant search's Armijo test (Newton's and L-BFGS's are the same).
_ROUNDING = 8
# Backtracking halvings at most (a step of 2^-30 is no progress).
_BACKTRACKS = 30


def pseudo_gradient(theta, grad, weight):
    """The minimum-norm subgradient of ``f + weight . |theta|``.

    ``grad + weight sign(theta)`` where ``theta != 0``; where ``theta == 0``
    the subgradient ``grad + weight [-1, 1]`` nearest zero: ``grad + weight``
    if that is negative, ``grad - weight`` if that is positive, else 0.  Its
    negative is the steepest descent direction of the composite objective
    (OWL-QN's pseudo-gradient); it is zero exactly at an optimum.

    Examples
    --------
    >>> import numpy as np
    >>> pseudo_gradient(np.array([1.0, 0.0, 0.0]), np.array([0.5, 0.5, 2.0]),
    ...                 np.ones(3))
    array([1.5, 0. , 1. ])
    """
    up, down = grad + weight, grad - weight
    at_zero = np.where(up < 0, up, np.where(down > 0, down, 0.0))
    return np.where(theta > 0, up, np.where(theta < 0, down, at_zero))


def kkt_residual(theta, grad, weight):
    """The KKT residual per coordinate: ``|pseudo_gradient|`` (what the rule bounds).

    Examples
    --------
    >>> import numpy as np
    >>> kkt_residual(np.array([0.0, -1.0]), np.array([-0.5, 1.0]), np.ones(2))
    array([0., 0.])
    """
    return np.abs(pseudo_gradient(theta, grad, weight))


def gauge_shift(W, l1, alpha):
    """Per feature, the shift ``c`` minimising the penalty along the gauge.

    That penalty is ``sum_k l1 |W_kj + c| + alpha (W_kj + c)^2 / 2``.  The
    softmax is unchanged by adding one vector to every class's coefficients
    (the gauge), so only the penalty sees that direction, and
    with a weak L2 part it is nearly flat: curvature ``alpha`` against L1
    kinks, where Newton and quasi-Newton steps crawl.  The minimum along it
    is one-dimensional and piecewise quadratic per feature, found exactly
    here among the kinks ``-W_k`` and the stationary point of each segment
    between them (no shift where it gains only rounding).  Returns ``c`` of shape
    ``(n_features,)``.

    Examples
    --------
    >>> import numpy as np
    >>> W = np.array([[1.0, 0.0], [2.0, 0.0], [4.0, 1.0]])
    >>> gauge_shift(W, 1.0, 0.0)  # minus the median of each column
    array([-2.,  0.])
    """
    K = W.shape[0]
    kinks = np.sort(-W, axis=0)
    total = W.sum(axis=0)
    candidates = [np.zeros_like(total), *kinks]
    if alpha > 0:
        lower = np.vstack([np.full_like(total, -np.inf), kinks])
        upper = np.vstack([kinks, np.full_like(total, np.inf)])
        for m in range(K + 1):  # m classes have W_k + c > 0 in segment m
            root = -(l1 * (2 * m - K) + alpha * total) / (alpha * K)
            candidates.append(np.clip(root, lower[m], upper[m]))
    candidates = np.stack(candidates)
    shifted = W[None, :, :] + candidates[:, None, :]
    cost = l1 * np.abs(shifted).sum(axis=1) + 0.5 * alpha * (shifted**2).sum(axis=1)
    best = np.argmin(cost, axis=0)
    columns = np.arange(W.shape[1])
    # a shift that gains only rounding is not taken: no churn between steps
    gain = cost[0] - cost[best, columns]
    best[gain <= 8 * np.finfo(float).eps * cost[0]] = 0
    return candidates[best, columns]


def orthant_search(fun, x, f, pg, p, eps):
    """Backtracking along ``p`` projected onto the search's orthant.

    The orthant is the sign of ``x``, or of ``-pg`` where ``x`` is zero
    (``pg`` the pseudo-gradient at ``x``); a trial coordinate that would leave
    it is set to zero, which is how exact zeros arise (Andrew & Gao 2007).  A
    trial point is taken on the Armijo condition along the projected step,
    ``F(x_a) <= F(x) + 1e-4 pg . (x_a - x)``, with the objective's rounding
    (``8 eps |F|``) as slack; a point that only stays within the rounding
    (near the optimum the decrease falls below it) is returned flagged.

    Parameters
    ----------
    fun : callable
        ``fun(x) -> (F, grad)`` or None (declined).
    x : ndarray
        The point.
    f : float
        ``F(x)``.
    pg : ndarray
        The pseudo-gradient at ``x``.
    p : ndarray
        The direction (a descent direction: ``pg . p < 0``).
    eps : float
        The objective's relative rounding (its dtype's epsilon).

    Returns
    -------
    tuple or None
        ``(x_new, F_new, grad_new, at_rounding)``, or None where no step is
        found or ``fun`` declined.

    Examples
    --------
    >>> import numpy as np
    >>> fun = lambda x: (0.5 * (x[0] - 1) ** 2 + abs(x[0]), np.array([x[0] - 1]))
    >>> x = np.array([0.5])  # F = 0.625; the optimum is 0
    >>> pg = pseudo_gradient(x, fun(x)[1], np.ones(1))
    >>> orthant_search(fun, x, 0.625, pg, -pg, 1e-16)[0]  # projected onto x >= 0
    array([0.])
    """
    orthant = np.sign(x)
    free = orthant == 0
    orthant[free] = -np.sign(pg[free])
    rounding = _ROUNDING * eps * abs(f)
    a = 1.0
    for _ in range(_BACKTRACKS):
        x_new = x + a * p
        x_new[np.sign(x_new) != orthant] = 0.0
        value = fun(x_new)
        if value is None:
            return None
        f_new, g_new = value
        decrease = f - f_new
        if decrease >= -1e-4 * (pg @ (x_new - x)) + rounding:
            return x_new, f_new, g_new, False
        if decrease >= -rounding:
            return x_new, f_new, g_new, True
        a *= 0.5
    return None


class L1Split:
    """A smooth objective plus ``lam . |theta_W|``, over ``z = [u, v, theta_b]``.

    Parameters
    ----------
    smooth : SoftmaxObjective
        The cross-entropy and L2 part, in preconditioned coordinates.
    l1 : float
        ``t = l1_ratio / (C S)``, the L1 weight on the model's coefficients.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_softmax._blocks import RowBlocks
    >>> from sklearn_softmax._objective import SoftmaxObjective
    >>> from sklearn_softmax._precondition import DataStatistics
    >>> X, y = np.array([[0.0], [1.0], [2.0]]), np.array([0, 1, 1])
    >>> blocks = RowBlocks.whole(X, y, np.full(3, 1 / 3))
    >>> stats = DataStatistics.from_blocks(blocks, 2, center=True)
    >>> smooth = SoftmaxObjective(blocks, stats.preconditioner(0.0), alpha=0.0,
    ...                           dtype=X.dtype)
    >>> obj = L1Split(smooth, 0.1)
    >>> z = obj.initial()
    >>> z.shape, obj.bounds.lb
    ((6,), array([  0.,   0.,   0.,   0., -inf, -inf]))
    """

    def __init__(self, smooth, l1):
        self.smooth = smooth
        self.blocks = smooth.blocks
        self.dtype = smooth.dtype
        self.n_classes, self.n_features = smooth.n_classes, smooth.n_features
        self.fit_intercept = smooth.fit_intercept
        self.n_coef = n = smooth.n_classes * smooth.n_features
        self.n_params = smooth.n_params + n
        self.l1 = l1
        self.weight = (l1 / smooth.preconditioner.D).ravel()
        lower = np.zeros(self.n_params)
        lower[2 * n :] = -np.inf  # the intercepts are free
        self.bounds = scipy.optimize.Bounds(lower, np.inf)

    @property
    def n_passes(self):
        """Passes over ``X`` so far (the smooth objective's)."""
        return self.smooth.n_passes

    def orthant(self):
        """The same objective over ``theta`` itself (:class:`L1Orthant`)."""
        return L1Orthant(self.smooth, self.l1)

    # -- coordinates ---------------------------------------------------------
    def theta(self, z):
        """The smooth objective's coordinates ``[u - v, theta_b]``."""
        n = self.n_coef
        return np.concatenate([z[:n] - z[n : 2 * n], z[2 * n :]])

    def split(self, theta):
        """``z`` with ``u = max(theta_W, 0)``, ``v = max(-theta_W, 0)``."""
        n = self.n_coef
        W = theta[:n]
        return np.concatenate([np.maximum(W, 0.0), np.maximum(-W, 0.0), theta[n:]])

    def canonical(self, z):
        """The same model with ``min(u, v) = 0``: a lower penalty, same ``theta``."""
        return self.split(self.theta(z))

    def unpack(self, z):
        """Model parameters ``(W, b)`` from ``z``."""
        return self.smooth.unpack(self.theta(z))

    def pack(self, W, b):
        """``z`` from model parameters."""
        return self.split(self.smooth.pack(W, b))

    def initial(self):
        """The smooth objective's start (zero coefficients), split."""
        return self.split(self.smooth.initial())

    # -- evaluations ---------------------------------------------------------
    def loss_grad(self, z):
        """Objective and gradient over ``z`` (smooth in ``u``, ``v``)."""
        n = self.n_coef
        f, g = self.smooth.loss_grad(self.theta(z))
        u, v = z[:n], z[n : 2 * n]
        f += float(self.weight @ u + self.weight @ v)
        gW = g[:n]
        return f, np.concatenate([gW + self.weight, self.weight - gW, g[n:]])

    def optimality(self, z, grad):
        """The KKT residual per coefficient of ``theta`` (and ``g`` of the
        intercepts), from ``z`` and the gradient :meth:`loss_grad` returned."""
        n, lam = self.n_coef, self.weight
        theta = z[:n] - z[n : 2 * n]
        g = grad[:n] - lam  # the smooth part's gradient in theta_W
        return np.concatenate([kkt_residual(theta, g, lam), grad[2 * n :]])


class L1Orthant:
    """A smooth objective plus ``lam . |theta_W|`` over ``theta`` itself.

    The formulation of orthant-wise L-BFGS (OWL-QN, ``_lbfgs.owlqn_run``):
    no extra variables and no bounds.  :meth:`loss_grad` returns the
    composite value and the *smooth* part's gradient; ``l1_weight`` (zero on
    the intercepts) is what the run adds to it.

    Parameters
    ----------
    smooth : SoftmaxObjective
        The cross-entropy and L2 part, in preconditioned coordinates.
    l1 : float
        ``t = l1_ratio / (C S)``, the L1 weight on the model's coefficients.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_softmax._blocks import RowBlocks
    >>> from sklearn_softmax._objective import SoftmaxObjective
    >>> from sklearn_softmax._precondition import DataStatistics
    >>> X, y = np.array([[0.0], [1.0], [2.0]]), np.array([0, 1, 1])
    >>> blocks = RowBlocks.whole(X, y, np.full(3, 1 / 3))
    >>> stats = DataStatistics.from_blocks(blocks, 2, center=True)
    >>> smooth = SoftmaxObjective(blocks, stats.preconditioner(0.0), alpha=0.0,
    ...                           dtype=X.dtype)
    >>> obj = L1Orthant(smooth, 0.1)
    >>> obj.initial().shape, obj.l1_weight[2:]  # no weight on the intercepts
    ((4,), array([0., 0.]))
    """

    bounds = None

    def __init__(self, smooth, l1):
        self.smooth = smooth
        self.blocks = smooth.blocks
        self.dtype = smooth.dtype
        self.n_classes, self.n_features = smooth.n_classes, smooth.n_features
        self.fit_intercept = smooth.fit_intercept
        self.n_params = smooth.n_params
        n = smooth.n_classes * smooth.n_features
        self.l1 = l1
        self.l1_weight = np.zeros(self.n_params)
        self.l1_weight[:n] = (l1 / smooth.preconditioner.D).ravel()

    @property
    def n_passes(self):
        """Passes over ``X`` so far (the smooth objective's)."""
        return self.smooth.n_passes

    def unpack(self, theta):
        """Model parameters ``(W, b)`` from ``theta``."""
        return self.smooth.unpack(theta)

    def pack(self, W, b):
        """``theta`` from model parameters."""
        return self.smooth.pack(W, b)

    def initial(self):
        """The smooth objective's start (zero coefficients)."""
        return self.smooth.initial()

    def canonical(self, theta):
        """``theta`` itself: it represents the model uniquely."""
        return theta

    def settle(self, theta, f, grad):
        """Move ``theta`` to the penalty's minimum along the gauge, at no pass.

        The data term is the same along the gauge (:func:`gauge_shift`) and
        so is its gradient; only the penalty's value and the L2 part's
        gradient change, computed here.  Returns ``(theta, f, grad)``.
        """
        W, b = self.unpack(theta)
        shift = gauge_shift(W, self.l1, self.smooth.alpha)
        if not shift.any():
            return theta, f, grad
        W_new = W + shift
        alpha = self.smooth.alpha
        f += 0.5 * alpha * (np.vdot(W_new, W_new) - np.vdot(W, W))
        f += self.l1 * (np.abs(W_new).sum() - np.abs(W).sum())
        zero_b = None if b is None else np.zeros_like(b)
        grad = grad + self.smooth.preconditioner.chain(alpha * (W_new - W), zero_b)
        return self.pack(W_new, b), float(f), grad

    def hessian_at(self, theta):
        """The smooth part's Hessian at ``theta``: ``(hessp, diagonal)``."""
        return self.smooth.hessian_at(theta)

    def loss_grad(self, theta):
        """The composite objective and the smooth part's gradient."""
        f, g = self.smooth.loss_grad(theta)
        return f + float(self.l1_weight @ np.abs(theta)), g

    def optimality(self, theta, grad):
        """The KKT residual per coordinate (:func:`kkt_residual`)."""
        return kkt_residual(theta, grad, self.l1_weight)
