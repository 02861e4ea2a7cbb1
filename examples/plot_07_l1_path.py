"""
=======================================================
An L1 regularisation path: exact zeros on unscaled data
=======================================================

With ``l1_ratio=1`` :class:`~sklearn_softmax.SoftmaxRegression` fits the
softmax cross-entropy with an L1 penalty on the coefficients,
``||W||_1 / (C S)``, and coefficients whose optimum is zero come out as
exactly ``0.0``.  Here we follow the regularisation path: twelve values of
``C`` from strong to weak penalties, each fit starting from the previous
solution (``warm_start=True``), on the wine data as it comes, unscaled.  For
each ``C`` we record how many coefficients are non-zero and the cross-entropy
on a held-out test set.

Beside it runs the same path with scikit-learn's
:class:`~sklearn.linear_model.LogisticRegression` and ``solver="saga"``, its
only solver for multinomial L1 penalties; for three or more classes it has
the same objective at the same ``C`` and ``l1_ratio``.  saga does not converge
on the unscaled columns (proline is measured in the hundreds, hue around 1:
at ``C=1``, after 10,000 epochs, its objective is still nearly three times the
optimum), so it gets standardised features, and so, for a like-for-like
comparison, does a second ``SoftmaxRegression`` path.
"""

# %%
# The data and the path
# ---------------------
# A stratified 70/30 split of the 178 wines (13 features, 3 classes).  The
# test cross-entropy is computed exactly from the scores by
# :func:`~sklearn_softmax.metrics.cross_entropy`.
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from sklearn_softmax import SoftmaxRegression
from sklearn_softmax.metrics import cross_entropy

wine = load_wine()
X_train, X_test, y_train, y_test = train_test_split(
    wine.data, wine.target, test_size=0.3, stratify=wine.target, random_state=0
)
scaler = StandardScaler().fit(X_train)
Xs_train, Xs_test = scaler.transform(X_train), scaler.transform(X_test)

Cs = np.logspace(-2, 2, 12)


def follow_path(model, X, y, X_eval, y_eval):
    """Fit ``model`` at every C in turn (warm-started if the model is).

    Returns the non-zero counts, the test cross-entropies, which fits raised
    a ConvergenceWarning, the first non-zero step of every feature and the
    total fit time.  Warnings are recorded, counted and reported, not hidden.
    """
    nonzero, test_ce, warned = [], [], []
    first = np.full(X.shape[1], -1)
    seconds = 0.0
    for step, C in enumerate(Cs):
        model.set_params(C=C)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            start = time.perf_counter()
            model.fit(X, y)
            seconds += time.perf_counter() - start
        warned.append(any(issubclass(w.category, ConvergenceWarning) for w in caught))
        used = np.any(model.coef_ != 0, axis=0)
        first[used & (first < 0)] = step
        nonzero.append(np.count_nonzero(model.coef_))
        scores = model.decision_function(X_eval)
        test_ce.append(cross_entropy(y_eval, scores, from_logits=True))
    return np.array(nonzero), np.array(test_ce), np.array(warned), first, seconds


# %%
# Three paths
# -----------
# ``SoftmaxRegression`` at its defaults (``tol=1e-6``, ``max_iter=1000``), on
# the unscaled and on the standardised features; saga on the standardised
# features with ``tol=1e-6``, ``max_iter=10_000`` and warm starts as well.
paths = {
    "SoftmaxRegression, unscaled": follow_path(
        SoftmaxRegression(l1_ratio=1.0, warm_start=True),
        X_train,
        y_train,
        X_test,
        y_test,
    ),
    "SoftmaxRegression, standardised": follow_path(
        SoftmaxRegression(l1_ratio=1.0, warm_start=True),
        Xs_train,
        y_train,
        Xs_test,
        y_test,
    ),
    "LogisticRegression(saga), standardised": follow_path(
        LogisticRegression(
            l1_ratio=1.0,
            solver="saga",
            tol=1e-6,
            max_iter=10_000,
            warm_start=True,
            random_state=0,
        ),
        Xs_train,
        y_train,
        Xs_test,
        y_test,
    ),
}

print(f"{'path':<40}{'total fit time s':>17}{'fits warned':>13}")
for label, (_, _, warned, _, seconds) in paths.items():
    print(f"{label:<40}{seconds:>17.2f}{warned.sum():>8d} of {len(Cs)}")

# ``raw``: ours, unscaled; ``std``: ours, standardised; ``saga``: saga,
# standardised.
print(f"\n{'C':>8}  non-zero coefficients (of 39)  test cross-entropy (nats)")
print(f"{'':>8}  {'raw':>8}{'std':>8}{'saga':>8}      {'raw':>9}{'std':>9}{'saga':>9}")
for i, C in enumerate(Cs):
    counts = "".join(f"{p[0][i]:>8d}" for p in paths.values())
    ces = "".join(f"{p[1][i]:>9.4f}" for p in paths.values())
    saga_warned = paths["LogisticRegression(saga), standardised"][2][i]
    print(f"{C:>8.3g}  {counts}      {ces}" + ("  saga warned" if saga_warned else ""))


# %%
# The plot
# --------
# Hollow markers are fits that raised a ``ConvergenceWarning``.
styles = {
    "SoftmaxRegression, unscaled": ("tab:blue", "o", "-"),
    "SoftmaxRegression, standardised": ("tab:green", "^", "-"),
    "LogisticRegression(saga), standardised": ("tab:red", "s", "--"),
}
fig, (ax_nz, ax_ce) = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
for label, (nonzero, test_ce, warned, _, seconds) in paths.items():
    color, marker, ls = styles[label]
    for ax, values in [(ax_nz, nonzero), (ax_ce, test_ce)]:
        ax.semilogx(Cs, values, ls, color=color, alpha=0.6)
        ax.semilogx(Cs[~warned], values[~warned], marker, color=color)
        ax.semilogx(Cs[warned], values[warned], marker, mfc="none", color=color)
    ax_nz.plot([], [], ls + marker, color=color, label=f"{label} ({seconds:.2f} s)")
ax_nz.set_xlabel("C")
ax_nz.set_ylabel("non-zero coefficients (of 39)")
ax_nz.legend(loc="lower right", fontsize=8, title="path (total fit time)")
ax_ce.set_xlabel("C")
ax_ce.set_ylabel("test cross-entropy (nats)")
ax_ce.set_yscale("log")
fig.suptitle("L1 path on wine (l1_ratio=1), 12 values of C, warm-started")
plt.show()

# %%
# Which features come first
# -------------------------
# The first features with a non-zero coefficient on each of our two paths.
for label in ["SoftmaxRegression, unscaled", "SoftmaxRegression, standardised"]:
    first = paths[label][3]
    order = [j for j in np.argsort(first, kind="stable") if first[j] >= 0]
    names = ", ".join(
        f"{wine.feature_names[j]} (C={Cs[first[j]]:.2g})" for j in order[:3]
    )
    print(f"{label}: {names}")

# %%
# What to read from it
# --------------------
# * The penalty treats every coefficient alike, so on unscaled data it
#   selects by units as well as by relevance: a feature with a large spread
#   needs only a small coefficient, which costs little, and proline (values in
#   the hundreds) enters first.  On standardised features the order, the zero
#   counts and the test cross-entropy at a given ``C`` all differ: scaling is
#   part of the model (see :ref:`objective`), not of the solver, which reaches
#   the optimum either way (see :ref:`convergence`).  Along an L1 path the
#   number of non-zero coefficients need not grow monotonically.
# * On the standardised data both estimators solve the same problem, and where
#   saga converged the zero counts and test cross-entropies agree.  Where it
#   stopped at ``max_iter`` with a ``ConvergenceWarning`` (the weak penalties,
#   large ``C``) its point is not yet the optimum: its test cross-entropy is
#   higher, and it can keep coefficients that are zero at the optimum.  At
#   the smallest ``C``, where every coefficient is zero on both sides, saga's
#   stopping test (on the change of the coefficients over an epoch) ended the
#   fit after one epoch, without a warning, with intercepts short of the class
#   log-frequencies that are the optimum there.
# * Warm starts make a path cheap for ``SoftmaxRegression``: each fit starts
#   from the previous solution, and every fit ended at its stopping rule (the
#   KKT residual of the L1 problem below ``tol``), without a warning.
