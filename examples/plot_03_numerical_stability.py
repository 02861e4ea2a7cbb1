"""
==================================================
Numerical stability: log-softmax vs. the naive way
==================================================

The probabilities of a softmax model are ``p_k = exp(z_k) / sum_j exp(z_j)``
and its loss needs ``log p_k``.  Written out literally, both break down once
the logits ``z`` are large, and large logits are common: weakly penalised
models, nearly separable classes, features in the thousands.  This example
evaluates ``log p`` four ways over a growing logit scale ``s`` and compares
them with the exact value.

1. ``log(exp(z) / exp(z).sum())``: the textbook formula.
2. ``log(softmax(z))``: probabilities computed stably (max-shifted), then the
   logarithm.  This is what ``LogisticRegression.predict_log_proba`` does.
3. ``z - logsumexp(z)``: a stable log-sum-exp, then a subtraction.
4. ``scipy.special.log_softmax(z)``: shift by the maximum first, then take the
   log-sum-exp of the shifted logits and subtract.  This is what
   ``SoftmaxRegression`` and :mod:`sklearn_softmax.metrics` use.
"""

# %%
import warnings

import matplotlib.pyplot as plt
import numpy as np
from scipy.special import log_softmax, logsumexp, softmax
from sklearn.linear_model import LogisticRegression

from sklearn_softmax import SoftmaxRegression
from sklearn_softmax.metrics import cross_entropy


def textbook(z):
    with np.errstate(all="ignore"):
        e = np.exp(z)
        return np.log(e / e.sum())


def log_of_softmax(z):
    with np.errstate(divide="ignore"):
        return np.log(softmax(z))


def minus_logsumexp(z):
    return z - logsumexp(z)


methods = {
    "log(exp(z) / sum exp(z))": textbook,
    "log(softmax(z))": log_of_softmax,
    "z - logsumexp(z)": minus_logsumexp,
    "log_softmax(z)": log_softmax,
}

# %%
# Two test cases with exact answers
# ---------------------------------
# *A tie*: ``z = s * [1, 1, 0]``.  The two leading classes share the mass, so
# ``log p_0 = -log(2 + exp(-s))``, which is ``-log 2`` for large ``s``.
#
# *A clear loser*: ``z = s * [1, 0, -1]``.  The last class has
# ``log p_2 = -2 s - log(1 + exp(-s) + exp(-2 s))``, a perfectly ordinary
# number (about ``-2 s``) even when ``p_2`` itself is far below the smallest
# float.
scales = np.logspace(-1, 20, 400)


def tie(s):
    return np.array([s, s, 0.0]), 0, -np.log(2.0 + np.exp(-s))


def loser(s):
    exact = -2 * s - np.log1p(np.exp(-s) + np.exp(-2 * s))
    return np.array([s, 0.0, -s]), 2, exact


def relative_errors(case):
    errors = {}
    for label, fn in methods.items():
        err = []
        for s in scales:
            z, k, exact = case(s)
            got = fn(z)[k]
            err.append(abs(got - exact) / abs(exact) if np.isfinite(got) else np.inf)
        errors[label] = np.array(err)
    return errors


cases = {
    "a tie: log p_0 for z = s [1, 1, 0]": relative_errors(tie),
    "a loser: log p_2 for z = s [1, 0, -1]": relative_errors(loser),
}

# %%
# Where each way fails
# --------------------
# A relative error of 1 means all digits are lost (for instance 0 instead of
# ``-log 2``); infinite or NaN results are drawn on the top edge.
fig, axes = plt.subplots(1, 2, figsize=(12, 4.4), layout="constrained", sharey=True)
styles = ["-", "--", "-.", "-"]
widths = [2.5, 2.0, 2.0, 1.2]
for ax, (title, errors) in zip(axes, cases.items(), strict=True):
    for (label, err), ls, lw in zip(errors.items(), styles, widths, strict=True):
        shown = np.where(np.isfinite(err), np.maximum(err, 1e-17), 1e3)
        ax.loglog(scales, shown, ls, lw=lw, label=label)
    ax.axhline(1e3, color="k", lw=0.5)
    ax.text(0.12, 1.5e3, "inf / NaN", fontsize=8, va="bottom")
    ax.set_ylim(1e-18, 1e5)
    ax.set_xlabel("logit scale s")
    ax.set_title(title)
axes[0].set_ylabel("relative error of log p (floored at 1e-17)")
axes[1].legend(loc="center right", fontsize=8)
plt.show()

# %%
# The numbers behind the plot, at a few scales:
for s in [30.0, 400.0, 800.0, 1e17]:
    z = np.array([s, s, 0.0])
    row = ", ".join(f"{label}: {fn(z)[0]:.6g}" for label, fn in methods.items())
    print(f"tie, s={s:g}: {row}")

# %%
# * The textbook formula overflows: ``exp(710)`` is ``inf`` in float64, and
#   ``inf / inf`` is NaN.
# * ``log(softmax(z))`` never overflows, but the probability of the losing class
#   underflows to 0 once ``2 s`` exceeds about 745, and its log is ``-inf``.
#   Before that it is fine: the trouble is the log of a number that cannot be
#   stored, not the exponential.
# * ``z - logsumexp(z)`` subtracts two nearly equal large numbers, so it keeps
#   only the digits that ``z`` leaves over: the relative error grows like
#   ``s * 1e-16``.  At ``s = 1e17`` the spacing of float64 numbers near ``z``
#   is 16, ``logsumexp`` returns exactly ``1e17`` and the tie gives ``log p = 0``
#   instead of ``-log 2`` (probability 1 instead of 1/2).
# * ``log_softmax`` subtracts the maximum first, so the leading logits become
#   exactly 0 and the log-sum-exp is computed on numbers of moderate size:
#   exact at every scale.
#
# Zero targets and ``0 log 0``
# ----------------------------
# With soft targets, a class can have target probability 0 and predicted
# log-probability ``-inf``.  The product ``0 * (-inf)`` is NaN in IEEE
# arithmetic, but the term is 0 in the cross-entropy (the limit of
# ``p log q`` as ``p -> 0``).  The metrics mask those terms:
target = np.array([[0.5, 0.5, 0.0]])
logits = np.array([[3.0, 3.0, -np.inf]])
with np.errstate(invalid="ignore"):
    naive = -(target * log_softmax(logits, axis=1)).sum()
print("naive sum:", naive)
print("cross_entropy:", cross_entropy(target, logits, from_logits=True))

# %%
# The same story inside estimators
# --------------------------------
# ``LogisticRegression.predict_log_proba`` is ``log(predict_proba)``.  For two
# classes its probability of the losing class is ``1 - expit(z)``, which rounds
# to exactly 0 once ``z`` exceeds about 37, so its log-probability is ``-inf``;
# ``SoftmaxRegression.predict_log_proba`` is the log-softmax of the scores.
# We give both estimators the same one-feature model (log-odds ``z = x``):
X_toy = np.array([[-1.0], [1.0], [-2.0], [2.0], [0.5], [-0.5]])
y_toy = np.array([0, 1, 0, 1, 0, 1])
lr = LogisticRegression().fit(X_toy, y_toy)
sm = SoftmaxRegression().fit(X_toy, y_toy)
for model in (lr, sm):  # the same log-odds model for both
    model.coef_[:] = 1.0
    model.intercept_[:] = 0.0

z = np.linspace(1, 60, 300)[:, None]
with warnings.catch_warnings():
    warnings.simplefilter("ignore", RuntimeWarning)  # log(0) in scikit-learn
    lr_log = lr.predict_log_proba(z)[:, 0]
sm_log = sm.predict_log_proba(z)[:, 0]
exact = -np.logaddexp(0.0, z[:, 0])

fig, ax = plt.subplots(figsize=(6.5, 4), layout="constrained")
ax.plot(z[:, 0], exact, color="grey", lw=6, alpha=0.4, label="exact: -log(1 + exp(z))")
ax.plot(z[:, 0], sm_log, color="tab:blue", label="SoftmaxRegression.predict_log_proba")
finite = np.isfinite(lr_log)
ax.plot(
    z[finite, 0],
    lr_log[finite],
    "--",
    color="tab:red",
    label="LogisticRegression.predict_log_proba",
)
ax.plot(
    z[~finite, 0],
    np.full((~finite).sum(), -62.0),
    "v",
    ms=3,
    color="tab:red",
    label="... = -inf there",
)
ax.set_ylim(-64, 2)
ax.set_xlabel("log-odds z of the other class")
ax.set_ylabel("log-probability of the losing class")
ax.legend(fontsize=8, loc="lower left")
plt.show()
first_inf = z[~finite, 0].min()
print(f"LogisticRegression gives -inf from z = {first_inf:.1f} on")
print(
    f"relative error of LogisticRegression at z=30: "
    f"{abs(lr.predict_log_proba([[30.0]])[0, 0] / -30.0 - 1):.1e}"
)
print(f"SoftmaxRegression at z=1000: {sm.predict_log_proba([[1000.0]])[0]}")
