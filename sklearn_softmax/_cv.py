"""SoftmaxRegressionCV: ``C`` (and ``l1_ratio``) chosen by cross-validation.

Per fold and ``l1_ratio`` the ``Cs`` are fitted along a warm-started path
(``_path``), from the strongest penalty to the weakest; every fit on the path
is an optimum to ``tol``, so the scores compared are those of the models the
objective defines.  Then the best point is refitted on all data.
"""

import copy
import inspect
from dataclasses import replace
from numbers import Integral

import numpy as np
from sklearn.base import _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import check_scoring, get_scorer_names
from sklearn.model_selection import check_cv
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metadata_routing import (
    UNUSED,
    MetadataRouter,
    MethodMapping,
    _raise_for_params,
    _routing_enabled,
    process_routing,
)
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import _check_method_params, check_is_fitted

from ._callbacks import PathReporter, close_fit_task, open_fit_task
from ._objective import full_parameters
from ._path import fit_path
from ._penalty import Penalty
from ._precondition import class_priors
from ._softmax import (
    SoftmaxRegression,
    backend_for,
    fit_diagnosis,
    iteration_count,
    warn_at_caller,
)
from ._targets import class_weight_vector, prepare_rows
from .metrics import make_cross_entropy_scorer

__all__ = ["SoftmaxRegressionCV"]

_NAME = "SoftmaxRegressionCV"


class SoftmaxRegressionCV(SoftmaxRegression):
    """Softmax regression with ``C`` and ``l1_ratio`` chosen by cross-validation.

    For every fold and every ``l1_ratio``, :class:`SoftmaxRegression`'s
    objective is minimised for each ``C`` of ``Cs`` along a path: from the
    smallest ``C`` (strongest penalty) to the largest, each fit starting from
    the previous optimum, mapped exactly into the next fit's preconditioned
    coordinates.  Every fit on the path stops on the same gradient rule as
    :class:`SoftmaxRegression` (it is at the optimum, also on unscaled data),
    and is scored on the held-out fold.  The ``(C, l1_ratio)`` with the best
    mean score is then refitted on all data, starting from the mean of the
    fold solutions there.

    :meth:`score` follows ``scoring`` too: by default it returns **minus the
    mean cross-entropy**, not accuracy as a classifier's ``score`` usually
    does, so ``cross_val_score(SoftmaxRegressionCV(), X, y)`` gives negative
    numbers (closer to 0 is better).  Pass ``scoring="accuracy"`` to
    ``cross_val_score`` for accuracy.

    Parameters
    ----------
    Cs : int or array-like of float, default=10
        Values of ``C`` to try; an int ``n`` gives ``np.logspace(-4, 4, n)``
        (scikit-learn's grid).  ``np.inf`` (no penalty) is allowed.
    l1_ratios : array-like of float in [0, 1], default=(0.0,)
        Values of ``l1_ratio`` to try (see :class:`SoftmaxRegression`).
    cv : int, cross-validation generator or iterable, default=None
        As in scikit-learn; None is 5 folds, stratified for labels and plain
        :class:`~sklearn.model_selection.KFold` for probability targets.
    scoring : str, callable or None, default=None
        A scikit-learn scorer.  None is minus the mean cross-entropy computed
        exactly from the scores
        (:func:`~sklearn_softmax.metrics.make_cross_entropy_scorer` with
        ``from_logits=True``); it also scores probability targets.
    refit : bool, default=True
        Refit the best ``(C, l1_ratio)`` on all data.  If False, ``coef_`` and
        ``intercept_`` are the means over the folds of each fold's best model,
        and ``C_`` and ``l1_ratio_`` the means of the values chosen per fold.
    fit_intercept : bool, default=True
        Whether to fit the (unpenalised) intercepts.
    class_weight : dict, "balanced" or None, default=None
        As in :class:`SoftmaxRegression`; "balanced" is computed once on all of
        ``y`` (not per fold).
    label_smoothing : float in [0, 1), default=0.0
        As in :class:`SoftmaxRegression` (the fits' targets; the scorer sees
        ``y`` unchanged).
    solver : {"auto", "lbfgs", "newton-cg", "newton-cholesky"}, default="auto"
        As in :class:`SoftmaxRegression`.
    max_iter : int, default=1000
        Maximum number of iterations of each fit.
    tol : float, default=1e-6
        The stopping rule of every fit, as in :class:`SoftmaxRegression`.
    n_jobs : int, default=None
        Folds (times ``l1_ratios``) fitted in parallel by joblib; None is 1.
        Each job's kernel uses the threads joblib leaves it.  Ignored for
        array-API inputs (their folds run one after another on the device).
    verbose : int, default=0
        Verbosity of joblib and, above 1, of the solver.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        Coefficients of the final model (see :class:`SoftmaxRegression`).
    intercept_ : ndarray of shape (1,) or (n_classes,)
        Intercepts of the final model.
    C_ : float
        The chosen ``C``.
    l1_ratio_ : float
        The chosen ``l1_ratio``.
    Cs_ : ndarray of shape (n_Cs,)
        The grid of ``C``, in the order given.
    l1_ratios_ : ndarray of shape (n_l1_ratios,)
        The grid of ``l1_ratio``.
    scores_ : ndarray of shape (n_folds, n_l1_ratios, n_Cs)
        Held-out score of every fit of the path.
    coefs_paths_ : ndarray of shape (n_folds, n_l1_ratios, n_Cs, n_classes or 1, \
n_features + fit_intercept)
        Every fit's ``coef_`` with its ``intercept_`` as the last column, as
        :class:`SoftmaxRegression` reports them (one row for two classes).
    n_iter_ : ndarray of shape (n_folds, n_l1_ratios, n_Cs), dtype int32
        Iterations of every fit of the path (warm starts: usually few).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Feature names seen during fit, when ``X`` has string column names.

    See Also
    --------
    SoftmaxRegression : The estimator fitted along the path.
    sklearn.linear_model.LogisticRegressionCV : The same search; these
        attributes follow its ``use_legacy_attributes=False`` layout, with
        its ``Cs`` twice ours for two classes.

    Notes
    -----
    A training fold that misses a class (even every class but one) still fits
    all classes: that class's intercept goes towards ``-inf`` until its
    gradient (its mean predicted probability on the fold) meets ``tol``, so its
    probability is small but finite, the model has every column of
    ``classes_`` and scores stay finite unless the scorer itself gives
    ``-inf``.  A held-out fold that misses classes is scored on all of them:
    as in ``LogisticRegressionCV``, a scorer whose metric takes ``labels``
    (``"neg_log_loss"``, ``"neg_brier_score"``, ...) gets ``labels=classes_``
    (and ``pos_label=classes_[-1]`` for two classes, where the metric takes
    one) unless it sets them itself.

    Metadata routing (``sklearn.set_config(enable_metadata_routing=True)``):
    ``fit`` routes ``groups`` (and any split parameter) to ``cv``, uses
    ``sample_weight`` in every fit and routes it to the scorer where the
    scorer requests it.  :meth:`score` routes ``sample_weight`` to the scorer
    alone: if the scorer does not request it, ``score`` raises a ``TypeError``
    (an unset request: ``UnsetMetadataPassedError``), as
    ``LogisticRegressionCV.score`` does, rather than ignore the weights.
    Without routing, ``groups`` goes to ``cv`` and ``sample_weight`` to the
    fits and to the scorer.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn_softmax import SoftmaxRegressionCV
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = SoftmaxRegressionCV(Cs=5).fit(X, y)
    >>> clf.Cs_
    array([1.e-04, 1.e-02, 1.e+00, 1.e+02, 1.e+04])
    >>> float(clf.C_), clf.scores_.shape, clf.coefs_paths_.shape
    (100.0, (5, 1, 5), (5, 1, 5, 3, 5))
    >>> clf.predict(X[:2])
    array([0, 0])
    """

    _parameter_constraints = {
        **{
            key: value
            for key, value in SoftmaxRegression._parameter_constraints.items()
            if key not in ("C", "l1_ratio", "warm_start")
        },
        "Cs": [Interval(Integral, 1, None, closed="left"), "array-like"],
        "l1_ratios": ["array-like"],
        "cv": ["cv_object"],
        "scoring": [StrOptions(set(get_scorer_names())), callable, None],
        "refit": ["boolean"],
        "n_jobs": [Integral, None],
    }

    def __init__(
        self,
        Cs=10,
        *,
        l1_ratios=(0.0,),
        cv=None,
        scoring=None,
        refit=True,
        fit_intercept=True,
        class_weight=None,
        label_smoothing=0.0,
        solver="auto",
        max_iter=1000,
        tol=1e-6,
        n_jobs=None,
        verbose=0,
    ):
        self.Cs = Cs
        self.l1_ratios = l1_ratios
        self.cv = cv
        self.scoring = scoring
        self.refit = refit
        self.fit_intercept = fit_intercept
        self.class_weight = class_weight
        self.label_smoothing = label_smoothing
        self.solver = solver
        self.max_iter = max_iter
        self.tol = tol
        self.n_jobs = n_jobs
        self.verbose = verbose

    # score's sample_weight goes to the scorer, never to self: with routing,
    # weights the scorer does not request are an error, not dropped
    __metadata_request__score = {"sample_weight": UNUSED}

    _fitted_arrays = (
        *SoftmaxRegression._fitted_arrays,
        "Cs_",
        "l1_ratios_",
        "scores_",
        "coefs_paths_",
    )  # n_iter_ is one of SoftmaxRegression's

    def _grids(self):
        """``Cs_`` and ``l1_ratios_`` checked, as float64 arrays."""
        if isinstance(self.Cs, Integral):
            Cs = np.logspace(-4, 4, self.Cs)
        else:
            Cs = np.asarray(self.Cs, dtype=np.float64)
            if Cs.ndim != 1 or Cs.size == 0 or not np.all(Cs > 0):
                raise ValueError(
                    "Cs must be a positive int or a non-empty 1-D sequence of "
                    f"positive floats (np.inf allowed); got {self.Cs!r}."
                )
        l1 = np.asarray(self.l1_ratios, dtype=np.float64)
        if l1.ndim != 1 or l1.size == 0 or not np.all((l1 >= 0) & (l1 <= 1)):
            raise ValueError(
                "l1_ratios must be a non-empty 1-D sequence of floats in [0, 1]; "
                f"got {self.l1_ratios!r}."
            )
        for r in l1:
            for C in Cs:
                Penalty(C, r).check_solver(self.solver)
        return Cs, l1

    def _get_scorer(self):
        if self.scoring is None:
            return make_cross_entropy_scorer(from_logits=True)
        return check_scoring(self, scoring=self.scoring)

    def _metadata(self, method, sample_weight, params):
        """``(split_params, score_params)`` for ``method`` (see the class Notes)."""
        if _routing_enabled():
            if sample_weight is not None:  # None is no metadata, as in scikit-learn
                params = {**params, "sample_weight": sample_weight}
            routed = process_routing(self, method, **params)
            split = routed.splitter.split if method == "fit" else {}
            return split, routed.scorer.score
        params = dict(params)
        groups = params.pop("groups", None) if method == "fit" else None
        _raise_for_params(params, self, method)
        split = {} if groups is None else {"groups": groups}
        score = {} if sample_weight is None else {"sample_weight": sample_weight}
        return split, score

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, **params):
        """Fit the path on every fold, choose ``(C, l1_ratio)``, refit.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data; CSR or CSC sparse, float32 kept as float32.
        y : array-like of shape (n_samples,) or (n_samples, n_classes)
            Class labels, or rows of class probabilities (columns labelled
            ``0 .. n_classes - 1``), as in :meth:`SoftmaxRegression.fit`.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights, used by every fit (and by the scorer; see
            the class Notes).
        **params : dict
            ``groups`` for the splitter; with metadata routing enabled, any
            metadata the splitter or the scorer requests.

        Returns
        -------
        self : SoftmaxRegressionCV
            The fitted estimator.
        """
        Cs, l1_ratios = self._grids()
        split_params, score_params = self._metadata("fit", sample_weight, params)
        backend = backend_for(X)
        if not backend.in_memory:
            raise TypeError(
                f"{_NAME} fits in-memory NumPy or SciPy data (or array-API arrays "
                f"under array_api_dispatch); got {type(X).__module__}."
                f"{type(X).__name__}. Compute it first, or search C with "
                "SoftmaxRegression on the collection."
            )
        data = backend.fit_input(self, X, y, sample_weight, None)
        X_all, y_all, _ = data.arrays()
        options = replace(
            self._fit_options(),
            class_weight=self._class_weight_dict(data),
            verbose=max(0, self.verbose - 1),
        )
        splitter = check_cv(self.cv, y_all, classifier=True)
        folds = list(splitter.split(X_all, y_all, **split_params))
        scorer = _scorer_with_labels(self._get_scorer(), data.classes)
        # scikit-learn's callbacks (>= 1.9): a task per fold path (in parallel:
        # ids given) with a subtask per C, and one for the refit
        n_runs = len(folds) * len(l1_ratios)
        metadata = None if sample_weight is None else {"sample_weight": sample_weight}
        task = open_fit_task(
            self,
            max_subtasks=n_runs + bool(self.refit),
            X=X,
            y=y,
            metadata=metadata,
            sequential=False,
        )
        reporters = [None] * n_runs
        if task is not None:
            # created here, before the workers get copies, as GridSearchCV does
            reporters = [
                PathReporter(
                    self,
                    task.subcontext(task_name="fold", task_id=i, max_subtasks=len(Cs)),
                    data,
                    None,
                    None,
                    None,
                    backend.finish_fit,
                    self.max_iter,
                    per_penalty=True,
                )
                for i in range(n_runs)
            ]
        runs = Parallel(
            n_jobs=self.n_jobs if backend.parallel_folds else 1, verbose=self.verbose
        )(
            delayed(_fold_path)(
                data,
                train,
                test,
                Cs,
                l1_ratio,
                options,
                scorer=scorer,
                score_params=_check_method_params(X_all, score_params, indices=test),
                finish_fit=backend.finish_fit,
                reporter=reporter,
                weighted=sample_weight is not None,
            )
            for (train, test), l1_ratio, reporter in zip(
                [fold for fold in folds for _ in l1_ratios],
                [r for _ in folds for r in l1_ratios],
                reporters,
                strict=True,
            )
        )
        shape = (len(folds), len(l1_ratios), len(Cs))
        self.scores_ = np.array([run[0] for run in runs]).reshape(shape)
        self.coefs_paths_ = np.array([run[1] for run in runs])
        self.coefs_paths_ = self.coefs_paths_.reshape(
            shape + self.coefs_paths_.shape[2:]
        )
        self.n_iter_ = np.array([run[2] for run in runs]).reshape(shape)
        for fold_index, run in enumerate(runs):
            for message in run[3]:
                fold = fold_index // len(l1_ratios)
                warn_at_caller(f"(fold {fold}) {message}", ConvergenceWarning)
        self.Cs_, self.l1_ratios_, self.classes_ = Cs, l1_ratios, data.classes

        if self.refit:
            # The best mean score; ties go to the first C, then the first ratio.
            best = np.argmax(self.scores_.sum(axis=0).T)
            c, r = np.unravel_index(best, (len(Cs), len(l1_ratios)))
            self.C_, self.l1_ratio_ = float(Cs[c]), float(l1_ratios[r])
            coef, intercept = _split_columns(
                self.coefs_paths_[:, r, c].mean(axis=0),
                data.n_features,
                self.fit_intercept,
            )
            hooks = None
            if task is not None:
                refit = task.subcontext(
                    task_name="refit", task_id=n_runs, max_subtasks=self.max_iter
                )
                refit.call_on_fit_task_begin(
                    estimator=self, X=X, y=y, metadata=metadata
                )
                hooks = PathReporter(
                    self, refit, data, X, y, metadata, backend.finish_fit, self.max_iter
                )
            (point,) = fit_path(
                data,
                [Penalty(self.C_, self.l1_ratio_)],
                options,
                start=full_parameters(coef, intercept),
                hooks=hooks,
            )
            message = fit_diagnosis(point, name=_NAME)
            if message is not None:
                warn_at_caller(f"(refit) {message}", ConvergenceWarning)
            self._set_model(data, point)
            if task is not None:
                refit.call_on_fit_task_end(
                    estimator=self,
                    X=X,
                    y=y,
                    metadata=metadata,
                    reconstruction_attributes=lambda: hooks.attributes(
                        point.result.W, point.result.b, point.penalty.centred
                    ),
                )
        else:
            best = self.scores_.reshape(len(folds), -1).argmax(axis=1)
            r, c = np.unravel_index(best, (len(l1_ratios), len(Cs)))
            self.C_ = float(np.mean(Cs[c]))
            self.l1_ratio_ = float(np.mean(l1_ratios[r]))
            mean = self.coefs_paths_[np.arange(len(folds)), r, c].mean(axis=0)
            coef, intercept = _split_columns(mean, data.n_features, self.fit_intercept)
            self.coef_ = coef.astype(data.dtype)
            self.intercept_ = intercept.astype(data.dtype)
        backend.finish_fit(self, X, y)
        close_fit_task(task, self, X=X, y=y, metadata=metadata)
        return self

    def _class_weight_dict(self, data):
        """``class_weight``, with "balanced" computed once on all of ``y``.

        Checks first that two classes of all of ``y`` carry weight: the folds
        are fitted with one (a fold may miss classes), not the data.
        """
        blocks, _ = prepare_rows(
            data.blocks,
            data.classes,
            label_smoothing=self.label_smoothing,
            class_weight=None,
        )
        if self.class_weight != "balanced":
            return self.class_weight
        prior = class_priors(blocks, data.classes.shape[0])
        weights = class_weight_vector("balanced", data.classes, prior)
        return dict(zip(data.classes.tolist(), weights.tolist(), strict=True))

    def score(self, X, y, sample_weight=None, **params):
        """Score of the final model with ``scoring`` (default: minus the mean
        cross-entropy).

        Not accuracy, unless ``scoring="accuracy"``: by default a better model
        scores closer to 0 from below (``LogisticRegressionCV.score`` follows
        its ``scoring`` in the same way).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_classes)
            Labels, or probability rows for the default scorer.
        sample_weight : array-like of shape (n_samples,), default=None
            Passed to the scorer.  With metadata routing enabled, only where
            the scorer requests it; otherwise this raises (see the class
            Notes).
        **params : dict
            With metadata routing enabled, metadata for the scorer.

        Returns
        -------
        score : float
            Greater is better.
        """
        check_is_fitted(self)
        _, score_params = self._metadata("score", sample_weight, params)
        return self._get_scorer()(self, X, y, **score_params)

    def get_metadata_routing(self):
        """Metadata routing: ``cv`` gets split metadata, the scorer its own.

        Returns
        -------
        routing : sklearn.utils.metadata_routing.MetadataRouter
            What :meth:`fit` and :meth:`score` route where.
        """
        return (
            MetadataRouter(owner=self)
            .add_self_request(self)
            .add(
                splitter=check_cv(self.cv),
                method_mapping=MethodMapping().add(caller="fit", callee="split"),
            )
            .add(
                scorer=self._get_scorer(),
                method_mapping=MethodMapping()
                .add(caller="fit", callee="score")
                .add(caller="score", callee="score"),
            )
        )


def _scorer_with_labels(scorer, classes):
    """``scorer`` told the classes of all of ``y``, for held-out folds.

    A held-out fold can miss classes, and metrics such as ``log_loss`` or
    ``brier_score_loss`` then cannot tell which columns of ``predict_proba``
    are which: as ``LogisticRegressionCV`` does, a scorer made by
    :func:`~sklearn.metrics.make_scorer` whose metric takes ``labels`` gets
    ``labels=classes`` (and, for two classes, ``pos_label=classes[-1]`` where
    the metric takes one), unless the scorer already sets them.  The scorer is
    copied, keeping its metadata requests; other scorers are returned as they
    are (ours, from :func:`~sklearn_softmax.metrics.make_cross_entropy_scorer`,
    take the estimator's ``classes_`` already).

    Parameters
    ----------
    scorer : callable
        The scorer, as :func:`~sklearn.metrics.check_scoring` returns it.
    classes : ndarray of shape (n_classes,)
        The classes of all of ``y``.

    Returns
    -------
    scorer : callable
    """
    score_func = getattr(scorer, "_score_func", None)
    kwargs = getattr(scorer, "_kwargs", None)
    if score_func is None or not isinstance(kwargs, dict):
        return scorer
    signature = inspect.signature(score_func).parameters
    if "labels" not in signature:
        return scorer
    extra = {"labels": classes}
    if classes.shape[0] <= 2 and "pos_label" in signature:
        extra["pos_label"] = classes[-1]
    scorer = copy.copy(scorer)
    scorer._kwargs = {**extra, **kwargs}
    return scorer


def _split_columns(row, n_features, fit_intercept):
    """``(coef, intercept)`` from a ``coefs_paths_`` entry."""
    coef = row[:, :n_features]
    if fit_intercept:
        return coef, row[:, n_features]
    return coef, np.zeros(row.shape[0])


def _fold_path(
    data,
    train,
    test,
    Cs,
    l1_ratio,
    options,
    *,
    scorer,
    score_params,
    finish_fit,
    reporter=None,
    weighted=False,
):
    """One fold and ``l1_ratio``: fit every ``C`` (increasing), score each.

    Returns ``(scores, coefs, n_iter, messages)`` with ``scores`` and
    ``n_iter`` of shape (n_Cs,), ``coefs`` of shape (n_Cs, K or 1,
    d + fit_intercept) in the order of ``Cs``, and the ConvergenceWarning
    texts (warned by the caller: joblib's workers would lose them).
    ``finish_fit`` is the backend's: the scored models live where ``X`` does.
    ``reporter``, with callbacks, is the fold's task (a
    :class:`~sklearn_softmax._callbacks.PathReporter`), shown the training
    rows (and, ``weighted``, their sample weights as metadata).
    """
    order = np.argsort(Cs, kind="stable")
    penalties = [Penalty(C, l1_ratio) for C in Cs[order]]
    fold = data.rows(train)
    if reporter is not None:
        X_train, y_train, w_train = fold.arrays()
        metadata = {"sample_weight": w_train} if weighted else None
        reporter.shown = dict(X=X_train, y=y_train, metadata=metadata)
        reporter.task.call_on_fit_task_begin(
            estimator=reporter.estimator, **reporter.shown
        )
    # min_classes=1: a training fold that misses classes, even all but one, is
    # fitted on all of data.classes (see the class Notes)
    path = fit_path(fold, penalties, options, min_classes=1, hooks=reporter)
    if reporter is not None:
        reporter.task.call_on_fit_task_end(
            estimator=reporter.estimator, **reporter.shown
        )
    X_test, y_test, _ = data.rows(test).arrays()
    K, n_features = data.classes.shape[0], data.n_features
    coefs = np.empty((len(Cs), 1 if K == 2 else K, n_features + options.fit_intercept))
    scores, n_iter, messages = np.empty(len(Cs)), np.empty(len(Cs), np.int32), []
    for i, point in zip(order, path, strict=True):
        model = SoftmaxRegression()  # the point as a fitted model, to score
        coef, intercept = model._set_model(data, point)
        model.n_features_in_ = n_features
        model.n_iter_ = iteration_count(point.result.n_iter)
        coefs[i, :, :n_features] = coef
        if options.fit_intercept:
            coefs[i, :, n_features] = intercept
        n_iter[i] = point.result.n_iter
        message = fit_diagnosis(point, name=_NAME)
        if message is not None:
            messages.append(f"(C={Cs[i]:g}, l1_ratio={l1_ratio:g}) {message}")
        finish_fit(model, X_test, None)
        scores[i] = scorer(model, X_test, y_test, **score_params)
    return scores, coefs, n_iter, messages
