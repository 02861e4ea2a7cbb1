"""The cost of sklearn_softmax.inference against one fit of the same model.

For data drawn from a softmax model (``n`` rows, ``d`` features, ``K``
classes: ``(K - 1)(d + 1)`` contrasts) prints the median wall time of

- the default fit (``SoftmaxRegression(C=C)``),
- the Hessian assembly alone (``_loss.contrast_hessian`` in data units),
- ``coef_inference`` with the non-robust and the HC0 covariance (assembly,
  factorisation and inverse, scores),
- ``predict_proba_interval`` on 1000 rows,

and each one's ratio to the fit.  Run by hand::

    python benchmarks/bench_inference.py                       # n=20000, d=1000, K=10
    python benchmarks/bench_inference.py --n 5000 --d 200 --K 5 --repeats 5
"""

import argparse
import time

import numpy as np
from common import machine_lines, median_time

from sklearn_softmax import SoftmaxRegression
from sklearn_softmax._loss import contrast_hessian
from sklearn_softmax.inference import coef_inference, predict_proba_interval


def softmax_data(n, d, K, seed=0):
    """Features N(0, 1), labels from a softmax model with signal ~1 per class."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    W = rng.standard_normal((K, d)) / np.sqrt(d)
    Z = X @ W.T
    P = np.exp(Z - Z.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    y = (rng.uniform(size=(n, 1)) > P.cumsum(axis=1)).sum(axis=1)
    return X, np.minimum(y, K - 1)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--d", type=int, default=1000)
    parser.add_argument("--K", type=int, default=10)
    parser.add_argument("--C", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    for line in machine_lines():
        print(line)
    X, y = softmax_data(args.n, args.d, args.K)
    m = (args.K - 1) * (args.d + 1)
    print(f"n={args.n} d={args.d} K={args.K} C={args.C:g}: {m} contrasts")

    model = SoftmaxRegression(C=args.C)
    fit, _ = median_time(lambda: model.fit(X, y), args.repeats, warmup=0)
    print(f"solver: {model.solver}, iterations {model.n_iter_[0]}")
    P = model.predict_proba(X)
    w = np.ones(args.n)
    zeros, ones = np.zeros(args.d), np.ones(args.d)

    rows = [("fit", fit)]
    cases = {
        "Hessian assembly": lambda: contrast_hessian(X, P, w, zeros, ones, True),
        "coef_inference nonrobust": lambda: coef_inference(model, X, y),
        "coef_inference HC0": lambda: coef_inference(model, X, y, cov_type="HC0"),
    }
    for name, fn in cases.items():
        seconds, _ = median_time(fn, args.repeats, warmup=0)
        rows.append((name, seconds))
    res = coef_inference(model, X, y)
    start = time.perf_counter()
    predict_proba_interval(model, res, X[:1000])
    rows.append(("predict_proba_interval, 1000 rows", time.perf_counter() - start))

    print(f"{'':38s} {'median s':>9s} {'/ fit':>7s}")
    for name, seconds in rows:
        print(f"{name:38s} {seconds:9.2f} {seconds / fit:7.2f}")


if __name__ == "__main__":
    main()
