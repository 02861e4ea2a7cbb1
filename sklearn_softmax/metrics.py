"""Exact cross-entropy and KL divergence, from probabilities or logits.

For a target distribution ``p`` (a one-hot row for a label, or a soft row) and a
predicted distribution ``q`` over ``K`` classes::

    H(p)     = -sum_k p_k log p_k                       (entropy)
    CE(p, q) = -sum_k p_k log q_k  = H(p) + KL(p || q)  (cross-entropy)
    KL(p||q) =  sum_k p_k (log p_k - log q_k)            (Kullback-Leibler)

with ``0 log 0 = 0``.  For a label ``k`` the cross-entropy is ``-log q_k`` (the
"sparse" form) and, since a one-hot row has no entropy, equals the KL
divergence.

The values are exact: nothing is clipped.  A predicted probability of 0 on a
class with positive target mass gives ``+inf``; a zero target on a class of
probability 0 (or logit ``-inf``) contributes 0.  Logits go through a
max-shifted log-softmax, the kernel the estimator fits with, so they are
exact up to ``+-1e308`` (logits
``[1e17, 1e17]`` give ``log 2``, not the 0 of ``logsumexp(z) - z_k``).  No
``RuntimeWarning`` is ever emitted.

The scorers (:func:`make_cross_entropy_scorer`, :func:`make_kl_divergence_scorer`
and the ready-made :data:`cross_entropy_scorer`, :data:`kl_divergence_scorer`)
plug these metrics into ``GridSearchCV(scoring=...)`` and ``cross_val_score``.

Array-API inputs (torch, CuPy, array-api-strict under scikit-learn's
``array_api_dispatch=True``) are accepted: they are copied to the host once and
the value, a Python float, is computed there in float64.
"""

import numbers

import numpy as np
from sklearn.utils.metadata_routing import MetadataRequest

from ._loss import cross_entropy_rows, log_softmax
from ._targets import check_probability_rows, encode_labels
from ._xp import is_device_array, to_host

__all__ = [
    "cross_entropy",
    "kl_divergence",
    "make_cross_entropy_scorer",
    "make_kl_divergence_scorer",
    "cross_entropy_scorer",
    "kl_divergence_scorer",
]


# ---------------------------------------------------------------------------
# Input validation
# ---------------------------------------------------------------------------


def _check_flag(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False; got {value!r}.")
    return bool(value)


def _log_base(base):
    """``log(base)``, the divisor that turns nats into units of ``base``."""
    if base is None:
        return 1.0
    if isinstance(base, (bool, np.bool_)) or not isinstance(base, numbers.Real):
        raise ValueError(
            f"base must be None or a positive number other than 1; got {base!r}."
        )
    base = float(base)
    if not np.isfinite(base) or base <= 0 or base == 1:
        raise ValueError(
            f"base must be None (nats) or a finite positive number other than 1 "
            f"(2 for bits); got {base!r}."
        )
    return float(np.log(base))


def _as_float64(a, name):
    """``a`` as a float64 ndarray, or a ValueError naming ``name``."""
    arr = np.asarray(a)
    if arr.dtype.kind not in "biuf":
        try:
            if arr.dtype.kind != "O":
                raise TypeError
            arr = arr.astype(np.float64)
        except (TypeError, ValueError):
            raise ValueError(
                f"{name} must hold real numbers; got an array of dtype {arr.dtype}."
            ) from None
    return arr.astype(np.float64, copy=False)


def _log_predictions(y_pred, from_logits, name):
    """Validate ``y_pred`` and return ``log q`` of shape (n, K), float64.

    A 1-D ``y_pred`` is the binary case: the probability (or logit) of the
    second class, i.e. the columns ``[1 - p, p]`` (or logits ``[0, z]``).
    """
    q = _as_float64(y_pred, name)
    if q.ndim not in (1, 2):
        raise ValueError(
            f"{name} must be 1-D (binary) or 2-D (n_samples, n_classes); "
            f"got shape {q.shape}."
        )
    if q.shape[0] == 0:
        raise ValueError(f"{name} holds no samples.")
    if q.ndim == 2 and q.shape[1] == 0:
        raise ValueError(f"{name} has no columns (classes).")

    if from_logits:
        if np.any(np.isnan(q)):
            raise ValueError(f"{name} (logits) contains NaN.")
        if np.any(np.isposinf(q)):
            raise ValueError(f"{name} (logits) contains +inf.")
        if q.ndim == 1:
            # softmax over [0, z]: the logit z is that of the second class.
            q = np.column_stack([np.zeros_like(q), q])
        dead = np.flatnonzero(np.all(np.isneginf(q), axis=1))
        if dead.size:
            raise ValueError(
                f"{name} (logits) row {dead[0]} is all -inf: it is no distribution."
            )
        return log_softmax(q)

    if q.ndim == 1:
        if not np.all(np.isfinite(q)):
            raise ValueError(f"{name} contains NaN or infinity.")
        if np.any(q < 0):
            raise ValueError(f"{name} contains negative values.")
        if np.any(q > 1):
            raise ValueError(f"{name} contains probabilities greater than 1.")
        with np.errstate(divide="ignore"):  # log(0) = -inf is the exact answer
            return np.column_stack([np.log1p(-q), np.log(q)])

    check_probability_rows(q, name, dtype=np.asarray(y_pred).dtype)
    with np.errstate(divide="ignore"):
        return np.log(q)


def _check_labels_count(labels, n_classes, what):
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be 1-D; got shape {labels.shape}.")
    if labels.shape[0] != n_classes:
        raise ValueError(
            f"labels= names {labels.shape[0]} classes but {what} has "
            f"{n_classes} classes."
        )
    return labels


def _target(y_true, labels, n_classes, name, pred_name):
    """Validate ``y_true`` against ``n_classes`` columns of predictions.

    Returns 1-D class indices (for labels) or (n, K) float64 probability rows.
    """
    y = np.asarray(y_true)
    if y.ndim == 1:
        if y.shape[0] == 0:
            raise ValueError(f"{name} holds no samples.")
        if y.dtype.kind == "f" and np.any(np.isnan(y)):
            raise ValueError(f"{name} (labels) contains NaN.")
        if labels is not None:
            _check_labels_count(labels, n_classes, pred_name)
        try:
            classes, index = encode_labels(y, labels)
        except TypeError as exc:  # unsortable / mixed label types
            raise ValueError(f"{name} labels cannot be compared: {exc}") from None
        if labels is None and classes.shape[0] != n_classes:
            raise ValueError(
                f"{name} has {classes.shape[0]} distinct labels "
                f"{classes.tolist()[:10]} but {pred_name} has {n_classes} classes; "
                f"pass labels= to name the classes in the order of the columns of "
                f"{pred_name}."
            )
        return index
    if y.ndim == 2:
        P = _as_float64(y, name)
        if P.shape[1] != n_classes:
            hint = " (labels must be passed as a 1-D array)" if P.shape[1] == 1 else ""
            raise ValueError(
                f"{name} has {P.shape[1]} classes (columns) but {pred_name} "
                f"has {n_classes}{hint}."
            )
        if labels is not None:
            labels = _check_labels_count(labels, n_classes, name)
            if np.unique(labels).shape[0] != labels.shape[0]:
                raise ValueError("labels must not contain duplicates.")
        if P.shape[0] == 0:
            raise ValueError(f"{name} holds no samples.")
        return check_probability_rows(P, name, dtype=y.dtype)
    raise ValueError(
        f"{name} must be 1-D labels or 2-D probability rows; got shape {y.shape}."
    )


def _check_weights(sample_weight, n_samples):
    if sample_weight is None:
        return None
    w = _as_float64(sample_weight, "sample_weight")
    if w.shape != (n_samples,):
        raise ValueError(
            f"sample_weight must have shape ({n_samples},), one weight per sample; "
            f"got shape {w.shape}."
        )
    if not np.all(np.isfinite(w)):
        raise ValueError("sample_weight contains NaN or infinity.")
    if np.any(w < 0):
        raise ValueError("sample_weight contains negative values.")
    if not np.any(w > 0):
        raise ValueError("sample_weight is all zero: there is nothing to average.")
    return w


def _prepare(
    y_true, y_pred, names, from_logits, labels, sample_weight, normalize, base
):
    """Validate everything; return (target, log q, weights or None, log(base))."""
    # array-API inputs: validated and reduced on the host, in float64
    y_true, y_pred, labels, sample_weight = (
        to_host(a) if is_device_array(a) else a
        for a in (y_true, y_pred, labels, sample_weight)
    )
    true_name, pred_name = names
    from_logits = _check_flag(from_logits, "from_logits")
    _check_flag(normalize, "normalize")
    log_base = _log_base(base)
    logq = _log_predictions(y_pred, from_logits, pred_name)
    target = _target(y_true, labels, logq.shape[1], true_name, pred_name)
    if target.shape[0] != logq.shape[0]:
        raise ValueError(
            f"{true_name} has {target.shape[0]} samples but {pred_name} has "
            f"{logq.shape[0]}."
        )
    w = _check_weights(sample_weight, logq.shape[0])
    return target, logq, w, log_base


def _reduce(losses, w, normalize, log_base):
    """Weighted mean (or sum) of per-row losses, divided by ``log(base)``.

    Rows of zero weight are dropped (so ``0 * inf`` never arises), and the
    weights are rescaled before summing so that no intermediate overflows
    when the result itself is finite.
    """
    if w is not None:
        keep = w > 0
        losses, w = losses[keep], w[keep]
    with np.errstate(over="ignore"):  # a sum beyond 1.8e308 is +inf
        if not normalize:
            total = losses.sum() if w is None else w @ losses
        else:
            if w is None:
                w = np.full(losses.shape[0], 1.0 / losses.shape[0])
            else:
                w = w / w.max()
                w /= w.sum()
            total = w @ losses
    return float(total / log_base) + 0.0  # + 0.0 turns -0.0 into 0.0


def _kl_rows(target, logq):
    """Per-row ``KL(p || q) = sum_{p_k > 0} p_k (log p_k - log q_k)``, floored at 0."""
    if target.ndim == 1:
        kl = cross_entropy_rows(logq, target)  # one-hot: no entropy
    else:
        support = target > 0
        logp = np.log(target, out=np.zeros_like(target), where=support)
        # log p is finite on the support; log q may be -inf there (KL = +inf).
        gap = np.subtract(logp, logq, out=np.zeros_like(target), where=support)
        kl = (target * gap).sum(axis=1)
    return np.maximum(kl, 0.0)


# ---------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------


def cross_entropy(
    y_true,
    y_pred,
    *,
    from_logits=False,
    labels=None,
    sample_weight=None,
    normalize=True,
    base=None,
):
    """Exact cross-entropy ``-sum_k p_k log q_k``, from probabilities or logits.

    For a label ``k`` this is the sparse cross-entropy (log loss) ``-log q_k``.
    Nothing is clipped: a zero predicted probability (or a ``-inf`` logit) on
    a class with positive target mass gives ``+inf``, while a class with zero
    target mass contributes exactly 0 whatever its prediction.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or (n_samples, n_classes)
        Either labels of any sortable type, mapped to the columns of
        ``y_pred`` in sorted order or in the order of ``labels``; or rows of
        class probabilities (one-hot or soft), each summing to 1.
    y_pred : array-like of shape (n_samples, n_classes) or (n_samples,)
        Predicted class probabilities, rows summing to 1; or, with
        ``from_logits=True``, unnormalised log-probabilities (logits: finite or
        ``-inf``, at least one finite per row).  A 1-D array is the binary
        case: the probability ``p`` (or logit ``z``) of the second class,
        i.e. the columns ``[1 - p, p]`` (logits ``[0, z]``) -- what
        scikit-learn scorers pass for binary problems.  For a 1-D probability
        the first class's log-probability is computed as ``log1p(-p)``.
    from_logits : bool, default=False
        Whether ``y_pred`` holds logits, turned into log-probabilities with
        the max-shifted log-softmax.
    labels : array-like of shape (n_classes,), default=None
        The classes in the order of the columns of ``y_pred``.  Needed when
        ``y_true`` does not show every class (e.g. a small batch or a CV
        fold).  With probability rows as ``y_true`` only its length is used.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative, finite weights, not all zero.
    normalize : bool, default=True
        Return the weighted mean ``sum_i w_i l_i / sum_i w_i``; if False, the
        weighted sum ``sum_i w_i l_i``.
    base : float, default=None
        Unit of the result: None for nats, 2 for bits, any finite positive
        number other than 1 (the result is divided by ``log(base)``).

    Returns
    -------
    loss : float
        The cross-entropy, possibly ``inf``.

    Raises
    ------
    ValueError
        Naming the problem: NaN or infinite probabilities, negative
        probabilities or target mass, probabilities above 1, rows that do not
        sum to 1, NaN or ``+inf`` logits or a row of only ``-inf`` logits,
        mismatched numbers of samples or classes, labels absent from
        ``labels``, invalid ``sample_weight`` or ``base``.

    See Also
    --------
    kl_divergence : ``CE(p, q) - H(p)``, zero when the prediction is perfect.
    make_cross_entropy_scorer : This metric as a scorer for model selection.

    Notes
    -----
    Probability rows (of ``y_true`` or ``y_pred``) must sum to 1 within
    ``1e-4`` (which leaves room for float32 round-off), or for float16 rows
    within their rounding, ``eps * (1 + ceil(log2(n_classes)))`` with float16's
    ``eps`` (about ``2e-3`` for a few classes); otherwise a ``ValueError`` is
    raised.  Accepted rows are used as given, never renormalised.

    Unlike :func:`sklearn.metrics.log_loss`, which clips probabilities at
    machine epsilon (a zero probability on the true class gives about 36.04
    there), the value here is exact.  float32 inputs are computed in float64.

    Examples
    --------
    >>> from sklearn_softmax.metrics import cross_entropy
    >>> cross_entropy([0, 1], [[0.5, 0.5], [0.2, 0.8]])
    0.458
    >>> cross_entropy(["cat", "dog"], [[0.5, 0.5], [1.0, 0.0]])
    inf

    Logits, even huge ones, and soft targets:

    >>> cross_entropy([0], [[1e17, 1e17]], from_logits=True, labels=[0, 1])
    0.693
    >>> cross_entropy([[0.5, 0.5, 0.0]], [[0.0, 0.0, float("-inf")]], from_logits=True)
    0.693

    The binary case with 1-D probabilities of the second class, in bits:

    >>> cross_entropy([0, 1], [0.5, 0.25], base=2)
    1.5
    """
    target, logq, w, log_base = _prepare(
        y_true,
        y_pred,
        ("y_true", "y_pred"),
        from_logits,
        labels,
        sample_weight,
        normalize,
        base,
    )
    return _reduce(cross_entropy_rows(logq, target), w, normalize, log_base)


def kl_divergence(
    p_true,
    q_pred,
    *,
    from_logits=False,
    labels=None,
    sample_weight=None,
    normalize=True,
    base=None,
):
    """Exact Kullback-Leibler divergence ``KL(p || q) = sum_k p_k log(p_k / q_k)``.

    Computed term by term as ``p_k (log p_k - log q_k)`` over the classes with
    ``p_k > 0`` (so ``0 log 0 = 0``), which keeps both small divergences and
    huge ones exact: no ratio ``p / q`` is formed and nothing is clipped.  A
    zero predicted probability where ``p_k > 0`` gives ``+inf``.  For labels
    as ``p_true`` the divergence equals :func:`cross_entropy` (a one-hot row
    has zero entropy).

    Parameters
    ----------
    p_true : array-like of shape (n_samples,) or (n_samples, n_classes)
        Labels (mapped to columns in sorted order or the order of
        ``labels``), or rows of class probabilities summing to 1.
    q_pred : array-like of shape (n_samples, n_classes) or (n_samples,)
        Predicted probabilities, or logits with ``from_logits=True``; 1-D is
        the binary case (probability or logit of the second class), as in
        :func:`cross_entropy`.
    from_logits : bool, default=False
        Whether ``q_pred`` holds logits.
    labels : array-like of shape (n_classes,), default=None
        The classes in the order of the columns of ``q_pred``.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative, finite weights, not all zero.
    normalize : bool, default=True
        Weighted mean if True, weighted sum if False.
    base : float, default=None
        None for nats, 2 for bits, or any finite positive number other than 1.

    Returns
    -------
    divergence : float
        Non-negative, possibly ``inf``.

    Raises
    ------
    ValueError
        As :func:`cross_entropy`.

    See Also
    --------
    cross_entropy : ``H(p) + KL(p || q)``.
    make_kl_divergence_scorer : This metric as a scorer for model selection.

    Notes
    -----
    Rows must sum to 1 within ``1e-4`` (float16 rows: within their
    rounding) and are never renormalised (a ``ValueError`` otherwise), as in
    :func:`cross_entropy`.  The divergence of
    two distributions is never negative; the per-row sums are floored at 0 so
    that floating-point round-off (or rows accepted within the tolerance)
    cannot make them negative.  ``KL(p || p)`` is exactly 0 for probabilities,
    and ``CE(p, q) = H(p) + KL(p || q)`` holds to round-off.

    Unlike :func:`scipy.stats.entropy`, inputs are not renormalised and the
    divergence is taken row-wise (``scipy.stats.entropy(p, q, axis=1)``).

    Examples
    --------
    >>> from sklearn_softmax.metrics import kl_divergence
    >>> kl_divergence([[0.5, 0.5]], [[0.5, 0.5]])
    0.0
    >>> kl_divergence([[1.0, 0.0]], [[0.5, 0.5]], base=2)
    1.0
    >>> kl_divergence([[0.5, 0.5]], [[1.0, 0.0]])
    inf
    >>> kl_divergence([[0.25, 0.75]], [[0.0, 2.0]], from_logits=True)
    0.0646
    """
    target, logq, w, log_base = _prepare(
        p_true,
        q_pred,
        ("p_true", "q_pred"),
        from_logits,
        labels,
        sample_weight,
        normalize,
        base,
    )
    return _reduce(_kl_rows(target, logq), w, normalize, log_base)


# ---------------------------------------------------------------------------
# Scorers
# ---------------------------------------------------------------------------


def _align_columns(y_pred, classes, labels, from_logits):
    """Place the columns of ``y_pred`` (for ``classes``) at ``labels``' positions.

    Classes of ``labels`` that the estimator never saw get probability 0
    (logit ``-inf``).
    """
    _, position = encode_labels(classes, labels)
    if np.array_equal(position, np.arange(len(labels))):
        return y_pred
    y_pred = np.asarray(y_pred, dtype=np.float64)
    if y_pred.ndim == 1:  # binary response of the second class
        if from_logits:
            y_pred = np.column_stack([np.zeros_like(y_pred), y_pred])
        else:
            y_pred = np.column_stack([1.0 - y_pred, y_pred])
    fill = -np.inf if from_logits else 0.0
    full = np.full((y_pred.shape[0], len(labels)), fill)
    full[:, position] = y_pred
    return full


def _check_seen(y_true, classes, metric):
    """Raise where label ``y_true`` holds classes missing from ``classes``.

    Without ``labels=`` a scorer knows only the estimator's ``classes_``; a
    class its training fold missed is what the user must be told about, with
    the fix.
    """
    # device labels (array-API inputs) come to the host for this set check
    y = np.asarray(to_host(y_true) if is_device_array(y_true) else y_true)
    if y.ndim != 1:
        return  # soft targets: their columns are checked by the metric
    try:
        unseen = np.setdiff1d(y, classes)
    except TypeError:  # labels of mixed types: the metric words that error
        return
    if unseen.size:
        raise ValueError(
            f"y_true holds classes the estimator was not fitted on: "
            f"{unseen.tolist()[:10]} (its classes_ are {classes.tolist()[:20]}); "
            f"a training fold probably missed them.  Pass every class of the "
            f"problem as labels=, e.g. make_{metric}_scorer(labels=np.unique(y)): "
            f"a class the estimator never saw then gets probability 0 (an "
            f"infinite loss for its samples).  Or split with StratifiedKFold."
        )


class _DivergenceScorer:
    """Scorer ``scorer(estimator, X, y_true, sample_weight=None)`` = minus a loss.

    Built by :func:`make_cross_entropy_scorer` and
    :func:`make_kl_divergence_scorer`; see there.
    """

    def __init__(self, metric, *, labels, from_logits, base):
        self._metric = metric
        self.labels = None if labels is None else np.asarray(labels)
        self.from_logits = _check_flag(from_logits, "from_logits")
        _log_base(base)  # validate now, not at the first fold
        self.base = base
        self._request = None

    def __call__(self, estimator, X, y_true, sample_weight=None):
        if self.from_logits:
            y_pred = estimator.decision_function(X)
        else:
            y_pred = estimator.predict_proba(X)
        classes = getattr(estimator, "classes_", None)
        labels = self.labels
        if classes is not None:
            classes = np.asarray(
                to_host(classes) if is_device_array(classes) else classes
            )
            if labels is None:
                _check_seen(y_true, classes, self._metric.__name__)
                labels = classes
            else:
                try:
                    y_pred = _align_columns(y_pred, classes, labels, self.from_logits)
                except (TypeError, ValueError) as exc:
                    raise ValueError(
                        f"The estimator's classes_ do not all appear in the "
                        f"scorer's labels=: {exc}"
                    ) from None
        loss = self._metric(
            y_true,
            y_pred,
            from_logits=self.from_logits,
            labels=labels,
            sample_weight=sample_weight,
            base=self.base,
        )
        return -loss

    def set_score_request(self, *, sample_weight=True):
        """Ask metadata routing to pass ``sample_weight`` to this scorer.

        Only meaningful with ``sklearn.set_config(enable_metadata_routing=True)``.

        Parameters
        ----------
        sample_weight : bool, str or None, default=True
            As scikit-learn's ``set_score_request``.

        Returns
        -------
        self : object
        """
        self._request = sample_weight
        return self

    def get_metadata_routing(self):
        """Metadata requested by the scorer (see :meth:`set_score_request`).

        Returns
        -------
        request : sklearn.utils.metadata_routing.MetadataRequest
        """
        request = MetadataRequest(owner=self)
        request.score.add_request(param="sample_weight", alias=self._request)
        return request

    def __repr__(self):
        args = []
        if self.labels is not None:
            args.append(f"labels={self.labels.tolist()!r}")
        if self.from_logits:
            args.append("from_logits=True")
        if self.base is not None:
            args.append(f"base={self.base!r}")
        return f"make_{self._metric.__name__}_scorer({', '.join(args)})"


def make_cross_entropy_scorer(*, labels=None, from_logits=False, base=None):
    """Scorer for model selection: minus the mean :func:`cross_entropy`.

    The scorer is called as ``scorer(estimator, X, y_true, sample_weight=None)``
    and returns ``-cross_entropy(y_true, estimator.predict_proba(X), ...)``
    (greater is better, like scikit-learn's ``"neg_log_loss"``), exact and
    unclipped.  ``y_true`` may be labels or soft probability rows.

    Parameters
    ----------
    labels : array-like of shape (n_classes,), default=None
        All classes of the problem, e.g. ``np.unique(y)`` of the full data.
        When a training fold misses a class, the estimator's
        ``predict_proba`` has fewer columns: they are put in place by the
        estimator's ``classes_``, with probability 0 for the classes it never
        saw (so a test sample of such a class scores ``-inf``, the exact
        value).  Default: the estimator's ``classes_``, which then must
        contain every label of the test fold.  For soft targets the columns of
        ``y_true`` are in the order of ``labels`` (or of ``classes_``).
    from_logits : bool, default=False
        Score ``estimator.decision_function(X)`` as logits instead of
        ``predict_proba`` (a 1-D decision function is the logit of
        ``classes_[1]``).  Avoids ``log(exp(.))`` round trips in the tails.
    base : float, default=None
        None for nats, 2 for bits.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y_true, sample_weight=None) -> float``.  Under
        scikit-learn's metadata routing, call
        ``scorer.set_score_request(sample_weight=True)`` to receive weights.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.model_selection import cross_val_score
    >>> from sklearn_softmax.metrics import make_cross_entropy_scorer
    >>> X, y = load_iris(return_X_y=True)
    >>> scorer = make_cross_entropy_scorer(labels=np.unique(y), base=2)
    >>> scorer
    make_cross_entropy_scorer(labels=[0, 1, 2], base=2)
    >>> scores = cross_val_score(LogisticRegression(max_iter=1000), X, y,
    ...                          scoring=scorer, cv=3)
    >>> bool(np.all((scores < 0) & (scores > -1)))  # bits per sample
    True
    """
    return _DivergenceScorer(
        cross_entropy, labels=labels, from_logits=from_logits, base=base
    )


def make_kl_divergence_scorer(*, labels=None, from_logits=False, base=None):
    """Scorer for model selection: minus the mean :func:`kl_divergence`.

    Same as :func:`make_cross_entropy_scorer` with the KL divergence: for
    labels the two coincide; for soft targets ``y_true`` the KL divergence is
    0 for a perfect prediction, whereas the cross-entropy is the entropy of
    the targets.

    Parameters
    ----------
    labels : array-like of shape (n_classes,), default=None
        All classes of the problem (see :func:`make_cross_entropy_scorer`).
    from_logits : bool, default=False
        Score ``decision_function`` as logits instead of ``predict_proba``.
    base : float, default=None
        None for nats, 2 for bits.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y_true, sample_weight=None) -> float``.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_softmax.metrics import make_kl_divergence_scorer
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = LogisticRegression(max_iter=1000).fit(X, y)
    >>> scorer = make_kl_divergence_scorer(from_logits=True)
    >>> scorer(clf, X, y) < 0
    True
    """
    return _DivergenceScorer(
        kl_divergence, labels=labels, from_logits=from_logits, base=base
    )


#: Minus the mean cross-entropy of ``predict_proba``, labels from ``classes_``.
cross_entropy_scorer = make_cross_entropy_scorer()

#: Minus the mean KL divergence of ``predict_proba``, labels from ``classes_``.
kl_divergence_scorer = make_kl_divergence_scorer()
