"""Targets: labels or class-probability rows -> one target array.

A *target* (see ``_loss``) is either a 1-D integer array of class indices or an
(n, K) float array whose rows are probability distributions.  This module turns
what users pass (labels of any hashable type, soft rows, label smoothing, class
weights, sample weights) into targets and row weights.  No estimator state.

The pipeline is written once, against row blocks (``_blocks.Blocks``), so the
in-memory fit and the Dask wing run the same code: :func:`prepare_rows`.
"""

import math
import warnings
from functools import partial

import numpy as np
from sklearn.exceptions import DataConversionWarning
from sklearn.utils.multiclass import check_classification_targets

from . import _xp_kernels
from ._xp import is_host

__all__ = [
    "encode_labels",
    "check_probability_rows",
    "row_sum_atol",
    "smooth",
    "class_mass",
    "class_weight_vector",
    "check_soft_targets",
    "soft_classes",
    "target_classes",
    "row_class_weight",
    "check_weighted_classes",
    "prepare_rows",
    "check_target_form",
    "mass_and_total",
]

# Rows of soft targets / predicted probabilities must sum to 1 within this
# absolute tolerance (float32 round-off on K <= 10^4 classes stays well inside);
# rows of a coarser dtype get the tolerance of :func:`row_sum_atol`.
ROW_SUM_ATOL = 1e-4


def row_sum_atol(dtype, n_classes):
    """The tolerance on the sum of a probability row of ``dtype``.

    ``ROW_SUM_ATOL``, or where the dtype's rounding is coarser (float16)
    ``eps * (1 + ceil(log2(n_classes)))``: rounding each entry to the dtype
    moves the sum by at most ``eps / 2``, and rows normalised in the dtype
    itself carry the pairwise sum's ``log2(K) eps`` more.

    Parameters
    ----------
    dtype : dtype
        The rows' dtype as the user passed them (before any conversion).
    n_classes : int
        Entries per row.

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> row_sum_atol(np.float64, 3), row_sum_atol(np.float32, 10**4)
    (0.0001, 0.0001)
    >>> row_sum_atol(np.float16, 3)  # 3 eps of float16
    0.0029296875
    """
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        return ROW_SUM_ATOL
    eps = float(np.finfo(dtype).eps)
    return max(ROW_SUM_ATOL, eps * (1 + math.ceil(math.log2(max(n_classes, 1)))))


def encode_labels(y, labels=None):
    """Map labels to class indices ``0..K-1``.

    Parameters
    ----------
    y : array-like of shape (n,)
        Labels of any sortable type.
    labels : array-like of shape (K,), default=None
        The classes in column order; default: the sorted unique values of ``y``.

    Returns
    -------
    classes : ndarray of shape (K,)
    y_index : ndarray of shape (n,) of intp

    Raises
    ------
    ValueError
        If ``y`` holds a label missing from ``labels``, or ``labels`` repeats one.

    Examples
    --------
    >>> encode_labels(["b", "a", "b"])
    (array(['a', 'b'], dtype='<U1'), array([1, 0, 1]))
    >>> encode_labels([3, 1], labels=[3, 2, 1])[1]
    array([0, 2])
    """
    y = np.asarray(y)
    if labels is None:
        classes, y_index = np.unique(y, return_inverse=True)
        return classes, y_index.reshape(-1).astype(np.intp, copy=False)
    classes = np.asarray(labels)
    if classes.ndim != 1:
        raise ValueError(f"labels must be 1-D; got shape {classes.shape}.")
    if np.unique(classes).shape[0] != classes.shape[0]:
        raise ValueError("labels must not contain duplicates.")
    order = np.argsort(classes, kind="stable")
    pos = np.searchsorted(classes, y, sorter=order)
    pos = np.clip(pos, 0, classes.shape[0] - 1)
    y_index = order[pos]
    missing = classes[y_index] != y
    if np.any(missing):
        absent = np.unique(y[missing])
        raise ValueError(
            f"y contains labels not in labels=: {absent.tolist()[:10]}; "
            f"labels is {classes.tolist()[:20]}."
        )
    return classes, y_index.astype(np.intp, copy=False)


def check_probability_rows(P, name, *, dtype=None):
    """Check that ``P`` is an (n, K) array of probability rows.

    Parameters
    ----------
    P : ndarray of shape (n, K)
        Candidate probability rows (float).
    name : str
        What to call ``P`` in error messages.
    dtype : dtype, default=None
        The dtype the rows were given in (default ``P.dtype``): it sets the
        tolerance on each row sum (:func:`row_sum_atol`).

    Returns
    -------
    P : ndarray
        The same array, unchanged (never renormalised).

    Raises
    ------
    ValueError
        Naming the problem: NaN or inf, negative entries, entries above 1, rows
        not summing to 1.

    Examples
    --------
    >>> import numpy as np
    >>> check_probability_rows(np.array([[0.2, 0.8]]), "y_prob")
    array([[0.2, 0.8]])
    >>> check_probability_rows(np.array([[0.2, 0.7]]), "y_prob")
    Traceback (most recent call last):
    ...
    ValueError: Rows of y_prob must sum to 1 (within 0.0001); row 0 sums to 0.9.
    """
    atol = row_sum_atol(P.dtype if dtype is None else dtype, P.shape[1])
    if not np.all(np.isfinite(P)):
        raise ValueError(f"{name} contains NaN or infinity.")
    if np.any(P < 0):
        raise ValueError(f"{name} contains negative values.")
    if np.any(P > 1 + atol):
        raise ValueError(f"{name} contains probabilities greater than 1.")
    sums = P.sum(axis=1, dtype=np.float64)
    bad = np.flatnonzero(np.abs(sums - 1) > atol)
    if bad.size:
        i = bad[0]
        raise ValueError(
            f"Rows of {name} must sum to 1 (within {atol:.3g}); "
            f"row {i} sums to {sums[i]:.6g}."
        )
    return P


def smooth(target, n_classes, epsilon):
    """Label smoothing: ``(1 - epsilon) * Y + epsilon / K``.

    Parameters
    ----------
    target : ndarray of shape (n,) of int, or of shape (n, K)
        Class indices or probability rows.
    n_classes : int
    epsilon : float in [0, 1)

    Returns
    -------
    target : ndarray
        Unchanged when ``epsilon == 0``; otherwise new (n, K) float64 rows.

    Examples
    --------
    >>> import numpy as np
    >>> smooth(np.array([1]), 2, 0.2)
    array([[0.1, 0.9]])
    """
    if epsilon == 0:
        return target
    if target.ndim == 1:
        Y = np.zeros((target.shape[0], n_classes))
        Y[np.arange(target.shape[0]), target] = 1.0
    else:
        Y = np.asarray(target, dtype=np.float64)
    return (1.0 - epsilon) * Y + epsilon / n_classes


def class_mass(target, n_classes, weights):
    """Weighted mass of each class: ``sum_i w_i Y_ik``.

    Parameters
    ----------
    target : ndarray of shape (n,) of int, or of shape (n, K)
    n_classes : int
    weights : ndarray of shape (n,)

    Returns
    -------
    mass : ndarray of shape (K,), float64

    Examples
    --------
    >>> import numpy as np
    >>> class_mass(np.array([0, 1, 1]), 3, np.array([1.0, 2.0, 0.5]))
    array([1. , 2.5, 0. ])
    """
    weights = np.asarray(weights, dtype=np.float64)
    if target.ndim == 1:
        return np.bincount(target, weights=weights, minlength=n_classes)
    return weights @ np.asarray(target, dtype=np.float64)


def class_weight_vector(class_weight, classes, mass):
    """Per-class weights from scikit-learn's ``class_weight`` parameter.

    Parameters
    ----------
    class_weight : None, "balanced" or dict
        ``"balanced"``: ``sum(mass) / (K * mass_k)``, the classes counted with
        the sample weights (as scikit-learn does).  A dict maps labels to
        weights; labels it omits weigh 1.
    classes : ndarray of shape (K,)
    mass : ndarray of shape (K,)
        Weighted class masses (see :func:`class_mass`).

    Returns
    -------
    cw : ndarray of shape (K,), float64

    Raises
    ------
    ValueError
        If the dict names labels that are not classes, or gives a negative or
        non-finite weight.

    Examples
    --------
    >>> import numpy as np
    >>> class_weight_vector("balanced", np.array([0, 1]), np.array([3.0, 1.0]))
    array([0.66666667, 2.        ])
    >>> class_weight_vector({1: 5}, np.array([0, 1]), np.array([3.0, 1.0]))
    array([1., 5.])
    """
    K = classes.shape[0]
    if class_weight is None:
        return np.ones(K)
    if isinstance(class_weight, str):  # "balanced", checked by the constraints
        with np.errstate(divide="ignore"):
            cw = mass.sum() / (K * mass)
        # A class with no mass has no rows to weigh; keep its weight finite.
        return np.where(mass > 0, cw, 1.0)
    lookup = {c: i for i, c in enumerate(classes.tolist())}
    unknown = [k for k in class_weight if k not in lookup]
    if unknown:
        raise ValueError(
            f"class_weight names labels that are not in y: {unknown}; "
            f"the classes are {classes.tolist()}."
        )
    cw = np.ones(K)
    for label, value in class_weight.items():
        cw[lookup[label]] = value
    if not np.all(np.isfinite(cw)) or np.any(cw < 0):
        raise ValueError("class_weight values must be finite and non-negative.")
    return cw


def check_soft_targets(Y):
    """Validate (n, K) soft targets; return exact distributions and row masses.

    Rows may miss 1 by rounding (within :func:`row_sum_atol` of their
    dtype).  The loss kernel
    needs exact distributions, and a row of mass ``r`` is ``r`` times its
    normalised row, so the mass is returned to be moved into the row weight:
    ``-sum_k Y_ik log p_ik`` stays exactly the user's.

    Parameters
    ----------
    Y : ndarray of shape (n, K)

    Returns
    -------
    target : ndarray of shape (n, K), float64
        Rows divided by their sums.
    row_mass : ndarray of shape (n,)
        The row sums.

    Raises
    ------
    ValueError
        For a multilabel indicator matrix (0/1 rows not summing to 1), and for
        anything :func:`check_probability_rows` rejects.

    Examples
    --------
    >>> import numpy as np
    >>> check_soft_targets(np.array([[0.25, 0.75]]))
    (array([[0.25, 0.75]]), array([1.]))
    """
    given = np.asarray(Y).dtype  # float16 rows are rounded more coarsely
    Y = np.asarray(Y, dtype=np.float64)
    if np.all((Y == 0) | (Y == 1)) and np.any(Y.sum(axis=1) != 1):
        raise ValueError(
            "y looks like a multilabel indicator matrix (0/1 rows not "
            "summing to 1); multilabel targets are not supported. Pass "
            "1-D labels, or rows of class probabilities."
        )
    check_probability_rows(Y, "y (class probabilities)", dtype=given)
    row_mass = Y.sum(axis=1)
    return Y / row_mass[:, None], row_mass


def check_target_form(n_columns, classes, stacklevel):
    """Check the shape of ``y`` against ``classes=``; return whether it is soft.

    ``n_columns`` is the number of columns of a 2-D ``y`` (0 for 1-D).  One
    column is a column vector of labels: warned about, as scikit-learn does,
    and to be raveled by the caller.  ``classes=`` names the columns of
    probability rows and is an error with labels.

    Examples
    --------
    >>> check_target_form(3, None, stacklevel=1)
    True
    >>> check_target_form(0, ["a", "b"], stacklevel=1)
    Traceback (most recent call last):
    ...
    ValueError: classes= is only used with (n, K) probability targets.
    """
    if n_columns == 1:
        warnings.warn(
            "A column-vector y was passed when a 1d array was expected. "
            "Please change the shape of y to (n_samples,), for example "
            "using ravel().",
            DataConversionWarning,
            stacklevel=stacklevel + 1,
        )
    soft = n_columns > 1
    if not soft and classes is not None:
        raise ValueError("classes= is only used with (n, K) probability targets.")
    return soft


def soft_classes(classes, n_classes):
    """Labels of the columns of soft targets (default ``arange(K)``).

    Examples
    --------
    >>> soft_classes(None, 3)
    array([0, 1, 2])
    >>> soft_classes(["a", "a"], 2)
    Traceback (most recent call last):
    ...
    ValueError: classes must name the 2 columns of y with distinct labels; ...
    """
    classes = np.arange(n_classes) if classes is None else np.asarray(classes)
    if classes.shape != (n_classes,) or np.unique(classes).shape[0] != n_classes:
        raise ValueError(
            f"classes must name the {n_classes} columns of y with distinct "
            f"labels; got {classes!r}."
        )
    return classes


def target_classes(y, classes, *, soft):
    """The classes of validated in-memory targets ``y`` (a NumPy array).

    Probability rows: the labels of their columns (:func:`soft_classes`);
    labels: the sorted distinct labels, checked to be class labels.

    Examples
    --------
    >>> import numpy as np
    >>> target_classes(np.array(["b", "a", "b"]), None, soft=False)
    array(['a', 'b'], dtype='<U1')
    """
    if soft:
        return soft_classes(classes, y.shape[1])
    check_classification_targets(y)
    return np.unique(y)


def row_class_weight(target, class_weight):
    """Each row's class weight: ``cw[y_i]``, or ``sum_k Y_ik cw_k`` for soft rows.

    Examples
    --------
    >>> import numpy as np
    >>> row_class_weight(np.array([1, 0]), np.array([1.0, 3.0]))
    array([3., 1.])
    """
    if target.ndim == 1:
        return class_weight[target]
    return target @ class_weight


def check_weighted_classes(mass, classes, total, *, min_classes=2):
    """Raise unless ``min_classes``+ classes carry positive weight and the total
    is finite.

    Parameters
    ----------
    mass : ndarray of shape (K,)
        Class masses under the final row weights.
    classes : ndarray of shape (K,)
    total : float
        Sum of the final row weights.
    min_classes : int, default=2
        How many classes must carry weight: 2 for a model's own fit, 1 for a
        cross-validation training fold, fitted on the classes of all of ``y``.

    Examples
    --------
    >>> import numpy as np
    >>> check_weighted_classes(np.array([1.0, 0.0]), np.array(["a", "b"]), 1.0)
    Traceback (most recent call last):
    ...
    ValueError: The fit needs samples of at least 2 classes with ...
    """
    n_positive = np.count_nonzero(mass > 0)
    if n_positive < min_classes:
        what = "class" if min_classes == 1 else "classes"
        raise ValueError(
            f"The fit needs samples of at least {min_classes} {what} with "
            f"positive weight; got {n_positive} class(es) "
            f"among the labels {classes.tolist()[:10]}."
        )
    if not np.isfinite(total):
        raise ValueError("The sum of sample_weight (times class_weight) overflows.")


# -- the pipeline, on row blocks ---------------------------------------------------
def prepare_rows(blocks, classes, *, label_smoothing, class_weight, min_classes=2):
    """Targets and normalised row weights of every block, and the weight total.

    The steps, each a map or a small reduction over the blocks:

    1. per block: labels -> class indices (against ``classes``), or probability
       rows -> exact distributions with the row sum moved into the weight
       (:func:`check_soft_targets`); then label smoothing (:func:`smooth`);
    2. class masses under the sample weights -> ``class_weight`` vector;
    3. row weights ``s_i = sample_weight_i * cw[y_i]`` (soft rows:
       ``sum_k Y_ik cw_k``), their total ``S`` and the check that two classes
       carry weight;
    4. normalised weights ``s_i / S``.

    Parameters
    ----------
    blocks : Blocks
        Blocks of ``(X, labels or probability rows, float64 sample weights)``.
    classes : ndarray of shape (K,)
        Labels in column order.
    label_smoothing : float in [0, 1)
    class_weight : None, "balanced" or dict
    min_classes : int, default=2
        Classes that must carry weight (:func:`check_weighted_classes`).

    Returns
    -------
    blocks : Blocks
        The same rows with ``(target, s / S)``.
    total : float
        ``S``, the sum of the row weights (``alpha = 1 / (C S)``).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_softmax._blocks import RowBlocks
    >>> raw = RowBlocks.whole(np.zeros((3, 1)), np.array(["b", "a", "b"]),
    ...                       np.ones(3))
    >>> blocks, total = prepare_rows(raw, np.array(["a", "b"]),
    ...                              label_smoothing=0.0, class_weight="balanced")
    >>> float(total), blocks.blocks[0].target, blocks.blocks[0].weight.round(3)
    (3.0, array([1, 0, 1]), array([0.25, 0.5 , 0.25]))
    """
    K = classes.shape[0]
    blocks = blocks.with_rows(
        partial(_target_block, classes=classes, epsilon=label_smoothing)
    )
    (mass,) = blocks.map_sum(partial(_mass_block, n_classes=K))
    cw = class_weight_vector(class_weight, classes, mass)
    blocks = blocks.with_rows(partial(_class_weighted_block, class_weight=cw))
    mass, total = blocks.map_sum(partial(mass_and_total, n_classes=K))
    check_weighted_classes(mass, classes, total, min_classes=min_classes)
    return blocks.with_rows(partial(_scaled_block, total=total)), total


def _target_block(block, classes, epsilon):
    """A block's target (indices or exact rows) and sample weights."""
    weight = block.weight
    if block.target.ndim == 2:
        target, row_mass = check_soft_targets(block.target)
        weight = weight * row_mass
    else:
        _, target = encode_labels(block.target, labels=classes)
    return smooth(target, classes.shape[0], epsilon), weight


def _mass_block(block, n_classes):
    return (class_mass(block.target, n_classes, block.weight),)


def _class_weighted_block(block, class_weight):
    return block.target, block.weight * row_class_weight(block.target, class_weight)


def mass_and_total(block, n_classes):
    """A block's weighted class masses and weight total, in float64."""
    if not is_host(block.target):
        return _xp_kernels.mass_and_total(block.target, n_classes, block.weight)
    mass = class_mass(block.target, n_classes, block.weight)
    return mass, block.weight.sum(dtype=np.float64)


def _scaled_block(block, total):
    return block.target, block.weight / total
