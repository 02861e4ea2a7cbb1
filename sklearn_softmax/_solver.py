"""Minimisers: L-BFGS (own, or scipy's L-BFGS-B with bounds) and a truncated
Newton-CG, one stopping rule.

Nothing else in the package knows ``scipy.optimize``.  The minimisers see an
objective only through ``loss_grad(theta)``, ``optimality(theta, grad)`` (the
gradient, or the KKT residual of a non-smooth penalty), ``bounds`` (None, or
L-BFGS-B's bounds), ``hessian_at(theta)`` (Newton-CG), ``unpack(theta)``,
``dtype``, ``blocks`` (held open during a solve), ``n_passes`` (passes over
``X`` so far, reported) and, for :func:`solve`, ``n_classes`` and
``n_features``.

Convergence means ``max |optimality| <= tol * min(1, sqrt(f))`` in the solver's
(preconditioned) coordinates: a gradient in units of standardised features,
independent of how the columns of ``X`` are scaled.  Near the optimum the gap is
about ``|grad|^2 / 2`` over the curvature, so the rule bounds the relative gap
instead of merely noting that the objective stopped decreasing
(docs/user_guide/convergence.rst).  :func:`solve` returns the solution and
the diagnosis as data; the estimator words the warning.
"""

import math
from dataclasses import dataclass

import numpy as np
import scipy.optimize

from . import _lbfgs
from ._blocks import single_threaded_blas

__all__ = [
    "SolveResult",
    "SolverSettings",
    "choose_solver",
    "conjugate_gradient",
    "default_history",
    "effective_tol",
    "minimize_lbfgs",
    "minimize_newton_cg",
    "solve",
    "stop_threshold",
]

# "auto" takes Newton-CG below this many multiply-adds per evaluation (n * d * K):
# there evaluations are cheap and Newton is robust to ill-conditioning (nearly
# separable data, weak penalties) where L-BFGS needs thousands of iterations.
_AUTO_NEWTON_WORK = 10_000_000

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

# Fresh L-BFGS runs after a stall of the line search (see minimize_lbfgs).
_LBFGS_RESTARTS = 2
# With bounds (the L1 split) a stall is common while the active set settles,
# and each restart from the canonical point drops stale pairs.
_BOUNDED_RESTARTS = 20

# Newton-CG gives up after this many steps without measurable progress.
_NEWTON_STALLS = 5


@dataclass
class SolveResult:
    """What a solve returns: the point, its model parameters and the diagnosis.

    ``reason`` is None when ``converged``, else ``"max_iter"`` (the budget ran
    out) or ``"stalled"`` (no further decrease before the rule held).
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


def _progress(n_iter, f, g, n_passes):
    print(
        f"iter {n_iter:5d}   loss {f:.12g}   |grad| {np.abs(g).max():.3e}"
        f"   passes {n_passes}"
    )


def default_history(n_params):
    """L-BFGS pairs kept, by problem size: 40 up to 10^4 parameters, 20 up to
    10^5, 5 above (where their memory and L-BFGS-B's own O(history * params)
    work per iteration dominate; docs/performance.rst has the measurements).

    Examples
    --------
    >>> default_history(5_000), default_history(50_000), default_history(10**6)
    (40, 20, 5)
    """
    if n_params <= 10_000:
        return 40
    return 20 if n_params <= 100_000 else 5


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
    n_iter: int = 0
    stopped: bool = False  # the rule held at an iterate
    rounding_level: bool = False  # the run ended at the float32 rounding level
    f: float = None
    g: np.ndarray = None
    theta: np.ndarray = None
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
        if self.cached is not None and np.array_equal(theta, self.cached[0]):
            _, self.f, self.g = self.cached
        else:
            self.f, self.g = self.objective.loss_grad(theta)
        self.cached = None
        self.theta = theta
        return self.f, self.g

    def at_iterate(self, theta, f, g):
        """Count the iterate and check the rule; True: stop (converged)."""
        self.n_iter += 1
        self.searching = 0
        self.theta, self.f, self.g = theta, f, g
        optimality = self.objective.optimality(theta, g)
        if self.verbose:
            _progress(self.n_iter, f, optimality, self.objective.n_passes)
        self.stopped = bool(_meets_rule(optimality, f, self.tol))
        if self.stall_tol is not None and not self.stopped:
            if _meets_rule(optimality, f, self.stall_tol):
                self.rounding = (theta.copy(), f, g)
        return self.stopped

    def stalled_at_rounding_level(self, res):
        """Whether a run that stopped early (``res``) did so at the rounding level."""
        if self.stall_tol is not None and _meets_rule(
            self.objective.optimality(res.x, res.jac), res.fun, self.stall_tol
        ):
            self.rounding = (res.x, res.fun, res.jac)
            self.rounding_level = True
        return self.rounding_level


def _lbfgsb_run(monitor, theta, maxiter, history):
    """scipy's L-BFGS-B from ``theta``, our rule in its callback.

    scipy lets a callback stop L-BFGS-B only by raising StopIteration (its
    documented ``callback(intermediate_result)`` API), and ``fun`` can end a
    line search only by raising: both exceptions stay in this function.
    Returns scipy's result, or None where the monitor declined an evaluation.
    """

    class Declined(Exception):
        """The monitor declined an evaluation inside scipy's line search."""

    def fun(z):
        value = monitor.fun(z)
        if value is None:
            raise Declined
        return value

    def callback(intermediate_result):
        # scipy's last evaluation is the new iterate
        if monitor.at_iterate(monitor.theta, monitor.f, monitor.g):
            raise StopIteration

    try:
        return scipy.optimize.minimize(
            fun,
            theta,
            jac=True,
            method="L-BFGS-B",
            bounds=monitor.objective.bounds,
            callback=callback,
            options={
                "maxiter": maxiter,
                "maxfun": 2 * maxiter + 20,
                "gtol": 0.0,
                "ftol": 0.0,
                "maxcor": history,
            },
        )
    except Declined:
        return None


def _run(monitor, theta, maxiter, history):
    """One L-BFGS run: ours without bounds, scipy's L-BFGS-B with them."""
    monitor.searching = 0
    if monitor.objective.bounds is not None:
        return _lbfgsb_run(monitor, theta, maxiter, history)
    return _lbfgs.lbfgs_run(
        monitor.fun,
        theta,
        at_iterate=monitor.at_iterate,
        maxiter=maxiter,
        history=history,
    )


def _restarted_runs(monitor, theta, f, max_iter, restarts, history):
    """L-BFGS runs from ``theta`` (objective ``f``), restarted after stalls.

    Near the rounding level the correction pairs can stop describing the
    curvature; a fresh run from the same point (canonical form, empty memory,
    a scaled gradient step first) often gets further.  Returns the last
    run's result and the number of restarts.
    """
    n_restarts = 0
    while True:
        res = _run(monitor, theta, max_iter - monitor.n_iter, history)
        if monitor.rounding_level or monitor.stopped or monitor.n_iter >= max_iter:
            return res, n_restarts
        if monitor.stalled_at_rounding_level(res):
            return res, n_restarts
        improved = res.fun < f
        if n_restarts == restarts or (n_restarts > 0 and not improved):
            return res, n_restarts  # no restart left, or the last one did not help
        theta, f = monitor.objective.canonical(res.x), res.fun
        n_restarts += 1


def minimize_lbfgs(
    objective, theta0, *, tol, max_iter, verbose=0, history=None, stall_tol=None
):
    """Minimise ``objective`` with L-BFGS until the gradient rule holds.

    Without bounds: :func:`~sklearn_softmax._lbfgs.lbfgs_run` (two-loop
    recursion, scipy's Wolfe line search); with bounds (the L1 split):
    scipy's L-BFGS-B.  The rule (``max|grad| <= stop_threshold(tol, f)``) is
    checked after every iteration; L-BFGS-B's own tests are switched off
    (``gtol=0``, ``ftol=0``), so it never stops on a small relative decrease
    with a large gradient.  When a run stops before the rule holds (a line
    search that found no decrease, or ``maxfun``), L-BFGS restarts from the
    same point (in its canonical form) with an empty memory, up to twice (20
    times with bounds), while that lowers the objective.  With ``stall_tol``
    (float32), a stop whose point meets the rule at ``stall_tol`` is
    convergence at the rounding level: no restart, and the result reports
    ``tol=stall_tol``.  Whatever stops the run, ``converged`` is true only if
    the rule holds at the returned point.

    Parameters
    ----------
    objective : Objective
    theta0 : ndarray
    tol : float
    max_iter : int
    verbose : int
        > 0 prints the objective and the gradient's max-norm every iteration.
    history : int, default=None
        L-BFGS memory (pairs kept); default :func:`default_history`.
    stall_tol : float, default=None
        The rule a stalled run is judged by (see above); None: ``tol``.

    Returns
    -------
    SolveResult
    """
    monitor = _LbfgsMonitor(objective, tol, verbose, stall_tol)
    if history is None:
        history = default_history(theta0.size)
    restarts = _LBFGS_RESTARTS if objective.bounds is None else _BOUNDED_RESTARTS
    x, message, n_restarts = theta0, "converged at start", 0
    # Both BLAS pools (numpy's and scipy's) at one thread: parallelism comes
    # from our row blocks, and two pools interleaving contend for the cores.
    with single_threaded_blas(), objective.blocks:
        f, g = monitor.fun(theta0)
        if not _meets_rule(objective.optimality(theta0, g), f, tol):
            monitor.cached = (theta0, f, g)
            res, n_restarts = _restarted_runs(
                monitor, theta0, f, max_iter, restarts, history
            )
            if monitor.rounding_level:
                # the rule at stall_tol is what holds
                (x, f, g), tol = monitor.rounding, stall_tol
                message = "converged (float32 rounding level reached)"
            elif monitor.stopped:
                x, f, g, message = res.x, monitor.f, monitor.g, str(res.message)
            else:  # other stops may return an earlier point (failed line search)
                x, message = res.x, str(res.message)
                f, g = objective.loss_grad(x)
    return _result(
        objective, x, f, g, monitor.n_iter, tol, message, n_restarts=n_restarts
    )


def conjugate_gradient(hessp, g, rtol, max_iter, diagonal):
    """Approximately solve ``H p = -g`` by CG preconditioned with ``diagonal``.

    Truncated: stops at relative residual ``rtol``, after ``max_iter`` steps,
    or on flat or negative curvature (returning ``-g`` if no step was taken).
    Solved for the unit vector ``g / |g|`` and scaled back: the system is
    linear, and a gradient of 1e-160 (features scaled by 1e-150) would
    otherwise drive the residual norms into denormals.

    Examples
    --------
    >>> import numpy as np
    >>> H = np.diag([1.0, 10.0])
    >>> conjugate_gradient(lambda v: H @ v, np.array([1.0, 1.0]), 1e-10, 10,
    ...                    np.diag(H))
    array([-1. , -0.1])
    """
    gnorm = np.linalg.norm(g)
    if gnorm == 0:
        return np.zeros_like(g)
    g = g / gnorm
    top = diagonal.max()
    inv = 1.0 / np.maximum(diagonal, 1e-12 * top) if top > 0 else np.ones_like(g)
    p = np.zeros_like(g)
    r = -g
    z = inv * r
    d = z.copy()
    rz = r @ z
    stop = rtol**2
    for _ in range(max_iter):
        Hd = hessp(d)
        dHd = d @ Hd
        # Flat or negative curvature: keep what we have.  The coordinates are
        # scaled to curvature ~1, so 1e-14 is flat to rounding (e.g. the
        # intercepts' shift-invariant direction, which rounding can excite).
        if dHd <= 1e-14 * (d @ d):
            break
        a = rz / dHd
        p += a * d
        r -= a * Hd
        if r @ r <= stop:
            break
        z = inv * r
        rz_new = r @ z
        d *= rz_new / rz
        d += z
        rz = rz_new
    return gnorm * (p if p.any() else -g)


@dataclass
class _StallMonitor:
    """Counts consecutive Newton steps without measurable progress.

    A step is flat when the objective falls by no more than its rounding
    (``8 eps |f|``) and the gradient's max-norm stays above 0.9 times the best
    seen (in float32 the gradient keeps improving after the objective's
    changes fall below its rounding).
    """

    eps: float
    best: float
    stalled: int = 0

    def update(self, f, f_new, gmax):
        flat = f - f_new <= 8 * self.eps * abs(f) and gmax > 0.9 * self.best
        self.stalled = self.stalled + 1 if flat else 0
        self.best = min(self.best, gmax)
        return self.stalled >= _NEWTON_STALLS


def _newton_verdict(*, failed, stalled, small, gap_excess, spent):
    """Why Newton-CG stops here, as ``(converged, message)``; None: take a step.

    ``failed``: the last line search found no decrease; ``stalled``: the
    :class:`_StallMonitor` gave up; ``small``: the gradient rule holds;
    ``gap_excess``: where it holds, Newton's objection to it (None: none);
    ``spent``: ``max_iter`` steps taken.
    """
    if failed:
        return False, "line search failed (rounding level reached)"
    if stalled:
        message = f"no progress in {_NEWTON_STALLS} iterations (rounding level reached)"
        # With the gradient rule met, a gap the line search cannot reduce is
        # below the objective's rounding (which is eps times the logits, not
        # times f, when f is tiny): the rule stands.
        if small:
            return True, f"converged (Newton's gap check: {message})"
        return False, message
    if small and gap_excess is None:
        return True, "converged"
    if spent:
        return False, gap_excess or "max_iter reached"
    return None


def _gap_excess(slope, threshold, f, eps, dtype):
    """Newton's objection to a gradient that meets the rule, or None.

    Half the Newton decrement ``-g.p / 2`` estimates the gap.  The gradient
    rule bounds the gap by ``threshold^2 / 2`` only where the curvature is
    about 1; this also holds where it is tiny.  Below the loss's own rounding
    no gap can be resolved.  In float32 the gradient's rounding noise,
    amplified along flat directions, swamps this estimate: the rule alone
    holds.
    """
    gap = -slope / 2
    allowed = max(threshold**2, 16 * eps * abs(f))
    if gap <= allowed or dtype == np.float32:
        return None
    return (
        f"the gradient met the rule but Newton's gap estimate {gap:.3g} "
        f"exceeds {allowed:.3g}"
    )


def _backtrack(loss_grad, theta, f, p, slope, eps):
    """Armijo backtracking from the full step: ``(step, f, g)``, or None."""
    step = 1.0
    for _ in range(50):
        f_new, g_new = loss_grad(theta + step * p)
        # allow rounding-level increases: near the optimum the Armijo
        # decrease is below the objective's own rounding error
        if f_new <= f + 1e-4 * step * slope + 8 * eps * abs(f):
            return step, f_new, g_new
        step *= 0.5
    return None


def minimize_newton_cg(objective, theta0, *, tol, max_iter, verbose=0, max_cg=200):
    """Line-search truncated Newton-CG on exact Hessian-vector products.

    Same stopping rule as :func:`minimize_lbfgs`, plus one check that only
    Newton can make: half the Newton decrement ``-g.p / 2`` (its estimate of
    the gap) must be at most ``stop_threshold(tol, f)**2`` (what the gradient
    rule promises at unit curvature) or the loss's rounding level.  This
    catches nearly flat optima (weak penalty, nearly separable data), where a
    small gradient still leaves a large gap.  Each iteration solves the Newton
    system by conjugate gradients (to a relative residual of
    ``min(0.5, sqrt(|g|))``, so convergence becomes superlinear), then
    backtracks from the full step until the Armijo condition holds.  It gives
    up after five steps without progress (:class:`_StallMonitor`).
    """
    theta = theta0.copy()
    # The loss carries the rounding of the data's dtype (float32 exps).
    eps = np.finfo(objective.dtype).eps
    n_iter = 0
    failed = stalled = False
    with single_threaded_blas(), objective.blocks:
        f, g = objective.loss_grad(theta)
        stalls = _StallMonitor(eps, np.abs(g).max())
        while True:
            threshold = stop_threshold(tol, f)
            small = np.abs(g).max() <= threshold
            gap_excess = None
            if not (failed or stalled) and (small or n_iter < max_iter):
                gnorm = np.linalg.norm(g)
                hessp = None  # free the previous point's probabilities first
                hessp, diagonal = objective.hessian_at(theta)
                rtol = 0.1 if small else min(0.5, np.sqrt(gnorm))
                p = conjugate_gradient(hessp, g, rtol, max_cg, diagonal)
                slope = g @ p
                if small:
                    gap_excess = _gap_excess(slope, threshold, f, eps, objective.dtype)
            verdict = _newton_verdict(
                failed=failed,
                stalled=stalled,
                small=small,
                gap_excess=gap_excess,
                spent=n_iter >= max_iter,
            )
            if verdict is not None:
                break
            if slope >= 0:
                p, slope = -g, -(gnorm**2)
            step = _backtrack(objective.loss_grad, theta, f, p, slope, eps)
            if step is None:
                failed = True
                continue
            step, f_new, g_new = step
            n_iter += 1
            theta = theta + step * p
            stalled = stalls.update(f, f_new, np.abs(g_new).max())
            f, g = f_new, g_new
            if verbose:
                _progress(n_iter, f, g, objective.n_passes)
    converged, message = verdict
    return _result(objective, theta, f, g, n_iter, tol, message, converged)


def choose_solver(solver, work):
    """The minimiser for ``solver``: "auto" picks Newton-CG when one evaluation
    is cheap (``work = n * d * K`` multiply-adds at most 1e7), else L-BFGS.

    Examples
    --------
    >>> choose_solver("auto", 1e6), choose_solver("auto", 1e8)
    ('newton-cg', 'lbfgs')
    """
    if solver != "auto":
        return solver
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
    solver : {"lbfgs", "newton-cg"}
        Concrete: callers resolve "auto" first (:func:`choose_solver`).
    tol : float
        Before the float32 floor (:func:`effective_tol`).
    max_iter : int
        Iterations at most.
    verbose : int, default=0
        > 0 prints the objective and the gradient's max-norm every iteration.

    Examples
    --------
    >>> SolverSettings(choose_solver("auto", 1e6), tol=1e-6, max_iter=100)
    SolverSettings(solver='newton-cg', tol=1e-06, max_iter=100, verbose=0)
    """

    solver: str
    tol: float
    max_iter: int
    verbose: int = 0

    def __post_init__(self):
        if self.solver not in ("lbfgs", "newton-cg"):
            raise ValueError(
                f"solver must be 'lbfgs' or 'newton-cg', got {self.solver!r}."
            )


def solve(objective, theta0, settings):
    """Minimise ``objective`` from ``theta0`` as ``settings`` say.

    Parameters
    ----------
    objective : Objective
        A :class:`~sklearn_softmax._objective.SmoothObjective` for Newton-CG.
    theta0 : ndarray
        The start.
    settings : SolverSettings
        The solver, ``tol``, ``max_iter`` and ``verbose``.

    Returns
    -------
    SolveResult
        With ``solver``, the ``tol`` applied and, if not converged, the
        ``reason``.

    Raises
    ------
    ValueError
        For Newton-CG on an objective with bounds (only L-BFGS-B handles them).
    """
    solver, max_iter = settings.solver, settings.max_iter
    if solver == "newton-cg" and objective.bounds is not None:
        raise ValueError("solver='newton-cg' cannot handle bounds.")
    tol = effective_tol(settings.tol, objective.dtype)
    if solver == "newton-cg":
        minimize, options = minimize_newton_cg, {}
    else:
        minimize, options = minimize_lbfgs, {}
        if np.dtype(objective.dtype) == np.float32:
            options["stall_tol"] = max(tol, _FLOAT32_LBFGS_STALL_TOL)
    result = minimize(
        objective,
        theta0,
        tol=tol,
        max_iter=max_iter,
        verbose=settings.verbose,
        **options,
    )
    result.solver = solver
    if not result.converged:
        result.reason = "max_iter" if result.n_iter >= max_iter else "stalled"
    return result
