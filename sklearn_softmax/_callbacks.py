"""scikit-learn's callback API (``sklearn.callback``, scikit-learn >= 1.9).

The estimators take :class:`CallbackSupport` as a base: scikit-learn's
``CallbackSupportMixin`` where it exists (``set_callbacks``), an empty class
where it does not.  A fit with callbacks set opens its root task
(:func:`open_fit_task`) and hands :func:`fit_path` a :class:`PathReporter`:
every iterate of every solver becomes one leaf task
(:class:`IterationReporter`, the solvers' ``on_iterate``), ending with the
reconstruction attributes ``classes_``, ``coef_`` and ``intercept_`` of that
iterate, converted as the fit converts its result
(:func:`~sklearn_softmax._path.model_attributes`).  A task's end may ask to
stop: the solve then ends at that iterate.  Without callbacks nothing here
runs: no task, no hook, no conversion.
"""

from types import SimpleNamespace

from ._path import model_attributes

__all__ = [
    "CALLBACKS_AVAILABLE",
    "CallbackSupport",
    "IterationReporter",
    "PathReporter",
    "close_fit_task",
    "open_fit_task",
]

try:
    from sklearn.callback import CallbackSupportMixin as CallbackSupport

    CALLBACKS_AVAILABLE = True
except ImportError:  # scikit-learn < 1.9: no callback API

    class CallbackSupport:
        """Stand-in for scikit-learn's ``CallbackSupportMixin`` (< 1.9): nothing."""

    CALLBACKS_AVAILABLE = False


def open_fit_task(estimator, *, max_subtasks, X, y, metadata, sequential=True):
    """Begin the fit's root task; its context, or None without callbacks.

    Also None under scikit-learn < 1.9, where no callback can be set.
    """
    if not getattr(estimator, "_skl_callbacks", None):
        return None
    task = estimator._init_callback_context(
        max_subtasks=max_subtasks, sequential_subtasks=sequential
    )
    task.call_on_fit_task_begin(estimator=estimator, X=X, y=y, metadata=metadata)
    return task


def close_fit_task(task, estimator, *, X, y, metadata):
    """End the fit's root task opened by :func:`open_fit_task` (None: nothing).

    The fitted estimator itself is the task's model: no reconstruction.
    """
    if task is not None:
        task.call_on_fit_task_end(
            estimator=estimator,
            X=X,
            y=y,
            metadata=metadata,
            reconstruction_attributes={},
        )


class PathReporter:
    """Tasks for the fits of a path (:class:`~sklearn_softmax._path.PathHooks`).

    With ``per_penalty`` each penalty is a subtask of ``task`` (named by its
    ``C``, ``max_iter`` subtasks), ending with the reconstruction attributes
    of its solution, and its iterations are nested in it; without it (one
    penalty) the iterations are ``task``'s own subtasks.

    Parameters
    ----------
    estimator : estimator
        The one the hooks are called for.
    task : CallbackContext
        The task the fits belong to.
    data : FitInput
        The training data of the fits (its classes and dtype).
    X, y, metadata
        What the hooks are shown as the training data of each task.
    finish_fit : callable
        The backend's: where the reconstructed arrays must live (array-API
        inputs: on ``X``'s device).
    max_iter : int
        Iterations per fit at most.
    per_penalty : bool, default=False
        One subtask per penalty.
    """

    def __init__(
        self,
        estimator,
        task,
        data,
        X,
        y,
        metadata,
        finish_fit,
        max_iter,
        *,
        per_penalty=False,
    ):
        self.estimator, self.task, self.data = estimator, task, data
        self.shown = dict(X=X, y=y, metadata=metadata)
        self.finish_fit, self.max_iter = finish_fit, max_iter
        self.per_penalty = per_penalty
        self.current = task

    def attributes(self, W, b, centred):
        """Reconstruction attributes of solver parameters, where ``X`` lives."""
        attributes, _ = model_attributes(self.data, W, b, centred=centred)
        arrays = SimpleNamespace(_fitted_arrays=("coef_", "intercept_"), **attributes)
        self.finish_fit(arrays, self.shown["X"], self.shown["y"])
        return {name: getattr(arrays, name) for name in attributes}

    def begin(self, penalty):
        """Open the penalty's task (``per_penalty``); its solve's hook."""
        if self.per_penalty:
            self.current = self.task.subcontext(
                task_name=f"C={penalty.C:g}", max_subtasks=self.max_iter
            )
            self.current.call_on_fit_task_begin(estimator=self.estimator, **self.shown)
        return IterationReporter(self, self.current, penalty.centred)

    def end(self, point):
        """Close the penalty's task with its solution (``per_penalty``)."""
        if self.per_penalty:
            result, centred = point.result, point.penalty.centred
            self.current.call_on_fit_task_end(
                estimator=self.estimator,
                reconstruction_attributes=lambda: self.attributes(
                    result.W, result.b, centred
                ),
                **self.shown,
            )


class IterationReporter:
    """One solve's ``on_iterate`` (:class:`~sklearn_softmax._solver.IterationHook`).

    Each iterate is a leaf subtask of ``task``: its begin hook, then its end
    hook with the iterate's reconstruction attributes (computed only if a
    callback asks for ``fitted_estimator``), whose request to stop is passed
    back to the solver.  Both are called at the iterate: the begin hook gets
    no reconstruction attributes.  ``task`` takes ``max_iter`` subtasks;
    further iterates (none: a solve counts at most that many) are not shown.
    """

    def __init__(self, reporter, task, centred):
        self.reporter, self.task, self.centred = reporter, task, centred
        self.count = 0

    def __call__(self, model):
        reporter = self.reporter
        if self.count >= reporter.max_iter:
            return False
        self.count += 1
        iteration = self.task.subcontext(task_name="iteration")
        iteration.call_on_fit_task_begin(estimator=reporter.estimator, **reporter.shown)
        return iteration.call_on_fit_task_end(
            estimator=reporter.estimator,
            reconstruction_attributes=lambda: reporter.attributes(
                *model(), self.centred
            ),
            **reporter.shown,
        )
