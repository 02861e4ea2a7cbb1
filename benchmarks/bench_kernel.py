"""One loss+gradient evaluation against the two matrix products it needs.

Run by hand from the repository root::

    python benchmarks/bench_kernel.py                 # dense f64, dense f32, sparse
    python benchmarks/bench_kernel.py --problems dense --repeats 15 --blocks 1 2 4 8 16

The cost of one evaluation of the objective and its gradient is
bounded below by its two products, ``Z = X @ W.T`` (n x d times d x K) and
``G.T @ X`` (K x n times n x d).  Each product is timed alone with numpy's
default threads; the ratio ``evaluation / (both products)`` says how close the
kernel is to the machine's limit (target: <= 1.0).

Rows:

* ``X @ Wt``, ``G.T @ X``: the products alone (default threads; for CSR ``X``
  the faster of ``G.T @ X`` and ``(X.T @ G).T``).
* ``ours loss_grad``: ``SoftmaxObjective.loss_grad`` as the solver calls it,
  inside ``threadpool_limits(1, user_api="blas")`` and the row-blocks context
  (rows split over threads, each running one-thread BLAS), in the
  preconditioned coordinates, including the chain rule and penalty.
* ``ours loss_gradient (whole X)``: the raw per-block kernel
  ``_loss.loss_gradient`` called once on all of ``X`` with default threads.
* ``sklearn LinearModelLoss``: ``LinearModelLoss(HalfMultinomialLoss(K),
  fit_intercept=True).loss_gradient`` as ``LogisticRegression`` calls it
  (``n_threads`` = OpenMP threads), at default threads and with BLAS at one
  thread (scikit-learn's faster setting on machines where two OpenBLAS pools
  contend).
* the element-wise pieces of an evaluation (max over classes, exp, normalise,
  ...) in plain numpy on the whole ``X`` at default threads, to see where
  time goes.

``--blocks`` re-times ``loss_grad`` with other row-block sizes (MB of ``X`` per
block) by setting ``sklearn_softmax._blocks._BLOCK_BYTES`` in this process
only, which is how a better default is found.  Medians over ``--repeats``
rounds of the mean of ``--burst`` back-to-back calls.
"""

import argparse
import contextlib
import sys
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import scipy.special
from sklearn._loss.loss import HalfMultinomialLoss
from sklearn.linear_model._linear_loss import LinearModelLoss
from sklearn.utils._openmp_helpers import _openmp_effective_n_threads
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine_lines, make_problem, quiet_call  # noqa: E402

from sklearn_softmax import _blocks, _loss  # noqa: E402
from sklearn_softmax._blocks import RowBlocks  # noqa: E402
from sklearn_softmax._objective import SoftmaxObjective  # noqa: E402
from sklearn_softmax._precondition import DataStatistics  # noqa: E402

KERNEL_PROBLEMS = ["dense", "dense_f32", "sparse"]


def _objective(X, y, weights, K, alpha):
    """The fit's objective on in-memory arrays (weights summing to one)."""
    blocks = RowBlocks(X, y, weights, K)
    with blocks:
        stats = DataStatistics.from_blocks(blocks, K, center=True)
    return SoftmaxObjective(
        blocks, stats.preconditioner(alpha), alpha=alpha, dtype=X.dtype
    )


def round_robin(cases, repeats, quiet, burst=1):
    """Median seconds and largest others' CPU share of every case.

    ``cases`` maps a name to ``(context, fn)``: in each of ``repeats`` rounds
    every case in turn enters its context, calls ``fn`` once untimed (warm-up:
    thread pools, caches) and then ``burst`` times back to back, timed
    together on a quiet machine (:func:`common.quiet_call`); the round's time
    is their mean.  Rounds interleave the cases, so load from other processes
    falls on all of them alike.  A burst is how a solver calls an evaluation
    (one after another); a single call after the quiet-machine wait (an idle
    0.3 s) measured a cold start: dense float32, ``loss_grad`` 35 ms against
    27 ms back to back, while the products barely moved (27.4 against 28.1).
    """
    times = {key: [] for key in cases}
    shares = {key: [] for key in cases}
    for _ in range(repeats):
        for key, (context, fn) in cases.items():
            with context():
                fn()
                seconds, share, _ = quiet_call(
                    lambda fn=fn: _call_times(fn, burst), threshold=quiet
                )
            times[key].append(seconds / burst)
            shares[key].append(share)
    return (
        {key: float(np.median(v)) for key, v in times.items()},
        {key: max(v) for key, v in shares.items()},
    )


def _call_times(fn, count):
    """Call ``fn`` ``count`` times, dropping each result before the next call
    (kept results would make every call fault in fresh memory)."""
    for _ in range(count):
        fn()


def _blas1_and(blocks=None):
    """Context factory: BLAS at one thread, and ``blocks`` entered if given."""

    @contextlib.contextmanager
    def context():
        with threadpool_limits(limits=1, user_api="blas"):
            if blocks is None:
                yield
            else:
                with blocks:
                    yield

    return context


def point(X, K, seed=0):
    """A point with scores of order 1: ``W`` (K, d), ``b`` (K,)."""
    rng = np.random.default_rng(seed)
    d = X.shape[1]
    if sp.issparse(X):
        scale = np.sqrt(np.asarray(X.multiply(X).mean(axis=0)).ravel())
    else:
        scale = X.std(axis=0, dtype=np.float64)
    scale = np.where(scale > 0, scale, 1.0)
    W = rng.normal(size=(K, d)) / (scale * np.sqrt(min(d, 200)))
    b = rng.normal(size=K)
    return W, b


def bench_problem(name, args):
    problem = make_problem(name)
    X, y = problem.X, problem.y.astype(np.intp)
    n, d = X.shape
    K = problem.n_classes
    dtype = X.dtype
    W, b = point(X, K)
    Wt = np.ascontiguousarray(W.T, dtype=dtype)
    bd = b.astype(dtype)
    weights = np.full(n, 1.0 / n)
    G = scipy.special.softmax(np.asarray(X @ Wt) + bd, axis=1).astype(dtype)
    G[np.arange(n), y] -= 1
    r = args.repeats
    alpha = 1.0 / (problem.C * n)
    plain = contextlib.nullcontext

    objective = _objective(X, y, weights, K, alpha)
    theta = objective.pack(W, b)
    n_blocks = len(objective.blocks.blocks)
    n_threads = objective.blocks.n_threads

    lml = LinearModelLoss(
        base_loss=HalfMultinomialLoss(n_classes=K), fit_intercept=True
    )
    coef = np.ascontiguousarray(np.column_stack([W, b]), dtype=dtype)
    y_float = y.astype(dtype)
    omp = _openmp_effective_n_threads()

    def sk():
        return lml.loss_gradient(coef, X, y_float, None, alpha, omp)

    cases = {"X @ Wt": (plain, lambda: X @ Wt)}
    if sp.issparse(X):
        cases["G.T @ X"] = (plain, lambda: G.T @ X)
        cases["(X.T @ G).T"] = (plain, lambda: (X.T @ G).T)
    else:
        cases["G.T @ X"] = (plain, lambda: G.T @ X)
    cases["ours loss_grad"] = (
        _blas1_and(objective.blocks),
        lambda: objective.loss_grad(theta),
    )
    cases["ours loss_gradient (whole X)"] = (
        plain,
        lambda: _loss.loss_gradient(X, Wt, bd, y, weights),
    )
    cases["sklearn LinearModelLoss"] = (plain, sk)
    cases["sklearn LinearModelLoss, blas=1"] = (_blas1_and(), sk)

    # The element-wise work of an evaluation on the whole X, in plain numpy and
    # the (K, n) layout (reductions over classes along contiguous rows); the
    # package's kernel may fuse or reorder these, the costs are the point.
    Zt = np.ascontiguousarray(np.asarray(X @ Wt).T)
    Zs = Zt - Zt.max(axis=0)
    P = np.exp(Zs)
    cols = np.arange(n)
    pieces = {
        "max over classes": lambda: Zt.max(axis=0),
        "copy of the (K, n) scores": lambda: Zt.copy(),
        "exp, n x K": lambda: np.exp(Zs),
        "sum over classes + divide": lambda: P / P.sum(axis=0),
        "pick target scores": lambda: Zs[y, cols],
        "scores transposed to (K, n)": lambda: np.ascontiguousarray(
            np.asarray(X @ Wt).T
        ),
    }
    if not sp.issparse(X):
        Gt = np.ascontiguousarray(G.T)
        pieces["scores as Wt.T @ X.T (K, n)"] = lambda: Wt.T @ X.T
        pieces["Gt @ X, Gt (K, n) contiguous"] = lambda: Gt @ X
    for key, fn in pieces.items():
        cases["piece: " + key] = (plain, fn)

    saved = _blocks._BLOCK_BYTES
    sweep = {}
    try:
        for mb in args.blocks:
            _blocks._BLOCK_BYTES = int(mb * 2**20)
            obj = _objective(X, y, weights, K, alpha)
            th = obj.pack(W, b)
            sweep[mb] = len(obj.blocks.blocks)
            cases[f"block {mb:g} MB"] = (
                _blas1_and(obj.blocks),
                lambda obj=obj, th=th: obj.loss_grad(th),
            )
    finally:
        _blocks._BLOCK_BYTES = saved

    med, share = round_robin(cases, r, args.quiet, args.burst)
    out = {k: v for k, v in med.items() if not k.startswith(("piece", "block"))}
    gt_note = ""
    if sp.issparse(X):
        t1, t2 = out.pop("G.T @ X"), out.pop("(X.T @ G).T")
        out = {"X @ Wt": out.pop("X @ Wt"), "G.T @ X": min(t1, t2), **out}
        gt_note = f"G.T @ X {t1 * 1e3:.1f} ms, (X.T @ G).T {t2 * 1e3:.1f} ms"
    products = out["X @ Wt"] + out["G.T @ X"]
    worst = max(share.values())

    print(
        f"\n== {name}: {problem.shape_text()}; K={K}, {n_blocks} row blocks "
        f"on {n_threads} threads"
    )
    print(f"   {'evaluation':<36}{'ms':>9}{'/ products':>12}")
    for key, seconds in out.items():
        print(f"   {key:<36}{seconds * 1e3:>9.2f}{seconds / products:>12.2f}")
    print(f"   {'both products':<36}{products * 1e3:>9.2f}{1.0:>12.2f}")
    if gt_note:
        print(f"   ({gt_note})")
    print("   element-wise pieces (plain numpy, whole X, default threads):")
    for key in pieces:
        print(f"     {key:<34}{med['piece: ' + key] * 1e3:>9.2f}")
    if sweep:
        print(f"   ours loss_grad by row-block size (default {saved / 2**20:g} MB):")
        for mb, n_blk in sweep.items():
            seconds = med[f"block {mb:g} MB"]
            print(
                f"     {mb:>6g} MB {n_blk:>5} blocks {seconds * 1e3:>9.2f} ms "
                f"{seconds / products:>6.2f} x products"
            )
    print(f"   others: at most {worst:.0%} of the CPUs used by other processes")
    return name, out, products


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--problems", nargs="+", choices=KERNEL_PROBLEMS, default=KERNEL_PROBLEMS
    )
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument(
        "--burst",
        type=int,
        default=5,
        help="calls timed back to back per round (their mean is the round's "
        "time); 1 times a single call after an idle wait",
    )
    parser.add_argument(
        "--quiet",
        type=float,
        default=0.10,
        help="repeat a timing (once) when other processes used more than "
        "this share of the CPUs",
    )
    parser.add_argument(
        "--blocks",
        type=float,
        nargs="*",
        default=[],
        help="also time loss_grad with these row-block sizes (MB)",
    )
    args = parser.parse_args(argv)
    print(
        "bench_kernel: one loss+gradient evaluation vs its two products, "
        + " ".join(sys.argv)
    )
    for line in machine_lines():
        print(line)
    results = [bench_problem(name, args) for name in args.problems]
    print("\n== summary: ours loss_grad / (X @ Wt + G.T @ X), target <= 1.0")
    for name, out, products in results:
        ours = out["ours loss_grad"] / products
        sk = out["sklearn LinearModelLoss"] / products
        sk1 = out["sklearn LinearModelLoss, blas=1"] / products
        print(
            f"   {name:<12} ours {ours:5.2f} {'ok' if ours <= 1.0 else 'MISS':<5}"
            f"  sklearn {sk:5.2f} (blas=1: {sk1:5.2f})"
        )


if __name__ == "__main__":
    main()
