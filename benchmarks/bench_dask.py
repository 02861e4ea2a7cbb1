"""Dask fit beyond one worker's memory, against the in-memory fit.

Run by hand (about 3 minutes with the defaults on 2 cores)::

    python benchmarks/bench_dask.py
    python benchmarks/bench_dask.py --rows 1000000 2000000 --features 100 \\
        --classes 5 --chunk-rows 125000 --memory-fraction 0.9 --solver lbfgs

For every size a fresh ``LocalCluster`` of 2 worker processes (1 thread each)
starts with a ``memory_limit`` per worker of ``--memory-fraction`` times the
size of ``X``: no worker can hold the data set, the two together can.  ``X``
(Gaussian features on scales 0.1 to 10) and ``y`` (labels drawn from a softmax
model with Gumbel noise) are generated on the workers, chunk by chunk, as part
of the fit: the client never sees them.  The fit runs to the optimum (default
``tol``; ``--solver``, Newton-CG by default: fewer passes over the data than
L-BFGS on this problem).

Dask's default memory thresholds spill a worker's data to disk once its
*process* memory passes 70 % of the limit; a worker holding half of ``X``
under a limit of 0.9 times ``X`` sits right there and thrashes (every pass
reads the data back from disk).  ``--spill-target`` (default 0.8) moves the
thresholds (target, +0.05 spill, +0.1 pause); ``--spill-target 0`` keeps
Dask's defaults.  Newton-CG also keeps the (n, K) probabilities on the
workers (two sets while one Newton step hands over to the next): with few
features per class leave more room.  On a 2-core machine the scheduler (in
the client process) competes with the workers for the cores.

Columns: ``fit s`` the Dask fit, data generation and persisting included
(``gen s``: one pass generating the data, for reference); ``client MB`` the
client's peak traced Python/numpy allocation during the fit (tracemalloc);
``spilled MB`` / ``unspilled MB`` what the workers wrote to and read back from
disk; for the sizes up to ``--in-memory-max-mb`` the in-memory fit of the same
data on the client (threads over row blocks, all cores), its time, and how far
apart the two models are (relative objective difference; max |coef
difference| over max |coef|).  The client's peak resident memory over the
Dask fits (``ru_maxrss``, imports included) is printed before the in-memory
fits start.
"""

import argparse
import resource
import time
import tracemalloc

import dask
import dask.array as da
import numpy as np
from distributed import Client, LocalCluster

from sklearn_softmax import SoftmaxRegression
from sklearn_softmax._objective import objective_value

__all__ = ["make_data", "objective", "run"]

# Below this limit a worker process's own memory (~200 MB) sets it off.
_MIN_LIMIT = 512 * 2**20


def _labels(X, W, b, seed, block_id=None):
    rng = np.random.default_rng([seed, block_id[0]])
    Z = X @ W.T + b
    return (Z + rng.gumbel(size=Z.shape)).argmax(axis=1)


def make_data(n, d, K, chunk_rows, seed=0):
    """Lazy ``(X, y)``: every chunk is generated where it is computed.

    Features ``N(0, 1)`` scaled by ``10**linspace(-1, 1, d)`` (preconditioning
    matters); labels from the softmax of a random linear model plus Gumbel
    noise, so the classes overlap and the optimum is finite.
    """
    rng = np.random.default_rng(seed)
    scale = np.logspace(-1, 1, d)
    W = rng.normal(size=(K, d)) / (scale * np.sqrt(d))
    b = rng.normal(size=K)
    X = da.random.default_rng(seed).standard_normal((n, d), chunks=(chunk_rows, d))
    X = X * scale
    y = X.map_blocks(_labels, W, b, seed, drop_axis=1, dtype=np.intp)
    return X, y


def objective(est, X, y):
    """Objective (unit weights) of a fitted model, in memory."""
    t = np.searchsorted(est.classes_, y)
    return objective_value(X, t, est.coef_, est.intercept_, est.C)


def _disk_bytes(dask_worker):
    """Bytes the worker's spill buffer wrote to and read from disk."""
    metrics = getattr(dask_worker.data, "cumulative_metrics", {})
    return [metrics.get((f"disk-{op}", "bytes"), 0.0) for op in ("write", "read")]


def run(
    rows,
    d=100,
    K=5,
    chunk_rows=125_000,
    memory_fraction=0.9,
    in_memory_max_mb=2000,
    processes=True,
    C=1.0,
    solver="newton-cg",
    seed=0,
    config=None,
    verbose=True,
):
    """Fit each size on a fresh 2-worker cluster; return one dict per size.

    ``config`` is set with ``dask.config.set`` while the clusters run (e.g.
    the worker memory thresholds, for in-process workers whose process
    memory is the client's too).
    """
    results = []
    for n in rows:
        nbytes = n * d * 8
        limit = int(memory_fraction * nbytes)
        if processes and limit < _MIN_LIMIT:
            raise ValueError(
                f"memory_limit {limit / 2**20:.0f} MB per worker for {n} rows: a "
                "worker process needs ~200 MB of its own; use at least "
                f"{_MIN_LIMIT / (memory_fraction * d * 8):.0f} rows."
            )
        with (
            dask.config.set(config or {}),
            LocalCluster(
                n_workers=2,
                threads_per_worker=1,
                processes=processes,
                memory_limit=limit,
                dashboard_address=":0",
            ) as cluster,
            Client(cluster) as client,
        ):
            X, y = make_data(n, d, K, chunk_rows, seed)
            t = time.perf_counter()
            float(X.sum().compute())
            gen = time.perf_counter() - t
            X, y = make_data(n, d, K, chunk_rows, seed)  # fresh graph, nothing cached
            est = SoftmaxRegression(C=C, solver=solver)
            if processes:  # in-process workers would be traced (and slowed) too
                tracemalloc.start()
            t = time.perf_counter()
            est.fit(X, y)
            fit = time.perf_counter() - t
            peak = tracemalloc.get_traced_memory()[1] if processes else None
            tracemalloc.stop()
            written, read = np.sum(list(client.run(_disk_bytes).values()), axis=0)
        row = {
            "rows": n,
            "X MB": nbytes / 2**20,
            "limit/worker MB": limit / 2**20,
            "gen s": gen,
            "fit s": fit,
            "iters": int(est.n_iter_[0]),
            "client MB": None if peak is None else peak / 2**20,
            "spilled MB": written / 2**20,
            "unspilled MB": read / 2**20,
            "est": est,
        }
        results.append(row)
        if verbose:
            print(f"dask fit done: {n} rows, {fit:.1f} s", flush=True)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10
    if verbose:
        print(f"client peak RSS over the Dask fits: {rss:.0f} MB", flush=True)
    for row in results:
        if row["X MB"] > in_memory_max_mb:
            continue
        Xd, yd = make_data(row["rows"], d, K, chunk_rows, seed)
        X, y = dask.compute(Xd, yd, scheduler="threads")
        ref = SoftmaxRegression(C=C, solver=solver)
        t = time.perf_counter()
        ref.fit(X, y)
        row["in-memory s"] = time.perf_counter() - t
        row["in-memory iters"] = int(ref.n_iter_[0])
        f_dask, f_mem = objective(row["est"], X, y), objective(ref, X, y)
        row["rel. obj. diff"] = abs(f_dask - f_mem) / abs(f_mem)
        diff = np.abs(row["est"].coef_ - ref.coef_).max()
        row["rel. coef diff"] = float(diff / np.abs(ref.coef_).max())
        del X, y
    return results


_COLUMNS = [
    ("rows", "{:>9d}"),
    ("X MB", "{:>7.0f}"),
    ("limit/worker MB", "{:>15.0f}"),
    ("gen s", "{:>6.1f}"),
    ("fit s", "{:>6.1f}"),
    ("iters", "{:>5d}"),
    ("client MB", "{:>9.1f}"),
    ("spilled MB", "{:>10.0f}"),
    ("unspilled MB", "{:>12.0f}"),
    ("in-memory s", "{:>11.1f}"),
    ("in-memory iters", "{:>15d}"),
    ("rel. obj. diff", "{:>14.1e}"),
    ("rel. coef diff", "{:>14.1e}"),
]


def format_table(results):
    """The results as a fixed-width text table (``-`` where not measured)."""
    rows = [[name for name, _ in _COLUMNS]]
    for row in results:
        rows.append(
            [
                "-" if row.get(name) is None else fmt.format(row[name])
                for name, fmt in _COLUMNS
            ]
        )
    widths = [max(len(r[i].strip()) for r in rows) for i in range(len(_COLUMNS))]
    return "\n".join(
        "  ".join(cell.strip().rjust(w) for cell, w in zip(r, widths, strict=True))
        for r in rows
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[2_000_000])
    parser.add_argument("--features", type=int, default=100)
    parser.add_argument("--classes", type=int, default=5)
    parser.add_argument("--chunk-rows", type=int, default=125_000)
    parser.add_argument("--memory-fraction", type=float, default=0.9)
    parser.add_argument("--in-memory-max-mb", type=float, default=2000)
    parser.add_argument("--C", type=float, default=1.0)
    parser.add_argument("--solver", default="newton-cg")
    parser.add_argument("--spill-target", type=float, default=0.8)
    args = parser.parse_args(argv)
    config = {}
    if args.spill_target:
        config = {
            f"distributed.worker.memory.{name}": args.spill_target + offset
            for name, offset in [("target", 0.0), ("spill", 0.05), ("pause", 0.1)]
        }
    results = run(
        args.rows,
        d=args.features,
        K=args.classes,
        chunk_rows=args.chunk_rows,
        memory_fraction=args.memory_fraction,
        in_memory_max_mb=args.in_memory_max_mb,
        C=args.C,
        solver=args.solver,
        config=config,
    )
    print(
        f"\n{args.features} features, {args.classes} classes, C={args.C}, "
        f"solver={args.solver}, chunks of {args.chunk_rows} rows; 2 worker "
        f"processes x 1 thread, memory_limit = {args.memory_fraction} x size of X, "
        f"spill target {args.spill_target or 'Dask default'}"
    )
    print(format_table(results))


if __name__ == "__main__":
    main()
