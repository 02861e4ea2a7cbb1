"""SoftmaxRegression: the scikit-learn estimator."""

import os
import sys
import warnings
from dataclasses import fields
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
import sklearn
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._blocks import HOST, input_backend, registered_backend
from ._callbacks import CallbackSupport, PathReporter, close_fit_task, open_fit_task
from ._objective import full_parameters
from ._path import FitOptions, fit_path, model_attributes
from ._penalty import Penalty
from ._solver import SOLVERS
from ._xp import ARRAY_API_SUPPORTED, to_host

__all__ = ["SoftmaxRegression"]


class SoftmaxRegression(ClassifierMixin, CallbackSupport, BaseEstimator):
    """Softmax (multinomial logistic) regression fitted to the exact optimum.

    Minimises the weighted mean cross-entropy of the softmax of ``X @ W.T + b``
    plus an elastic-net penalty on ``W`` (never on ``b``)::

        f(W, b) = 1/S sum_i s_i CE_i + (1 - r) ||W||_F^2 / (2 C S)
                  + r ||W||_1 / (C S),        S = sum_i s_i,  r = l1_ratio,

    with ``s_i`` the sample weight times the class weight (``r = 0``, the
    default, is the L2 penalty; ``r = 1`` the lasso).  The cross-entropy
    is computed through the max-shifted log-softmax, so it is exact for any
    finite scores.  The fit runs Newton on the exact Hessian (``solver="auto"``
    on small problems), a truncated Newton-CG (where one evaluation is cheap)
    or L-BFGS on an exact
    preconditioning of the same objective (features rescaled and centred
    implicitly, the penalty carried through exactly), which reaches the
    optimum on unscaled data without changing the model.  With ``r > 0`` the
    L1 term is made smooth over bound-constrained variables and solved by
    scipy's L-BFGS-B to its KKT conditions; coefficients whose optimum is zero
    are exactly ``0.0``.

    For three or more classes this is the objective of
    ``LogisticRegression(C=C, l1_ratio=r)``; for two classes, that of
    ``LogisticRegression(C=2 * C / (1 + r), l1_ratio=2 * r / (1 + r))``
    (``2 * C`` for the L2 penalty; see Notes).

    Parameters
    ----------
    C : float, default=1.0
        Inverse regularisation strength, in ``(0, inf]``; ``np.inf`` means no
        penalty, whatever ``l1_ratio`` is.
    l1_ratio : float in [0, 1], default=0.0
        Share of the L1 part of the penalty: 0 is the L2 penalty, 1 the L1
        penalty (sparse coefficients), in between the elastic net.
    fit_intercept : bool, default=True
        Whether to fit the (unpenalised) intercepts ``b``.
    class_weight : dict, "balanced" or None, default=None
        Weights for classes, multiplied into the sample weights.  "balanced"
        uses ``S / (K * S_k)`` with ``S_k`` the class's total sample weight.
        With soft targets a row's weight is multiplied by ``sum_k Y_ik cw_k``.
    label_smoothing : float in [0, 1), default=0.0
        Fit the targets ``(1 - label_smoothing) * Y + label_smoothing / K``
        instead of ``Y`` (one-hot rows for labels).
    solver : {"auto", "lbfgs", "newton-cg", "newton-cholesky"}, default="auto"
        "lbfgs": limited-memory BFGS.  Without an L1 part it is the package's
        own two-loop recursion on scipy's Wolfe line search (scipy's
        L-BFGS-B spends ~150 ms per iteration in its compact-matrix updates at
        10^6 parameters; the iterates are the same); with one, scipy's
        L-BFGS-B over the split, bounded variables (finished, where its line
        search stalls before a tight ``tol``, by the orthant-based Newton
        below).  "newton-cg": truncated Newton on exact Hessian-vector
        products, robust on ill-conditioned problems; with an L1 part, Newton
        on the coefficients not held at zero within the current orthant
        (Byrd et al. 2016), the gauge settled exactly after each step.
        "newton-cholesky": Newton on the whole
        Hessian of the ``(K - 1) (d + 1)`` class contrasts (for two classes
        the log-odds), solved by Cholesky (no L1 part; the Hessian costs
        ``n ((K - 1) (d + 1))^2 / 2`` multiply-adds per step, so only for few
        features and classes).  "auto": L-BFGS-B when the penalty has an L1
        part (``l1_ratio > 0`` and finite ``C``); otherwise "newton-cholesky"
        where one of its steps costs at most 15 Hessian products of
        Newton-CG (docs/performance.rst), else Newton-CG when one evaluation
        is cheap (``n * d * K <= 1e7``), else L-BFGS (then,
        with ``d <= 4 K`` dense features, in the eigenbasis of the feature
        covariance).  All run in preconditioned coordinates and stop on the
        same rule (see ``tol``; with an L1 part it bounds the KKT residual,
        the minimum-norm subgradient, instead of the gradient).
    max_iter : int, default=1000
        Maximum number of iterations (L-BFGS steps or Newton steps).  0 takes
        no step: the start is returned (with a ``ConvergenceWarning`` unless
        it already meets ``tol``).
    tol : float, default=1e-6
        Stop when the largest absolute component of the gradient, measured in
        the preconditioned coordinates (coefficients per standardised
        feature), is at most ``tol * min(1, sqrt(f))`` with ``f`` the
        objective.  It does not depend on how the columns of ``X`` are scaled,
        and since the gap ``f - f*`` is about ``|grad|^2 / 2`` over the
        curvature, it keeps the *relative* gap near ``tol**2`` even when the
        loss is tiny.  This is not L-BFGS's relative-decrease test, which stops
        while the gradient is still large.  For float32 data ``tol`` is
        floored at float32 rounding, ``1e-5`` (an L-BFGS stall with the
        gradient below ``1e-4`` counts as converged).  With an L1 part in
        the penalty the rule applies to the KKT residual (the minimum-norm
        subgradient) instead of the gradient.  ``tol=0`` runs until
        ``max_iter`` or until rounding allows no further progress, and warns.
    warm_start : bool, default=False
        Start from the previous solution when the classes and the number of
        features are the same (otherwise start afresh).
    verbose : int, default=0
        Print the objective, the gradient's max-norm, the stopping rule's
        threshold and the passes over ``X`` so far at every iteration, and a
        summary line per fit: converged or not, iterations, passes and time.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        For two classes, the log-odds weights ``W_1 - W_0`` of ``classes_[1]``;
        otherwise the coefficients, centred (``coef_.sum(axis=0) == 0``)
        unless the penalty has an L1 part (see Notes).  A SciPy CSR matrix
        after :meth:`sparsify`.
    intercept_ : ndarray of shape (1,) or (n_classes,)
        Intercepts, centred (``intercept_.sum() == 0``) for three or more
        classes; for two classes, the log-odds intercept.
    n_iter_ : ndarray of shape (1,), dtype int32
        Iterations of the last fit: Newton steps for Newton-CG, L-BFGS
        iterations for L-BFGS (``solver="auto"`` says which in the docstring
        of ``solver``).  An array, as ``LogisticRegression.n_iter_`` is: the
        number is ``n_iter_[0]``.  For array-API inputs it lives in ``X``'s
        namespace and on its device, like ``coef_``.
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

    With ``l1_ratio > 0`` the L1 term is not invariant to that shift: it fixes
    the gauge itself, and ``coef_`` is reported as solved, never re-centred
    (which would move its exact zeros); the intercepts are still centred.  For
    two classes the optimum keeps ``W_0 = -W_1`` (for ``l1_ratio < 1``), and
    the log-odds problem has L2 weight ``(1 - r) / (2 C)`` and L1 weight
    ``r / C``: ``LogisticRegression(C=2C / (1 + r), l1_ratio=2r / (1 + r))``.
    With ``l1_ratio = 1`` and an even number of classes (four or more) the
    optimum can be a segment along the shift direction (0 is a median of each
    column of ``W``), on which the objective and the probabilities are
    constant; the point returned is the one L-BFGS-B reaches from its start
    (zero coefficients, or the previous solution under ``warm_start``).

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
        "l1_ratio": [Interval(Real, 0, 1, closed="both")],
        "fit_intercept": ["boolean"],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "label_smoothing": [Interval(Real, 0, 1, closed="left")],
        "solver": [StrOptions({"auto", *SOLVERS})],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "warm_start": ["boolean"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        C=1.0,
        *,
        l1_ratio=0.0,
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
        self.l1_ratio = l1_ratio
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
        # array-API inputs under array_api_dispatch: see docs/user_guide/array_api
        tags.array_api_support = ARRAY_API_SUPPORTED
        return tags

    # -- fitting -------------------------------------------------------------
    # fitted arrays that live where X lives (array-API inputs: on its device)
    _fitted_arrays = ("coef_", "intercept_", "n_iter_")

    def _fit_options(self):
        """The :class:`~sklearn_softmax._path.FitOptions` of this estimator
        (its parameters of the same names)."""
        return FitOptions(**{f.name: getattr(self, f.name) for f in fields(FitOptions)})

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, *, classes=None):
        """Fit the model to labels or class-probability rows.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data; CSR or CSC sparse, float32 kept as float32.
        y : array-like of shape (n_samples,) or (n_samples, n_classes)
            Class labels, or rows of class probabilities (soft targets) that
            are non-negative and sum to 1 (within 1e-4; float16 rows within
            their rounding).  A row is used as given, never renormalised: its
            sum acts as a weight, so the loss of row ``i`` is exactly
            ``-sum_k y[i, k] * log p[i, k]``.
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
        penalty = Penalty(self.C, self.l1_ratio)
        penalty.check_solver(self.solver)
        backend = backend_for(X)
        data = backend.fit_input(self, X, y, sample_weight, classes)
        # scikit-learn's callbacks (>= 1.9): one subtask per iteration
        metadata = None if sample_weight is None else {"sample_weight": sample_weight}
        task = open_fit_task(
            self, max_subtasks=self.max_iter, X=X, y=y, metadata=metadata
        )
        hooks = None
        if task is not None:
            hooks = PathReporter(
                self, task, data, X, y, metadata, backend.finish_fit, self.max_iter
            )
        start = None
        if (
            self.warm_start
            and hasattr(self, "coef_")
            and np.array_equal(to_host(getattr(self, "classes_", None)), data.classes)
            and self.coef_.shape[1] == data.n_features
        ):
            # same classes and features: start from the previous solution
            # (dense, also after sparsify())
            coef = self.coef_.toarray() if sp.issparse(self.coef_) else self.coef_
            start = full_parameters(to_host(coef), to_host(self.intercept_))
        (point,) = fit_path(
            data, [penalty], self._fit_options(), start=start, hooks=hooks
        )
        message = fit_diagnosis(point)
        if message is not None:
            warn_at_caller(message, ConvergenceWarning)
        reported = None
        if start is not None and point.result.n_iter == 0:
            # no step taken: the previous model, bit for bit (dense)
            reported = (to_host(coef), to_host(self.intercept_))
        self._set_model(data, point, reported)
        self.n_iter_ = iteration_count(point.result.n_iter)
        backend.finish_fit(self, X, y)
        close_fit_task(task, self, X=X, y=y, metadata=metadata)
        return self

    def _set_model(self, data, point, reported=None):
        """Set ``classes_``, ``coef_`` and ``intercept_`` (in ``X``'s dtype) of
        a path point; return the float64 ``(coef, intercept)`` as reported
        (:func:`~sklearn_softmax._path.model_attributes`, the conversion the
        callbacks' iterates get too; or ``reported`` where given: the model a
        warm start began from, when no step was taken)."""
        result = point.result
        attributes, reported = model_attributes(
            data, result.W, result.b, centred=point.penalty.centred, reported=reported
        )
        for name, value in attributes.items():
            setattr(self, name, value)
        return reported

    # -- coefficient storage ---------------------------------------------------
    def sparsify(self):
        """Store ``coef_`` as a SciPy CSR sparse matrix.

        Worth it when most coefficients are exactly zero, as with an L1 part
        in the penalty (``l1_ratio > 0``): the matrix then takes less memory,
        on disk as well, and :meth:`predict` and the other prediction methods
        skip the zeros.  With few zeros it takes *more* memory than the dense
        array.  ``intercept_`` stays dense.  All prediction methods, pickling
        and skops work on the sparse ``coef_``; ONNX export writes it dense.
        A later :meth:`fit` makes ``coef_`` dense again (with
        ``warm_start=True`` it starts from the sparsified coefficients).

        The matrix is a ``scipy.sparse.csr_matrix``, or a ``csr_array`` where
        scikit-learn's ``sparse_interface`` setting asks for sparse arrays.

        Returns
        -------
        self : SoftmaxRegression
            The estimator, with a sparse ``coef_``.

        Raises
        ------
        TypeError
            If ``coef_`` is an array-API array (the model was fitted on one
            under ``array_api_dispatch=True``): SciPy sparse matrices live in
            host memory only.

        See Also
        --------
        densify : Back to a dense ``coef_``.

        Examples
        --------
        >>> from sklearn.datasets import load_iris
        >>> from sklearn_softmax import SoftmaxRegression
        >>> X, y = load_iris(return_X_y=True)
        >>> clf = SoftmaxRegression(C=0.1, l1_ratio=1.0).fit(X, y)
        >>> clf.sparsify().coef_.format
        'csr'
        >>> clf.predict(X[:2])
        array([0, 0])
        """
        check_is_fitted(self)
        if not isinstance(self.coef_, np.ndarray) and not sp.issparse(self.coef_):
            raise TypeError(
                f"{type(self).__name__}.sparsify() stores coef_ as a SciPy sparse "
                "matrix, in host memory, but this model's coef_ is a "
                f"{type(self.coef_).__module__}.{type(self.coef_).__name__} "
                "(it was fitted on array-API inputs). Fit it on NumPy or SciPy "
                "data to sparsify it."
            )
        if not sp.issparse(self.coef_):
            csr = sp.csr_matrix(self.coef_)
            if sklearn.get_config().get("sparse_interface") == "sparray":
                csr = sp.csr_array(csr)
            self.coef_ = csr
        return self

    def densify(self):
        """Store ``coef_`` as a dense NumPy array again, after :meth:`sparsify`.

        A dense ``coef_`` (the form :meth:`fit` gives) is left as it is.

        Returns
        -------
        self : SoftmaxRegression
            The estimator, with a dense ``coef_``.

        See Also
        --------
        sparsify : Store ``coef_`` as a sparse matrix.

        Examples
        --------
        >>> from sklearn.datasets import load_iris
        >>> from sklearn_softmax import SoftmaxRegression
        >>> X, y = load_iris(return_X_y=True)
        >>> clf = SoftmaxRegression(C=0.1, l1_ratio=1.0).fit(X, y)
        >>> type(clf.sparsify().densify().coef_).__name__
        'ndarray'
        """
        check_is_fitted(self)
        if sp.issparse(self.coef_):
            self.coef_ = self.coef_.toarray()
        return self

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
        return backend_for(X).predict(self, "decision_function", X)

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
        return backend_for(X).predict(self, "predict_log_proba", X)

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
        return backend_for(X).predict(self, "predict_proba", X)

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
        return backend_for(X).predict(self, "predict", X)


def backend_for(X):
    """The :class:`~sklearn_softmax._blocks.Backend` for ``X``: its own wing
    (Dask, array-API), else the in-memory one (``sklearn_softmax._host``)."""
    return input_backend(X) or registered_backend(HOST)


def iteration_count(n_iter):
    """``n_iter_`` as ``LogisticRegression`` reports it: int32, shape (1,)."""
    return np.array([n_iter], dtype=np.int32)


# Files whose frames a warning skips to reach the user's line: this package's
# and scikit-learn's (``fit`` is called through ``_fit_context``'s wrapper and,
# in a Pipeline or a search, through scikit-learn's own code).
_INTERNAL_DIRS = tuple(
    os.path.dirname(path) + os.sep for path in (__file__, sklearn.__file__)
)


def warn_at_caller(message, category):
    """``warnings.warn`` attributed to the first frame outside this package and
    scikit-learn: the line of the user's code that called ``fit``.

    A fixed ``stacklevel`` would depend on how many frames scikit-learn's
    decorators add; ``skip_file_prefixes`` needs Python 3.12.
    """
    frame = sys._getframe(1)
    stacklevel = 2  # the caller of this function
    while frame.f_back is not None and frame.f_code.co_filename.startswith(
        _INTERNAL_DIRS
    ):
        frame = frame.f_back
        stacklevel += 1
    warnings.warn(message, category, stacklevel=stacklevel)


def fit_diagnosis(point, name="SoftmaxRegression"):
    """The ConvergenceWarning's text for a path point, or None if it is an optimum.

    Not converged (:class:`SolveResult`), or converged but with ``C=inf`` on
    data the model separates: the gradient can fall below ``tol`` on the way
    to infinity (there the loss itself is below ``tol``), and scaling
    ``(W, b)`` up lowers the loss further, so the point is no optimum.
    """
    result = point.result
    if not result.converged:
        return _not_converged(result, name, point.penalty)
    if point.separated:
        return (
            f"{name} did not converge: the training data are "
            "perfectly separated by the fitted model and C=inf, so no finite "
            f"optimum exists (the gradient met tol={result.tol:g} only "
            "because the loss is nearly 0). Use a finite C."
        )
    return None


def _not_converged(result, name, penalty):
    """The ConvergenceWarning's text for an unconverged :class:`SolveResult`,
    with the clauses that apply to ``penalty`` only (the L1 part's KKT
    residual, ``C=inf``'s missing optimum)."""
    if result.reason == "callback":
        return (
            f"{name} did not converge: a callback stopped the fit after "
            f"{result.n_iter} iterations, before the gradient's max-norm "
            f"{result.grad_max:.3g} met {result.threshold:.3g} = tol * min(1, "
            f"sqrt(loss)) with tol={result.tol:g}. The model is that iteration's."
        )
    if result.reason == "max_iter":
        why = "Increase max_iter"
    elif result.tol == 0:
        why = (
            "With tol=0 only a zero gradient meets the rule: the fit ran until "
            "float rounding stopped all progress, as close to the optimum as "
            "the solver gets"
        )
    else:
        why = (
            "The objective stopped decreasing before the gradient met tol; "
            "tol may be below what float rounding of the objective resolves"
        )
    if result.grad_max > result.threshold:
        measure = (
            "the KKT residual's max-norm (the gradient's, with the L1 penalty)"
            if penalty.has_l1
            else "the gradient's max-norm"
        )
        state = (
            f"{measure} is {result.grad_max:.3g} > "
            f"{result.threshold:.3g} = tol * min(1, sqrt(loss)) with "
            f"tol={result.tol:g} ({result.message})"
        )
    else:
        state = result.message
    if penalty.unpenalised:
        why += "; with C=inf, separable data have no finite optimum"
    return f"{name} did not converge: after {result.n_iter} iterations {state}. {why}."
