"""Statistical inference for a fitted :class:`~sklearn_softmax.SoftmaxRegression`.

Covariance matrices, standard errors, z-tests and confidence intervals of the
coefficients, Wald tests of linear hypotheses, a likelihood-ratio test between
nested models and intervals for predicted probabilities
(docs/user_guide/inference.rst has the maths and how to read them).

The softmax is unchanged when one vector is added to every class's
coefficients, so only differences between classes are identified.  The
parameters here are the **contrasts against a reference class**
``beta_k = [W_k - W_ref, b_k - b_ref]`` for the ``K - 1`` other classes in
``classes_`` order (the reference is the first class by default, as in
statsmodels' ``MNLogit``, or any label); for two classes with the default
reference they are the log-odds coefficients that ``coef_`` holds.  The
covariance is assembled from the exact Hessian of the weighted cross-entropy
in these coordinates (``sum_i s_i (diag(p'_i) - p'_i p'_i^T) (x) x1_i x1_i^T``,
``p'`` the probabilities of the non-reference classes, ``x1 = [x, 1]``), plus,
for a finite ``C``, the Hessian of the L2 penalty in the same coordinates.

Sample weights are *frequency weights*: a row of weight 3 counts as three
observations, so the results equal those of the data with that row repeated
three times (the number of observations is ``sum(sample_weight)``).
"""

import warnings
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from scipy import stats
from sklearn.utils.validation import (
    _check_sample_weight,
    check_consistent_length,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from ._blocks import RowBlocks, input_backend
from ._loss import contrast_hessian, cross_entropy_rows, log_softmax, softmax_at
from ._objective import full_parameters
from ._penalty import Penalty
from ._softmax import SoftmaxRegression
from ._targets import prepare_rows
from ._views import CHUNK_ELEMENTS
from ._xp import to_host

__all__ = [
    "InferenceResult",
    "LikelihoodRatioResult",
    "WaldTestResult",
    "coef_inference",
    "likelihood_ratio_test",
    "predict_proba_interval",
]

COV_TYPES = ("nonrobust", "HC0", "cluster")

# A Newton step from the model's coefficients longer than this many standard
# errors means the model is not the optimum of the data passed: warn.
_MAX_STEP_IN_SE = 0.05
# Elements of the per-chunk products of predict_proba_interval: enough rows
# for a matrix-matrix product even with 10^4 contrasts.
_INTERVAL_CHUNK = 1 << 23


# -- results -------------------------------------------------------------------
@dataclass(frozen=True)
class WaldTestResult:
    """The result of :meth:`InferenceResult.wald_test`.

    Parameters
    ----------
    statistic : float
        The Wald statistic ``(R beta - q)^T (R Cov R^T)^-1 (R beta - q)``.
    df : int
        Degrees of freedom: the number of restrictions (rows of ``R``).
    pvalue : float
        ``P(chi2(df) > statistic)``.
    """

    statistic: float
    df: int
    pvalue: float


@dataclass(frozen=True)
class LikelihoodRatioResult:
    """The result of :func:`likelihood_ratio_test`.

    Parameters
    ----------
    statistic : float
        ``2 (loglik_full - loglik_restricted)``.
    df : int
        Degrees of freedom: the difference in the numbers of free parameters.
    pvalue : float
        ``P(chi2(df) > statistic)``.
    loglik_full : float
        Weighted log-likelihood of the full model.
    loglik_restricted : float
        Weighted log-likelihood of the restricted model.
    """

    statistic: float
    df: int
    pvalue: float
    loglik_full: float
    loglik_restricted: float


class InferenceResult:
    """Estimates, covariance and tests of the class contrasts of a fitted model.

    Made by :func:`coef_inference`; not meant to be built by hand.  The
    parameters below are its attributes.  The
    parameters of contrast ``k`` (the ``k``-th label of ``classes``) are its
    coefficients, one per feature, then its intercept (when the model has
    one): ``params[k] = [W_k - W_ref, b_k - b_ref]``.  ``cov`` is over
    ``params.ravel()``, class-major in the same order.

    Parameters
    ----------
    params : ndarray of shape (n_contrasts, n_terms)
        Contrasts against the reference class: the coefficients of each
        feature, then the intercept.
    cov : ndarray of shape (n_contrasts * n_terms, n_contrasts * n_terms)
        Their covariance matrix.
    cov_type : {"nonrobust", "HC0", "cluster"}
        Which covariance ``cov`` is.
    classes : ndarray of shape (n_contrasts,)
        The classes contrasted with the reference, in ``classes_`` order.
    reference : object
        The reference class label.
    feature_names : ndarray of shape (n_features,)
        The model's ``feature_names_in_``, else ``x0, x1, ...``.
    n_obs : float
        The number of observations: the sum of the sample weights.
    C : float
        The model's ``C`` (``inf``: no penalty).

    See Also
    --------
    coef_inference : Makes this result.
    predict_proba_interval : Intervals for predicted probabilities.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_softmax import SoftmaxRegression
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 2))  # three ordered classes, overlapping
    >>> y = np.digitize(X[:, 0] - X[:, 1] + rng.logistic(size=300), [-1.0, 1.0])
    >>> from sklearn_softmax.inference import coef_inference
    >>> model = SoftmaxRegression(C=10.0).fit(X, y)
    >>> res = coef_inference(model, X, y)
    >>> res.coef.shape, res.intercept.shape, res.cov.shape
    ((2, 2), (2,), (6, 6))
    >>> res.wald_test(1).df  # x1 is zero in every class: 2 restrictions
    2
    """

    def __init__(
        self, params, cov, cov_type, classes, reference, feature_names, n_obs, C
    ):
        self.params = params
        self.cov = cov
        self.cov_type = cov_type
        self.classes = classes
        self.reference = reference
        self.feature_names = feature_names
        self.n_obs = n_obs
        self.C = C

    def __repr__(self):
        return (
            f"{type(self).__name__}(cov_type={self.cov_type!r}, "
            f"reference={np.asarray(self.reference).tolist()!r}, "
            f"classes={self.classes.tolist()!r}, "
            f"n_features={self.feature_names.shape[0]}, n_obs={self.n_obs:g}, "
            f"C={self.C:g})"
        )

    @property
    def _n_features(self):
        return self.feature_names.shape[0]

    @property
    def _has_intercept(self):
        return self.params.shape[1] > self._n_features

    @property
    def bse(self):
        """Standard errors of ``params``, shape (n_contrasts, n_terms)."""
        return np.sqrt(np.diag(self.cov)).reshape(self.params.shape)

    @property
    def coef(self):
        """Coefficient contrasts ``W_k - W_ref``, shape (n_contrasts, n_features)."""
        return self.params[:, : self._n_features]

    @property
    def coef_se(self):
        """Standard errors of :attr:`coef`, shape (n_contrasts, n_features)."""
        return self.bse[:, : self._n_features]

    @property
    def intercept(self):
        """Intercept contrasts ``b_k - b_ref``, shape (n_contrasts,).

        None for a model without intercept.
        """
        return self.params[:, -1] if self._has_intercept else None

    @property
    def intercept_se(self):
        """Standard errors of :attr:`intercept`; None without intercept."""
        return self.bse[:, -1] if self._has_intercept else None

    @property
    def zvalues(self):
        """The z statistics ``params / bse``, shape (n_contrasts, n_terms)."""
        return self.params / self.bse

    @property
    def pvalues(self):
        """Two-sided p-values of the z statistics, shape (n_contrasts, n_terms)."""
        return 2.0 * stats.norm.sf(np.abs(self.zvalues))

    @property
    def term_names(self):
        """Names of the columns of ``params``: the features, then "intercept"."""
        names = [str(name) for name in self.feature_names]
        return np.array(names + ["intercept"] * self._has_intercept, dtype=object)

    def conf_int(self, alpha=0.05):
        """Wald confidence intervals ``params -/+ z_(1 - alpha/2) bse``.

        Parameters
        ----------
        alpha : float, default=0.05
            One minus the confidence level.

        Returns
        -------
        lower, upper : ndarray of shape (n_contrasts, n_terms)
            The bounds, in the layout of ``params``.
        """
        z = stats.norm.ppf(1.0 - _check_alpha(alpha) / 2.0)
        half = z * self.bse
        return self.params - half, self.params + half

    def summary(self, alpha=0.05):
        """The table of estimates as a pandas DataFrame (pandas is needed here only).

        Parameters
        ----------
        alpha : float, default=0.05
            One minus the confidence level of the intervals.

        Returns
        -------
        table : pandas.DataFrame
            One row per (class, term), indexed by both, with the columns
            ``coef``, ``std err``, ``z``, ``P>|z|`` and the interval bounds.
            ``table.attrs`` holds the reference class and the covariance type.
        """
        import pandas as pd

        lower, upper = self.conf_int(alpha)
        index = pd.MultiIndex.from_product(
            [self.classes.tolist(), self.term_names.tolist()], names=["class", "term"]
        )
        table = pd.DataFrame(
            {
                "coef": self.params.ravel(),
                "std err": self.bse.ravel(),
                "z": self.zvalues.ravel(),
                "P>|z|": self.pvalues.ravel(),
                f"[{alpha / 2:g}": lower.ravel(),
                f"{1 - alpha / 2:g}]": upper.ravel(),
            },
            index=index,
        )
        table.attrs.update(reference=self.reference, cov_type=self.cov_type)
        return table

    def wald_test(self, hypothesis, value=None):
        """Wald test of the linear hypothesis ``R @ params.ravel() = value``.

        Parameters
        ----------
        hypothesis : int, str, list of int or str, or array-like
            A feature (index or name) or a list of features: the hypothesis
            that they are zero in every class, i.e. that they do not change
            the probabilities (``n_contrasts`` restrictions per feature,
            whatever the reference).  Otherwise the matrix ``R`` of shape
            (n_restrictions, params.size) (or one row, of shape
            (params.size,)) over ``params.ravel()``.
        value : array-like of shape (n_restrictions,), default=None
            The right-hand side ``q``; zeros by default.

        Returns
        -------
        result : WaldTestResult
            The statistic, its degrees of freedom and its chi-squared p-value.
        """
        R = self._restrictions(hypothesis)
        q = np.zeros(R.shape[0]) if value is None else np.asarray(value, float)
        if q.shape != (R.shape[0],):
            raise ValueError(
                f"value must have shape ({R.shape[0]},), one per restriction; "
                f"got {q.shape}."
            )
        diff = R @ self.params.ravel() - q
        middle = R @ self.cov @ R.T
        try:
            factor = scipy.linalg.cho_factor(middle)
        except np.linalg.LinAlgError:
            raise ValueError(
                "The restrictions are linearly dependent (R @ cov @ R.T is "
                "singular): drop the redundant rows of R."
            ) from None
        statistic = float(diff @ scipy.linalg.cho_solve(factor, diff))
        df = R.shape[0]
        return WaldTestResult(statistic, df, float(stats.chi2.sf(statistic, df)))

    def _restrictions(self, hypothesis):
        """The matrix ``R`` of a hypothesis (see :meth:`wald_test`)."""
        if _is_feature_key(hypothesis) or (
            isinstance(hypothesis, (list, tuple))
            and hypothesis
            and all(_is_feature_key(h) for h in hypothesis)
        ):
            keys = hypothesis if isinstance(hypothesis, (list, tuple)) else [hypothesis]
            columns = sorted({self._feature_index(key) for key in keys})
            n_contrasts, n_terms = self.params.shape
            R = np.zeros((n_contrasts * len(columns), self.params.size))
            for r, (k, j) in enumerate(
                (k, j) for j in columns for k in range(n_contrasts)
            ):
                R[r, k * n_terms + j] = 1.0
            return R
        R = np.atleast_2d(np.asarray(hypothesis, dtype=float))
        if R.ndim != 2 or R.shape[1] != self.params.size or R.shape[0] == 0:
            raise ValueError(
                "hypothesis must be a feature (index or name), a list of "
                f"features, or a matrix R with {self.params.size} columns (one "
                f"per entry of params.ravel()); got shape {R.shape}."
            )
        return R

    def _feature_index(self, key):
        """Column of a feature given by index or name."""
        d = self._n_features
        if isinstance(key, str):
            matches = np.flatnonzero(self.feature_names.astype(str) == key)
            if matches.size != 1:
                raise ValueError(
                    f"No feature named {key!r}; the features are "
                    f"{self.feature_names.tolist()[:20]}."
                )
            return int(matches[0])
        if not -d <= key < d:
            raise ValueError(f"Feature index {key} is out of range for {d} features.")
        return int(key) % d


def _is_feature_key(obj):
    return isinstance(obj, str) or (
        isinstance(obj, Integral) and not isinstance(obj, bool)
    )


# -- the entry points ------------------------------------------------------------
def coef_inference(
    model,
    X,
    y,
    *,
    sample_weight=None,
    cov_type="nonrobust",
    groups=None,
    reference=None,
):
    """Covariance, standard errors and tests of a fitted model's class contrasts.

    The parameters are the contrasts ``[W_k - W_ref, b_k - b_ref]`` of the
    other classes against the reference class (the softmax identifies only
    differences between classes).  The covariance is one of

    - ``"nonrobust"``: the inverse of the observed information ``H`` (the
      Hessian of the weighted negative log-likelihood at the fit), as
      statsmodels' ``MNLogit`` reports it;
    - ``"HC0"``: the sandwich ``H^-1 B H^-1`` with ``B`` the sum of the outer
      products of the observations' scores (heteroskedasticity-robust, also
      valid when the softmax model is misspecified);
    - ``"cluster"``: the sandwich with ``B`` summed over the scores of each
      group of ``groups`` (no small-sample correction).

    Sample weights are frequency weights (``sum(sample_weight)``
    observations).  With a finite ``C`` the Hessian includes the penalty's:
    the results are conditional on ``C`` (the posterior covariance of the
    Gaussian-prior reading for ``"nonrobust"``); see the user guide.

    Parameters
    ----------
    model : SoftmaxRegression
        A fitted model with an L2 penalty or none (``l1_ratio=0`` or
        ``C=inf``), or a ``SoftmaxRegressionCV`` refitted at its ``C_``.
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        The data the model was fitted on.
    y : array-like of shape (n_samples,) or (n_samples, n_classes)
        The labels it was fitted on, or the probability rows (columns in
        ``model.classes_`` order).
    sample_weight : array-like of shape (n_samples,), default=None
        The sample weights it was fitted with (frequency weights).
    cov_type : {"nonrobust", "HC0", "cluster"}, default="nonrobust"
        The covariance estimator (see above).
    groups : array-like of shape (n_samples,), default=None
        Cluster labels; only (and required) with ``cov_type="cluster"``.
    reference : label, default=None
        The reference class: any label of ``model.classes_``; the first by
        default.

    Returns
    -------
    result : InferenceResult
        ``coef``, ``coef_se`` (n_classes - 1, n_features), ``intercept``,
        ``intercept_se`` (n_classes - 1,), ``cov``, ``pvalues``,
        ``conf_int()``, ``summary()``, ``wald_test()``.

    Raises
    ------
    ValueError
        For an L1 penalty (no valid inference after selection), for
        collinear features (the contrasts are not identified), and for
        inputs that do not match the model.
    TypeError
        For Dask collections and array-API arrays (pass NumPy data).

    See Also
    --------
    predict_proba_interval : Intervals for predicted probabilities.
    likelihood_ratio_test : Test between two nested models.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_softmax import SoftmaxRegression
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 2))  # three ordered classes, overlapping
    >>> y = np.digitize(X[:, 0] - X[:, 1] + rng.logistic(size=300), [-1.0, 1.0])
    >>> from sklearn_softmax.inference import coef_inference
    >>> model = SoftmaxRegression(C=np.inf, tol=1e-8).fit(X, y)
    >>> res = coef_inference(model, X, y)
    >>> res.coef.round(2)  # classes 1 and 2 against class 0
    array([[ 0.58, -0.76],
           [ 1.38, -1.57]])
    >>> res.coef_se.round(2)
    array([[0.16, 0.18],
           [0.21, 0.23]])
    """
    if cov_type not in COV_TYPES:
        raise ValueError(f"cov_type must be one of {COV_TYPES}; got {cov_type!r}.")
    if (groups is None) == (cov_type == "cluster"):
        raise ValueError('groups is required with cov_type="cluster", and only there.')
    fit = _FitData(model, X, y, sample_weight, groups=groups)
    if cov_type == "nonrobust" and (
        model.class_weight is not None or model.label_smoothing > 0
    ):
        warnings.warn(
            'cov_type="nonrobust" reads the weighted loss as a log-likelihood; '
            "with class_weight or label_smoothing it is not one. "
            'cov_type="HC0" (the sandwich) is valid for such fits.',
            UserWarning,
            stacklevel=2,
        )
    r = _class_index(fit.classes, reference)
    order = np.array([r] + [k for k in range(fit.n_classes) if k != r])
    others = order[1:]
    params = fit.contrasts(order)
    P = fit.probabilities()[:, order]
    H = contrast_hessian(
        fit.X, P, fit.s, np.zeros(fit.d), np.ones(fit.d), fit.fit_intercept
    )
    _add_penalty_hessian(H, fit)
    H_inv = _inverse_information(H, fit)
    R = fit.residuals(P, order)  # score residuals of the non-reference classes
    _check_optimum(H_inv, _score_sum(fit, R) - _penalty_gradient(fit, others))
    if cov_type == "nonrobust":
        cov = H_inv
    else:
        meat = _meat(fit, R, groups=fit.groups if cov_type == "cluster" else None)
        cov = H_inv @ meat @ H_inv
        cov = (cov + cov.T) / 2.0
    result = InferenceResult(
        params=params,
        cov=cov,
        cov_type=cov_type,
        classes=fit.classes[others],
        reference=fit.classes[r],
        feature_names=fit.feature_names,
        n_obs=float(fit.sample_weight.sum()),
        C=fit.C,
    )
    result._model = (fit.W.copy(), fit.b.copy(), order)
    return result


def predict_proba_interval(model, result, X, alpha=0.05):
    """Confidence intervals for the predicted class probabilities of new rows.

    The delta method on the log-probability scale: with ``J`` the gradient of
    ``log p_k(x)`` with respect to the contrasts, ``Var(log p_k) = J Cov J^T``
    (``Cov`` is ``result.cov``, so the intervals are as robust as it is);
    the interval ``log p_k -/+ z se`` is mapped through ``exp`` and the upper
    bound clipped at 1.  Pointwise intervals (each row and class on its own).

    Parameters
    ----------
    model : SoftmaxRegression
        The model ``result`` was computed for.
    result : InferenceResult
        From :func:`coef_inference` on ``model``.
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        The rows to predict for.
    alpha : float, default=0.05
        One minus the confidence level.

    Returns
    -------
    lower, upper : ndarray of shape (n_samples, n_classes)
        Bounds in ``[0, 1]`` around ``model.predict_proba(X)``, columns in
        ``model.classes_`` order.

    See Also
    --------
    coef_inference : The covariance used here.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_softmax import SoftmaxRegression
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 2))  # three ordered classes, overlapping
    >>> y = np.digitize(X[:, 0] - X[:, 1] + rng.logistic(size=300), [-1.0, 1.0])
    >>> from sklearn_softmax.inference import coef_inference, predict_proba_interval
    >>> model = SoftmaxRegression(C=np.inf, tol=1e-8).fit(X, y)
    >>> res = coef_inference(model, X, y)
    >>> lower, upper = predict_proba_interval(model, res, X[:1])
    >>> model.predict_proba(X[:1]).round(2)
    array([[0.23, 0.45, 0.32]])
    >>> lower.round(2), upper.round(2)
    (array([[0.18, 0.38, 0.27]]), array([[0.3 , 0.52, 0.4 ]]))
    """
    z = stats.norm.ppf(1.0 - _check_alpha(alpha) / 2.0)
    if not isinstance(result, InferenceResult):
        raise TypeError(
            f"result must be an InferenceResult (from coef_inference); got "
            f"{type(result).__name__}."
        )
    _check_in_memory(X=X)
    W, b = _model_parameters(model)
    W_res, b_res, order = result._model
    if not (np.array_equal(W, W_res) and np.array_equal(b, b_res)):
        raise ValueError(
            "result was computed for another model (or this model was refitted "
            "since): call coef_inference on this model again."
        )
    X = validate_data(
        model, X, accept_sparse=["csr", "csc"], dtype=np.float64, reset=False
    )
    n, d = X.shape
    K = W.shape[0]
    n_contrasts, d1 = result.params.shape
    # cov as (d1, contrast k, contrast l, d1): Q_i = x1_i^T Cov_(k, l)
    cov4 = result.cov.reshape(n_contrasts, d1, n_contrasts, d1).transpose(1, 0, 2, 3)
    cov4 = cov4.reshape(d1, -1)
    lower = np.empty((n, K))
    upper = np.empty((n, K))
    # rows per chunk: X1 @ cov4 of at most _INTERVAL_CHUNK elements (64 MB)
    rows = max(1, _INTERVAL_CHUNK // (n_contrasts * n_contrasts * d1))
    for a in range(0, n, rows):
        X1 = _design_rows(X, a, a + rows, result._has_intercept)
        logp = np.empty((X1.shape[0], K))
        logp[:, order] = log_softmax(
            np.column_stack([np.zeros(X1.shape[0]), X1 @ result.params.T])
        )
        p = np.exp(logp[:, order[1:]])
        # V_i[k, l] = x1_i^T Cov_(k, l) x1_i: covariance of the contrast scores
        V = np.einsum(
            "iklb,ib->ikl", (X1 @ cov4).reshape(-1, n_contrasts, n_contrasts, d1), X1
        )
        # d log p_k / d scores = e_k - p' (e_k = 0 for the reference class)
        Vp = np.einsum("ikl,il->ik", V, p)
        pVp = np.einsum("ik,ik->i", p, Vp)
        var = np.empty_like(logp)
        var[:, order[0]] = pVp
        var[:, order[1:]] = np.einsum("ikk->ik", V) - 2.0 * Vp + pVp[:, None]
        half = z * np.sqrt(np.maximum(var, 0.0))
        lower[a : a + rows] = np.exp(logp - half)
        upper[a : a + rows] = np.minimum(np.exp(logp + half), 1.0)
    return lower, upper


def likelihood_ratio_test(
    full, X_full, restricted, X_restricted, y, *, sample_weight=None
):
    """Likelihood-ratio test of a restricted model against a larger one.

    The models are nested: ``restricted`` uses a subset of ``full``'s
    features (``X_restricted`` has a subset of ``X_full``'s columns; the
    intercept may be dropped too), both fitted without penalty
    (``C=inf``) on the same rows, labels and weights.  The statistic
    ``2 (loglik_full - loglik_restricted)`` is referred to a chi-squared law
    with as many degrees of freedom as ``full`` has more free parameters.

    Parameters
    ----------
    full : SoftmaxRegression
        The larger model, fitted on ``X_full``.
    X_full : {array-like, sparse matrix} of shape (n_samples, n_features_full)
        Its training data.
    restricted : SoftmaxRegression
        The nested model, fitted on ``X_restricted``.
    X_restricted : {array-like, sparse matrix} of shape (n_samples, n_features)
        Its training data.
    y : array-like of shape (n_samples,) or (n_samples, n_classes)
        The labels (or probability rows) both were fitted on.
    sample_weight : array-like of shape (n_samples,), default=None
        The frequency weights both were fitted with.

    Returns
    -------
    result : LikelihoodRatioResult
        The statistic, the degrees of freedom, the p-value and the two
        log-likelihoods.

    Raises
    ------
    ValueError
        If a model is penalised (a finite ``C``) or has ``class_weight`` or
        ``label_smoothing`` (its loss is then no log-likelihood), if the
        models differ in classes, or if ``restricted`` does not have fewer
        parameters.

    See Also
    --------
    InferenceResult.wald_test : The Wald test of the same kind of hypothesis,
        from the full model alone.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_softmax import SoftmaxRegression
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 2))  # three ordered classes, overlapping
    >>> y = np.digitize(X[:, 0] - X[:, 1] + rng.logistic(size=300), [-1.0, 1.0])
    >>> from sklearn_softmax.inference import likelihood_ratio_test
    >>> full = SoftmaxRegression(C=np.inf).fit(X, y)
    >>> small = SoftmaxRegression(C=np.inf).fit(X[:, :1], y)
    >>> res = likelihood_ratio_test(full, X, small, X[:, :1], y)
    >>> res.df, bool(res.pvalue < 1e-6)
    (2, True)
    """
    for name, model in (("full", full), ("restricted", restricted)):
        _check_model(model)
        if _penalty_of(model).C != np.inf:
            raise ValueError(
                f"The {name} model is penalised (C={_penalty_of(model).C:g}): the "
                "likelihood-ratio statistic has its chi-squared law only for "
                "maximum-likelihood fits. Refit both models with C=np.inf, or use "
                "coef_inference(...).wald_test for penalised fits."
            )
    classes = to_host(full.classes_)
    if not np.array_equal(classes, to_host(restricted.classes_)):
        raise ValueError(
            "The models have different classes: "
            f"{classes.tolist()} and {to_host(restricted.classes_).tolist()}."
        )
    for name, model in (("full", full), ("restricted", restricted)):
        if model.class_weight is not None or model.label_smoothing > 0:
            raise ValueError(
                f"The {name} model has class_weight or label_smoothing: its loss "
                "is not a log-likelihood, and the likelihood-ratio statistic has "
                "no chi-squared law. Use coef_inference(..., cov_type='HC0')"
                ".wald_test instead."
            )
    names_full = getattr(full, "feature_names_in_", None)
    names_restricted = getattr(restricted, "feature_names_in_", None)
    if names_full is not None and names_restricted is not None:
        extra = sorted(set(names_restricted) - set(names_full))
        if extra:
            raise ValueError(
                f"The restricted model has features the full model lacks: {extra}; "
                "the models are not nested."
            )
    n_full = full.n_features_in_ + int(full.fit_intercept)
    n_restricted = restricted.n_features_in_ + int(restricted.fit_intercept)
    df = (len(classes) - 1) * (n_full - n_restricted)
    if df <= 0:
        raise ValueError(
            f"The restricted model must have fewer parameters per class than the "
            f"full one; got {n_restricted} and {n_full} (features plus intercept)."
        )
    ll_full = _FitData(full, X_full, y, sample_weight).loglik()
    ll_restricted = _FitData(restricted, X_restricted, y, sample_weight).loglik()
    statistic = 2.0 * (ll_full - ll_restricted)
    if statistic < -1e-6 * max(1.0, abs(ll_full)):
        warnings.warn(
            f"The restricted model fits better than the full one "
            f"(log-likelihoods {ll_restricted:.6g} > {ll_full:.6g}): the models "
            "are not nested, or a fit has not converged.",
            UserWarning,
            stacklevel=2,
        )
    statistic = max(statistic, 0.0)
    return LikelihoodRatioResult(
        statistic, df, float(stats.chi2.sf(statistic, df)), ll_full, ll_restricted
    )


# -- the pieces -------------------------------------------------------------------
class _FitData:
    """A fitted model and validated data: rows, targets and weights as the fit
    saw them (``_targets.prepare_rows``), in float64."""

    def __init__(self, model, X, y, sample_weight, groups=None):
        _check_model(model)
        _check_in_memory(X=X, y=y, sample_weight=sample_weight, groups=groups)
        penalty = _penalty_of(model)
        if penalty.has_l1:
            raise ValueError(
                f"The model has an L1 penalty (l1_ratio={penalty.l1_ratio:g}, "
                f"C={penalty.C:g}): the coefficients were selected by the fit, and "
                "standard errors that ignore the selection are not valid. Refit "
                "with l1_ratio=0 (an L2 penalty) or C=np.inf for inference."
            )
        self.C = float(penalty.C)
        self.W, self.b = _model_parameters(model)
        self.fit_intercept = bool(model.fit_intercept)
        y_shape = np.shape(y)
        soft = len(y_shape) == 2 and y_shape[1] > 1
        if len(y_shape) == 2 and y_shape[1] == 1:
            y = column_or_1d(y, warn=True)
        X, y = validate_data(
            model,
            X,
            y,
            accept_sparse=["csr", "csc"],
            dtype=np.float64,
            multi_output=soft,
            y_numeric=soft,
            reset=False,
        )
        self.classes = to_host(model.classes_)
        K = len(self.classes)
        if soft and y.shape[1] != K:
            raise ValueError(
                f"y holds probability rows of {y.shape[1]} classes; the model has "
                f"{K} (columns in model.classes_ order)."
            )
        self.sample_weight = _check_sample_weight(
            sample_weight, X, dtype=np.float64, ensure_non_negative=True
        )
        blocks, total = prepare_rows(
            RowBlocks.whole(X, y, self.sample_weight),
            self.classes,
            label_smoothing=model.label_smoothing,
            class_weight=model.class_weight,
        )
        (block,) = blocks.blocks
        self.X, self.target = X, block.target
        self.s = block.weight * total  # s_i = sample_weight_i * class weight_i
        self.n_classes = K
        self.d = X.shape[1]
        self.feature_names = _feature_names(model, self.d)
        self.groups = None
        if groups is not None:
            groups = column_or_1d(groups)
            check_consistent_length(X, groups)
            _, self.groups = np.unique(groups, return_inverse=True)
            if self.groups.max() < 1:
                raise ValueError('cov_type="cluster" needs at least 2 groups.')

    def probabilities(self):
        """``(n, K)`` probabilities of the model on the rows, float64."""
        b = self.b if self.fit_intercept else None
        return np.asarray(softmax_at(self.X, np.ascontiguousarray(self.W.T), b))

    def loglik(self):
        """The weighted log-likelihood ``-sum_i s_i CE_i``."""
        Z = self.X @ self.W.T
        Z = np.asarray(Z) + (self.b if self.fit_intercept else 0.0)
        return -float(self.s @ cross_entropy_rows(log_softmax(Z), self.target))

    def contrasts(self, order):
        """``[W_k - W_ref, b_k - b_ref]`` of the classes ``order[1:]``."""
        r, others = order[0], order[1:]
        params = self.W[others] - self.W[r]
        if self.fit_intercept:
            params = np.column_stack([params, self.b[others] - self.b[r]])
        return params

    def residuals(self, P, order):
        """``Y' - P'``, target minus probability of the non-reference classes,
        for ``P`` with its columns in ``order`` (the reference first)."""
        if self.target.ndim == 1:
            Y = np.zeros_like(P)
            Y[np.arange(P.shape[0]), np.argsort(order)[self.target]] = 1.0
        else:
            Y = self.target[:, order]
        return (Y - P)[:, 1:]


def _design_rows(X, a, b, fit_intercept):
    """Dense rows ``[x_i, 1]`` (the 1 with intercepts) of rows ``a:b``."""
    part = X[a:b]
    part = part.toarray() if sp.issparse(part) else np.asarray(part)
    if fit_intercept:
        part = np.column_stack([part, np.ones(part.shape[0])])
    return part


def _penalty_of(model):
    """The model's :class:`Penalty` (a CV model's chosen one)."""
    if hasattr(model, "C_"):
        if not getattr(model, "refit", True):
            raise ValueError(
                "A SoftmaxRegressionCV with refit=False holds an average of fold "
                "models, not an optimum: fit it with refit=True for inference."
            )
        return Penalty(model.C_, model.l1_ratio_)
    return Penalty(model.C, model.l1_ratio)


def _check_model(model):
    """Raise unless ``model`` is a fitted SoftmaxRegression (or CV)."""
    if not isinstance(model, SoftmaxRegression):
        raise TypeError(
            "sklearn_softmax.inference works on a fitted SoftmaxRegression or "
            f"SoftmaxRegressionCV; got {type(model).__name__}."
        )
    check_is_fitted(model)


def _model_parameters(model):
    """The fitted ``(K, d)`` coefficients and ``(K,)`` intercepts, centred, on
    the host in float64."""
    _check_model(model)
    coef = to_host(model.coef_)
    if sp.issparse(coef):
        coef = coef.toarray()
    return full_parameters(coef, to_host(model.intercept_))


def _check_in_memory(**arrays):
    """Raise for Dask collections and array-API arrays among ``arrays``."""
    for name, a in arrays.items():
        if a is not None and input_backend(a) is not None:
            raise TypeError(
                f"{name} is a {type(a).__module__}.{type(a).__name__}: "
                "sklearn_softmax.inference works on data in memory (NumPy "
                "arrays, SciPy sparse matrices, pandas). Its matrices are "
                "(K - 1)(d + 1) square whatever the number of rows, so bring the "
                "rows to the host: X.compute() for a Dask collection, a NumPy "
                "copy (e.g. X.cpu().numpy()) for an array-API array."
            )


def _check_alpha(alpha):
    if not isinstance(alpha, Real) or not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1); got {alpha!r}.")
    return float(alpha)


def _class_index(classes, reference):
    """Index of the reference class in ``classes`` (the first by default)."""
    if reference is None:
        return 0
    matches = [i for i, c in enumerate(classes.tolist()) if c == reference]
    if not matches:
        raise ValueError(
            f"reference={reference!r} is not a class of the model; the classes "
            f"are {classes.tolist()[:20]}."
        )
    return matches[0]


def _feature_names(model, d):
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        names = [f"x{j}" for j in range(d)]
    return np.asarray(names, dtype=object)


def _add_penalty_hessian(H, fit):
    """Add the L2 penalty's Hessian, in contrast coordinates, to ``H`` in place.

    The penalty ``||W||^2 / (2 C)`` (unnormalised scale) of the centred
    coefficients, as a function of the contrasts ``beta_k = W_k - W_ref``, is
    ``sum_kl beta_k^T beta_l ([k = l] - 1/K) / (2 C)``: its Hessian is
    ``(I - 1 1^T / K) / C`` per feature (``I / (2 C)`` for two classes, the
    log-odds rule), on the coefficients only.
    """
    if fit.C == np.inf:
        return
    K, d = fit.n_classes, fit.d
    d1 = d + int(fit.fit_intercept)
    features = np.arange(d)
    for k in range(K - 1):
        for m in range(K - 1):
            H[k * d1 + features, m * d1 + features] += (float(k == m) - 1.0 / K) / fit.C


def _penalty_gradient(fit, others):
    """Gradient of that penalty at the fit: ``W_k / C`` (centred ``W``) for the
    coefficients of the non-reference classes, 0 for the intercepts."""
    grad = np.zeros((len(others), fit.d + int(fit.fit_intercept)))
    if fit.C != np.inf:
        grad[:, : fit.d] = fit.W[others] / fit.C
    return grad.ravel()


def _score_sum(fit, R):
    """``sum_i s_i r_i (x) x1_i``, class-major, for residuals ``R`` (n, K - 1)."""
    G = fit.s[:, None] * R
    score = np.asarray(fit.X.T @ G).T
    if fit.fit_intercept:
        score = np.column_stack([score, G.sum(axis=0)])
    return score.ravel()


def _check_optimum(H_inv, gradient):
    """Warn when a Newton step from the fit is long in standard errors: the
    model is not at the optimum of the data it is given."""
    se = np.sqrt(np.diag(H_inv))
    step = np.max(np.abs(H_inv @ gradient) / se)
    if step > _MAX_STEP_IN_SE:
        warnings.warn(
            "The model is not at the optimum of the objective on these data: a "
            f"Newton step from its coefficients moves one by {step:.3g} of its "
            "standard error. Pass the data it was fitted on (X, y and "
            "sample_weight), or refit with a smaller tol; the results are taken "
            "at the model's coefficients as they are.",
            UserWarning,
            stacklevel=3,
        )


def _inverse_information(H, fit):
    """``H^-1`` of the symmetric information matrix ``H`` (overwritten), by
    Cholesky after equilibration; a ValueError if ``H`` is singular.

    Singular means: not positive definite in floating point, or a reciprocal
    condition number (LAPACK's estimate, of the equilibrated matrix) below
    ``m * eps``, numpy's ``matrix_rank`` rule.  No pseudo-inverse: a rank
    problem is reported, never hidden.
    """
    m = H.shape[0]
    diag = np.diag(H).copy()
    if not np.all(diag > 0):
        _raise_singular(fit, 0.0)
    scale = 1.0 / np.sqrt(diag)
    H *= scale
    H *= scale[:, None]
    H = (H + H.T) / 2.0
    anorm = np.abs(H).sum(axis=0).max()
    lapack = scipy.linalg.lapack
    # H is symmetric, so its transpose is the Fortran-ordered matrix LAPACK wants
    factor, info = lapack.dpotrf(H.T, lower=0, overwrite_a=1)
    rcond = 0.0
    if info == 0:
        rcond, _ = lapack.dpocon(factor, anorm)
    if info != 0 or rcond < m * np.finfo(np.float64).eps:
        _raise_singular(fit, rcond)
    inv, info = lapack.dpotri(factor, overwrite_c=1)
    inv = np.triu(inv) + np.triu(inv, 1).T
    inv *= scale
    inv *= scale[:, None]
    return inv


def _raise_singular(fit, rcond):
    """The ValueError for a singular information matrix, naming the collinear
    columns when the (weighted) design itself is rank-deficient."""
    where = _collinear_columns(fit)
    if where:
        cause = (
            f"the columns {where} of [X, 1] (the 1 for the intercept) are "
            "collinear on the rows with positive weight"
        )
    else:
        cause = (
            "the design has full rank, so the probabilities are degenerate: a "
            "class with (nearly) no rows, or classes the model separates"
        )
    raise ValueError(
        "The information matrix is singular (reciprocal condition number "
        f"{rcond:.2g}): {cause}, so the class contrasts are not identified and "
        "have no standard errors. Drop redundant features, or use a finite C "
        "(the penalty identifies the coefficients, not the intercepts)."
    )


def _collinear_columns(fit):
    """Names of the columns of ``[X, 1]`` in a null vector of the weighted
    Gram matrix, or an empty list when it has full rank."""
    d1 = fit.d + int(fit.fit_intercept)
    gram = np.zeros((d1, d1))
    rows = max(1, CHUNK_ELEMENTS // d1)
    for a in range(0, fit.X.shape[0], rows):
        X1 = _design_rows(fit.X, a, a + rows, fit.fit_intercept)
        gram += (X1 * fit.s[a : a + rows, None]).T @ X1
    norms = np.sqrt(np.diag(gram))
    if np.any(norms == 0):
        null = (norms == 0).astype(float)
    else:
        values, vectors = np.linalg.eigh(gram / norms / norms[:, None])
        if values[0] > d1 * np.finfo(np.float64).eps * values[-1]:
            return []
        null = vectors[:, 0]
    names = [str(name) for name in fit.feature_names] + ["intercept"]
    return [names[j] for j in np.flatnonzero(np.abs(null) > 1e-3 * np.abs(null).max())]


def _meat(fit, R, groups=None):
    """The middle of the sandwich: ``sum_i w_i g_i g_i^T`` per observation
    (``g_i = c_i r_i (x) x1_i``, a row of frequency weight ``w_i`` being
    ``w_i`` observations whose score factor ``c_i = s_i / w_i`` holds the
    class weight), or ``sum_g u_g u_g^T`` with ``u_g = sum_(i in g) s_i r_i (x)
    x1_i`` for clusters."""
    n = fit.X.shape[0]
    K1 = R.shape[1]
    d1 = fit.d + int(fit.fit_intercept)
    m = K1 * d1
    if groups is None:
        sw = fit.sample_weight
        c = np.divide(fit.s, np.sqrt(sw), out=np.zeros(n), where=sw > 0)
    else:
        c = fit.s
        n_groups = groups.max() + 1
        sums = np.zeros((n_groups, m))
    B = np.zeros((m, m))
    rows = max(256, CHUNK_ELEMENTS // m)
    for a in range(0, n, rows):
        X1 = _design_rows(fit.X, a, a + rows, fit.fit_intercept)
        CR = c[a : a + rows, None] * R[a : a + rows]
        U = (CR[:, :, None] * X1[:, None, :]).reshape(X1.shape[0], m)
        if groups is None:
            B += U.T @ U
        else:
            g = groups[a : a + rows]
            indicator = sp.csr_matrix(
                (np.ones(len(g)), (g, np.arange(len(g)))), shape=(n_groups, len(g))
            )
            sums += indicator @ U
    if groups is not None:
        B = sums.T @ sums
    return B
