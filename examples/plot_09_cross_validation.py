"""
===============================================================
Choosing C by cross-validation: exact paths on unscaled data
===============================================================

:class:`~sklearn_softmax.SoftmaxRegressionCV` fits a grid of ``C`` on every
training fold along a warm-started path, each fit at its optimum, scores it
on the held-out fold and refits the best ``C`` on all data.  Here it runs on
the wine data as it comes (proline in the hundreds, hue around 1), beside
scikit-learn's :class:`~sklearn.linear_model.LogisticRegressionCV`, which has
the same objective for three classes at the same ``C``:

* at its defaults (lbfgs, ``tol=1e-4``, ``max_iter=100``, accuracy scoring;
  the default values are written out to silence scikit-learn 1.9's
  FutureWarnings about coming changes);
* with its defaults but scored by the held-out cross-entropy, so that its
  curve can be drawn next to ours;
* with ``solver="newton-cholesky", tol=1e-12``: the exact curve.
"""

# %%
# The searches
# ------------
# The same five stratified folds and ten ``C`` for every search.
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegressionCV
from sklearn.model_selection import StratifiedKFold

from sklearn_softmax import SoftmaxRegressionCV

X, y = load_wine(return_X_y=True)
Cs = np.logspace(-4, 4, 10)
folds = list(StratifiedKFold(5, shuffle=True, random_state=0).split(X, y))


def search(model):
    """Fit ``model``; return it, the seconds taken and its ConvergenceWarnings."""
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always", ConvergenceWarning)
        start = time.perf_counter()
        model.fit(X, y)
        seconds = time.perf_counter() - start
    n_warnings = sum(w.category is ConvergenceWarning for w in seen)
    return model, seconds, n_warnings


def lrcv(**params):
    """LogisticRegressionCV on the common grid and folds, defaults written out."""
    defaults = dict(l1_ratios=(0.0,), scoring="accuracy", use_legacy_attributes=False)
    return LogisticRegressionCV(Cs=Cs, cv=folds, **{**defaults, **params})


searches = {
    "SoftmaxRegressionCV()": SoftmaxRegressionCV(
        Cs=Cs, cv=folds, scoring="neg_log_loss"
    ),
    "LogisticRegressionCV() defaults, accuracy": lrcv(),
    "LogisticRegressionCV() defaults, log-loss": lrcv(scoring="neg_log_loss"),
    "LogisticRegressionCV(newton-cholesky, tol=1e-12)": lrcv(
        scoring="neg_log_loss", solver="newton-cholesky", tol=1e-12, max_iter=1000
    ),
}
results = {name: search(model) for name, model in searches.items()}
for name, (model, seconds, n_warnings) in results.items():
    print(
        f"{name:50s} C_ = {model.C_:8.3g}  {seconds:5.2f} s  "
        f"{n_warnings:2d} ConvergenceWarnings"
    )

# %%
# Our scores are those of the exact fits: the held-out log-loss of every
# (fold, C) model agrees with the newton-cholesky reference to rounding.
exact = results["LogisticRegressionCV(newton-cholesky, tol=1e-12)"][0]
ours = results["SoftmaxRegressionCV()"][0]
print(f"largest score difference: {np.abs(ours.scores_ - exact.scores_).max():.1e}")

# %%
# Mean held-out log-loss against C
# --------------------------------
# scikit-learn's defaults stop the fits early on these unscaled columns: for
# the weaker penalties the models it scores are not the optima of the
# objective, and its curve, and possibly the C it picks, differ from the
# exact ones.
fig, ax = plt.subplots(figsize=(6.4, 4))
styles = {
    "SoftmaxRegressionCV()": dict(marker="o", lw=2),
    "LogisticRegressionCV() defaults, log-loss": dict(marker="s", ls="--"),
    "LogisticRegressionCV(newton-cholesky, tol=1e-12)": dict(marker="x", ls=":"),
}
for name, style in styles.items():
    model = results[name][0]
    ax.semilogx(Cs, -model.scores_[:, 0].mean(axis=0), label=name, **style)
    ax.axvline(model.C_, color=ax.lines[-1].get_color(), alpha=0.3)
ax.set_xlabel("C")
ax.set_ylabel("mean held-out cross-entropy (nats)")
ax.set_yscale("log")
ax.legend(fontsize="small")
ax.set_title("wine, unscaled: 5-fold CV over C")
fig.tight_layout()
plt.show()
