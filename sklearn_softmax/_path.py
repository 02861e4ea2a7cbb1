"""The fit, written once: training data in, one solution per penalty out.

Both estimators fit through :func:`fit_path`: ``SoftmaxRegression`` with one
penalty, ``SoftmaxRegressionCV`` with its ``C`` path per fold and with the best
penalty for the refit.  The sequence is

1. the target pipeline (``_targets.prepare_rows``: class indices or probability
   rows, label smoothing, class weights, row weights summing to one);
2. the blocks laid out for the solver (``Blocks.laid_out``);
3. the data statistics behind the preconditioner (class priors, feature
   moments), and where it pays the covariance's eigenbasis (:func:`rotation_pays`);
4. for each penalty in turn: its objective (``_penalty.Penalty.objective``), a
   solve (``_solver.solve``) started from the previous solution, and whether
   an unpenalised fit separates the data.

The preconditioner depends on ``alpha = (1 - r) / (C S)``, so the solver's
coordinates change from one ``C`` to the next: the *model* ``(W, b)`` is carried
over and packed again in the new coordinates, which is exact.  The statistics do
not depend on ``C``: they are computed once per training set.
"""

import time
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from ._objective import reported_parameters, separates
from ._penalty import Penalty
from ._precondition import DataStatistics
from ._solver import IterationHook, SolveResult, SolverSettings, choose_solver, solve
from ._targets import prepare_rows

__all__ = [
    "FitOptions",
    "PathHooks",
    "PathPoint",
    "fit_path",
    "fit_summary",
    "model_attributes",
    "rotation_pays",
]

# The rotation's covariance pass costs n d^2 multiply-adds, an evaluation
# 2 n d K: rotate only where that is at most two evaluations.
_ROTATION_MAX_EVALUATIONS = 2


@dataclass(frozen=True)
class FitOptions:
    """Everything about a fit but the data and the penalty.

    Parameters
    ----------
    fit_intercept : bool, default=True
    class_weight : dict, "balanced" or None, default=None
    label_smoothing : float, default=0.0
    solver : {"auto", "lbfgs", "newton-cg", "newton-cholesky"}, default="auto"
        As requested; each penalty resolves it (:meth:`Penalty.solver`).
    tol : float, default=1e-6
    max_iter : int, default=1000
    verbose : int, default=0
        > 0 prints every iteration and a summary line per penalty
        (:func:`fit_summary`).
    """

    fit_intercept: bool = True
    class_weight: object = None
    label_smoothing: float = 0.0
    solver: str = "auto"
    tol: float = 1e-6
    max_iter: int = 1000
    verbose: int = 0


class PathPoint(NamedTuple):
    """One fit of a path: its penalty, the solve, and whether the data are
    separated by a fit without penalty (then no finite optimum exists)."""

    penalty: Penalty
    result: SolveResult
    separated: bool


class PathHooks(Protocol):
    """What :func:`fit_path` tells about its fits (scikit-learn's callbacks).

    ``begin(penalty)`` is called before the solve of each penalty and returns
    the solve's ``on_iterate`` (an :class:`~sklearn_softmax._solver.IterationHook`,
    or None); ``end(point)`` after it, with its :class:`PathPoint`.
    """

    def begin(self, penalty: Penalty) -> IterationHook:
        """A penalty's solve starts; its per-iteration hook, or None."""

    def end(self, point: "PathPoint") -> None:
        """A penalty's solve ended at ``point``."""


def model_attributes(data, W, b, *, centred, reported=None):
    """The fitted attributes of solver parameters ``(W, b)``, and their float64 form.

    ``classes_``, ``coef_`` and ``intercept_`` in ``data``'s dtype, reported
    as the estimators report them (:func:`reported_parameters`: centred gauge
    where ``centred``, binary log-odds); the one conversion of a fit's model
    and of every iterate a callback is shown.  ``reported``, a float64
    ``(coef, intercept)`` already in that form, is taken as it is (bit for
    bit) instead.  Returns ``(attributes, (coef, intercept))``, the pair in
    float64.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_softmax._blocks import FitInput, RowBlocks
    >>> X, y = np.array([[0.0], [1.0]]), np.array([0, 1])
    >>> data = FitInput(RowBlocks.whole(X, y, np.ones(2)), np.array([0, 1]), 2, 1,
    ...                 np.dtype(np.float32))
    >>> attributes, _ = model_attributes(data, np.array([[-1.0], [1.0]]), None,
    ...                                  centred=True)
    >>> attributes["coef_"], attributes["intercept_"]
    (array([[2.]], dtype=float32), array([0.], dtype=float32))
    """
    if reported is None:
        reported = reported_parameters(W, b, center=centred)
    coef, intercept = reported
    attributes = {
        "classes_": data.classes,
        "coef_": coef.astype(data.dtype),
        "intercept_": intercept.astype(data.dtype),
    }
    return attributes, (coef, intercept)


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
    return (
        l1_ratio == 0
        and choose_solver(solver, n_samples, n_features, n_classes) == "lbfgs"
        and n_features <= 2 * _ROTATION_MAX_EVALUATIONS * n_classes
    )


def fit_summary(penalty, result, seconds):
    """The line ``verbose`` prints after a fit: the verdict, the rule, the cost.

    Examples
    --------
    >>> from sklearn_softmax._solver import SolveResult
    >>> result = SolveResult(W=None, b=None, fun=0.5, grad_max=3e-7,
    ...                      threshold=7.07e-7, n_iter=12, converged=True,
    ...                      message="converged", tol=1e-6, solver="newton-cg",
    ...                      n_passes=40)
    >>> print(fit_summary(Penalty(1.0), result, 0.0123))
    C=1: newton-cg converged after 12 iterations: |grad| 3.000e-07 <= threshold
    7.070e-07 (tol=1e-06); 40 passes over X in 0.0123 s
    """
    if result.converged:
        verdict = "converged"
    else:
        verdict = f"did NOT converge ({result.message})"
    relation = "<=" if result.grad_max <= result.threshold else ">"
    return (
        f"C={penalty.C:g}: {result.solver} {verdict} after {result.n_iter} "
        f"iterations: |grad| {result.grad_max:.3e} {relation} threshold "
        f"{result.threshold:.3e} (tol={result.tol:g}); {result.n_passes} passes "
        f"over X in {seconds:.3g} s"
    )


def fit_path(data, penalties, options, *, start=None, min_classes=2, hooks=None):
    """Fit each penalty of ``penalties`` in turn, each from the previous solution.

    Parameters
    ----------
    data : FitInput
        Validated training data, as a backend hands them over.
    penalties : sequence of Penalty
        In the order to fit; increasing ``C`` (decreasing penalty) keeps each
        start close to its optimum.
    options : FitOptions
    start : tuple (W, b), default=None
        Model parameters to start the first fit from (``b`` None without
        intercepts); default: zero coefficients, intercepts at the log priors.
    min_classes : int, default=2
        Classes of ``data.classes`` that must carry weight; 1 for a
        cross-validation training fold (a class it misses is still fitted).

    Returns
    -------
    list of PathPoint
        One per penalty, in the order of ``penalties``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_softmax._blocks import FitInput, RowBlocks
    >>> X, y = np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([0, 0, 1, 1])
    >>> data = FitInput(RowBlocks.whole(X, y, np.ones(4)), np.array([0, 1]), 4, 1,
    ...                 X.dtype)
    >>> path = fit_path(data, [Penalty(C) for C in (0.1, 1.0, 10.0)], FitOptions())
    >>> [round(float(p.result.W[1, 0] - p.result.W[0, 0]), 3) for p in path]
    [0.321, 1.361, 3.419]
    """
    K = data.classes.shape[0]
    blocks, total = prepare_rows(
        data.blocks,
        data.classes,
        label_smoothing=options.label_smoothing,
        class_weight=options.class_weight,
        min_classes=min_classes,
    )
    blocks = blocks.laid_out(K)
    size = (data.n_samples, data.n_features, K)
    solvers = [penalty.solver(options.solver, *size) for penalty in penalties]
    with blocks:
        stats = DataStatistics.from_blocks(blocks, K, center=options.fit_intercept)
        if rotation_pays(
            K,
            data.n_features,
            n_samples=data.n_samples,
            l1_ratio=max(penalty.l1_part for penalty in penalties),
            solver=options.solver,
        ):
            stats = stats.rotated(blocks)
    model, points = start, []
    for penalty, solver in zip(penalties, solvers, strict=True):
        objective = penalty.objective(
            blocks, stats, total=total, dtype=data.dtype, solver=solver
        )
        theta0 = objective.initial() if model is None else objective.pack(*model)
        on_iterate = None if hooks is None else hooks.begin(penalty)
        settings = SolverSettings(
            solver, options.tol, options.max_iter, options.verbose, on_iterate
        )
        started = time.perf_counter()
        result = solve(objective, theta0, settings)
        seconds = time.perf_counter() - started
        if result.n_iter == 0 and model is not None:
            # no step: the model it was given, not its round trip through
            # the solver's coordinates (which moves it by rounding)
            result.W = model[0]
            result.b = None if result.b is None else model[1]
        if options.verbose:
            print(fit_summary(penalty, result, seconds))
        # the gradient can meet tol on the way to infinity where nothing
        # penalises the scale of (W, b): then the point is no optimum
        separated = (
            result.converged
            and penalty.unpenalised
            and separates(blocks, result.W, result.b)
        )
        points.append(PathPoint(penalty, result, bool(separated)))
        if hooks is not None:
            hooks.end(points[-1])
        model = (result.W, result.b)
    return points
