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
import warnings
from dataclasses import dataclass

import numpy as np
import scipy.optimize
from scipy.linalg.blas import daxpy as _axpy

from ._blocks import single_threaded_blas

__all__ = [
    "SolveResult",
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


class _RoundingLevel(Exception):
    """A float32 line search struggling where the stall rule already holds."""


@dataclass
class _LbfgsMonitor:
    """The evaluation scipy last made and the stopping rule, checked per iterate.

    With ``stall_tol``, the last iterate that meets the rule at ``stall_tol``
    is kept, and a line search from it needing more than
    :data:`_ROUNDING_SEARCH` evaluations ends the run (:class:`_RoundingLevel`).
    """

    objective: object
    tol: float
    verbose: int = 0
    stall_tol: float = None
    n_iter: int = 0
    stopped: bool = False
    f: float = None
    g: np.ndarray = None
    theta: np.ndarray = None
    # an evaluation made before scipy's run, handed over when scipy asks for
    # the same point (it starts by evaluating theta0: a whole pass over X)
    cached: tuple = None
    rounding: tuple = None  # (theta, f, g) of the last iterate meeting stall_tol
    searching: int = 0  # evaluations since the last iterate

    def fun(self, theta):
        if self.rounding is not None and self.searching >= _ROUNDING_SEARCH:
            raise _RoundingLevel
        self.searching += 1
        if self.cached is not None and np.array_equal(theta, self.cached[0]):
            _, self.f, self.g = self.cached
        else:
            self.f, self.g = self.objective.loss_grad(theta)
        self.cached = None
        self.theta = theta
        return self.f, self.g

    def __call__(self, intermediate_result):
        # called at each new iterate, whose f and g were the last evaluation
        self.n_iter += 1
        self.searching = 0
        g = self.objective.optimality(self.theta, self.g)
        if self.verbose:
            _progress(self.n_iter, self.f, g, self.objective.n_passes)
        if _meets_rule(g, self.f, self.tol):
            self.stopped = True
            raise StopIteration
        if self.stall_tol is not None and _meets_rule(g, self.f, self.stall_tol):
            self.rounding = (self.theta.copy(), self.f, self.g)


# scipy's line search warns where it returns alpha None (handled by the caller)
_LINE_SEARCH_WARNINGS = (
    "The line search algorithm",
    "Rounding errors prevent the line search",
)


class _Memo:
    """``fun``'s last value and gradient, for a line search asking for them apart."""

    def __init__(self, fun):
        self.fun, self.x = fun, None

    def __call__(self, x):
        if self.x is None or not np.array_equal(x, self.x):
            self.f, self.g = self.fun(x)
            self.x = x
        return self.f, self.g


def _two_loop(g, pairs):
    """L-BFGS direction ``-H g`` from the pairs ``(s, y, 1 / s.y)``, oldest first.

    In-place BLAS updates: at 10^6 parameters every temporary of the
    gradient's size costs as much as the arithmetic.
    """
    q = -g
    alphas = []
    for s, y, rho in reversed(pairs):
        a = rho * (s @ q)
        alphas.append(a)
        q = _axpy(y, q, a=-a)
    s, y, _ = pairs[-1]
    q *= (s @ y) / (y @ y)  # the initial Hessian's scale (Nocedal & Wright 7.20)
    for (s, y, rho), a in zip(pairs, reversed(alphas), strict=True):
        q = _axpy(s, q, a=a - rho * (y @ q))
    return q


def _lbfgs_run(fun, theta, *, callback, maxiter, history):
    """Unbounded L-BFGS: two-loop recursion, scipy's Wolfe line search.

    Returns what ``scipy.optimize.minimize`` would (``x``, ``fun``, ``jac``,
    ``message``); ``callback`` is called at each new iterate and may raise
    StopIteration.  Kept beside L-BFGS-B (which handles the L1 split's
    bounds) because L-BFGS-B's own routine, at 10^6 parameters, costs about
    a third of an evaluation per call, two calls per iteration
    (docs/performance.rst).
    """
    memo = _Memo(fun)
    x = theta
    f, g = memo(x)
    pairs = []
    message = "max_iter reached"
    for _ in range(maxiter):
        if pairs:
            p = _two_loop(g, pairs)
        else:  # no curvature yet: a unit step along the normalised gradient
            p = -g / max(np.linalg.norm(g), np.finfo(float).tiny)
        with warnings.catch_warnings():
            # a failed search is reported by alpha None and handled below
            for text in _LINE_SEARCH_WARNINGS:
                warnings.filterwarnings("ignore", text, RuntimeWarning)
            alpha, *_ = scipy.optimize.line_search(
                lambda z: memo(z)[0], lambda z: memo(z)[1], x, p, gfk=g, old_fval=f
            )
        if alpha is None:
            message = "line search failed"
            break
        x_new = x + alpha * p
        f_new, g_new = memo(x_new)
        s, y = x_new - x, g_new - g
        sy = s @ y
        if sy > 1e-10 * (y @ y) ** 0.5 * (s @ s) ** 0.5:  # curvature condition
            pairs.append((s, y, 1.0 / sy))
            if len(pairs) > history:
                pairs.pop(0)
        x, f, g = x_new, f_new, g_new
        try:
            callback(x, f, g)
        except StopIteration:
            message = "converged"
            break
    return scipy.optimize.OptimizeResult(x=x, fun=f, jac=g, message=message)


def _scipy_runner(monitor, bounds, history):
    """``(theta, maxiter) -> result``: scipy's L-BFGS-B, our rule in its callback."""

    def run(theta, maxiter):
        return scipy.optimize.minimize(
            monitor.fun,
            theta,
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            callback=monitor,
            options={
                "maxiter": maxiter,
                "maxfun": 2 * maxiter + 20,
                "gtol": 0.0,
                "ftol": 0.0,
                "maxcor": history,
            },
        )

    return run


def _own_runner(monitor, history):
    """``(theta, maxiter) -> result``: :func:`_lbfgs_run` with the monitor."""

    def at_iterate(x, f, g):
        monitor.theta, monitor.f, monitor.g = x, f, g
        monitor(None)

    def run(theta, maxiter):
        return _lbfgs_run(
            monitor.fun, theta, callback=at_iterate, maxiter=maxiter, history=history
        )

    return run


def minimize_lbfgs(
    objective, theta0, *, tol, max_iter, verbose=0, history=None, stall_tol=None
):
    """Minimise ``objective`` with L-BFGS until the gradient rule holds.

    Without bounds: :func:`_lbfgs_run` (two-loop recursion, scipy's Wolfe line
    search); with bounds (the L1 split): scipy's L-BFGS-B.  The rule
    (``max|grad| <= stop_threshold(tol, f)``) is checked after every
    iteration; L-BFGS-B's own tests are switched off (``gtol=0``,
    ``ftol=0``), so it never stops on a small relative decrease with a large
    gradient.  When a run stops before the rule holds (a line search that found no
    decrease, or ``maxfun``), L-BFGS restarts from the same point (in its
    canonical form) with an empty memory, up to twice (20 times with bounds),
    while that lowers the objective.  With ``stall_tol`` (float32), a stop
    whose point meets the rule at ``stall_tol`` is convergence at the
    rounding level: no restart, and the result reports ``tol=stall_tol``.
    Whatever stops the run, ``converged`` is true only if the rule holds at
    the returned point.

    Parameters
    ----------
    objective : SoftmaxObjective
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
    n_restarts = 0
    restarts = _LBFGS_RESTARTS if objective.bounds is None else _BOUNDED_RESTARTS
    # Both BLAS pools (numpy's and scipy's) at one thread: parallelism comes
    # from our row blocks, and two pools interleaving contend for the cores.
    with single_threaded_blas(), objective.blocks:
        f0, g0 = monitor.fun(theta0)
        if _meets_rule(objective.optimality(theta0, g0), f0, tol):
            return _result(objective, theta0, f0, g0, 0, tol, "converged at start")
        monitor.cached = (theta0, f0, g0)
        theta, f = theta0, f0
        if objective.bounds is None:
            run = _own_runner(monitor, history)
        else:
            run = _scipy_runner(monitor, objective.bounds, history)
        rounding = False
        for restart in range(restarts + 1):
            left = max_iter - monitor.n_iter
            monitor.searching = 0
            try:
                res = run(theta, left)
            except _RoundingLevel:
                rounding = True
                break
            if monitor.stopped or monitor.n_iter >= max_iter:
                break
            if stall_tol is not None and _meets_rule(
                objective.optimality(res.x, res.jac), res.fun, stall_tol
            ):
                monitor.rounding = (res.x, res.fun, res.jac)
                rounding = True
                break
            # Near the rounding level the correction pairs can stop
            # describing the curvature; a fresh start (a scaled gradient step
            # first) often gets further.  Give up when it does not help.
            improved = res.fun < f
            theta, f = objective.canonical(res.x), res.fun
            if restart and not improved:
                break
            if restart < restarts:
                n_restarts += 1
        if rounding:
            # the rounding level: the rule at stall_tol is what holds
            x, f, g = monitor.rounding
            tol, message = stall_tol, "converged (float32 rounding level reached)"
        elif monitor.stopped:
            x, f, g, message = res.x, monitor.f, monitor.g, str(res.message)
        else:  # other stops may return an earlier point (failed line search)
            x, message = res.x, str(res.message)
            f, g = objective.loss_grad(x)
    return _result(
        objective,
        x,
        f,
        g,
        monitor.n_iter,
        tol,
        message,
        n_restarts=n_restarts,
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
    message = "max_iter reached"
    n_iter = 0
    converged = stalled = False
    with single_threaded_blas(), objective.blocks:
        f, g = objective.loss_grad(theta)
        monitor = _StallMonitor(eps, np.abs(g).max())
        while True:
            threshold = stop_threshold(tol, f)
            small = np.abs(g).max() <= threshold
            if (n_iter >= max_iter and not small) or stalled:
                if stalled:
                    # With the gradient rule met, a gap the line search cannot
                    # reduce is below the objective's rounding (which is eps
                    # times the logits, not times f, when f is tiny): the rule
                    # stands.
                    converged = small
                    message = (
                        f"no progress in {_NEWTON_STALLS} iterations "
                        "(rounding level reached)"
                    )
                    if small:
                        message = "converged (Newton's gap check: " + message + ")"
                break
            gnorm = np.linalg.norm(g)
            hessp = None  # free the previous point's probabilities first
            hessp, diagonal = objective.hessian_at(theta)
            rtol = 0.1 if small else min(0.5, np.sqrt(gnorm))
            p = conjugate_gradient(hessp, g, rtol, max_cg, diagonal)
            slope = g @ p
            if small:
                # Half the Newton decrement estimates the gap.  The gradient
                # rule bounds the gap by threshold^2 / 2 only where the
                # curvature is about 1; this also holds where it is tiny.
                # Below the loss's own rounding no gap can be resolved.
                # In float32 the gradient's rounding noise, amplified along
                # flat directions, swamps this estimate: the rule alone holds.
                gap = -slope / 2
                allowed = max(threshold**2, 16 * eps * abs(f))
                converged = gap <= allowed or objective.dtype == np.float32
                message = (
                    "converged"
                    if converged
                    else f"the gradient met the rule but Newton's gap estimate "
                    f"{gap:.3g} exceeds {allowed:.3g}"
                )
                if converged:
                    break
            if n_iter >= max_iter:
                break
            if slope >= 0:
                p, slope = -g, -(gnorm**2)
            step = 1.0
            for _ in range(50):
                f_new, g_new = objective.loss_grad(theta + step * p)
                # allow rounding-level increases: near the optimum the Armijo
                # decrease is below the objective's own rounding error
                if f_new <= f + 1e-4 * step * slope + 8 * eps * abs(f):
                    break
                step *= 0.5
            else:
                message = "line search failed (rounding level reached)"
                break
            n_iter += 1
            theta = theta + step * p
            stalled = monitor.update(f, f_new, np.abs(g_new).max())
            f, g = f_new, g_new
            if verbose:
                _progress(n_iter, f, g, objective.n_passes)
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


def solve(objective, theta0, *, solver, tol, max_iter, n_samples, verbose=0):
    """Minimise ``objective`` from ``theta0`` with the chosen solver.

    Parameters
    ----------
    objective : SoftmaxObjective
    theta0 : ndarray
    solver : {"auto", "lbfgs", "newton-cg"}
        See :func:`choose_solver`.
    tol : float
        Before the float32 floor (:func:`effective_tol`).
    max_iter : int
    n_samples : int
        Rows of the data (to judge the cost of an evaluation).
    verbose : int, default=0

    Returns
    -------
    SolveResult
        With ``solver``, the ``tol`` applied and, if not converged, the
        ``reason``.
    """
    K, d = objective.n_classes, objective.n_features
    if objective.bounds is not None:  # only L-BFGS-B handles bounds
        if solver == "newton-cg":
            raise ValueError("solver='newton-cg' cannot handle bounds.")
        solver = "lbfgs"
    solver = choose_solver(solver, n_samples * d * K)
    tol = effective_tol(tol, objective.dtype)
    options = {}
    if solver == "lbfgs" and np.dtype(objective.dtype) == np.float32:
        options["stall_tol"] = max(tol, _FLOAT32_LBFGS_STALL_TOL)
    minimize = minimize_newton_cg if solver == "newton-cg" else minimize_lbfgs
    result = minimize(
        objective, theta0, tol=tol, max_iter=max_iter, verbose=verbose, **options
    )
    result.solver = solver
    if not result.converged:
        result.reason = "max_iter" if result.n_iter >= max_iter else "stalled"
    return result


# TEMPORARY shim until the solver branch lands
@dataclass(frozen=True)
class SolverSettings:
    solver: str
    tol: float = 1e-6
    max_iter: int = 1000
    verbose: int = 0


_old_solve = solve


def solve(objective, theta0, settings):  # noqa: F811
    return _old_solve(
        objective,
        theta0,
        solver=settings.solver,
        tol=settings.tol,
        max_iter=settings.max_iter,
        n_samples=1,
        verbose=settings.verbose,
    )
