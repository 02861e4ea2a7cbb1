"""
=========================================
Quickstart: pipelines and model selection
=========================================

:class:`~sklearn_softmax.SoftmaxRegression` is a scikit-learn classifier, so it
goes wherever ``LogisticRegression`` goes: into a
:class:`~sklearn.pipeline.Pipeline`, through
:class:`~sklearn.model_selection.GridSearchCV` and
:func:`~sklearn.model_selection.cross_val_score`.  This example tunes ``C`` on
the wine data by the exact cross-entropy (in bits) and shows the estimate of
the tuned pipeline's test error that nested cross-validation gives.
"""

# %%
# Data
# ----
# The 13 wine features are on very different scales (proline is in the
# hundreds, hue near 1).  ``SoftmaxRegression`` does not need them scaled to
# converge, but the L2 penalty treats every coefficient alike, so scaling
# changes which model is fitted; here we tune with a scaler in the pipeline.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import (
    GridSearchCV,
    StratifiedKFold,
    cross_val_score,
    cross_validate,
    train_test_split,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_softmax import SoftmaxRegression
from sklearn_softmax.metrics import cross_entropy, make_cross_entropy_scorer

X, y = load_wine(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.3, stratify=y, random_state=0
)
print(f"{X.shape[0]} samples, {X.shape[1]} features, classes {np.unique(y)}")
spread = X.std(axis=0)
print(f"column standard deviations from {spread.min():.2g} to {spread.max():.3g}")

# %%
# A pipeline tuned by cross-validation
# ------------------------------------
# The scorer returns *minus* the mean cross-entropy (greater is better, as for
# scikit-learn's ``"neg_log_loss"``).  ``labels`` fixes the column order even if
# a fold happened to miss a class, and ``base=2`` reports bits per sample.
pipe = make_pipeline(StandardScaler(), SoftmaxRegression())
scorer = make_cross_entropy_scorer(labels=np.unique(y), base=2)
cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
C_grid = np.logspace(-3, 3, 13)
search = GridSearchCV(
    pipe, {"softmaxregression__C": C_grid}, scoring=scorer, cv=cv, n_jobs=1
)
search.fit(X_train, y_train)
best = search.best_estimator_
print("best C:", search.best_params_["softmaxregression__C"])
print(f"held-out accuracy: {best.score(X_test, y_test):.3f}")
ce_bits = cross_entropy(y_test, best.predict_proba(X_test), base=2)
print(f"held-out cross-entropy: {ce_bits:.4f} bits per sample")

# %%
# The validation curve that the search explored.  Small ``C`` (strong penalty)
# pulls every probability towards the class frequencies: the cross-entropy
# approaches the entropy of the class prior, about 1.56 bits here.  Large ``C``
# overfits a little.
mean = -search.cv_results_["mean_test_score"]
std = search.cv_results_["std_test_score"]
prior = np.bincount(y_train) / len(y_train)
fig, ax = plt.subplots(figsize=(6, 3.8), layout="constrained")
ax.semilogx(C_grid, mean, "o-", label="mean over 5 folds")
ax.fill_between(C_grid, mean - std, mean + std, alpha=0.2, label="± 1 std")
ax.axhline(
    -(prior * np.log2(prior)).sum(),
    color="grey",
    ls="--",
    label="entropy of the class prior",
)
ax.axvline(search.best_params_["softmaxregression__C"], color="k", lw=0.8)
ax.set_xlabel("C (inverse penalty strength)")
ax.set_ylabel("validation cross-entropy (bits)")
ax.set_title("Tuning C of a scaled SoftmaxRegression on wine")
ax.legend()
plt.show()

# %%
# Nested cross-validation
# -----------------------
# ``cross_val_score`` on the *search* estimates how well the whole procedure
# (scale, tune ``C``, refit) does on data it has not seen;
# :func:`~sklearn.model_selection.cross_validate` scores several metrics in one
# pass.
outer = StratifiedKFold(n_splits=5, shuffle=True, random_state=1)
nested = cross_validate(
    search, X, y, cv=outer, scoring={"cross_entropy": scorer, "accuracy": "accuracy"}
)
ce = -nested["test_cross_entropy"]
acc = nested["test_accuracy"]
print(f"nested CV cross-entropy: {ce.mean():.4f} ± {ce.std():.4f} bits")
print(f"nested CV accuracy: {acc.mean():.3f} ± {acc.std():.3f}")

# %%
# ``cross_val_score`` does the same for a single metric, here for the pipeline
# at the chosen ``C`` (not nested, so slightly optimistic):
C = search.best_params_["softmaxregression__C"]
pipe_C = make_pipeline(StandardScaler(), SoftmaxRegression(C=C))
scores = cross_val_score(pipe_C, X, y, scoring=scorer, cv=outer)
print("per-fold cross-entropy (bits):", (-scores).round(4))

# %%
# Drop-in for ``LogisticRegression``
# ----------------------------------
# For three or more classes both estimators minimise the same objective at the
# same ``C``, so at convergence they agree.  On scaled data scikit-learn's
# default solver gets there too; the difference shows on unscaled data (see
# :ref:`sphx_glr_auto_examples_plot_02_convergence.py`).
ours = make_pipeline(StandardScaler(), SoftmaxRegression(C=C)).fit(X_train, y_train)
theirs = make_pipeline(
    StandardScaler(), LogisticRegression(C=C, tol=1e-10, max_iter=10_000)
).fit(X_train, y_train)
diff = np.abs(ours.predict_proba(X_test) - theirs.predict_proba(X_test)).max()
print(f"largest difference in predict_proba: {diff:.1e}")
