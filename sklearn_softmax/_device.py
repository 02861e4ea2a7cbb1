"""The array-API wing: fit and predict on torch, CuPy or array-api-strict arrays.

Under ``sklearn.set_config(array_api_dispatch=True)`` an ``X`` that is an
array-API array other than NumPy's is routed here by
``_blocks.input_backend``.  ``X`` never leaves its namespace and device: it
becomes one :class:`~sklearn_softmax._blocks.DeviceBlocks` block, on which the
kernel, the preconditioner's statistics and Newton-CG's Hessian products run.
The labels are prepared on the host (``y`` is moved to NumPy once: labels may
be strings, and class weights are a small reduction), then the class indices
and row weights are moved to the device once.  The fitted ``coef_`` and
``intercept_`` are put in ``X``'s namespace and on its device, ``classes_`` in
``y``'s (as ``LogisticRegression`` keeps them).
"""

import numpy as np
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from . import _loss
from ._blocks import DeviceBlocks, FitInput
from ._targets import check_target_form, target_classes
from ._xp import (
    accumulation_dtype,
    check_same_namespace,
    get_namespace_and_device,
    is_device_array,
    move_to,
    namespace_of,
    numpy_dtype,
    to_device,
    to_host,
)

__all__ = ["finish_fit", "fit_input", "in_memory", "parallel_folds", "predict"]

# Backend facts (``_blocks.Backend``): folds are taken on the device, one after
# another (a device is parallel by itself, and its arrays do not pickle to
# worker processes).
in_memory = True
parallel_folds = False


def fit_input(estimator, X, y, sample_weight=None, classes=None):
    """Validated array-API training data as a :class:`FitInput`.

    ``X`` stays in its namespace and on its device (float32 or float64); ``y``
    and ``sample_weight`` come to the host as NumPy arrays, for the target
    pipeline.
    """
    xp, _ = namespace_of(X)
    y = to_host(y) if is_device_array(y) else y
    sample_weight = (
        to_host(sample_weight) if is_device_array(sample_weight) else sample_weight
    )
    shape = np.shape(y)
    soft = check_target_form(shape[1] if len(shape) == 2 else 0, classes, stacklevel=4)
    if len(shape) == 2 and not soft:
        y = column_or_1d(y)
    X = validate_data(estimator, X, reset=True, dtype=[xp.float64, xp.float32])
    y = np.asarray(y, dtype=np.float64 if soft else None)
    if y.shape[0] != X.shape[0]:
        raise ValueError(
            "Found input variables with inconsistent numbers of samples: "
            f"[{X.shape[0]}, {y.shape[0]}]"
        )
    classes = target_classes(y, classes, soft=soft)
    # a zero-width NumPy stand-in for X: the weights are checked on the host
    placeholder = np.empty((X.shape[0], 0))
    sw = _check_sample_weight(
        sample_weight, placeholder, dtype=np.float64, ensure_non_negative=True
    )
    blocks = DeviceBlocks(X, y, sw)
    return FitInput(blocks, classes, X.shape[0], X.shape[1], numpy_dtype(X.dtype))


def finish_fit(estimator, X, y):
    """Put the fitted arrays where the data live, as scikit-learn does.

    The arrays named by ``estimator._fitted_arrays`` go to ``X``'s namespace
    and device, float64 ones in the device's widest float (float32 ones, like
    ``coef_`` of float32 data, stay float32); ``classes_`` to ``y``'s when
    ``y`` was an array-API array (numeric labels), else it stays NumPy.
    """
    xp, device = namespace_of(X)
    real = accumulation_dtype(xp, device)  # float64 unless the device lacks it
    for name in estimator._fitted_arrays:
        value = getattr(estimator, name)
        dtype = real if value.dtype == np.float64 else None
        setattr(estimator, name, to_device(value, xp, device, dtype))
    if is_device_array(y) and np.ndim(estimator.classes_) == 1:
        xp_y, device_y = namespace_of(y)
        estimator.classes_ = to_device(estimator.classes_, xp_y, device_y)


def predict(estimator, method, X):
    """``estimator.method(X)`` computed in ``X``'s namespace and on its device."""
    check_is_fitted(estimator)
    check_same_namespace(X, estimator, attribute="coef_", method=method)
    xp, device = namespace_of(X)
    X = validate_data(estimator, X, reset=False, dtype=[xp.float64, xp.float32])
    # the model in X's precision, as for NumPy input
    scores = X @ xp.astype(estimator.coef_, X.dtype).T
    scores = scores + xp.astype(estimator.intercept_, X.dtype)
    binary = scores.shape[1] == 1
    if method == "decision_function":
        return xp.reshape(scores, (-1,)) if binary else scores
    if method == "predict":
        if binary:
            index = xp.astype(scores[:, 0] > 0, xp.int64)
        else:
            index = xp.argmax(scores, axis=1)
        return _labels(estimator.classes_, index, xp, device)
    if binary:
        scores = xp.concat([xp.zeros_like(scores), scores], axis=1)
    log_proba = _loss.log_softmax(scores)
    if method == "predict_log_proba":
        return log_proba
    return xp.exp(log_proba)


def _labels(classes, index, xp, device):
    """``classes[index]``, in ``X``'s namespace unless the labels are not numbers."""
    xp_c, _, device_c = get_namespace_and_device(classes)
    labels = xp_c.take(classes, move_to(index, xp=xp_c, device=device_c), axis=0)
    if isinstance(labels, np.ndarray) and labels.dtype.kind not in "biuf":
        return labels  # strings and objects live on the host only
    return move_to(labels, xp=xp, device=device)
