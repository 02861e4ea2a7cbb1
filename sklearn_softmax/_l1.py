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

__all__ = ["L1Split"]


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
        self.weight = (l1 / smooth.preconditioner.D).ravel()
        lower = np.zeros(self.n_params)
        lower[2 * n :] = -np.inf  # the intercepts are free
        self.bounds = scipy.optimize.Bounds(lower, np.inf)

    @property
    def n_passes(self):
        """Passes over ``X`` so far (the smooth objective's)."""
        return self.smooth.n_passes

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
        residual = np.where(
            theta != 0,
            np.abs(g + np.sign(theta) * lam),
            np.maximum(np.abs(g) - lam, 0.0),
        )
        return np.concatenate([residual, grad[2 * n :]])
