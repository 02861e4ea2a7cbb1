"""Demo: ``python -m sklearn_softmax``.

Fits SoftmaxRegression and scikit-learn's LogisticRegression (both at their
defaults, same C) on data bundled with scikit-learn, used unscaled, and prints
accuracy, cross-entropy, objective, iterations and time side by side.
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits, load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from ._objective import objective_value
from ._softmax import SoftmaxRegression
from .metrics import cross_entropy

DATASETS = {
    "digits": load_digits,
    "wine": load_wine,
    "breast_cancer": load_breast_cancer,
}


def _fit(model, X, y):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        start = time.perf_counter()
        model.fit(X, y)
        seconds = time.perf_counter() - start
    warned = any(issubclass(w.category, ConvergenceWarning) for w in caught)
    return seconds, warned


def _objective(model, X, y, C):
    """Objective of a fitted model (docs/user_guide/objective.rst), unit weights."""
    labels = np.searchsorted(model.classes_, y)
    return objective_value(X, labels, model.coef_, model.intercept_, C)


def main(argv=None):
    """Run the demo.

    Parameters
    ----------
    argv : list of str, default=None
        Command-line arguments (default: ``sys.argv[1:]``).
    """
    parser = argparse.ArgumentParser(
        prog="python -m sklearn_softmax",
        description=(
            "Fit SoftmaxRegression and scikit-learn's LogisticRegression, each "
            "at its defaults with the same penalty, on data sets bundled with "
            "scikit-learn (unscaled, a stratified 75/25 split), and print time, "
            "iterations, training objective, test accuracy, test cross-entropy "
            "and whether each fit converged."
        ),
    )
    parser.add_argument(
        "--data",
        choices=sorted(DATASETS),
        default=None,
        help="the data set to fit (default: all three)",
    )
    parser.add_argument(
        "-C",
        type=float,
        default=1.0,
        help=(
            "inverse regularisation strength of SoftmaxRegression (default: "
            "%(default)g); LogisticRegression gets the C of the same "
            "objective (2C for two classes)"
        ),
    )
    args = parser.parse_args(argv)
    names = [args.data] if args.data else list(DATASETS)
    for name in names:
        X, y = DATASETS[name](return_X_y=True)
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=0.25, random_state=0, stratify=y
        )
        K = len(np.unique(y))
        print(
            f"\n{name}: {X.shape[0]} samples, {X.shape[1]} features, {K} classes"
            " (unscaled)"
        )
        print(
            f"{'model':<34}{'time s':>8}{'iters':>7}{'objective':>14}"
            f"{'test acc':>10}{'test CE':>10}  converged"
        )
        models = [
            (f"SoftmaxRegression(C={args.C:g})", SoftmaxRegression(C=args.C)),
            # same objective: C for 3+ classes, 2C for two
            # (docs/user_guide/objective.rst)
            (
                f"LogisticRegression(C={args.C * (2 if K == 2 else 1):g})",
                LogisticRegression(C=args.C * (2 if K == 2 else 1)),
            ),
        ]
        for label, model in models:
            seconds, warned = _fit(model, X_train, y_train)
            n_iter = int(np.max(model.n_iter_))
            obj = _objective(model, X_train, y_train, args.C)
            acc = model.score(X_test, y_test)
            ce = cross_entropy(y_test, model.predict_proba(X_test))
            status = "no (ConvergenceWarning)" if warned else "yes"
            print(
                f"{label:<34}{seconds:>8.3f}{n_iter:>7d}{obj:>14.8f}"
                f"{acc:>10.4f}{ce:>10.4f}  {status}"
            )


if __name__ == "__main__":
    main()
