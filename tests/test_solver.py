"""The minimisers (`_solver`) on small known problems: CG, the stopping rule,
restarts, stalls, the history rule and the diagnosis ``solve`` returns."""

import numpy as np
import pytest
import scipy.optimize
from _helpers import Quadratic, spd

from sklearn_softmax import _lbfgs, _solver
from sklearn_softmax._blocks import RowBlocks
from sklearn_softmax._l1 import L1Split
from sklearn_softmax._newton import _StallMonitor
from sklearn_softmax._objective import Objective, SmoothObjective, SoftmaxObjective
from sklearn_softmax._precondition import DataStatistics
from sklearn_softmax._solver import (
    SOLVERS,
    SolverSettings,
    choose_solver,
    conjugate_gradient,
    default_history,
    effective_tol,
    exact_newton_pays,
    minimize_lbfgs,
    minimize_newton_cg,
    solve,
    stop_threshold,
)


def test_the_doubles_and_the_objectives_implement_the_protocols():
    assert isinstance(Quadratic(np.eye(2), np.ones(2)), SmoothObjective)
    assert isinstance(Flat(np.eye(2), np.zeros(2)), SmoothObjective)
    X, y = np.array([[0.0], [1.0], [2.0]]), np.array([0, 1, 1])
    blocks = RowBlocks.whole(X, y, np.full(3, 1 / 3))
    with blocks:
        stats = DataStatistics.from_blocks(blocks, 2, center=True)
    smooth = SoftmaxObjective(
        blocks, stats.preconditioner(0.1), alpha=0.1, dtype=np.float64
    )
    assert isinstance(smooth, SmoothObjective)
    split = L1Split(smooth, 0.1)
    assert isinstance(split, Objective) and not isinstance(split, SmoothObjective)


def test_solve_takes_a_resolved_solver_and_no_newton_with_bounds():
    with pytest.raises(ValueError, match="resolve 'auto'"):
        SolverSettings("auto", tol=1e-6, max_iter=10)
    obj = Quadratic(np.eye(2), np.ones(2))
    obj.bounds = scipy.optimize.Bounds(-np.inf, np.inf)
    with pytest.raises(ValueError, match="cannot handle bounds"):
        solve(obj, np.zeros(2), SolverSettings("newton-cg", tol=1e-6, max_iter=10))


# -- conjugate gradients -------------------------------------------------------
def test_cg_solves_a_known_quadratic():
    H = spd(30, 1e3)
    g = np.random.default_rng(1).normal(size=30)
    p = conjugate_gradient(lambda v: H @ v, g, 1e-12, 200, np.diag(H))
    np.testing.assert_allclose(p, np.linalg.solve(H, -g), rtol=1e-8)


def test_cg_is_scale_free_for_tiny_gradients():
    H = spd(10, 10.0)
    g = np.random.default_rng(2).normal(size=10)
    p = conjugate_gradient(lambda v: H @ v, 1e-160 * g, 1e-12, 100, np.diag(H))
    np.testing.assert_allclose(p / 1e-160, np.linalg.solve(H, -g), rtol=1e-8)


def test_cg_truncates_after_max_iter_with_a_descent_direction():
    H = spd(30, 1e4)
    g = np.random.default_rng(3).normal(size=30)
    exact = np.linalg.solve(H, -g)
    p1 = conjugate_gradient(lambda v: H @ v, g, 1e-12, 1, np.ones(30))
    # one step of CG from 0 is the exact line minimiser along -g
    np.testing.assert_allclose(p1, -(g @ g) / (g @ H @ g) * g, rtol=1e-12)
    assert g @ p1 < 0
    assert not np.allclose(p1, exact, rtol=1e-3)


def test_cg_stops_on_negative_curvature_with_the_gradient_step():
    H = -np.eye(4)
    g = np.arange(1.0, 5.0)
    p = conjugate_gradient(lambda v: H @ v, g, 1e-10, 50, np.ones(4))
    np.testing.assert_allclose(p, -g)


def test_cg_zero_gradient_gives_zero_step():
    p = conjugate_gradient(lambda v: v, np.zeros(3), 1e-10, 5, np.ones(3))
    np.testing.assert_array_equal(p, 0.0)


# -- the stopping rule ----------------------------------------------------------
def test_stop_threshold_is_tol_times_min_one_sqrt_f():
    assert stop_threshold(1e-6, 9.0) == 1e-6
    assert stop_threshold(1e-6, 1e-4) == pytest.approx(1e-8, rel=1e-15)
    assert stop_threshold(1e-6, -1.0) == 0.0


@pytest.mark.parametrize("minimize", [minimize_lbfgs, minimize_newton_cg])
@pytest.mark.parametrize("tol", [1e-3, 1e-8])
def test_minimisers_stop_when_the_rule_holds(minimize, tol):
    obj = Quadratic(spd(20, 100.0), np.random.default_rng(4).normal(size=20))
    res = minimize(obj, np.zeros(20), tol=tol, max_iter=500)
    assert res.converged
    g = obj.loss_grad(res.W)[1]
    assert res.grad_max == pytest.approx(np.abs(g).max(), rel=1e-12)
    assert res.grad_max <= res.threshold == stop_threshold(tol, res.fun)
    x_star, f_star = obj.minimum()
    # gap ~ |g|^2 / (2 h) with curvature h >= 1 here
    assert res.fun - f_star <= 20 * res.grad_max**2 + 4 * np.finfo(float).eps * f_star


def test_converged_at_start_takes_no_iteration():
    obj = Quadratic(np.eye(3), np.zeros(3))
    res = minimize_lbfgs(obj, np.zeros(3), tol=1e-6, max_iter=10)
    assert res.converged and res.n_iter == 0 and obj.evaluations == 1


def test_max_iter_is_reported_as_the_reason():
    obj = Quadratic(spd(50, 1e6), np.random.default_rng(5).normal(size=50))
    res = solve(obj, np.zeros(50), SolverSettings("lbfgs", tol=1e-10, max_iter=3))
    assert not res.converged and res.reason == "max_iter" and res.n_iter == 3
    assert res.grad_max > res.threshold


# -- L-BFGS restarts and history ---------------------------------------------------
def test_lbfgs_restarts_after_an_early_stop(monkeypatch):
    calls = []
    real = _lbfgs.lbfgs_run

    def stopping_early(*args, **kwargs):
        calls.append(dict(kwargs))
        if len(calls) == 1:  # as if the line search had failed after 2 steps
            kwargs["maxiter"] = 2
        return real(*args, **kwargs)

    monkeypatch.setattr(_lbfgs, "lbfgs_run", stopping_early)
    obj = Quadratic(spd(30, 10.0), np.random.default_rng(6).normal(size=30))
    res = minimize_lbfgs(obj, np.zeros(30), tol=1e-6, max_iter=500)
    assert len(calls) == 2 and res.n_restarts == 1
    assert res.converged
    assert calls[1]["maxiter"] == 500 - 2  # the budget carries over


def test_lbfgs_gives_up_when_restarts_do_not_help(monkeypatch):
    calls = []

    def no_progress(fun, x0, **kwargs):
        calls.append(1)
        f, _ = fun(x0)
        return scipy.optimize.OptimizeResult(x=x0, fun=f, message="ABNORMAL")

    monkeypatch.setattr(_lbfgs, "lbfgs_run", no_progress)
    obj = Quadratic(np.eye(4), np.ones(4))
    res = solve(obj, np.zeros(4), SolverSettings("lbfgs", tol=1e-8, max_iter=100))
    assert len(calls) == 2  # one restart, then no decrease: stop
    assert res.n_restarts == 1
    assert not res.converged and res.reason == "stalled"
    assert res.message == "ABNORMAL"


def test_two_loop_is_the_inverse_hessian_on_a_quadratic():
    # with n H-conjugate steps (as exact line searches make) the BFGS update
    # reproduces H^-1 exactly: the direction is the Newton step
    H = spd(4, 50.0)
    rng = np.random.default_rng(8)
    pairs = []
    for s in np.linalg.eigh(H)[1].T * rng.uniform(0.5, 2.0, size=(4, 1)):
        y = H @ s
        pairs.append((s, y, 1.0 / (s @ y)))
    g = rng.normal(size=4)
    np.testing.assert_allclose(
        _lbfgs._two_loop(g.copy(), pairs), -np.linalg.solve(H, g), rtol=1e-8
    )


# tol at the rounding level's edge for each conditioning (gaps ~1e-14)
@pytest.mark.parametrize(("cond", "tol"), [(10.0, 1e-7), (1e3, 1e-6)])
def test_own_lbfgs_matches_scipy_lbfgsb(cond, tol):
    H = spd(40, cond, seed=9)
    g0 = np.random.default_rng(10).normal(size=40)
    obj = Quadratic(H, g0)
    x_star, f_star = obj.minimum()
    own = minimize_lbfgs(obj, np.zeros(40), tol=tol, max_iter=2000)
    bounded = Quadratic(H, g0)  # infinite bounds: scipy's L-BFGS-B runs
    bounded.bounds = scipy.optimize.Bounds(-np.inf, np.inf)
    ref = minimize_lbfgs(bounded, np.zeros(40), tol=tol, max_iter=2000)
    assert own.converged and ref.converged
    for res in (own, ref):
        np.testing.assert_allclose(res.W, x_star, atol=1e-5)  # |g| / min eig
        assert res.fun == pytest.approx(f_star, rel=1e-12)
    # the same method: about as many iterations and evaluations
    assert own.n_iter <= 1.1 * ref.n_iter + 2
    assert own.n_passes <= 1.1 * ref.n_passes + 2


# Near the optimum (gradient ~1e-8, decrease per step ~1e-17 below the
# objective's rounding ~4e-16) scipy's Wolfe search fails on these.
@pytest.mark.parametrize(
    ("cond", "seed"), [(10.0, 1), (10.0, 6), (100.0, 2), (100.0, 4), (100.0, 8)]
)
def test_own_lbfgs_steps_on_the_slope_where_the_wolfe_search_fails(
    cond, seed, monkeypatch
):
    searches = []
    real = _lbfgs._slope_step

    def counting(*args):
        searches.append(real(*args))
        return searches[-1]

    monkeypatch.setattr(_lbfgs, "_slope_step", counting)
    obj = Quadratic(spd(20, cond), np.random.default_rng(seed).normal(size=20))
    res = minimize_lbfgs(obj, np.zeros(20), tol=1e-8, max_iter=500)
    assert searches and searches[0] is not None  # the fallback found a step
    assert res.converged and res.message == "converged" and res.n_restarts == 0
    assert res.grad_max <= res.threshold == stop_threshold(1e-8, res.fun)
    x_star, f_star = obj.minimum()
    np.testing.assert_allclose(res.W, x_star, atol=1e-8)  # |g| / min eig
    assert res.fun == pytest.approx(f_star, rel=8 * np.finfo(float).eps)


@pytest.mark.parametrize(
    "n_params, pairs",
    [(10, 40), (10_000, 40), (10_001, 20), (100_000, 20), (100_001, 5)],
)
def test_history_rule(n_params, pairs, monkeypatch):
    assert default_history(n_params) == pairs
    seen = {}
    real = _lbfgs.lbfgs_run

    def recording(*args, **kwargs):
        seen["maxcor"] = kwargs["history"]
        return real(*args, **kwargs)

    monkeypatch.setattr(_lbfgs, "lbfgs_run", recording)
    obj = Quadratic(np.eye(n_params), np.ones(n_params)) if n_params <= 10 else None
    if obj is None:  # a diagonal quadratic without an (n, n) matrix
        obj = Quadratic(np.eye(1), np.ones(1))
        obj.H = None
        obj.loss_grad = lambda x: (0.5 * x @ x + x.sum(), x + 1.0)
    minimize_lbfgs(obj, np.zeros(n_params), tol=1e-6, max_iter=5)
    assert seen["maxcor"] == pairs


# -- float32: a stall at the rounding level -------------------------------------------
@pytest.mark.parametrize(("gradient", "converged"), [(5e-5, True), (5e-4, False)])
def test_float32_lbfgs_stall_below_the_rounding_rule_is_convergence(
    gradient, converged, monkeypatch
):
    # scipy stops (a failed line search) at a point whose gradient is below or
    # above 1e-4 (the float32 rounding rule); the floor of tol is 1e-5
    def stalled(fun, x0, **kwargs):
        f, _ = fun(x0)
        g = np.full(x0.shape, gradient)
        return scipy.optimize.OptimizeResult(x=x0, fun=f, jac=g, message="ABNORMAL")

    monkeypatch.setattr(_lbfgs, "lbfgs_run", stalled)
    obj = Quadratic(np.eye(4), np.ones(4), dtype=np.float32)
    # the L-BFGS run itself, with the rules solve() gives it in float32
    res = minimize_lbfgs(obj, np.zeros(4), tol=1e-5, max_iter=100, stall_tol=1e-4)
    assert res.converged is converged
    if converged:
        assert res.tol == 1e-4 and "rounding level" in res.message
        assert res.n_restarts == 0
    # solve(): a smooth objective stopped at the rounding level goes on by
    # Newton-CG to the 1e-5 rule; a stall above it stays a stall
    res = solve(obj, np.zeros(4), SolverSettings("lbfgs", tol=1e-6, max_iter=100))
    assert res.tol == 1e-5 and res.solver == "lbfgs"
    if converged:
        assert res.converged and "Newton-CG" in res.message
        np.testing.assert_allclose(res.W.ravel(), obj.minimum()[0].ravel(), atol=1e-6)
    else:
        assert not res.converged and res.reason == "stalled"


def test_float32_line_search_past_the_rounding_rule_is_cut_short():
    obj = Quadratic(np.eye(3), np.ones(3), dtype=np.float32)
    monitor = _solver._LbfgsMonitor(obj, tol=1e-5, stall_tol=1e-4)
    x = np.full(3, -1.0 + 5e-5)  # gradient 5e-5: the 1e-4 rule holds, 1e-5 not
    assert not monitor.at_iterate(x, *monitor.fun(x))  # an iterate
    assert monitor.rounding is not None and not monitor.stopped
    for _ in range(_solver._ROUNDING_SEARCH):
        monitor.fun(x + 0.1)  # a line search that keeps trying
    assert monitor.fun(x + 0.2) is None and monitor.rounding_level
    # without stall_tol (float64) the search goes on
    monitor = _solver._LbfgsMonitor(obj, tol=1e-5)
    monitor.at_iterate(x, *monitor.fun(x))
    for _ in range(2 * _solver._ROUNDING_SEARCH):
        assert monitor.fun(x + 0.1) is not None
    assert not monitor.rounding_level


def test_own_lbfgs_ends_where_fun_declines_without_evaluating_again():
    # the declined evaluation ends scipy's line search at once; the run
    # returns the last iterate
    obj = Quadratic(spd(10, 100.0), np.random.default_rng(11).normal(size=10))
    calls = []

    def fun(x):
        calls.append(x)
        return None if len(calls) == 6 else obj.loss_grad(x)

    iterates = []
    res = _lbfgs.lbfgs_run(
        fun,
        np.zeros(10),
        at_iterate=lambda x, f, g: iterates.append(x) is not None,
        maxiter=100,
        history=5,
    )
    assert len(calls) == 6 and obj.evaluations == 5
    assert res.message == "evaluation declined"
    np.testing.assert_array_equal(res.x, iterates[-1])


def test_own_lbfgs_stops_when_the_callback_says_so():
    obj = Quadratic(spd(10, 100.0), np.random.default_rng(12).normal(size=10))
    seen = []
    res = _lbfgs.lbfgs_run(
        obj.loss_grad,
        np.zeros(10),
        at_iterate=lambda x, f, g: seen.append(f) or len(seen) == 3,
        maxiter=100,
        history=5,
    )
    assert len(seen) == 3 and res.message == "converged" and res.fun == seen[-1]


# -- Newton-CG ----------------------------------------------------------------------
class Flat(Quadratic):
    """A constant objective with a small gradient: no step can make progress."""

    gradient = 1e-3

    def loss_grad(self, x):
        self.evaluations += 1
        return 1.0, np.full(x.shape, self.gradient)


def test_newton_stops_after_five_flat_steps():
    obj = Flat(np.eye(5), np.zeros(5))
    res = solve(obj, np.zeros(5), SolverSettings("newton-cg", tol=1e-8, max_iter=100))
    assert res.n_iter == 5
    assert not res.converged and res.reason == "stalled"
    assert "no progress in 5 iterations" in res.message


def test_newton_stall_below_the_gradient_rule_is_convergence():
    # The gradient meets tol, but at curvature 1e-4 Newton's gap estimate
    # (2.5e-14) exceeds tol^2 and no step changes the (rounded) objective: the
    # gap check cannot be resolved, and the rule itself holds.
    obj = Flat(1e-4 * np.eye(5), np.zeros(5))
    obj.gradient = 1e-9
    res = solve(obj, np.zeros(5), SolverSettings("newton-cg", tol=1e-8, max_iter=100))
    assert res.converged and res.reason is None
    assert res.n_iter == 5 and res.message.startswith("converged")


def test_stall_monitor_counts_only_consecutive_flat_steps():
    eps = np.finfo(np.float64).eps
    m = _StallMonitor(eps=eps, best=1.0)
    assert not m.update(1.0, 1.0, 1.0)  # flat
    assert m.stalled == 1
    assert not m.update(1.0, 0.5, 1.0)  # real decrease resets
    assert m.stalled == 0
    assert not m.update(0.5, 0.5, 0.5)  # gradient improved: not flat
    assert m.stalled == 0 and m.best == 0.5
    for _ in range(4):
        assert not m.update(0.5, 0.5, 0.5)
    assert m.update(0.5, 0.5, 0.5)  # the fifth flat step in a row


def test_newton_gap_estimate_vetoes_a_small_gradient_on_a_flat_valley():
    # curvature 1e-12 along one axis: |g| meets tol long before the gap does
    H = np.diag([1.0, 1e-12])
    obj = Quadratic(H, np.array([0.0, -1e-7]), c=1.0)
    res = minimize_newton_cg(obj, np.zeros(2), tol=1e-6, max_iter=0)
    assert res.grad_max <= res.threshold  # the gradient rule alone would accept
    assert not res.converged
    assert "gap estimate" in res.message
    res = minimize_newton_cg(obj, np.zeros(2), tol=1e-6, max_iter=50)
    assert res.converged
    np.testing.assert_allclose(res.W, obj.minimum()[0], rtol=1e-6)


# -- solver choice and float32 floor --------------------------------------------
def test_choose_solver_and_float32_floor():
    # above the exact-Newton rule: Newton-CG up to 1e7 multiply-adds per pass
    assert choose_solver("auto", 10_000, 100, 10) == "newton-cg"
    assert choose_solver("auto", 10_001, 100, 10) == "lbfgs"
    assert choose_solver("lbfgs", 1, 1, 2) == "lbfgs"
    assert effective_tol(1e-6, np.float32) == 1e-5  # both solvers
    assert effective_tol(1e-3, np.float32) == 1e-3
    assert effective_tol(1e-9, np.float64) == 1e-9


@pytest.mark.parametrize(
    "size", [(150, 4, 3), (178, 13, 3), (569, 30, 2)], ids=["iris", "wine", "cancer"]
)
def test_auto_takes_exact_newton_on_small_problems(size):
    assert exact_newton_pays(*size)
    assert choose_solver("auto", *size) == "newton-cholesky"


@pytest.mark.parametrize(
    ("size", "solver"),
    [
        ((1797, 64, 10), "newton-cg"),  # digits: 585 parameters, each step too dear
        ((10**4, 100, 10), "newton-cg"),
        ((10**5, 200, 10), "lbfgs"),
        ((10**6, 700, 2), "lbfgs"),  # 701 parameters
    ],
)
def test_auto_leaves_exact_newton_on_larger_problems(size, solver):
    assert not exact_newton_pays(*size)
    assert choose_solver("auto", *size) == solver


@pytest.mark.parametrize("solver", SOLVERS)
def test_an_explicit_solver_is_returned_unchanged(solver):
    for size in [(150, 4, 3), (1797, 64, 10), (10**5, 200, 10)]:
        assert choose_solver(solver, *size) == solver


def test_solve_reports_solver_and_applied_tol():
    obj = Quadratic(np.eye(3), np.ones(3), dtype=np.float32)
    res = solve(
        obj,
        np.zeros(3),
        SolverSettings(choose_solver("auto", 10**4, 100, 10), tol=1e-8, max_iter=10),
    )
    assert res.solver == "newton-cg" and res.tol == 1e-5
    assert res.converged and res.reason is None
