"""
=====================================
Cross-entropy, KL divergence and bits
=====================================

:mod:`sklearn_softmax.metrics` provides two exact losses for probabilistic
classifiers:

* :func:`~sklearn_softmax.metrics.cross_entropy` ``CE(p, q) = -sum_k p_k log q_k``,
  for labels (``p`` one-hot: ``-log q_y``) or soft target rows;
* :func:`~sklearn_softmax.metrics.kl_divergence`
  ``KL(p || q) = sum_k p_k log(p_k / q_k)``, zero exactly when ``q = p``.

They are related by ``CE(p, q) = H(p) + KL(p || q)`` where ``H(p)`` is the
entropy of the targets: the cross-entropy splits into what no model can remove
(the targets' own uncertainty) and what the model still gets wrong.  This
example shows the units (nats and bits), the decomposition on soft targets,
and the scorers in cross-validation.
"""

# %%
# Labels: nats and bits
# ---------------------
# With natural logarithms the loss is in *nats*; ``base=2`` gives *bits*
# (``1 bit = log 2 nats``).  A cross-entropy in bits reads as the average
# number of yes/no questions still needed to name the true class once the
# model has spoken.  The natural yardstick is the entropy of the class
# frequencies: what a model that ignores ``X`` achieves at best.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.metrics import log_loss
from sklearn.model_selection import KFold, cross_val_score, train_test_split

from sklearn_softmax import SoftmaxRegression
from sklearn_softmax.metrics import (
    cross_entropy,
    kl_divergence,
    kl_divergence_scorer,
    make_cross_entropy_scorer,
)

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.5, stratify=y, random_state=0
)
clf = SoftmaxRegression(C=0.01).fit(X_train, y_train)
proba = clf.predict_proba(X_test)

prior = np.bincount(y_train) / len(y_train)
print(
    f"test cross-entropy: {cross_entropy(y_test, proba):.4f} nats"
    f" = {cross_entropy(y_test, proba, base=2):.4f} bits"
)
print(f"entropy of the class frequencies: {-(prior * np.log2(prior)).sum():.4f} bits")
print(f"scikit-learn's log_loss agrees: {log_loss(y_test, proba):.4f} nats")

# %%
# For labels, a one-hot row has zero entropy, so the cross-entropy and the KL
# divergence coincide:
print(kl_divergence(y_test, proba, base=2))

# %%
# Exact values, no clipping
# -------------------------
# A model that gives the true class probability 0 has an infinite
# cross-entropy.  :func:`sklearn.metrics.log_loss` clips probabilities to
# machine epsilon and reports a large finite number instead; these metrics
# report the exact value.
print("log_loss:", log_loss([0], [[0.0, 1.0]], labels=[0, 1]))
print("cross_entropy:", cross_entropy([0], [[0.0, 1.0]], labels=[0, 1]))

# %%
# Soft targets: ``CE = H + KL``
# -----------------------------
# Now the targets themselves are distributions.  We draw three overlapping
# Gaussian classes with different covariances, so the true class
# probabilities ``p(k | x)`` are known exactly (and are *not* a linear softmax
# of ``x``).  A :class:`~sklearn_softmax.SoftmaxRegression` fitted on these
# probability rows predicts ``q``.
rng = np.random.default_rng(0)
means = np.array([[0.0, 0.0], [2.0, 0.5], [0.5, 2.0]])
scales = np.array([1.0, 0.6, 1.5])


def log_density(x):
    sq = ((x[:, None, :] - means[None]) ** 2).sum(axis=2)
    return -0.5 * sq / scales**2 - 2 * np.log(scales)


def true_posterior(x):
    logp = log_density(x)
    logp -= logp.max(axis=1, keepdims=True)
    p = np.exp(logp)
    return p / p.sum(axis=1, keepdims=True)


labels = rng.integers(0, 3, size=3000)
points = means[labels] + rng.standard_normal((3000, 2)) * scales[labels, None]
P = true_posterior(points)
P_train, P_test = P[:2000], P[2000:]
Z_train, Z_test = points[:2000], points[2000:]

student = SoftmaxRegression().fit(Z_train, P_train)
Q = student.predict_proba(Z_test)

H = cross_entropy(P_test, P_test, base=2)  # H(p) = CE(p, p)
KL = kl_divergence(P_test, Q, base=2)
CE = cross_entropy(P_test, Q, base=2)
print(f"H(p) = {H:.4f} bits, KL(p||q) = {KL:.4f} bits, H + KL = {H + KL:.4f}")
print(f"CE(p, q) = {CE:.4f} bits")

# %%
# The same split, sample by sample, for a dozen test points (left panel
# below).  The grey part is the targets' own uncertainty; only the coloured
# part depends on the model.
idx = np.argsort(-(P_test.max(axis=1)))[:: len(P_test) // 12][:12]
h_i = np.array([cross_entropy(P_test[[i]], P_test[[i]], base=2) for i in idx])
kl_i = np.array([kl_divergence(P_test[[i]], Q[[i]], base=2) for i in idx])
ce_i = np.array([cross_entropy(P_test[[i]], Q[[i]], base=2) for i in idx])

# %%
# Over all test points: the decomposition of the mean, and how the two parts
# behave as the model is regularised more strongly (smaller ``C``).  The
# entropy stays put; the divergence grows.
C_grid = np.logspace(-4, 2, 13)
kl_C, ce_C = [], []
for C in C_grid:
    q = SoftmaxRegression(C=C).fit(Z_train, P_train).predict_proba(Z_test)
    kl_C.append(kl_divergence(P_test, q, base=2))
    ce_C.append(cross_entropy(P_test, q, base=2))
# one cell draws both panels: the gallery saves and closes a figure at the
# end of the cell that made it
fig, (ax0, ax1) = plt.subplots(
    1, 2, figsize=(12, 4.2), layout="constrained", width_ratios=[1.4, 1]
)
pos = np.arange(len(idx))
ax0.bar(pos, h_i, color="lightgrey", label="entropy H(p)")
ax0.bar(pos, kl_i, bottom=h_i, color="tab:orange", label="KL(p || q)")
ax0.plot(pos, ce_i, "k_", ms=18, mew=2, label="cross-entropy CE(p, q)")
ax0.set_xticks(pos, [f"{P_test[i].max():.2f}" for i in idx])
ax0.set_xlabel("test point, labelled by its largest target probability")
ax0.set_ylabel("bits")
ax0.set_title("CE(p, q) = H(p) + KL(p || q), per test point")
ax0.legend()
ax1.semilogx(C_grid, ce_C, "k-o", ms=4, label="CE(p, q)")
ax1.fill_between(C_grid, 0, H, color="lightgrey", label="H(p)")
ax1.fill_between(C_grid, H, ce_C, color="tab:orange", alpha=0.6, label="KL(p || q)")
ax1.set_xlabel("C")
ax1.set_ylabel("mean over the test set (bits)")
ax1.set_title("The model only controls the KL part")
ax1.legend()
plt.show()

# %%
# Scorers for model selection
# ---------------------------
# The scorers return *minus* the loss (greater is better) and accept soft
# targets, so ``cross_val_score`` works with probability rows as ``y``.
# ``kl_divergence_scorer`` is zero for a perfect model whatever the targets'
# entropy, which makes scores comparable across data sets.
cv = KFold(n_splits=5, shuffle=True, random_state=0)
kl_scores = cross_val_score(
    SoftmaxRegression(), Z_train, P_train, cv=cv, scoring=kl_divergence_scorer
)
ce_scores = cross_val_score(
    SoftmaxRegression(),
    Z_train,
    P_train,
    cv=cv,
    scoring=make_cross_entropy_scorer(base=2),
)
print("KL per fold (nats):", (-kl_scores).round(4))
print("CE per fold (bits):", (-ce_scores).round(4))
