"""
==============================================================
Inference: standard errors and intervals for probabilities
==============================================================

:mod:`sklearn_softmax.inference` gives a fitted
:class:`~sklearn_softmax.SoftmaxRegression` what statistics packages give a
multinomial logit: standard errors, tests and confidence intervals of the
class contrasts, with sample weights, a reference class of your choice, an
optional L2 penalty, and confidence intervals for the predicted probabilities.

Here three outcomes (``"none"``, ``"mild"``, ``"severe"``) depend on a dose and
an age, and the question is how sure the model is of each outcome's
probability along the dose.
"""

# %%
# Data and fit
# ------------
# 600 patients drawn from a softmax model, so the model is right and the
# intervals should cover the true probabilities 95 % of the time.  The fit is
# unpenalised (``C=np.inf``): the maximum-likelihood estimate, whose standard
# errors are the classical ones.
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from sklearn_softmax import SoftmaxRegression
from sklearn_softmax.inference import coef_inference, predict_proba_interval

rng = np.random.default_rng(0)
n = 600
X = pd.DataFrame({"dose": rng.uniform(0, 10, n), "age": rng.normal(50, 12, n)})
W = np.array([[0.0, 0.0], [0.45, 0.02], [0.9, 0.05]])  # none, mild, severe
b = np.array([0.0, -2.0, -7.5])


def true_proba(X):
    Z = X.to_numpy() @ W.T + b
    P = np.exp(Z - Z.max(axis=1, keepdims=True))
    return P / P.sum(axis=1, keepdims=True)


outcomes = np.array(["none", "mild", "severe"])
y = outcomes[(rng.uniform(size=(n, 1)) > true_proba(X).cumsum(axis=1)).sum(axis=1)]
model = SoftmaxRegression(C=np.inf).fit(X, y)
print(model.classes_)

# %%
# The coefficient table
# ---------------------
# Contrasts against a reference class: here ``"none"`` (any label can be the
# reference; the default is the first class, ``"mild"`` in sorted order).
# Each row is the change in the log-odds of an outcome against ``"none"``.
res = coef_inference(model, X, y, reference="none")
print(res.summary().round(3))

# %%
# Does age matter at all?  A Wald test that its coefficient is zero in every
# contrast (two restrictions), and the sandwich (HC0) standard errors beside
# the classical ones.
print(res.wald_test("age"))
robust = coef_inference(model, X, y, reference="none", cov_type="HC0")
table = res.summary()
table["HC0 std err"] = robust.bse.ravel()
print(table[["coef", "std err", "HC0 std err"]].round(3))

# %%
# Intervals for the predicted probabilities
# -----------------------------------------
# Along the dose, at age 50: the predicted probability of each outcome with
# its pointwise 95 % interval (the delta method on ``log p``, so the bounds
# stay in [0, 1]), and the true probability of the simulation.
grid = pd.DataFrame({"dose": np.linspace(0, 10, 101), "age": 50.0})
proba = model.predict_proba(grid)
lower, upper = predict_proba_interval(model, res, grid, alpha=0.05)
truth = true_proba(grid)

fig, ax = plt.subplots(figsize=(7, 4.5))
for k, label in enumerate(model.classes_):
    j = list(outcomes).index(label)
    (line,) = ax.plot(grid["dose"], proba[:, k], label=f"{label}")
    ax.fill_between(
        grid["dose"], lower[:, k], upper[:, k], alpha=0.25, lw=0, color=line.get_color()
    )
    ax.plot(grid["dose"], truth[:, j], ls=":", color=line.get_color())
ax.set_xlabel("dose (age 50)")
ax.set_ylabel("probability")
ax.set_ylim(0, 1)
ax.set_title("Predicted probabilities, 95 % intervals (dotted: truth)")
ax.legend(title="outcome")
fig.tight_layout()
plt.show()

# %%
# The intervals are narrow where the data are dense and the probability is
# far from 0 and 1 on the log scale, and widen towards the ends of the dose
# range.  They are pointwise: each covers its own probability with 95 %
# confidence, not all of a curve at once.  With a finite ``C`` the same calls
# work, but the intervals are then conditional on ``C`` (see the user guide,
# :ref:`inference`).
