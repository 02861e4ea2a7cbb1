"""
=========================================
Decision regions and probability contours
=========================================

A softmax model with ``K`` classes draws straight boundaries: class ``k`` wins
where its score ``w_k . x + b_k`` is the largest, so the regions are convex
polygons meeting along lines.  The probabilities change smoothly across those
lines, and how sharply depends on the size of the coefficients, which ``C``
controls.  Here a three-class problem in two dimensions is fitted at three
values of ``C``.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import LinearSegmentedColormap
from sklearn.datasets import make_blobs

from sklearn_softmax import SoftmaxRegression

X, y = make_blobs(
    n_samples=300,
    centers=[[-2.0, -1.0], [2.0, -1.5], [0.0, 2.0]],
    cluster_std=[1.3, 1.0, 1.6],
    random_state=3,
)
colors = ["tab:blue", "tab:orange", "tab:green"]

xx, yy = np.meshgrid(np.linspace(-7, 7, 300), np.linspace(-6, 7, 300))
grid = np.column_stack([xx.ravel(), yy.ravel()])

# %%
# For each fit: the background colour is the predicted class, and its
# lightness the probability of that class; the black lines are where the most
# likely class has probability 0.5, 0.8 and 0.95.  The dashed grey lines are
# the decision boundaries, where the two leading scores tie.
Cs = [0.0003, 0.01, 100.0]
extent = (xx.min(), xx.max(), yy.min(), yy.max())
fig, axes = plt.subplots(1, 3, figsize=(14, 4.6), layout="constrained")
for ax, C in zip(axes, Cs, strict=True):
    clf = SoftmaxRegression(C=C).fit(X, y)
    proba = clf.predict_proba(grid)
    scores = clf.decision_function(grid)
    label = proba.argmax(axis=1).reshape(xx.shape)
    top = proba.max(axis=1).reshape(xx.shape)
    for k, color in enumerate(colors):
        # lightness: 0 at probability 1/3 (no information), full at 1
        shade = np.where(label == k, (top - 1 / 3) / (2 / 3), np.nan)
        cmap = LinearSegmentedColormap.from_list(f"class{k}", ["white", color])
        ax.imshow(
            shade,
            extent=extent,
            origin="lower",
            cmap=cmap,
            vmin=0,
            vmax=1.2,
            aspect="auto",
        )
    levels = ax.contour(
        xx, yy, top, levels=[0.5, 0.8, 0.95], colors="k", linewidths=0.7
    )
    ax.clabel(levels, fmt="%.2f", fontsize=7)
    for j, k in [(0, 1), (0, 2), (1, 2)]:
        # the boundary between j and k: equal scores, where one of them wins
        tie = (scores[:, j] - scores[:, k]).reshape(xx.shape)
        tie = np.where((label == j) | (label == k), tie, np.nan)
        ax.contour(
            xx, yy, tie, levels=[0.0], colors="0.25", linestyles="--", linewidths=1.5
        )
    for k, color in enumerate(colors):
        ax.scatter(*X[y == k].T, s=12, color=color, edgecolor="k", linewidth=0.4)
    norm = np.linalg.norm(clf.coef_)
    acc = clf.score(X, y)
    ax.set_title(f"C = {C:g}: ||W|| = {norm:.2f}, training accuracy {acc:.2f}")
    ax.set_xlim(extent[:2])
    ax.set_ylim(extent[2:])
plt.show()

# %%
# With a strong penalty (``C = 0.0003``) the coefficients are tiny and every
# probability stays near the class frequencies of 1/3: the 0.5 contour only
# appears in the far corners, although the predicted classes already split the
# plane sensibly.  As ``C`` grows the coefficients grow and the transition zones
# around the boundaries narrow.  The boundaries themselves are where two scores
# are equal, and there the two classes share the probability (equally, at a
# point where the third class is negligible).
#
# The fitted parameters are reported in the centred gauge: adding the same
# vector to every row of ``coef_`` would not change any probability, and
# ``SoftmaxRegression`` returns the representative whose rows add up to the
# zero vector (and whose intercepts add up to 0).
clf = SoftmaxRegression(C=100.0).fit(X, y)
print("coef_ =\n", clf.coef_.round(3))
print("intercept_ =", clf.intercept_.round(3))
print(
    f"|sum of the rows of coef_|: {np.abs(clf.coef_.sum(axis=0)).max():.1e}, "
    f"|sum of intercept_|: {abs(clf.intercept_.sum()):.1e}"
)

# %%
# Only differences of scores matter: the boundary between classes ``j`` and
# ``k`` is the line ``(w_j - w_k) . x + (b_j - b_k) = 0``.
W, b = clf.coef_, clf.intercept_
for j, k in [(0, 1), (0, 2), (1, 2)]:
    d, c = W[j] - W[k], b[j] - b[k]
    print(f"boundary {j}|{k}: {d[0]:+.3f} x0 {d[1]:+.3f} x1 {c:+.3f} = 0")
