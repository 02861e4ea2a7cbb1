"""
=====================================================================
Monitoring a fit: the validation score at every iteration (callbacks)
=====================================================================

scikit-learn 1.9's callbacks (:mod:`sklearn.callback`) are told about every
iteration of a fit, with the model of that iterate.  A
:class:`~sklearn.callback.ScoringMonitor` set on
:class:`~sklearn_softmax.SoftmaxRegression` and on scikit-learn's
:class:`~sklearn.linear_model.LogisticRegression` (both with L-BFGS, the
same objective for ten classes at the same ``C``, here ``C=0.1``) scores
each iterate on a held-out set, on the digits data as they come (pixel
counts 0 to 16).
See :ref:`callbacks` in the user guide.
"""

# %%
# The fits, each monitored on the validation set
# ----------------------------------------------
# A scoring callable returns a dict of named scores; the monitor hands it the
# training data of the task, which it ignores for the validation set.
import warnings

import matplotlib.pyplot as plt
from sklearn.callback import ScoringMonitor
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import train_test_split

from sklearn_softmax import SoftmaxRegression

X, y = load_digits(return_X_y=True)
X_train, X_val, y_train, y_val = train_test_split(X, y, random_state=0)


def validation_scores(model, X, y):
    proba = model.predict_proba(X_val)
    return {
        "cross-entropy": log_loss(y_val, proba, labels=model.classes_),
        "accuracy": model.score(X_val, y_val),
    }


def monitored_fit(model, iteration_task):
    """Fit ``model`` with a ScoringMonitor; its per-iteration scores."""
    monitor = ScoringMonitor(scoring=validation_scores)
    with warnings.catch_warnings():
        # LogisticRegression may stop at max_iter on these unscaled data
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.set_callbacks(monitor).fit(X_train, y_train)
    log = monitor.get_logs().data_as_pandas
    rows = log[log.task_name == iteration_task].reset_index(drop=True)
    rows.index += 1  # iterations counted from 1
    return model, rows


ours, ours_log = monitored_fit(SoftmaxRegression(C=0.1, solver="lbfgs"), "iteration")
# l1_ratio=0 written out: the L2 penalty, without 1.8's FutureWarning
theirs, theirs_log = monitored_fit(
    LogisticRegression(C=0.1, l1_ratio=0.0, max_iter=500), "lbfgs-iter"
)
for name, model, log in [
    ("SoftmaxRegression", ours, ours_log),
    ("LogisticRegression", theirs, theirs_log),
]:
    print(
        f"{name}: {model.n_iter_[0]} iterations, validation cross-entropy "
        f"{log['cross-entropy'].iloc[-1]:.4f}, accuracy {log['accuracy'].iloc[-1]:.3f}"
    )

# %%
# The score against the iterations
# --------------------------------
# Side by side, on the same axes' scales: each curve is the model of one
# iterate scored on the validation set, as ``fitted_estimator`` gives it.
fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
for ax, (name, log) in zip(
    axes,
    [("SoftmaxRegression", ours_log), ("LogisticRegression", theirs_log)],
    strict=True,
):
    ax.plot(log.index, log["cross-entropy"], marker=".")
    ax.set_yscale("log")
    ax.set_title(f"{name} (lbfgs)")
    ax.set_xlabel("iteration")
    ax.grid(alpha=0.3)
axes[0].set_ylabel("validation cross-entropy")
fig.tight_layout()
plt.show()
