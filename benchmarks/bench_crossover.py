"""Where Newton on the exact Hessian stops paying: the ``solver="auto"`` rule.

Run by hand from the repository root::

    python benchmarks/bench_crossover.py            # median of 5 fits per cell

On standardised ``make_classification`` problems over a grid of rows ``n``,
features ``d`` and classes ``K`` (``C=1``), the median whole-fit time of
``SoftmaxRegression`` with ``solver="newton-cholesky"`` and with
``solver="newton-cg"`` at the default ``tol``, their ratio (exact over CG;
below 1: the exact Hessian pays), what ``solver="auto"`` picks, and the cost
model's ratio ``step / product`` (``_solver.exact_newton_pays``: one exact
step, ``n m^2 / 2 + m^3 / 3`` with ``m = (K - 1)(d + 1)``, over one Hessian
product, ``2 n d K``).  The rule's threshold is chosen where the measured ratio
crosses 1.
"""

import argparse
import itertools
import time
import warnings

import numpy as np
from common import machine_lines
from sklearn.datasets import make_classification
from sklearn.preprocessing import StandardScaler

from sklearn_softmax import SoftmaxRegression
from sklearn_softmax._solver import choose_solver


def median_ms(solver, X, y, repeats):
    """Median wall time in ms of a default fit with ``solver``, after a warm-up."""
    times = []
    for i in range(repeats + 1):
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            SoftmaxRegression(solver=solver).fit(X, y)
        if i:
            times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times))


def model_ratio(n, d, K):
    """The cost model's ``step / product`` (see the module docstring)."""
    m = (K - 1) * (d + 1)
    return (n * m * m / 2 + m**3 / 3) / (2 * n * d * K)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--n", type=int, nargs="+", default=[300, 3000, 30000])
    parser.add_argument("--d", type=int, nargs="+", default=[5, 10, 20, 50, 100])
    parser.add_argument("--K", type=int, nargs="+", default=[2, 3, 5, 10])
    args = parser.parse_args(argv)
    for line in machine_lines():
        print(line)
    print(
        f"{'n':>6} {'d':>4} {'K':>3} {'m':>5} {'model':>7} {'exact ms':>9} "
        f"{'cg ms':>9} {'ratio':>6}  auto"
    )
    for n, d, K in itertools.product(args.n, args.d, args.K):
        m = (K - 1) * (d + 1)
        if model_ratio(n, d, K) > 100:  # far past any crossover: minutes per cell
            continue
        X, y = make_classification(
            n_samples=n,
            n_features=d,
            n_informative=max(4, d // 2),
            n_redundant=0,
            n_classes=K,
            n_clusters_per_class=1,
            random_state=0,
        )
        X = StandardScaler().fit_transform(X)
        exact = median_ms("newton-cholesky", X, y, args.repeats)
        cg = median_ms("newton-cg", X, y, args.repeats)
        auto = choose_solver("auto", n, d, K)
        print(
            f"{n:6d} {d:4d} {K:3d} {m:5d} {model_ratio(n, d, K):7.1f} "
            f"{exact:9.2f} {cg:9.2f} {exact / cg:6.2f}  {auto}",
            flush=True,
        )


if __name__ == "__main__":
    main()
