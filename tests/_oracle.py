"""The tests' one independent reference for the objective of a fitted model.

Built on numpy and scipy only (``scipy.special.log_softmax``), never on the
package, so that it checks the package's own evaluation
(``sklearn_softmax._objective``) rather than repeating it.  Test modules
import it as ``from _oracle import objective`` (``tests/`` is on ``sys.path``
under pytest's default import mode).  The objective is the one of
``docs/user_guide/objective.rst``.
"""

import numpy as np
import scipy.sparse as sp
from scipy.special import log_softmax

__all__ = ["full_parameters", "objective"]


def full_parameters(coef, intercept):
    """``(K, d)`` coefficients and ``(K,)`` intercepts, float64, of a reported model.

    A ``(1, d)`` ``coef`` is the binary log-odds ``w = W_1 - W_0``: it is split
    symmetrically, ``W_0 = -w / 2`` and ``W_1 = w / 2`` (the intercept
    likewise), which is the centred gauge.  Otherwise ``coef`` is returned as
    it is.

    Parameters
    ----------
    coef : array-like of shape (K, d), or (1, d) for two classes
    intercept : array-like of shape (K,), or (1,) for two classes

    Returns
    -------
    W : ndarray of shape (K, d)
    b : ndarray of shape (K,)

    Examples
    --------
    >>> W, b = full_parameters([[2.0, -4.0]], [1.0])
    >>> W.tolist(), b.tolist()
    ([[-1.0, 2.0], [1.0, -2.0]], [-0.5, 0.5])
    """
    W = np.asarray(coef, dtype=np.float64)
    b = np.asarray(intercept, dtype=np.float64).reshape(-1)
    if W.shape[0] == 1:
        return np.vstack([-W / 2, W / 2]), np.concatenate([-b / 2, b / 2])
    return W, b


def objective(X, target, coef, intercept, C, sample_weight=None, l1_ratio=0.0):
    """The penalised objective of a reported model, in float64.

    With sample weights ``s_i`` (default 1), ``S = sum_i s_i`` and the full
    parameters ``(W, b)`` of :func:`full_parameters`::

        f = (1/S) sum_i s_i CE_i + (1 - r) ||W||_F^2 / (2 C S) + r ||W||_1 / (C S),
        CE_i = -sum_k Y_ik log softmax(W x_i + b)_k,

    with ``0 log 0 = 0``, ``r = l1_ratio``; for class indices ``Y_i`` is
    one-hot.  For two classes ``||W||_F^2 = ||coef||^2 / 2`` and
    ``||W||_1 = ||coef||_1``: the objective of scikit-learn's
    ``LogisticRegression`` at ``C' = 2 C / (1 + r)``, ``l1_ratio' = 2 r / (1 + r)``.

    Parameters
    ----------
    X : array-like or sparse matrix of shape (n, d)
    target : ndarray of shape (n,) of int, or of shape (n, K)
        Class indices ``0..K-1``, or probability rows.
    coef, intercept : array-like
        ``coef_`` and ``intercept_`` as the estimator reports them.
    C : float
        Inverse penalty strength; ``np.inf`` for no penalty.
    sample_weight : array-like of shape (n,), default=None
    l1_ratio : float in [0, 1], default=0.0

    Returns
    -------
    f : float

    Examples
    --------
    >>> import numpy as np
    >>> X, y = np.array([[0.0], [1.0]]), np.array([0, 1])
    >>> f = objective(X, y, [[2.0]], [0.0], C=1.0)  # W = [[-1], [1]]
    >>> bool(np.isclose(f, (np.log(2) + np.log1p(np.exp(-2))) / 2 + 2 / 4))
    True
    """
    W, b = full_parameters(coef, intercept)
    if sp.issparse(X):
        X = X.astype(np.float64)
    else:
        X = np.asarray(X, dtype=np.float64)
    logp = log_softmax(np.asarray(X @ W.T) + b, axis=1)
    target = np.asarray(target)
    n = logp.shape[0]
    if target.ndim == 1:
        ce = -logp[np.arange(n), target]
    else:
        # 0 log 0 = 0, also where log p is -inf
        terms = np.multiply(target, logp, out=np.zeros_like(logp), where=target != 0)
        ce = -terms.sum(axis=1)
    s = np.ones(n) if sample_weight is None else np.asarray(sample_weight, float)
    S = s.sum()
    f = float(s @ ce) / S
    if np.isinf(C):
        return f
    l2, l1 = float(np.sum(W**2)), float(np.sum(np.abs(W)))
    return f + ((1.0 - l1_ratio) * l2 / 2.0 + l1_ratio * l1) / (C * S)
