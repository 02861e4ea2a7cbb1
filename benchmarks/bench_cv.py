"""Cross-validated C: SoftmaxRegressionCV against scikit-learn, side by side.

Run by hand from the repository root::

    python benchmarks/bench_cv.py                      # digits, dense, dense_scaled
    python benchmarks/bench_cv.py --problems digits    # one problem
    python benchmarks/bench_cv.py --small              # the four small sets
    python benchmarks/bench_cv.py --problems iris --repeats 1   # smoke run

**Small sets** (``--small``, or any of ``iris``, ``wine``, ``breast_cancer``,
``digits_std`` in ``--problems``): scikit-learn's bundled data, standardised
(``common.SMALL_PROBLEMS``).  ``SoftmaxRegressionCV()`` and
``LogisticRegressionCV()`` both run at their defaults (printed in the header;
the grids are the same 10 values of each one's ``C``, the scorers differ:
cross-entropy against accuracy) on the same 5 stratified folds.  Each time is
the median of ``--repeats`` fits (default 5) after one warm-up; scikit-learn's
is the faster of default BLAS threads and one thread (``1t``), as in
``bench_small.py``.  Per set: time in ms, ConvergenceWarnings, ``C_`` (in our
``C``), the largest relative gap of the (fold, C) fits to the optimum (see
below) and the ratio ours / ``LogisticRegressionCV()``; for two classes
(breast_cancer) also ``same Cs``, ``LogisticRegressionCV`` searching our grid
(its ``C`` = 2x ours), the ratio of like for like.  Last, the median and the
largest ratio over the sets run, against the target <= 1.0.

**Large problems** (the default): for each problem the same 5 stratified
folds and the same 10 ``C`` (``np.logspace(-4, 4, 10)``; ``LogisticRegression``'s
``C`` is twice ours for two classes) are searched by:

* **ours**: ``SoftmaxRegressionCV`` at its defaults (warm-started paths, refit);
* **GridSearchCV**: ``GridSearchCV(SoftmaxRegression(), {"C": Cs})``: the same
  fits from cold starts, the same scorer (minus the exact mean cross-entropy),
  refit;
* **sklearn CV**: ``LogisticRegressionCV`` with each candidate solver and
  tolerance of :data:`CANDIDATES`.  A candidate counts only if *every* (fold,
  C) fit reaches a relative gap <= 1e-6 to the optimum; the fastest such
  candidate is the reference of the ratio.  The optimum of each fit is the
  lower of our path at ``tol=1e-8`` and the candidate's own fit;
* ``LogisticRegressionCV()`` at its defaults (lbfgs, tol=1e-4, max_iter=100,
  accuracy), with its ConvergenceWarnings counted and the C it picks.

Every time is one run (``--repeats`` for more: the median); ``others`` is the
share of the CPUs other processes used meanwhile (see ``common.OtherLoad``).
Where a candidate would take longer than ``--budget`` seconds (estimated from
its first fold, fitted alone), the whole CV is extrapolated as five times that
fold and marked ``~``; where the first fold alone runs over ``--budget``, it is
stopped and the whole CV counted as more than five times the budget (``>``,
and the ratio as a bound ``<``).
"""

import argparse
import multiprocessing
import time
import warnings

import numpy as np
from common import (
    SMALL_PROBLEMS,
    OtherLoad,
    machine_lines,
    make_problem,
    objective,
    sklearn_C,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegressionCV
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from threadpoolctl import threadpool_limits

from sklearn_softmax import SoftmaxRegression, SoftmaxRegressionCV
from sklearn_softmax.metrics import make_cross_entropy_scorer

CS = np.logspace(-4, 4, 10)
# LogisticRegressionCV solvers and tolerances tried, in this order; max_iter
# large enough never to be what stops them.
CANDIDATES = {
    "digits": [("lbfgs", 1e-10), ("newton-cg", 1e-10), ("newton-cholesky", 1e-12)],
    "dense": [("lbfgs", 1e-10), ("newton-cg", 1e-10), ("newton-cholesky", 1e-12)],
    # lbfgs and newton-cg stall at relative gaps of 0.15 on this problem even
    # at C=1 (bench_fit.py's table), so only newton-cholesky is tried
    "dense_scaled": [("newton-cholesky", 1e-12)],
}
# how a candidate's time is known -> how the ratio is: measured, extrapolated
# ("~"), or a lower bound on the time (">"), an upper bound on the ratio ("<")
_BOUND = {"": "", "~": "~", ">": "<"}
MAX_ITER = {"lbfgs": 10_000, "newton-cg": 1000, "newton-cholesky": 200}


def _timed(fn, repeats=1, warmup=0):
    """``(median seconds, others share of the slowest-disturbed run, result)``.

    ``warmup`` untimed calls first (small fits: first-call costs would count).
    """
    for _ in range(warmup):
        fn()
    times, shares, result = [], [], None
    for _ in range(repeats):
        with OtherLoad() as load:
            start = time.perf_counter()
            result = fn()
            times.append(time.perf_counter() - start)
        shares.append(load.share)
    return float(np.median(times)), max(shares), result


def _count_warnings(fn):
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        result = fn()
    n = sum(issubclass(w.category, ConvergenceWarning) for w in seen)
    return n, result


def _fit(model, X, y, repeats=1, warmup=0):
    """``(seconds, others, ConvergenceWarnings, fitted model)`` of ``model.fit``."""
    t, others, (n_warn, model) = _timed(
        lambda: _count_warnings(lambda: model.fit(X, y)), repeats, warmup
    )
    return t, others, n_warn, model


def _fastest_fit(model, X, y, repeats):
    """:func:`_fit` at default BLAS threads and at one; the faster, and whether
    it is the one-thread one (scikit-learn is often faster so on small data)."""
    default = _fit(model, X, y, repeats, warmup=1)
    with threadpool_limits(1):
        one = _fit(model, X, y, repeats, warmup=1)
    return (*one, True) if one[0] < default[0] else (*default, False)


def _fit_with_timeout(model, X, y, seconds):
    """:func:`_fit` in a forked child process; None if it runs over ``seconds``."""
    ctx = multiprocessing.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=lambda: send.send(_fit(model, X, y)))
    child.start()
    result = receive.recv() if receive.poll(seconds) else None
    child.kill()
    child.join()
    return result


def _folds(X, y):
    """The 5 stratified folds every CV of a problem gets, as (train, test) pairs."""
    return list(StratifiedKFold(5, shuffle=True, random_state=0).split(X, y))


def _optimum(X, y, folds, Cs):
    """Reference optimum of every (fold, C) fit: our path at tol=1e-8."""
    # default solver: Newton-CG's CG is slow on the badly scaled problem
    tight = SoftmaxRegressionCV(Cs=Cs, cv=folds, tol=1e-8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        tight.fit(X, y)
    return _path_objectives(tight.coefs_paths_, X, y, folds, Cs)


def _max_gap(paths, X, y, folds, Cs, f_star):
    """Largest relative gap of a scikit-learn path; the optimum is the lower of
    ``f_star`` and the path's own objective."""
    f_sk = _path_objectives(paths, X, y, folds, Cs)
    ref = np.minimum(f_star[: len(folds)], f_sk)
    return float(((f_sk - ref) / ref).max())


def _path_objectives(paths, X, y, folds, Cs):
    """Objective of every (fold, C) entry of a non-legacy ``coefs_paths_``."""
    d = X.shape[1]
    out = np.empty((len(folds), len(Cs)))
    for f, (train, _) in enumerate(folds):
        for c, C in enumerate(Cs):
            row = paths[f, 0, c]
            out[f, c] = objective(X[train], y[train], row[:, :d], row[:, d], C)
    return out


def _sklearn_defaults(folds, Cs=10):
    """``LogisticRegressionCV()`` at today's defaults (lbfgs, tol=1e-4,
    max_iter=100, accuracy), set explicitly to silence the FutureWarnings of
    their coming changes; the non-legacy layout of ``coefs_paths_``."""
    return LogisticRegressionCV(
        Cs=Cs, l1_ratios=(0.0,), cv=folds, scoring=None, use_legacy_attributes=False
    )


def _sklearn_cv(solver, tol, folds, Cs, K, **extra):
    return LogisticRegressionCV(
        Cs=[sklearn_C(C, K) for C in Cs],
        l1_ratios=(0.0,),
        cv=folds,
        solver=solver,
        tol=tol,
        max_iter=MAX_ITER[solver],
        scoring="neg_log_loss",
        use_legacy_attributes=False,
        **extra,
    )


def _print_rows(rows, unit="s"):
    """The table of ``(label, time or (mark, time), others, warns, C_, note)``."""
    scale = {"s": 1, "ms": 1e3}[unit]
    print(
        f"{'':40s} {'time ' + unit:>9s} {'others':>6s} {'warns':>5s} {'C_':>9s}  note"
    )
    for label, t, others, n_warn, C_, note in rows:
        approx, t = t if isinstance(t, tuple) else ("", t)
        C_text = "" if C_ is None else f"{C_:.3g}"
        print(
            f"{label:40s} {approx:>1s}{scale * t:8.2f} {others:6.0%} {n_warn:5d} "
            f"{C_text:>9s}  {note}"
        )


def run(name, repeats, budget):
    problem = make_problem(name)
    X, y, K = problem.X, problem.y, problem.n_classes
    folds = _folds(X, y)
    print(f"\n== {name}: {problem.shape_text()}; 5 folds x {len(CS)} Cs")

    rows = []
    t, others, n_warn, ours = _fit(SoftmaxRegressionCV(Cs=CS, cv=folds), X, y, repeats)
    rows.append(("ours SoftmaxRegressionCV()", t, others, n_warn, ours.C_, ""))
    f_star = _optimum(X, y, folds, CS)
    f_ours = _path_objectives(ours.coefs_paths_, X, y, folds, CS)
    ours_gap = float(((f_ours - f_star) / f_star).max())
    rows[-1] = rows[-1][:-1] + (f"max gap {ours_gap:.1e}, iters {ours.n_iter_.sum()}",)

    grid = GridSearchCV(
        SoftmaxRegression(), {"C": CS}, cv=folds, scoring=make_cross_entropy_scorer()
    )
    t, others, n_warn, grid = _fit(grid, X, y)
    rows.append(
        (
            "GridSearchCV(SoftmaxRegression())",
            t,
            others,
            n_warn,
            grid.best_params_["C"],
            "cold starts",
        )
    )
    t_grid = t

    best = None
    for solver, tol in CANDIDATES[name]:
        label = f"sklearn LRCV {solver} tol={tol:g}"
        # one fold alone first (in a child process, stopped after --budget
        # seconds): its time decides whether the whole CV runs
        one = _fit_with_timeout(
            _sklearn_cv(solver, tol, folds[:1], CS, K), X, y, budget
        )
        if one is None:  # the first fold alone took longer than the budget
            rows.append(
                (
                    label,
                    (">", 5 * budget),
                    0.0,
                    0,
                    None,
                    f"first fold stopped after {budget:.0f} s: whole CV > 5x that",
                )
            )
            if best is None or 5 * budget < best[1]:
                best = (label, 5 * budget, ">")
            continue
        t1, o1, w1, one = one
        if 5 * t1 > budget:
            paths, t, others, n_warn, C_ = one.coefs_paths_, 5 * t1, o1, w1, None
            approx, used = "~", folds[:1]
        else:
            t, others, n_warn, cv = _fit(_sklearn_cv(solver, tol, folds, CS, K), X, y)
            paths, C_, approx, used = (
                cv.coefs_paths_,
                cv.C_ / (2 if K == 2 else 1),
                "",
                folds,
            )
        gap = _max_gap(paths, X, y, used, CS, f_star)
        ok = gap <= 1e-6
        note = f"max gap {gap:.1e}" + ("" if ok else " (misses 1e-6)")
        if approx:
            note += f"; 5 x first fold ({t1:.1f} s)"
        rows.append((label, (approx, t), others, n_warn, C_, note))
        if ok and (best is None or t < best[1]):
            best = (label, t, approx)

    default = _sklearn_defaults(folds, [sklearn_C(C, K) for C in CS])
    t, others, n_warn, default = _fit(default, X, y)
    rows.append(
        (
            "sklearn LogisticRegressionCV() defaults",
            t,
            others,
            n_warn,
            default.C_ / (2 if K == 2 else 1),
            "accuracy, lbfgs tol=1e-4",
        )
    )

    _print_rows(rows)
    t_ours = rows[0][1]
    if best is not None:
        print(
            f"ratio ours / fastest sklearn CV reaching 1e-6 ({best[0]}): "
            f"{_BOUND[best[2]]}{t_ours / best[1]:.3f}   (target <= 0.2)"
        )
    else:
        print("no sklearn candidate reached 1e-6 on every fit")
    print(
        f"ratio ours / GridSearchCV(SoftmaxRegression()): {t_ours / t_grid:.3f}"
        "   (target <= 0.6)"
    )


def _defaults_lines():
    """What each side's defaults are, read from the estimators themselves."""
    ours = SoftmaxRegressionCV().get_params()
    sk = LogisticRegressionCV().get_params()
    return [
        f"ours SoftmaxRegressionCV(): Cs={ours['Cs']} (np.logspace(-4, 4, "
        f"{ours['Cs']}) of our C), scoring={ours['scoring']} (minus the exact mean "
        f"cross-entropy), solver={ours['solver']!r}, tol={ours['tol']:g}, "
        f"max_iter={ours['max_iter']}, warm-started paths",
        f"sklearn LogisticRegressionCV(): Cs={sk['Cs']} (np.logspace(-4, 4, "
        f"{sk['Cs']}) of its C: 2x ours for two classes), scoring=None (accuracy), "
        f"solver={sk['solver']!r}, tol={sk['tol']:g}, max_iter={sk['max_iter']}",
        "both: the same 5 stratified folds, refit; median of --repeats fits after "
        "one warm-up; sklearn at default BLAS threads and at one, the faster kept "
        "(1t: one thread); 'same Cs': LogisticRegressionCV() given ours' grid "
        "(C x 2 for two classes; the same grid otherwise); gap: largest relative "
        "gap of the (fold, C) fits to the optimum",
    ]


def run_small(name, repeats):
    """``SoftmaxRegressionCV()`` against ``LogisticRegressionCV()``, both at
    defaults on the same folds; ``(ratio, ratio with the same Cs)``."""
    problem = make_problem(name)
    X, y, K = problem.X, problem.y, problem.n_classes
    folds = _folds(X, y)
    print(f"\n== {name}: {problem.description}, {problem.shape_text()}")
    # the optimum per grid of our C (LogisticRegressionCV()'s differs for K=2)
    optima = {}

    def gap_note(model, Cs):
        key = tuple(Cs)
        if key not in optima:
            optima[key] = _optimum(X, y, folds, Cs)
        gap = _max_gap(model.coefs_paths_, X, y, folds, Cs, optima[key])
        return f"max gap {gap:.1e}" + ("" if gap <= 1e-6 else " (misses 1e-6)")

    to_ours = 2 if K == 2 else 1  # LogisticRegression's C over ours
    t, others, n_warn, ours = _fit(
        SoftmaxRegressionCV(cv=folds), X, y, repeats, warmup=1
    )
    rows = [
        (
            "ours SoftmaxRegressionCV()",
            t,
            others,
            n_warn,
            ours.C_,
            gap_note(ours, ours.Cs_),
        ),
    ]
    fits = {"defaults": _sklearn_defaults(folds)}
    if K == 2:  # otherwise the default grids are the same
        fits["same Cs"] = _sklearn_defaults(folds, ours.Cs_ * to_ours)
    times = {}
    for kind, model in fits.items():
        t, others, n_warn, model, one = _fastest_fit(model, X, y, repeats)
        label = "sklearn LRCV()" + (" same Cs" if kind != "defaults" else "")
        rows.append(
            (
                label + (" 1t" if one else ""),
                t,
                others,
                n_warn,
                model.C_ / to_ours,
                gap_note(model, model.Cs_ / to_ours),
            )
        )
        times[kind] = t
    times.setdefault("same Cs", times["defaults"])
    _print_rows(rows, unit="ms")
    ratio, same = (rows[0][1] / times[kind] for kind in ("defaults", "same Cs"))
    print(
        f"ratio ours / LogisticRegressionCV(): {ratio:.3f}   same Cs: {same:.3f}"
        f"{'' if K == 2 else ' (same grid)'}   (target <= 1.0)"
    )
    return ratio, same


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--problems",
        nargs="+",
        default=list(CANDIDATES),
        choices=[*CANDIDATES, *SMALL_PROBLEMS],
    )
    parser.add_argument(
        "--small",
        action="store_true",
        help=f"the small standardised sets: {' '.join(SMALL_PROBLEMS)}",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="fits per median: default 1 (5 on the small sets)",
    )
    parser.add_argument(
        "--budget",
        type=float,
        default=600.0,
        help="seconds above which a sklearn CV is extrapolated",
    )
    args = parser.parse_args(argv)
    problems = SMALL_PROBLEMS if args.small else args.problems
    for line in machine_lines():
        print(line)
    small = [name for name in problems if name in SMALL_PROBLEMS]
    if small:
        for line in _defaults_lines():
            print(line)
    ratios = {}
    for name in problems:
        if name in SMALL_PROBLEMS:
            ratios[name] = run_small(name, args.repeats or 5)
        else:
            run(name, args.repeats or 1, args.budget)
    if ratios:
        print(f"\n== small sets: ours / LogisticRegressionCV() ({', '.join(ratios)})")
        for i, kind in enumerate(["defaults", "same Cs"]):
            r = [pair[i] for pair in ratios.values()]
            print(
                f"{kind:9s} median ratio {np.median(r):.3f}, largest {max(r):.3f}"
                f"   (target <= 1.0: {'ok' if max(r) <= 1.0 else 'MISS'})"
            )


if __name__ == "__main__":
    main()
