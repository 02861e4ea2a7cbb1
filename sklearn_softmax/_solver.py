"""Minimisers: L-BFGS, Newton-CG and exact Newton, one stopping rule, the choice.

The loops live below: ``_lbfgs`` (our unbounded L-BFGS, and scipy's L-BFGS-B
for bounds: the only calls of ``scipy.optimize``'s minimisers; ``_l1`` takes
its ``Bounds`` from there too) and ``_newton``.  Here the rule is applied and
the results are packaged.  The minimisers see an objective only through
``_objective.Objective`` (``SmoothObjective`` for Newton-CG,
``ExactHessianObjective`` for Newton on the exact Hessian, "newton-cholesky").

Convergence means ``max |optimality| <= stop_threshold(tol, f)`` in the
solver's (preconditioned) coordinates: a gradient in units of standardised
features, which bounds the relative gap (docs/user_guide/convergence.rst).
:func:`solve` returns the solution and the diagnosis as data; the estimator
words the warning.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from . import _lbfgs, _newton
from ._blocks import single_threaded_blas
from ._lbfgs import default_history
from ._newton import CALLBACK_STOP, conjugate_gradient
from ._objective import SmoothObjective

__all__ = [
    "CALLBACK_STOP",
    "SOLVERS",
    "IterationHook",
    "SolveResult",
    "SolverSettings",
    "choose_solver",
    "conjugate_gradient",
    "default_history",
    "effective_tol",
    "exact_newton_pays",
    "minimize_lbfgs",
    "minimize_newton_cg",
    "minimize_newton_exact",
    "report_iterate",
    "solve",
    "stop_threshold",
]

# The minimisers :func:`solve` runs ("auto" resolves to one of them).
SOLVERS = ("lbfgs", "newton-cg", "newton-cholesky")

# "auto" takes Newton-CG below this many multiply-adds per evaluation (n * d * K):
# there evaluations are cheap and Newton is robust to ill-conditioning (nearly
# separable data, weak penalties) where L-BFGS needs thousands of iterations.
_AUTO_NEWTON_WORK = 10_000_000

# Newton on the exact Hessian where a step costs at most this many Newton-CG
# Hessian products (``exact_newton_pays``).
_EXACT_STEP_PRODUCTS = 15

# Float32 gradients carry rounding of ~1e-7 times the sum of |terms|; below
# this floor the criterion would only measure noise.
_FLOAT32_TOL_FLOOR = 1e-5
# L-BFGS's line search (no slack for rounding, unlike Newton's) can give up on
# that noise sooner: in float32 a stall with the gradient below this level is
# taken as convergence at the rounding level.
_FLOAT32_LBFGS_STALL_TOL = 1e-4
# Past that level, a line search needing more evaluations than this is
# taken as the stall it would end in (each failed one costs up to 20).
_ROUNDING_SEARCH = 3

# The orthant Newton finishes a stalled split L-BFGS-B run (see solve) only
# near the rule (KKT residual within this factor of the threshold; 5-9 where
# the split stalls at tol=1e-10 on digits), and for this many steps at most:
# it is a finish, not a solver for a run that stalled far from the optimum.
_FINISH_RANGE = 1e3
_FINISH_ITER = 50

# Fresh L-BFGS runs after a stall of the line search (see minimize_lbfgs).
_LBFGS_RESTARTS = 2
# With bounds (the L1 split) a stall is common while the active set settles,
# and each restart from the canonical point drops stale pairs.
_BOUNDED_RESTARTS = 20


class IterationHook(Protocol):
    """What a solve tells about each iterate, and how it may be asked to stop.

    ``settings.on_iterate`` (:class:`SolverSettings`), when not None, is called
    by every solver loop once per completed iteration, with the iterate:

    - ``model`` is a callable without arguments returning the iterate's model
      parameters ``(W, b)`` (``objective.unpack(theta)``; ``b`` None without
      intercepts).  Call it during the hook only: the loop may move on.
      It is lazy, so a hook that does not need the model costs no conversion;
    - the return value is True to ask the solve to stop at this iterate.  The
      loop then ends there (unless the rule also holds at it: then it
      converged) and :func:`solve` returns it with ``converged=False``,
      ``reason="callback"`` and ``message`` :data:`CALLBACK_STOP`.

    A loop calls it through :func:`report_iterate`, which costs nothing when
    no hook is set.  The calls are at most ``max_iter``: one per iteration
    counted in ``n_iter``.
    """

    def __call__(self, model: Callable[[], tuple]) -> bool:
        """Report one iterate; True asks the solve to stop there."""


def report_iterate(on_iterate, objective, theta):
    """Hand the iterate ``theta`` to ``on_iterate``; whether it asks to stop.

    The one call a solver loop makes per completed iteration (after counting
    it); free (no conversion, no call) when ``on_iterate`` is None.  See
    :class:`IterationHook`.

    Examples
    --------
    >>> report_iterate(None, None, None)
    False
    """
    if on_iterate is None:
        return False
    return bool(on_iterate(lambda: objective.unpack(theta)))


@dataclass
class SolveResult:
    """What a solve returns: the point, its model parameters and the diagnosis.

    ``reason`` is None when ``converged``, else ``"max_iter"`` (the budget ran
    out), ``"stalled"`` (no further decrease before the rule held) or
    ``"callback"`` (a callback asked to stop; :class:`IterationHook`).
    """

    W: np.ndarray
    b: np.ndarray
    fun: float
    grad_max: float
    threshold: float
    n_iter: int
    converged: bool
    message: str
    tol: float
    solver: str = ""
    reason: str = None
    n_restarts: int = 0
    n_passes: int = 0


def stop_threshold(tol, f):
    """Gradient threshold of the stopping rule: ``tol * min(1, sqrt(f))``.

    Near the optimum the gap is ``|g|^2 / (2 h)`` for curvature ``h``, so this
    keeps the *relative* gap near ``tol^2 / (2 h)`` also when the loss is tiny
    (nearly separable data).

    Examples
    --------
    >>> stop_threshold(1e-6, 4.0), stop_threshold(1e-6, 0.01)
    (1e-06, 1e-07)
    """
    return tol * min(1.0, math.sqrt(max(f, 0.0)))


def _meets_rule(g, f, tol):
    return np.abs(g).max() <= stop_threshold(tol, f)


def _result(objective, theta, f, g, n_iter, tol, message, converged=True, **extra):
    """Package a solve; ``converged`` can only veto the gradient rule."""
    g = objective.optimality(theta, g)
    grad_max = float(np.abs(g).max()) if g.size else 0.0
    W, b = objective.unpack(theta)
    threshold = stop_threshold(tol, f)
    return SolveResult(
        W=W,
        b=b,
        fun=float(f),
        grad_max=grad_max,
        threshold=threshold,
        n_iter=n_iter,
        converged=bool(converged and grad_max <= threshold),
        message=message,
        tol=tol,
        n_passes=objective.n_passes,
        **extra,
    )


def _progress(n_iter, f, g, n_passes, tol):
    # the threshold moves with the loss (tol * min(1, sqrt(f))): print it
    gmax = np.abs(g).max()
    print(
        f"iter {n_iter:5d}   loss {f:.12g}   |grad| {gmax:.3e}   "
        f"threshold {stop_threshold(tol, f):.3e}   passes {n_passes}"
    )


@dataclass
class _LbfgsMonitor:
    """The stopping rule at each iterate, and the evaluations between them.

    :meth:`fun` evaluates for the runs; :meth:`at_iterate` checks the rule
    and returns whether to stop.  With ``stall_tol`` (float32), the last
    iterate that meets the rule at ``stall_tol`` is kept (``rounding``); from
    then on a line search asking for more than :data:`_ROUNDING_SEARCH`
    evaluations is taken as the stall it would end in: :meth:`fun` declines
    (returns None) and ``rounding_level`` is set.
    """

    objective: object
    tol: float
    verbose: int = 0
    stall_tol: float = None
    on_iterate: object = None  # the IterationHook, or None
    n_iter: int = 0
    stopped: bool = False  # the rule held at an iterate
    interrupted: bool = False  # on_iterate asked to stop (the rule did not hold)
    x: np.ndarray = None  # the iterate where on_iterate asked to stop
    rounding_level: bool = False  # the run ended at the float32 rounding level
    f: float = None  # the objective and gradient at the last iterate
    g: np.ndarray = None
    # an evaluation made before the run, handed over when the run asks for
    # the same point (it starts by evaluating theta0: a whole pass over X)
    cached: tuple = None
    rounding: tuple = None  # (theta, f, g) of the last iterate meeting stall_tol
    searching: int = 0  # evaluations since the last iterate, or the run's start

    def fun(self, theta):
        """``(f, g)`` at ``theta``, or None once the search is at the rounding level."""
        if self.rounding is not None and self.searching >= _ROUNDING_SEARCH:
            self.rounding_level = True
            return None
        self.searching += 1
        cached, self.cached = self.cached, None
        if cached is not None and np.array_equal(theta, cached[0]):
            return cached[1:]
        return self.objective.loss_grad(theta)

    def at_iterate(self, theta, f, g):
        """Count the iterate, check the rule, report it; True: stop (converged,
        or ``on_iterate`` asked to: ``interrupted``)."""
        self.n_iter += 1
        self.searching = 0
        self.f, self.g = f, g
        optimality = self.objective.optimality(theta, g)
        if self.verbose:
            _progress(self.n_iter, f, optimality, self.objective.n_passes, self.tol)
        self.stopped = bool(_meets_rule(optimality, f, self.tol))
        if self.stall_tol is not None and not self.stopped:
            if _meets_rule(optimality, f, self.stall_tol):
                self.rounding = (theta.copy(), f, g)
        if report_iterate(self.on_iterate, self.objective, theta):
            self.interrupted, self.x = not self.stopped, theta
        return self.stopped or self.interrupted

    def stalled_at_rounding_level(self, res):
        """Whether a run that stopped early (``res``) did so at the rounding level."""
        if self.stall_tol is not None and _meets_rule(
            self.objective.optimality(res.x, res.jac), res.fun, self.stall_tol
        ):
            self.rounding = (res.x, res.fun, res.jac)
            self.rounding_level = True
        return self.rounding_level


def _restarted_runs(monitor, theta, f, max_iter, restarts, history):
    """L-BFGS runs from ``theta`` (objective ``f``): ``(last result, restarts)``.

    Near the rounding level the correction pairs can stop describing the
    curvature: after a stall, a fresh run from the same point (canonical
    form, empty memory) often gets further.
    """
    n_restarts = 0
    while True:
        monitor.searching = 0
        res = _lbfgs.run(
            monitor.fun,
            theta,
            at_iterate=monitor.at_iterate,
            maxiter=max_iter - monitor.n_iter,
            history=history,
            bounds=monitor.objective.bounds,
            eps=float(np.finfo(monitor.objective.dtype).eps),
        )
        done = (
            monitor.rounding_level
            or monitor.stopped
            or monitor.interrupted
            or monitor.n_iter >= max_iter
        )
        if done or monitor.stalled_at_rounding_level(res):
            return res, n_restarts
        improved = res.fun < f
        if n_restarts == restarts or (n_restarts > 0 and not improved):
            return res, n_restarts  # no restart left, or the last one did not help
        theta, f = monitor.objective.canonical(res.x), res.fun
        n_restarts += 1


def minimize_lbfgs(
    objective,
    theta0,
    *,
    tol,
    max_iter,
    verbose=0,
    history=None,
    stall_tol=None,
    on_iterate=None,
):
    """Minimise ``objective`` with L-BFGS until the gradient rule holds.

    Our own L-BFGS without bounds, scipy's L-BFGS-B with them (the L1 split;
    ``_lbfgs``).  The rule (``max|grad| <= stop_threshold(tol, f)``) is
    checked after every iteration.  When a run stops before the rule holds (a
    line search that found no decrease, or ``maxfun``), L-BFGS restarts from
    the same point (in its canonical form) with an empty memory, up to twice
    (20 times with bounds), while that lowers the objective.  With
    ``stall_tol`` (float32), a stop whose point meets the rule at
    ``stall_tol`` is convergence at the rounding level: no restart, and the
    result reports ``tol=stall_tol``.  Whatever stops the run, ``converged``
    is true only if the rule holds at the returned point.

    Parameters
    ----------
    objective : Objective
    theta0 : ndarray
    tol, max_iter, verbose
        As :class:`SolverSettings`.
    history : int, default=None
        L-BFGS memory (pairs kept); default :func:`default_history`.
    stall_tol : float, default=None
        The rule a stalled run is judged by (see above); None: ``tol``.
    on_iterate : IterationHook, default=None
        Told every iterate; it may stop the run there.

    Returns
    -------
    SolveResult
    """
    monitor = _LbfgsMonitor(objective, tol, verbose, stall_tol, on_iterate)
    if history is None:
        history = default_history(theta0.size)
    restarts = _LBFGS_RESTARTS if objective.bounds is None else _BOUNDED_RESTARTS
    x, message, n_restarts, extra = theta0, "converged at start", 0, {}
    # Both BLAS pools (numpy's and scipy's) at one thread: parallelism comes
    # from our row blocks, and two pools interleaving contend for the cores.
    with single_threaded_blas(), objective.blocks:
        f, g = start = monitor.fun(theta0)
        met = _meets_rule(objective.optimality(theta0, g), f, tol)
        if not met and max_iter == 0:  # no step allowed: the start as it is
            message = "max_iter reached"
        elif not met:
            monitor.cached = (theta0, f, g)
            res, n_restarts = _restarted_runs(
                monitor, theta0, f, max_iter, restarts, history
            )
            if monitor.interrupted:  # at the iterate it was told
                x, f, g, message = monitor.x, monitor.f, monitor.g, CALLBACK_STOP
                extra = dict(converged=False, reason="callback")
            elif monitor.rounding_level:
                # the rule at stall_tol is what holds
                (x, f, g), tol = monitor.rounding, stall_tol
                message = "converged (float32 rounding level reached)"
            elif monitor.stopped:
                x, f, g, message = res.x, monitor.f, monitor.g, str(res.message)
            else:  # other stops may return an earlier point (failed line search)
                x, message = res.x, str(res.message)
                if monitor.n_iter == 0:  # no step taken: the start, exactly
                    x, (f, g) = theta0, start
                else:
                    f, g = objective.loss_grad(x)
    return _result(
        objective, x, f, g, monitor.n_iter, tol, message, n_restarts=n_restarts, **extra
    )


def _minimize_newton(
    objective, theta0, method, tol, max_iter, verbose, on_iterate, **options
):
    """Run the Newton loop ``method`` (``_newton``) under the rule; a SolveResult."""
    asked = []  # whether on_iterate asked to stop

    def report(n_iter, theta, f, g, note=None):
        if note is not None:  # the gradient met the rule, the loop goes on: why
            if verbose:
                print(f"{'':11}{note}: another Newton step")
            return False
        if verbose:
            _progress(n_iter, f, g, objective.n_passes, tol)
        if report_iterate(on_iterate, objective, theta):
            asked.append(n_iter)
            return True
        return False

    with single_threaded_blas(), objective.blocks:
        theta, f, g, n_iter, converged, message = method(
            objective,
            theta0,
            threshold=lambda f: stop_threshold(tol, f),
            max_iter=max_iter,
            report=report,
            **options,
        )
    result = _result(objective, theta, f, g, n_iter, tol, message, converged)
    if asked and not result.converged:
        result.reason = "callback"
    return result


def minimize_newton_cg(
    objective, theta0, *, tol, max_iter, verbose=0, max_cg=200, on_iterate=None
):
    """Minimise ``objective`` by truncated Newton-CG until the rule holds.

    The rule of :func:`minimize_lbfgs` plus Newton's own check of the gap
    (the method: :func:`~sklearn_softmax._newton.newton_cg`); ``tol``,
    ``max_iter``, ``verbose``, ``on_iterate`` as :class:`SolverSettings`,
    ``max_cg`` the CG steps per Newton step at most.  Returns a
    :class:`SolveResult`.
    """
    orthant = getattr(objective, "l1_weight", None) is not None
    method = _newton.newton_orthant if orthant else _newton.newton_cg
    return _minimize_newton(
        objective,
        theta0,
        method,
        tol,
        max_iter,
        verbose,
        on_iterate,
        max_cg=max_cg,
    )


def minimize_newton_exact(
    objective, theta0, *, tol, max_iter, verbose=0, on_iterate=None
):
    """Minimise ``objective`` by Newton on its exact Hessian until the rule holds.

    As :func:`minimize_newton_cg`, with each Newton system solved whole by
    Cholesky (:func:`~sklearn_softmax._newton.newton_exact`); ``objective``
    an ``ExactHessianObjective``.  Returns a :class:`SolveResult`.
    """
    return _minimize_newton(
        objective, theta0, _newton.newton_exact, tol, max_iter, verbose, on_iterate
    )


def exact_newton_pays(n_samples, n_features, n_classes):
    """Whether Newton on the exact Hessian beats Newton-CG (the cost model).

    One exact step forms the Hessian of ``m = (K - 1) (d + 1)`` contrast
    parameters (``n m^2 / 2`` multiply-adds in matrix-matrix products) and
    factors it (``m^3 / 3``); a Newton-CG step costs a few dozen Hessian
    products of ``2 n d K`` each, in skinny products and Python calls.  Exact
    Newton is taken while its step costs at most 15 such products (the
    crossover measured by ``benchmarks/bench_crossover.py``, in
    docs/performance.rst; the rule keeps ``m`` below about 130).

    Examples
    --------
    >>> exact_newton_pays(569, 30, 2), exact_newton_pays(1797, 64, 10)
    (True, False)
    """
    m = (n_classes - 1) * (n_features + 1)
    step = n_samples * m * m / 2 + m**3 / 3
    product = 2 * n_samples * max(n_features, 1) * n_classes
    return step <= _EXACT_STEP_PRODUCTS * product


def choose_solver(solver, n_samples, n_features, n_classes):
    """The minimiser for ``solver``; "auto" decides by the problem's size.

    Newton on the exact Hessian ("newton-cholesky") where it pays
    (:func:`exact_newton_pays`), else Newton-CG when one evaluation is cheap
    (``n d K`` multiply-adds at most 1e7), else L-BFGS.

    Examples
    --------
    >>> choose_solver("auto", 150, 4, 3), choose_solver("auto", 10**4, 100, 10)
    ('newton-cholesky', 'newton-cg')
    >>> choose_solver("auto", 10**5, 200, 10), choose_solver("lbfgs", 150, 4, 3)
    ('lbfgs', 'lbfgs')
    """
    if solver != "auto":
        return solver
    if exact_newton_pays(n_samples, n_features, n_classes):
        return "newton-cholesky"
    work = n_samples * n_features * n_classes
    return "newton-cg" if work <= _AUTO_NEWTON_WORK else "lbfgs"


def effective_tol(tol, dtype):
    """``tol``, floored at float32 rounding for float32 data.

    Examples
    --------
    >>> import numpy as np
    >>> effective_tol(1e-6, np.float32)
    1e-05
    >>> effective_tol(1e-6, np.float64)
    1e-06
    """
    if np.dtype(dtype) == np.float32:
        return max(tol, _FLOAT32_TOL_FLOOR)
    return tol


@dataclass(frozen=True)
class SolverSettings:
    """How :func:`solve` minimises: the solver, already chosen, and its budget.

    Parameters
    ----------
    solver : {"lbfgs", "newton-cg", "newton-cholesky"}
        Concrete: callers resolve "auto" first (:func:`choose_solver`).
    tol : float
        Before the float32 floor (:func:`effective_tol`).
    max_iter : int
        Iterations at most.
    verbose : int, default=0
        > 0 prints the objective, the gradient's max-norm and the rule's
        threshold every iteration.
    on_iterate : IterationHook or None, default=None
        Told every iterate, by every solver; it may stop the solve there
        (scikit-learn's callbacks use it).  None costs nothing.
    """

    solver: str
    tol: float
    max_iter: int
    verbose: int = 0
    on_iterate: IterationHook = None

    def __post_init__(self):
        if self.solver not in SOLVERS:
            raise ValueError(f"unknown solver {self.solver!r} (resolve 'auto' first)")


def _polish(objective, result, budget, note):
    """Finish, by Newton-CG on ``objective``, a run that stopped before the rule.

    Used where L-BFGS's line search runs out before ``tol``: in float32 it
    needs the objective to fall, which rounding hides near the optimum
    (Newton's Armijo test allows for that rounding and its step does not
    depend on the objective's last digits); on the L1 split, near a tight
    ``tol``, the bounded search can go no further, and the orthant-based
    Newton (``objective`` the split's :meth:`~sklearn_softmax._l1.L1Split.orthant`)
    goes on from the same model.  The iterations add up; the better of the
    two results is kept, with ``note`` in the message where Newton converged.
    """
    theta = objective.pack(result.W, result.b)
    budget = dict(budget, max_iter=budget["max_iter"] - result.n_iter)
    polished = minimize_newton_cg(objective, theta, **budget)
    polished.n_iter += result.n_iter
    polished.n_restarts = result.n_restarts
    if polished.reason == "callback":  # the iterate the callback was told
        return polished
    if polished.converged:
        polished.message += f" ({note})"
        return polished
    return result if result.fun <= polished.fun else polished


def solve(objective, theta0, settings):
    """Minimise ``objective`` from ``theta0`` as ``settings`` say.

    Parameters
    ----------
    objective : Objective
        A :class:`~sklearn_softmax._objective.SmoothObjective` for Newton-CG,
        an :class:`~sklearn_softmax._objective.ExactHessianObjective` for
        "newton-cholesky".
    theta0 : ndarray
        The start.
    settings : SolverSettings
        The solver, ``tol``, ``max_iter``, ``verbose`` and ``on_iterate``.

    Returns
    -------
    SolveResult
        With ``solver``, the ``tol`` applied and, if not converged, the
        ``reason``.

    Raises
    ------
    ValueError
        For Newton on an objective with bounds (only L-BFGS-B handles them).
    """
    solver = settings.solver
    if solver != "lbfgs" and objective.bounds is not None:
        raise ValueError(f"solver={solver!r} cannot handle bounds.")
    tol = effective_tol(settings.tol, objective.dtype)
    budget = dict(
        tol=tol,
        max_iter=settings.max_iter,
        verbose=settings.verbose,
        on_iterate=settings.on_iterate,
    )
    if solver == "newton-cg":
        result = minimize_newton_cg(objective, theta0, **budget)
    elif solver == "newton-cholesky":
        result = minimize_newton_exact(objective, theta0, **budget)
    else:
        float32 = np.dtype(objective.dtype) == np.float32
        stall_tol = max(tol, _FLOAT32_LBFGS_STALL_TOL) if float32 else None
        result = minimize_lbfgs(objective, theta0, stall_tol=stall_tol, **budget)
        stopped = result.reason == "callback"
        rounding = result.tol > tol and not stopped
        if rounding and isinstance(objective, SmoothObjective):
            note = "Newton-CG after L-BFGS's rounding level"
            result = _polish(objective, result, budget, note)
        spare = result.n_iter < settings.max_iter and not stopped
        near = result.grad_max <= _FINISH_RANGE * result.threshold
        if not result.converged and spare and near and objective.bounds is not None:
            note = "orthant Newton after L-BFGS-B stalled"
            finish = dict(budget, max_iter=result.n_iter + _FINISH_ITER)
            finish["max_iter"] = min(finish["max_iter"], settings.max_iter)
            result = _polish(objective.orthant(), result, finish, note)
    result.solver = solver
    if not result.converged and result.reason is None:
        stopped_early = result.n_iter < settings.max_iter
        result.reason = "stalled" if stopped_early else "max_iter"
    return result
