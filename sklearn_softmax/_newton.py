"""Newton's method: truncated Newton-CG, and Newton on the exact Hessian.

One loop (:func:`_newton`) serves both; they differ only in the step:
conjugate gradients on Hessian products (:func:`newton_cg`), or a Cholesky
solve of the whole Hessian (:func:`newton_exact`, :func:`psd_solve`).  The
loops of ``_solver.minimize_newton``, which supplies the stopping rule's
threshold and packages what the loop returns; why a loop stops is decided in
one place (:func:`_verdict`).
"""

from dataclasses import dataclass

import numpy as np
import scipy.linalg

from ._l1 import orthant_search, pseudo_gradient

__all__ = [
    "CALLBACK_STOP",
    "conjugate_gradient",
    "newton_cg",
    "newton_exact",
    "newton_orthant",
    "psd_solve",
]

# The orthant Newton step's damping, times the KKT residual's max-norm: the
# L1 term has no curvature, and the smooth part is nearly flat along the gauge
# with a weak L2 part (0.01-1 measured alike on digits; 0.1 in between).
_ORTHANT_DAMPING = 0.1

# Newton gives up after this many steps without measurable progress.
_NEWTON_STALLS = 5

# A Cholesky factor whose smallest pivot is below this share of its largest
# is singular to rounding (collinear columns without a penalty): solve on the
# Hessian's range instead.
_SINGULAR_PIVOT = 1e-12


def psd_solve(H, rhs):
    """Solve ``H p = rhs`` for a symmetric positive semi-definite ``H``.

    By Cholesky (LAPACK ``potrf``, ``potrs``); where ``H`` is singular to rounding (a
    pivot below ``1e-12`` of the largest, or a failed factorisation), the
    minimum-norm solution on ``H``'s numerical range (eigenvalues above
    ``n eps`` of the largest): the exact Newton step along every direction the
    objective curves in, and none along a flat one (no jitter moves the
    optimum).

    Examples
    --------
    >>> import numpy as np
    >>> psd_solve(np.array([[2.0, 0.0], [0.0, 4.0]]), np.array([2.0, 2.0]))
    array([1. , 0.5])
    >>> psd_solve(np.ones((2, 2)), np.array([2.0, 2.0]))  # singular: minimum norm
    array([1., 1.])
    """
    # LAPACK directly: scipy.linalg's checks cost more than a small solve
    factor, info = scipy.linalg.lapack.dpotrf(H, lower=True)
    if info == 0:
        pivots = np.diag(factor) ** 2
        if pivots.min() > _SINGULAR_PIVOT * pivots.max():
            step, _ = scipy.linalg.lapack.dpotrs(factor, rhs, lower=True)
            return step
    eigenvalues, V = scipy.linalg.eigh(H, check_finite=False)
    top = eigenvalues.max(initial=0.0)
    keep = eigenvalues > H.shape[0] * np.finfo(float).eps * top
    V = V[:, keep]
    return V @ ((V.T @ rhs) / eigenvalues[keep])


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


# Why a loop stopped when its ``report`` asked it to (a callback, through
# ``_solver.IterationHook``); ``_solver`` reports the same words.
CALLBACK_STOP = "stopped by a callback"


def _verdict(*, failed, stalled, small, gap_excess, spent, interrupted=False):
    """Why Newton-CG stops here, as ``(converged, message)``; None: take a step.

    ``failed``: the last line search found no decrease; ``stalled``: the
    :class:`_StallMonitor` gave up; ``small``: the gradient rule holds;
    ``gap_excess``: where it holds, Newton's objection to it (None: none);
    ``spent``: ``max_iter`` steps taken; ``interrupted``: ``report`` asked to
    stop (converged still wins).
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
    if interrupted:
        return False, CALLBACK_STOP
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


def newton_cg(objective, theta0, *, threshold, max_iter, max_cg, report):
    """Line-search truncated Newton-CG on exact Hessian-vector products.

    Each iteration solves the Newton system by conjugate gradients (to a
    relative residual of ``min(0.5, sqrt(|g|))``, so convergence becomes
    superlinear; 0.1 for the gap check once the rule holds) preconditioned by
    the Hessian's diagonal, at most ``max_cg`` steps.  The loop, the stopping
    rule and the returns: :func:`_newton`.

    Parameters
    ----------
    objective : SmoothObjective
        Its blocks already open.
    theta0 : ndarray
        The start (not modified).
    threshold, max_iter, report
        As :func:`_newton`.
    max_cg : int
        Conjugate-gradient steps per Newton step at most.

    Returns
    -------
    tuple
        As :func:`_newton`.
    """

    def step(theta, g, small):
        hessp, diagonal = objective.hessian_at(theta)
        rtol = 0.1 if small else min(0.5, np.sqrt(np.linalg.norm(g)))
        return conjugate_gradient(hessp, g, rtol, max_cg, diagonal)

    return _newton(objective, theta0, step, threshold, max_iter, report)


def newton_exact(objective, theta0, *, threshold, max_iter, report):
    """Line-search Newton on the exact Hessian, solved by Cholesky.

    Each iteration forms the whole Hessian (``objective.hessian``, one pass)
    and solves the Newton system by :func:`psd_solve`.  The loop, the stopping
    rule and the returns: :func:`_newton`.

    Parameters
    ----------
    objective : ExactHessianObjective
        Its blocks already open.
    theta0 : ndarray
        The start (not modified).
    threshold, max_iter, report
        As :func:`_newton`.

    Returns
    -------
    tuple
        As :func:`_newton`.
    """

    def step(theta, g, small):
        return psd_solve(objective.hessian(theta), -g)

    return _newton(objective, theta0, step, threshold, max_iter, report)


def _newton(objective, theta0, step, threshold, max_iter, report):
    """Line-search Newton iterations with ``step`` as the Newton direction.

    The gradient rule (``max|grad| <= threshold(f)``), plus one check that
    only Newton can make: half the Newton decrement ``-g.p / 2`` (its estimate
    of the gap) must be at most ``threshold(f)**2`` (what the gradient rule
    promises at unit curvature) or the loss's rounding level.  This catches
    nearly flat optima (weak penalty, nearly separable data), where a small
    gradient still leaves a large gap.  Each iteration takes the direction
    ``step`` returns (falling back to ``-g`` if it is no descent direction),
    then backtracks from the full step until the Armijo condition holds.  It
    gives up after five steps without progress (:class:`_StallMonitor`).

    Parameters
    ----------
    objective : SmoothObjective
        Its blocks already open.
    theta0 : ndarray
        The start (not modified).
    step : callable
        ``step(theta, g, small)``: the Newton direction at ``theta`` with
        gradient ``g``; ``small`` says whether the gradient rule holds (the
        direction is then only for the gap check).
    threshold : callable
        ``threshold(f)``: the gradient rule's bound at objective ``f``.
    max_iter : int
        Newton steps at most.
    report : callable
        ``report(n_iter, theta, f, grad) -> bool``, called after each step
        with the new point; True stops the loop there (unless it converged).
        ``report(n_iter, theta, f, grad, note=why)`` where the gradient meets
        the rule but the gap check asks for another step (verbose only).

    Returns
    -------
    theta, f, grad : ndarray, float, ndarray
        The last point, its objective and gradient.
    n_iter : int
        Steps taken.
    converged : bool
        Whether the rule and the gap check hold (or the rule holds where no
        step makes progress).
    message : str
        Why it stopped.
    """
    theta = theta0.copy()
    # The loss carries the rounding of the data's dtype (float32 exps).
    eps = np.finfo(objective.dtype).eps
    n_iter = 0
    failed = stalled = interrupted = False
    f, g = objective.loss_grad(theta)
    stalls = _StallMonitor(eps, np.abs(g).max())
    while True:
        bound = threshold(f)
        small = np.abs(g).max() <= bound
        gap_excess = None
        # where the rule holds the step is for the gap check: made even when
        # interrupted, so that a converged point is still recognised
        going = n_iter < max_iter and not interrupted
        if not (failed or stalled) and (small or going):
            p = step(theta, g, small)
            slope = g @ p
            if small:
                gap_excess = _gap_excess(slope, bound, f, eps, objective.dtype)
        verdict = _verdict(
            failed=failed,
            stalled=stalled,
            small=small,
            gap_excess=gap_excess,
            spent=n_iter >= max_iter,
            interrupted=interrupted,
        )
        if verdict is not None:
            break
        if gap_excess is not None:
            report(n_iter, theta, f, g, note=gap_excess)
        if slope >= 0:
            p, slope = -g, -(g @ g)
        accepted = _backtrack(objective.loss_grad, theta, f, p, slope, eps)
        if accepted is None:
            failed = True
            continue
        length, f_new, g_new = accepted
        n_iter += 1
        theta = theta + length * p
        stalled = stalls.update(f, f_new, np.abs(g_new).max())
        f, g = f_new, g_new
        interrupted = bool(report(n_iter, theta, f, g))
    return theta, f, g, n_iter, *verdict


def newton_orthant(objective, theta0, *, threshold, max_iter, max_cg, report):
    """Orthant-based Newton-CG for ``f + l1 . |theta|`` (an L1 part).

    Byrd, Chin, Nocedal & Oztoprak (2016), "A family of second-order methods
    for convex l1-regularized optimization" (their OBA method).  At each
    iterate the coordinates held at zero (zero and with a zero
    pseudo-gradient: ``_l1.pseudo_gradient``) are fixed; on the others the
    objective is smooth within the current orthant, ``f + l1 . (xi * theta)``,
    and its Newton step is solved by conjugate gradients on the smooth part's
    Hessian restricted to them (truncated as in :func:`newton_cg`).  The step
    is searched along the orthant's projection (``_l1.orthant_search``): a
    coordinate that would cross zero stops at zero.  Once the zero pattern
    settles this is Newton-CG on the non-zero coefficients, with its
    convergence rate.  The rule bounds the pseudo-gradient (the KKT
    residual); the loop's stops are :func:`_newton`'s.

    Parameters
    ----------
    objective : L1Orthant
        With ``l1_weight``, ``hessian_at`` of the smooth part and
        ``loss_grad`` returning the composite value and the smooth gradient;
        its blocks already open.
    theta0 : ndarray
        The start (not modified).
    threshold, max_iter, report
        As :func:`_newton` (``report`` gets the pseudo-gradient).
    max_cg : int
        Conjugate-gradient steps per Newton step at most.

    Returns
    -------
    tuple
        As :func:`_newton` (the gradient returned is the smooth part's).
    """
    weight = objective.l1_weight
    theta = theta0.copy()
    eps = np.finfo(objective.dtype).eps
    n_iter = 0
    failed = stalled = False
    f, g = objective.loss_grad(theta)
    pg = pseudo_gradient(theta, g, weight)
    stalls = _StallMonitor(eps, np.abs(pg).max())
    previous = None
    interrupted = False
    while True:
        small = np.abs(pg).max() <= threshold(f)
        verdict = _verdict(
            failed=failed,
            stalled=stalled,
            small=small,
            gap_excess=None,
            spent=n_iter >= max_iter,
            interrupted=interrupted,
        )
        if verdict is not None:
            break
        # While the zero pattern moves, an accurate step on the face is wasted.
        pattern = theta != 0
        moved = previous is None or not np.array_equal(pattern, previous)
        previous = pattern
        rtol = 0.5 if moved else min(0.5, np.sqrt(np.linalg.norm(pg)))
        p = _face_step(objective, theta, pg, rtol, max_cg)
        accepted = orthant_search(objective.loss_grad, theta, f, pg, p, eps)
        if accepted is None:
            failed = True
            continue
        theta, f_new, g, _ = accepted
        theta, f_new, g = objective.settle(theta, f_new, g)
        n_iter += 1
        pg = pseudo_gradient(theta, g, weight)
        stalled = stalls.update(f, f_new, np.abs(pg).max())
        f = f_new
        interrupted = bool(report(n_iter, theta, f, pg))
    return theta, f, g, n_iter, *verdict


def _face_step(objective, theta, pg, rtol, max_cg):
    """The damped Newton step on the coordinates not held at zero.

    Held: zero with a zero pseudo-gradient ``pg``.  On the others the step
    solves ``(H + mu I) p = -pg`` by conjugate gradients, ``H`` the smooth
    part's Hessian restricted to them and ``mu`` the damping; a coordinate at
    zero may only leave into the orthant of ``-pg`` (else its step is 0);
    ``-pg`` where that is no descent direction.
    """
    free = ((theta != 0) | (pg != 0)).astype(theta.dtype)
    hessp, diagonal = objective.hessian_at(theta)
    # The L1 term has no curvature, and without an L2 part neither has the
    # smooth part along the gauge: a damping that vanishes at the optimum.
    damping = _ORTHANT_DAMPING * np.abs(pg).max()

    def restricted(v):
        v = free * v
        return free * hessp(v) + damping * v

    p = conjugate_gradient(
        restricted, pg, rtol, max_cg, np.where(free > 0, diagonal + damping, 1.0)
    )
    p[(theta == 0) & (p * pg >= 0)] = 0.0
    return p if pg @ p < 0 else -pg
