"""The in-memory wing: NumPy arrays, SciPy sparse matrices and array-likes.

The :class:`~sklearn_softmax._blocks.Backend` of every input that no other wing
claims (``_blocks.input_backend`` returns None for it).  Training data are
validated by scikit-learn's ``validate_data`` into one
:class:`~sklearn_softmax._blocks.RowBlocks` block (dense float32/float64, CSR
or CSC); the path cuts it into thread blocks.  Predictions are computed on the
host in ``X``'s precision.
"""

import numpy as np
from sklearn.utils.extmath import safe_sparse_dot
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from . import _loss
from ._blocks import FitInput, RowBlocks
from ._targets import check_target_form, target_classes
from ._xp import check_same_namespace

__all__ = ["fit_input", "finish_fit", "in_memory", "parallel_folds", "predict"]

in_memory = True
parallel_folds = True

_ACCEPT_SPARSE = ["csr", "csc"]
_DTYPES = [np.float64, np.float32]


def fit_input(estimator, X, y, sample_weight=None, classes=None):
    """Validated NumPy / SciPy training data as one in-memory block.

    Sets ``n_features_in_`` (and ``feature_names_in_``) on ``estimator``.
    """
    columns = _target_columns(y)
    soft = check_target_form(columns, classes, stacklevel=3)
    if columns == 1:
        y = column_or_1d(y)
    X, y = validate_data(
        estimator,
        X,
        y,
        accept_sparse=_ACCEPT_SPARSE,
        dtype=_DTYPES,
        multi_output=soft,
        y_numeric=soft,
    )
    classes = target_classes(y, classes, soft=soft)
    sw = _check_sample_weight(
        sample_weight, X, dtype=np.float64, ensure_non_negative=True
    )
    blocks = RowBlocks.whole(X, y, sw)
    return FitInput(blocks, classes, X.shape[0], X.shape[1], X.dtype)


def finish_fit(estimator, X, y):
    """Nothing to move: the fitted arrays are NumPy arrays already."""


def predict(estimator, method, X):
    """``estimator.method(X)`` on the host, in ``X``'s precision."""
    check_is_fitted(estimator)
    check_same_namespace(X, estimator, attribute="coef_", method=method)
    X = validate_data(
        estimator, X, accept_sparse=_ACCEPT_SPARSE, dtype=_DTYPES, reset=False
    )
    coef = estimator.coef_
    dtype = coef.dtype if X.dtype == np.float64 else X.dtype
    scores = safe_sparse_dot(X, coef.T.astype(dtype), dense_output=True)
    scores = np.asarray(scores) + estimator.intercept_.astype(dtype)
    if method == "decision_function":
        return scores.ravel() if scores.shape[1] == 1 else scores
    if method == "predict":
        binary = scores.shape[1] == 1
        index = (scores[:, 0] > 0).astype(int) if binary else scores.argmax(axis=1)
        return estimator.classes_[index]
    if scores.shape[1] == 1:
        scores = np.column_stack([np.zeros_like(scores[:, 0]), scores[:, 0]])
    log_proba = _loss.log_softmax(scores)
    if method == "predict_log_proba":
        return log_proba
    return np.exp(log_proba)


def _target_columns(y):
    """Number of columns of a 2-D ``y``; 0 for 1-D (or missing) targets."""
    if y is None:
        return 0
    shape = np.shape(np.asarray(y))
    return shape[1] if len(shape) == 2 else 0
