"""SoftmaxRegression: the scikit-learn estimator."""

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning, DataConversionWarning
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.extmath import safe_sparse_dot
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from . import _loss
from ._solver import SoftmaxObjective, minimize_lbfgs, minimize_newton_cg
from ._targets import (
    check_soft_targets,
    check_weighted_classes,
    class_mass,
    class_weight_vector,
    encode_labels,
    row_class_weight,
    smooth,
    soft_classes,
)

__all__ = ["SoftmaxRegression"]


class SoftmaxRegression(ClassifierMixin, BaseEstimator):
    """Softmax (multinomial logistic) regression fitted to the exact optimum.

    Minimises the weighted mean cross-entropy of the softmax of ``X @ W.T + b``
    plus an L2 penalty on ``W`` (never on ``b``)::

        f(W, b) = 1/S sum_i s_i CE_i + ||W||_F^2 / (2 C S),   S = sum_i s_i,

    with ``s_i`` the sample weight times the class weight.  The cross-entropy
    is computed through the max-shifted log-softmax, so it is exact for any
    finite scores.  The fit runs scipy's L-BFGS on a diagonal preconditioning
    of the same objective (features rescaled and centred implicitly, the
    penalty carried through exactly), which reaches the optimum on unscaled
    data without changing the model.

    For three or more classes this is the objective of
    ``LogisticRegression(C=C)``; for two classes, that of
    ``LogisticRegression(C=2 * C)`` (see Notes).

    Parameters
    ----------
    C : float, default=1.0
        Inverse regularisation strength, in ``(0, inf]``; ``np.inf`` means no
        penalty.
    fit_intercept : bool, default=True
        Whether to fit the (unpenalised) intercepts ``b``.
    class_weight : dict, "balanced" or None, default=None
        Weights for classes, multiplied into the sample weights.  "balanced"
        uses ``S / (K * S_k)`` with ``S_k`` the class's total sample weight.
        With soft targets a row's weight is multiplied by ``sum_k Y_ik cw_k``.
    label_smoothing : float in [0, 1), default=0.0
        Fit the targets ``(1 - label_smoothing) * Y + label_smoothing / K``
        instead of ``Y`` (one-hot rows for labels).
    solver : {"auto", "lbfgs", "newton-cg"}, default="auto"
        "lbfgs": scipy's L-BFGS-B.  "newton-cg": truncated Newton on exact
        Hessian-vector products, robust on ill-conditioned problems.  "auto":
        Newton-CG when one evaluation is cheap (``n * d * K <= 1e7``), else
        L-BFGS.  Both run in the same preconditioned coordinates and stop on
        the same rule (see ``tol``).
    max_iter : int, default=1000
        Maximum number of iterations (L-BFGS steps or Newton steps).
    tol : float, default=1e-6
        Stop when the largest absolute component of the gradient, measured in
        the preconditioned coordinates (coefficients per standardised
        feature), is at most ``tol * min(1, sqrt(f))`` with ``f`` the
        objective.  It does not depend on how the columns of ``X`` are scaled,
        and since the gap ``f - f*`` is about ``|grad|^2 / 2`` over the
        curvature, it keeps the *relative* gap near ``tol**2`` even when the
        loss is tiny.  This is not L-BFGS's relative-decrease test, which stops
        while the gradient is still large.  For float32 data ``tol`` is
        floored at float32 rounding: ``1e-5`` for Newton-CG, ``1e-4`` for
        L-BFGS.
    warm_start : bool, default=False
        Start from the previous solution when the classes and the number of
        features are the same (otherwise start afresh).
    verbose : int, default=0
        Print the objective and the gradient norm at every iteration.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        For two classes, the log-odds weights ``W_1 - W_0`` of ``classes_[1]``;
        otherwise the centred coefficients (``coef_.sum(axis=0) == 0``).
    intercept_ : ndarray of shape (1,) or (n_classes,)
        Intercepts, in the same convention as ``coef_``.
    n_iter_ : int
        Number of L-BFGS iterations of the last fit.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Feature names seen during fit, when ``X`` has string column names.

    See Also
    --------
    sklearn.linear_model.LogisticRegression : The same objective, fitted
        without preconditioning.

    Notes
    -----
    The softmax does not change when one vector is added to every row of ``W``
    (and one constant to every ``b_k``).  The penalty makes the optimum
    centred; results are reported in the centred gauge ``sum_k W_k = 0``,
    ``sum_k b_k = 0`` in every case.  For two classes this gives
    ``W_0 = -W_1``, so the penalty is ``||W_1 - W_0||^2 / 4C``: the objective of
    ``LogisticRegression(C=2C)`` on the log-odds coefficients.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn_softmax import SoftmaxRegression
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = SoftmaxRegression(C=10.0).fit(X, y)
    >>> clf.predict(X[:2])
    array([0, 0])
    >>> clf.predict_proba(X[:1]).round(3)
    array([[0.997, 0.003, 0.   ]])
    >>> float(round(clf.score(X, y), 3))
    0.98
    """

    _parameter_constraints = {
        "C": [Interval(Real, 0, None, closed="right")],
        "fit_intercept": ["boolean"],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "label_smoothing": [Interval(Real, 0, 1, closed="left")],
        "solver": [StrOptions({"auto", "lbfgs", "newton-cg"})],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="neither")],
        "warm_start": ["boolean"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        C=1.0,
        *,
        fit_intercept=True,
        class_weight=None,
        label_smoothing=0.0,
        solver="auto",
        max_iter=1000,
        tol=1e-6,
        warm_start=False,
        verbose=0,
    ):
        self.C = C
        self.fit_intercept = fit_intercept
        self.class_weight = class_weight
        self.label_smoothing = label_smoothing
        self.solver = solver
        self.max_iter = max_iter
        self.tol = tol
        self.warm_start = warm_start
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    # -- fitting -------------------------------------------------------------
    def _validate_targets(self, X, y, classes):
        """Return ``(classes, target)``: labels -> indices, soft rows -> floats."""
        if _target_columns(y) > 1:
            X, Y = validate_data(
                self,
                X,
                y,
                accept_sparse=["csr", "csc"],
                dtype=[np.float64, np.float32],
                multi_output=True,
                y_numeric=True,
            )
            classes = soft_classes(classes, Y.shape[1])
            return X, classes, Y
        if classes is not None:
            raise ValueError("classes= is only used with (n, K) probability targets.")
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=["csr", "csc"],
            dtype=[np.float64, np.float32],
        )
        check_classification_targets(y)
        classes, y_index = encode_labels(y)
        return X, classes, y_index

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, *, classes=None):
        """Fit the model to labels or class-probability rows.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data; CSR or CSC sparse, float32 kept as float32.
        y : array-like of shape (n_samples,) or (n_samples, n_classes)
            Class labels, or rows of class probabilities (soft targets) that
            are non-negative and sum to 1 (within 1e-4).  A row is used as
            given, never renormalised: its sum acts as a weight, so the loss of
            row ``i`` is exactly ``-sum_k y[i, k] * log p[i, k]``.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; integer weights equal repeated rows.
        classes : array-like of shape (n_classes,), default=None
            Labels of the columns of probability targets (default
            ``np.arange(n_classes)``); only with 2-D ``y``.

        Returns
        -------
        self : SoftmaxRegression
            The fitted estimator.
        """
        if _is_dask(X):  # distributed fit on the cluster (sklearn_softmax.dask)
            from .dask import _fit_dask

            return _fit_dask(self, X, y, sample_weight, classes=classes)
        if _target_columns(y) == 1:
            warnings.warn(
                "A column-vector y was passed when a 1d array was expected. "
                "Please change the shape of y to (n_samples,), for example "
                "using ravel().",
                DataConversionWarning,
                stacklevel=2,
            )
            y = column_or_1d(y)
        X, classes, target = self._validate_targets(X, y, classes)
        K = classes.shape[0]
        sw = _check_sample_weight(
            sample_weight, X, dtype=np.float64, ensure_non_negative=True
        )
        if target.ndim == 2:
            target, row_mass = check_soft_targets(target)
            sw = sw * row_mass
        target = smooth(target, K, self.label_smoothing)
        cw = class_weight_vector(self.class_weight, classes, class_mass(target, K, sw))
        s = sw * row_class_weight(target, cw)
        S = s.sum()
        check_weighted_classes(class_mass(target, K, s), classes, S)

        objective = SoftmaxObjective(
            X,
            target,
            s / S,
            K,
            alpha=1.0 / (self.C * S),
            fit_intercept=self.fit_intercept,
        )
        return self._fit_objective(
            objective, classes, X.shape[0], lambda W, b: _separates(X, target, s, W, b)
        )

    def _fit_objective(self, objective, classes, n_samples, separates):
        """Solve ``objective``, warn if needed, set the fitted attributes.

        Shared by the in-memory fit and the Dask wing (whose ``objective``
        keeps its row blocks on workers), so warm start, solver choice,
        convergence warnings, the gauge and the binary contract exist once.
        ``separates(W, b)`` says whether the solution separates the training
        data; it is asked only when ``C=inf``.
        """
        K = classes.shape[0]
        theta0 = objective.initial()
        if (
            self.warm_start
            and hasattr(self, "coef_")
            and np.array_equal(getattr(self, "classes_", None), classes)
            and self.coef_.shape[1] == objective.n_features
        ):
            # same classes and features: start from the previous solution
            theta0 = objective.pack(*self._full_parameters())
        solver = self.solver
        if solver == "auto":
            cheap = n_samples * objective.n_features * K <= _AUTO_NEWTON_WORK
            solver = "newton-cg" if cheap else "lbfgs"
        minimize = minimize_newton_cg if solver == "newton-cg" else minimize_lbfgs
        tol = self.tol
        if objective.dtype == np.float32:
            tol = max(tol, _FLOAT32_TOL_FLOOR[solver])
        result = minimize(
            objective, theta0, tol=tol, max_iter=self.max_iter, verbose=self.verbose
        )
        if not result.converged:
            if result.n_iter >= self.max_iter:
                why = "Increase max_iter"
            else:
                why = (
                    "The objective stopped decreasing before the gradient met tol; "
                    "tol may be below what float rounding of the objective resolves"
                )
            if result.grad_max > result.threshold:
                state = (
                    f"the gradient's max-norm is {result.grad_max:.3g} > "
                    f"{result.threshold:.3g} = tol * min(1, sqrt(loss)) with "
                    f"tol={tol:g} ({result.message})"
                )
            else:
                state = result.message
            warnings.warn(
                f"SoftmaxRegression did not converge: after {result.n_iter} "
                f"iterations {state}. {why}; for separable data with C=inf no "
                "finite optimum exists.",
                ConvergenceWarning,
                stacklevel=3,
            )
        elif self.C == np.inf and separates(result.W, result.b):
            # The gradient can fall below tol on the way to infinity: there the
            # loss itself is below tol. Scaling (W, b) up lowers it further, so
            # the point returned is no optimum.
            warnings.warn(
                "SoftmaxRegression did not converge: the training data are "
                "perfectly separated by the fitted model and C=inf, so no finite "
                f"optimum exists (the gradient met tol={tol:g} only because the "
                "loss is nearly 0). Use a finite C.",
                ConvergenceWarning,
                stacklevel=3,
            )

        W = result.W - result.W.mean(axis=0)
        b = np.zeros(K) if result.b is None else result.b - result.b.mean()
        if K == 2:
            W, b = W[1:] - W[:1], b[1:] - b[:1]
        self.classes_ = classes
        self.coef_ = W.astype(objective.dtype)
        self.intercept_ = b.astype(objective.dtype)
        self.n_iter_ = result.n_iter
        return self

    def _full_parameters(self):
        """(K, d) coefficients and (K,) intercepts of the fitted model."""
        W = self.coef_.astype(np.float64)
        b = self.intercept_.astype(np.float64)
        if W.shape[0] == 1:  # binary: log-odds split symmetrically
            W = np.vstack([-W / 2, W / 2])
            b = np.concatenate([-b / 2, b / 2])
        return W, b

    # -- prediction ----------------------------------------------------------
    def decision_function(self, X):
        """Class scores ``X @ coef_.T + intercept_``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
            For two classes, the log-odds of ``classes_[1]``.
        """
        if _is_dask(X):
            return _dask_blockwise(self, "decision_function", X)
        check_is_fitted(self)
        X = validate_data(
            self,
            X,
            accept_sparse=["csr", "csc"],
            dtype=[np.float64, np.float32],
            reset=False,
        )
        dtype = self.coef_.dtype if X.dtype == np.float64 else X.dtype
        scores = safe_sparse_dot(X, self.coef_.T.astype(dtype), dense_output=True)
        scores = np.asarray(scores) + self.intercept_.astype(dtype)
        return scores.ravel() if scores.shape[1] == 1 else scores

    def predict_log_proba(self, X):
        """Log of class probabilities: the log-softmax of the scores.

        Exact where ``log(predict_proba(X))`` would underflow to ``-inf``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Log-probabilities of the classes, in the order of ``classes_``.
        """
        if _is_dask(X):
            return _dask_blockwise(self, "predict_log_proba", X)
        scores = self.decision_function(X)
        if scores.ndim == 1:
            scores = np.column_stack([np.zeros_like(scores), scores])
        return _loss.log_softmax(scores)

    def predict_proba(self, X):
        """Class probabilities ``exp(predict_log_proba(X))``; rows sum to 1.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities of the classes, in the order of ``classes_``.
        """
        if _is_dask(X):
            return _dask_blockwise(self, "predict_proba", X)
        return np.exp(self.predict_log_proba(X))

    def predict(self, X):
        """Most probable class.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Predicted labels, taken from ``classes_``.
        """
        if _is_dask(X):
            return _dask_blockwise(self, "predict", X)
        scores = self.decision_function(X)
        index = (scores > 0).astype(int) if scores.ndim == 1 else scores.argmax(axis=1)
        return self.classes_[index]


def _is_dask(X):
    """Whether ``X`` is a Dask collection (checked without importing Dask)."""
    return type(X).__module__.split(".")[0] == "dask"


def _dask_blockwise(estimator, method, X):
    """``estimator.method(X)`` as a lazy Dask array, block by block."""
    from .dask import _predict_dask

    return _predict_dask(estimator, method, X)


def _separates(X, target, weights, W, b):
    """Whether ``(W, b)`` puts every weighted hard-labelled row strictly on its class.

    Only hard targets (indices, or one-hot rows) can be separated; a row with
    probability mass on two classes has a finite optimum along any direction.
    """
    rows = weights > 0
    if target.ndim == 2:
        if not np.all(target[rows].max(axis=1) == 1.0):
            return False
        target = target.argmax(axis=1)
    Z = safe_sparse_dot(X, W.T.astype(X.dtype), dense_output=True)
    Z = np.asarray(Z, dtype=np.float64)
    if b is not None:
        Z += b
    Z, target = Z[rows], target[rows]
    idx = np.arange(Z.shape[0])
    true = Z[idx, target]
    Z[idx, target] = -np.inf
    return bool(np.all(true > Z.max(axis=1)))


def _target_columns(y):
    """Number of columns of a 2-D ``y``; 0 for 1-D (or missing) targets."""
    if y is None:
        return 0
    shape = np.shape(np.asarray(y))
    return shape[1] if len(shape) == 2 else 0


# "auto" takes Newton-CG below this many multiply-adds per evaluation (n * d * K):
# there evaluations are cheap and Newton is robust to ill-conditioning (nearly
# separable data, weak penalties) where L-BFGS needs thousands of iterations.
_AUTO_NEWTON_WORK = 10_000_000

# Float32 gradients carry rounding of ~1e-7 times the sum of |terms|; below
# this floor the criterion would only measure noise.
# L-BFGS's line search gives up sooner on that noise than Newton's does.
_FLOAT32_TOL_FLOOR = {"lbfgs": 1e-4, "newton-cg": 1e-5}
