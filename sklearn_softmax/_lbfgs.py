"""L-BFGS runs: our own two-loop recursion without bounds, scipy's L-BFGS-B with.

Why our own: at 10^6 unbounded parameters L-BFGS-B's own routine and its
wrapper's copies cost a large share of an evaluation on every iteration,
where the two-loop recursion below (in-place BLAS updates) costs a few
vector operations per stored pair and takes the same iterations
(docs/performance.rst has the measurements).  So without bounds
``_solver.minimize_lbfgs`` runs :func:`lbfgs_run` on
``scipy.optimize.line_search``; L-BFGS-B (:func:`lbfgsb_run`) stays for the
bounded L1 split (``_l1``).  Where scipy's search fails, :func:`lbfgs_run`
tries a search on the slope alone (:func:`_slope_step`): near the optimum the
objective's decrease falls below its rounding before the gradient does.

Both runs have one interface, and no exception carries control through it:
``at_iterate`` returns whether to stop, and ``fun`` returns None to decline
an evaluation, which ends the run at the last iterate.  Only
:func:`lbfgsb_run` raises, inside, because scipy offers no other way.
"""

import warnings

import numpy as np
import scipy.optimize
from scipy.linalg.blas import daxpy as _axpy

__all__ = ["default_history", "lbfgs_run", "lbfgsb_run", "run"]

_EPS = float(np.finfo(np.float64).eps)

# scipy's line search warns where it returns alpha None (handled by the caller)
_LINE_SEARCH_WARNINGS = (
    "The line search algorithm",
    "Rounding errors prevent the line search",
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


class _Memo:
    """``fun``'s last value and gradient, for a line search asking for them apart.

    Once ``fun`` declines (returns None) it is not called again, and the line
    search gets ``-inf`` with a zero gradient: along a descent direction a
    step that meets both Wolfe conditions, so scipy's search ends without
    another evaluation (along any other, it fails without one).  The run
    reads :attr:`declined` after each search.
    """

    def __init__(self, fun):
        self.fun, self.x, self.declined = fun, None, False

    def __call__(self, x):
        if self.x is None or not np.array_equal(x, self.x):
            value = None if self.declined else self.fun(x)
            self.declined = value is None
            if self.declined:
                value = -np.inf, np.zeros_like(x)
            self.f, self.g = value
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


def _direction(g, pairs):
    if pairs:
        return _two_loop(g, pairs)
    # no curvature yet: a unit step along the normalised gradient
    return -g / max(np.linalg.norm(g), np.finfo(float).tiny)


def _wolfe_step(memo, x, p, f, g, eps=None):
    """scipy's strong-Wolfe search along ``p``: the step, or None if it failed.

    ``eps`` is unused (:func:`_slope_step`'s signature)."""
    with warnings.catch_warnings():
        # a failed search is reported by alpha None and handled by the caller
        for text in _LINE_SEARCH_WARNINGS:
            warnings.filterwarnings("ignore", text, RuntimeWarning)
        alpha, *_ = scipy.optimize.line_search(
            lambda z: memo(z)[0], lambda z: memo(z)[1], x, p, gfk=g, old_fval=f
        )
    return alpha


# The objective's rounding, in units of its dtype's epsilon times |f|: the
# rise the slope search accepts (Newton's Armijo slack is the same).
_ROUNDING = 8

# The slope search: evaluations at most, and the fraction of the initial
# slope's size it must reach (strong Wolfe's curvature condition, tighter).
_SLOPE_EVALUATIONS = 10
_SLOPE_REDUCTION = 0.1


def _next_trial(a, slope, previous, bracket):
    """The slope search's next step: the secant root of the slope through the
    last two trials, bisection where that leaves the bracket ``(lo, hi)``,
    at most tenfold extrapolation while there is no ``hi`` yet (None)."""
    a_prev, slope_prev = previous
    rise = slope - slope_prev
    secant = a - slope * (a - a_prev) / rise if rise > 0 else np.inf
    lo, hi = bracket
    if hi is None:
        return min(secant, 10 * a) if secant > a else 2 * a
    return secant if lo < secant < hi else 0.5 * (lo + hi)


def _slope_step(memo, x, p, f, g, eps):
    """A step along ``p`` found from the slope alone, or None.

    For when scipy's Wolfe search fails: near the optimum the objective's
    decrease per step (about ``|g|^2`` over the curvature) falls below its
    rounding (``eps |f|``), while the slope ``phi'(a) = g(x + a p) . p`` is
    still measured to the gradient's own precision.  Secant steps on
    ``phi'`` from ``a = 1`` (:func:`_next_trial`) seek
    ``|phi'(a)| <= 0.1 |phi'(0)|``: for a convex objective, near the minimum
    along ``p``.  That step is taken if the objective falls by more than its
    rounding (``8 eps |f|``, the slack of Newton's Armijo check), or if it
    rises by no more than that and the gradient's max-norm falls.
    """
    slope0 = g @ p
    if not slope0 < 0:  # not a descent direction: no step to look for
        return None
    a, previous, bracket = 1.0, (0.0, slope0), (0.0, None)
    for _ in range(_SLOPE_EVALUATIONS):
        f_a, g_a = memo(x + a * p)
        if memo.declined:
            return None
        slope = g_a @ p
        if abs(slope) <= -_SLOPE_REDUCTION * slope0:
            decrease, rounding = f - f_a, _ROUNDING * eps * abs(f)
            if decrease > rounding:  # measurable, as scipy's search would take
                return a
            falls = np.abs(g_a).max() < np.abs(g).max()
            return a if decrease >= -rounding and falls else None
        bracket = (a, bracket[1]) if slope < 0 else (bracket[0], a)
        a, previous = _next_trial(a, slope, previous, bracket), (a, slope)
    return None


def _remember(pairs, s, y, history):
    """Keep the pair ``(s, y)`` if it carries curvature; at most ``history``."""
    sy = s @ y
    if sy > 1e-10 * (y @ y) ** 0.5 * (s @ s) ** 0.5:  # curvature condition
        pairs.append((s, y, 1.0 / sy))
        if len(pairs) > history:
            pairs.pop(0)


def lbfgs_run(fun, theta, *, at_iterate, maxiter, history, eps=_EPS):
    """Unbounded L-BFGS from ``theta``: two-loop recursion, scipy's Wolfe search.

    Where that search fails, a search on the slope (:func:`_slope_step`)
    may still find a step; if it does not either, the run ends there.  Where
    a unit step's predicted decrease ``-g.p / 2`` is below one rounding unit
    of the objective (``eps |f|``) the slope search goes first: Wolfe's sufficient
    decrease would compare rounding errors.

    Parameters
    ----------
    fun : callable
        ``fun(x) -> (f, grad)``.  It may return None to decline an
        evaluation after the first (at ``theta``): the run then ends at the
        last iterate.
    theta : ndarray
        The start.
    at_iterate : callable
        ``at_iterate(x, f, grad) -> bool``, called at each new iterate; True
        stops the run.
    maxiter : int
        Iterations at most.
    history : int
        Correction pairs kept.
    eps : float, default=float64's machine epsilon
        The objective's relative rounding (its dtype's epsilon): the rise
        in it that the slope search accepts is ``8 eps |f|``.

    Returns
    -------
    scipy.optimize.OptimizeResult
        ``x``, ``fun``, ``jac`` (the last iterate) and ``message``, as
        ``scipy.optimize.minimize`` returns them.
    """
    memo = _Memo(fun)
    x = theta
    f, g = memo(x)
    pairs = []
    message = "max_iter reached"
    for _ in range(maxiter):
        p = _direction(g, pairs)
        # Where a unit step's predicted decrease (-g.p / 2 for a quasi-Newton
        # direction) is below one rounding unit of the objective, Wolfe's
        # sufficient decrease compares rounding errors: the slope goes first.
        searches = [_wolfe_step, _slope_step]
        if -(g @ p) / 2 <= eps * abs(f):
            searches.reverse()
        alpha = None
        for search in searches:
            if alpha is None and not memo.declined:
                alpha = search(memo, x, p, f, g, eps)
        if memo.declined:
            message = "evaluation declined"
            break
        if alpha is None:
            message = "line search failed"
            break
        x_new = x + alpha * p
        f_new, g_new = memo(x_new)
        _remember(pairs, x_new - x, g_new - g, history)
        x, f, g = x_new, f_new, g_new
        if at_iterate(x, f, g):
            message = "converged"
            break
    return scipy.optimize.OptimizeResult(x=x, fun=f, jac=g, message=message)


def lbfgsb_run(fun, theta, *, at_iterate, maxiter, history, bounds):
    """scipy's L-BFGS-B within ``bounds``, with :func:`lbfgs_run`'s interface.

    Its own tests are switched off (``gtol=0``, ``ftol=0``): only
    ``at_iterate`` decides that the point is good enough; ``maxfun`` is
    ``2 * maxiter + 20``.  ``bounds`` is a ``scipy.optimize.Bounds``; the
    other parameters and the result are as for :func:`lbfgs_run`.
    """

    # The scipy boundary: its callback(intermediate_result) API stops L-BFGS-B
    # only on StopIteration, and nothing but an exception ends its line search
    # from inside fun.  Both stay in this function.
    class Declined(Exception):
        """``fun`` declined an evaluation inside scipy's line search."""

    points = {}

    def evaluate(x):
        value = fun(x)
        if value is None:
            raise Declined
        points["last"] = (x, *value)
        points.setdefault("iterate", points["last"])  # the start, so far
        return value

    def callback(intermediate_result):
        points["iterate"] = points["last"]  # scipy's last evaluation
        if at_iterate(*points["iterate"]):
            raise StopIteration

    try:
        return scipy.optimize.minimize(
            evaluate,
            theta,
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
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
        x, f, g = points["iterate"]
        return scipy.optimize.OptimizeResult(
            x=x, fun=f, jac=g, message="evaluation declined"
        )


def run(fun, theta, *, at_iterate, maxiter, history, bounds=None, eps=_EPS):
    """One L-BFGS run: :func:`lbfgs_run` without ``bounds``, else :func:`lbfgsb_run`.

    ``eps`` (the objective's rounding) is :func:`lbfgs_run`'s only.
    """
    options = dict(at_iterate=at_iterate, maxiter=maxiter, history=history)
    if bounds is None:
        return lbfgs_run(fun, theta, eps=eps, **options)
    return lbfgsb_run(fun, theta, bounds=bounds, **options)
