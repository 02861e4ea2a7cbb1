"""
===================================================================
Distillation: fitting a linear student to a teacher's probabilities
===================================================================

:class:`~sklearn_softmax.SoftmaxRegression` fits class-probability rows as well
as labels: ``fit(X, P)`` with ``P`` of shape ``(n_samples, n_classes)``
minimises the cross-entropy ``H(P, q)`` between the rows of ``P`` and the
model's predictions.  One use is *knowledge distillation*: a flexible but slow
"teacher" (here gradient-boosted trees) labels data with its
``predict_proba``, and a small, fast linear "student" is fitted to those
probabilities instead of the hard labels.

A soft row says more than a label: not only which class is likely, but how
likely the others are.  This example compares students fitted on the true
labels with students fitted on the teacher's probabilities, as the number of
training points grows, by test cross-entropy against the true labels and by
KL divergence to the teacher.
"""

# %%
# A teacher
# ---------
# Four classes in ten dimensions, with a class structure that trees capture
# better than a linear model.  The teacher is trained on its own labelled
# split; the students learn from a separate "transfer" split (for distillation
# it could be unlabelled data), and everything is evaluated on a test split.
#
# Gradient boosting runs on OpenMP threads; the thread limit below only keeps
# the run time of this script predictable on small shared machines.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_classification
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

from sklearn_softmax import SoftmaxRegression
from sklearn_softmax.metrics import cross_entropy, kl_divergence

X, y = make_classification(
    n_samples=20_000,
    n_features=10,
    n_informative=6,
    n_redundant=2,
    n_classes=4,
    n_clusters_per_class=1,
    class_sep=1.0,
    random_state=0,
)
X_teach, X_rest, y_teach, y_rest = train_test_split(
    X, y, train_size=6_000, random_state=0
)
X_pool, X_test, y_pool, y_test = train_test_split(
    X_rest, y_rest, train_size=8_000, random_state=0
)

with threadpool_limits(limits=1, user_api="openmp"):
    teacher = HistGradientBoostingClassifier(random_state=0).fit(X_teach, y_teach)
    P_pool = teacher.predict_proba(X_pool)  # the soft targets
    P_test = teacher.predict_proba(X_test)
teacher_accuracy = np.mean(teacher.classes_[P_test.argmax(axis=1)] == y_test)

print(
    f"teacher: test accuracy {teacher_accuracy:.3f}, "
    f"test cross-entropy {cross_entropy(y_test, P_test):.3f} nats"
)

# %%
# The soft targets are ordinary probability rows; ``fit`` recognises a 2-D
# ``y`` as such (the columns are the classes ``0..K-1`` unless ``classes=``
# names them).
print(P_pool[:3].round(3))
student = SoftmaxRegression().fit(X_pool, P_pool)
print("student classes:", student.classes_)

# %%
# Students on growing training sets
# ---------------------------------
# For each size we draw several random subsets of the transfer split and fit
# three students on the same points:
#
# * **hard**: the true labels;
# * **smoothed**: the true labels with ``label_smoothing=0.1``, i.e. the
#   targets ``0.9 * onehot + 0.1 / 4`` (a teacher-free way to soften them);
# * **soft**: the teacher's probabilities.
sizes = [25, 50, 100, 200, 400, 1000, 2500, 8000]
n_repeats = 5
rng = np.random.default_rng(0)
students = {
    "hard labels": lambda idx: SoftmaxRegression().fit(X_pool[idx], y_pool[idx]),
    "labels, label_smoothing=0.1": lambda idx: SoftmaxRegression(
        label_smoothing=0.1
    ).fit(X_pool[idx], y_pool[idx]),
    "teacher probabilities": lambda idx: SoftmaxRegression().fit(
        X_pool[idx], P_pool[idx]
    ),
}
scores = {name: {"ce": [], "kl": [], "acc": []} for name in students}
for n in sizes:
    per_size = {name: {"ce": [], "kl": [], "acc": []} for name in students}
    for _ in range(n_repeats if n < len(X_pool) else 1):
        idx = rng.choice(len(X_pool), size=n, replace=False)
        if len(np.unique(y_pool[idx])) < 4:
            continue  # a tiny draw that misses a class
        for name, fit in students.items():
            Q = fit(idx).predict_proba(X_test)
            per_size[name]["ce"].append(cross_entropy(y_test, Q))
            per_size[name]["kl"].append(kl_divergence(P_test, Q))
            per_size[name]["acc"].append(np.mean(Q.argmax(axis=1) == y_test))
    for name in students:
        for key, values in per_size[name].items():
            scores[name][key].append(np.mean(values))

# %%
# Results
# -------
fig, axes = plt.subplots(1, 3, figsize=(14, 4.2), layout="constrained")
styles = {
    "hard labels": ("tab:red", "s-"),
    "labels, label_smoothing=0.1": ("tab:purple", "^--"),
    "teacher probabilities": ("tab:blue", "o-"),
}
panels = [
    ("ce", "test cross-entropy vs true labels (nats)"),
    ("kl", "test KL(teacher || student) (nats)"),
    ("acc", "test accuracy"),
]
for ax, (key, title) in zip(axes, panels, strict=True):
    for name, (color, style) in styles.items():
        ax.semilogx(sizes, scores[name][key], style, color=color, ms=4, label=name)
    ax.set_xlabel("training points for the student")
    ax.set_title(title)
axes[0].axhline(cross_entropy(y_test, P_test), color="k", ls=":", label="teacher")
axes[2].axhline(teacher_accuracy, color="k", ls=":", label="teacher")
axes[0].set_ylim(top=1.4)
axes[0].legend()
plt.show()

for name in students:
    ce, kl = scores[name]["ce"], scores[name]["kl"]
    print(
        f"{name:<30} n=50: CE {ce[1]:.3f}  KL {kl[1]:.3f}   "
        f"n=8000: CE {ce[-1]:.3f}  KL {kl[-1]:.3f}"
    )

# %%
# What it shows
# -------------
# * With few training points, the teacher's probabilities are worth much more
#   than labels: the soft student has a lower test cross-entropy against the
#   *true* labels and a higher accuracy, although it never saw a label.  Each
#   soft row carries the teacher's whole opinion, so the student's estimate
#   varies less from one draw of the data to the next.
# * The soft student is always closest to the teacher (lowest KL): that is
#   the quantity it minimises.
# * With plenty of data, the label-trained student catches up and ends with a
#   slightly lower cross-entropy against the labels, which is exactly what it
#   minimises; the soft student inherits the teacher's errors on the transfer
#   split.  Which one to prefer depends on whether the student should imitate
#   the teacher or the data.
# * Label smoothing also helps with few points, but it softens every target
#   by the same amount instead of where the classes really overlap, and with
#   plenty of data that costs: its students stay furthest from both the labels
#   and the teacher.
