"""A regularisation path: one training set, a sequence of ``C``, warm starts.

Each fit starts from the previous optimum.  The preconditioner depends on
``alpha = (1 - r) / (C S)``, so the solver's coordinates change from one ``C``
to the next: the *model* ``(W, b)`` is carried over and packed again in the new
coordinates, which is exact.  The data statistics behind the preconditioner
(class priors, feature moments) do not depend on ``C``: they are computed once.
A single fit is a path of length one.
"""

import numpy as np

from ._l1 import L1Split
from ._objective import SoftmaxObjective
from ._precondition import DataStatistics
from ._solver import SolverSettings, choose_solver, solve

__all__ = ["fit_path"]

# The rotation's covariance pass costs n d^2 multiply-adds, an evaluation
# 2 n d K: rotate only where that is at most two evaluations.
_ROTATION_MAX_EVALUATIONS = 2


def rotation_pays(n_classes, n_features, *, n_samples, l1_ratio, solver):
    """Whether to precondition with the feature covariance's eigenvectors.

    For L-BFGS with an L2 penalty only (an L1 penalty and Newton-CG's
    diagonal need the features' own axes), where the covariance pass costs at
    most two evaluations (``d <= 4 K``).  Sparse data are left out later
    (:meth:`DataStatistics.rotated`).

    Examples
    --------
    >>> rotation_pays(100, 256, n_samples=10**5, l1_ratio=0.0, solver="auto")
    True
    >>> rotation_pays(10, 200, n_samples=10**5, l1_ratio=0.0, solver="auto")
    False
    """
    work = n_samples * n_features * n_classes
    return (
        l1_ratio == 0
        and choose_solver(solver, work) == "lbfgs"
        and n_features <= 2 * _ROTATION_MAX_EVALUATIONS * n_classes
    )


def fit_path(
    blocks,
    n_classes,
    Cs,
    *,
    total,
    n_samples,
    dtype,
    l1_ratio=0.0,
    fit_intercept=True,
    solver="auto",
    tol=1e-6,
    max_iter=1000,
    verbose=0,
    start=None,
):
    """Fit each ``C`` of ``Cs`` in turn, each from the previous solution.

    Parameters
    ----------
    blocks : Blocks
        Prepared blocks (final targets, weights summing to one).
    n_classes : int
    Cs : sequence of float
        In the order to fit; increasing ``C`` (decreasing penalty) keeps each
        start close to its optimum.  ``np.inf`` is no penalty.
    total : float
        ``S``, the sum of the row weights before normalisation.
    n_samples : int
        Rows of the training data (to choose the solver).
    dtype : dtype
        The working precision of ``X``.
    l1_ratio : float in [0, 1], default=0.0
        Ignored (treated as 0) where ``C`` is infinite.
    fit_intercept : bool, default=True
    solver, tol, max_iter, verbose
        As :func:`sklearn_softmax._solver.solve`.
    start : tuple (W, b), default=None
        Model parameters to start the first fit from (``b`` None without
        intercepts); default: zero coefficients, intercepts at the log priors.

    Yields
    ------
    SolveResult
        One per ``C``, in the order of ``Cs``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_softmax._blocks import RowBlocks
    >>> X, y = np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([0, 0, 1, 1])
    >>> blocks = RowBlocks.whole(X, y, np.full(4, 0.25))
    >>> path = fit_path(blocks, 2, [0.1, 1.0, 10.0], total=4.0, n_samples=4,
    ...                 dtype=np.float64)
    >>> [round(float(r.W[1, 0] - r.W[0, 0]), 3) for r in path]  # log-odds slope
    [0.321, 1.361, 3.419]
    """
    with blocks:
        stats = DataStatistics.from_blocks(blocks, n_classes, center=fit_intercept)
        if rotation_pays(
            n_classes,
            stats.mu.size,
            n_samples=n_samples,
            l1_ratio=l1_ratio,
            solver=solver,
        ):
            stats = stats.rotated(blocks)
    model = start
    for C in Cs:
        r = l1_ratio if np.isfinite(C) else 0.0
        alpha = (1.0 - r) / (C * total)
        objective = SoftmaxObjective(
            blocks, stats.preconditioner(alpha), alpha=alpha, dtype=dtype
        )
        if r > 0:
            objective = L1Split(objective, r / (C * total))
        theta0 = objective.initial() if model is None else objective.pack(*model)
        result = solve(
            objective,
            theta0,
            SolverSettings(
                "lbfgs"
                if objective.bounds is not None
                else choose_solver(
                    solver, n_samples * objective.n_features * objective.n_classes
                ),
                tol=tol,
                max_iter=max_iter,
                verbose=verbose,
            ),
        )
        if verbose:
            print(
                f"C={C:g}: {result.solver}, {result.n_iter} iterations, "
                f"{result.n_passes} passes over X"
            )
        model = (result.W, result.b)
        yield result
