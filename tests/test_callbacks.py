"""scikit-learn's callback API (``sklearn.callback``) on both estimators: a
subtask per iteration of every solver with the iterate's model, the CV's
folds x Cs, propagation from meta-estimators, a callback's request to stop."""

import warnings

import numpy as np
import pytest
from _helpers import objective_on
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning

from sklearn_softmax import SoftmaxRegression, SoftmaxRegressionCV
from sklearn_softmax._callbacks import CALLBACKS_AVAILABLE
from sklearn_softmax._solver import CALLBACK_STOP, SolverSettings, solve

needs_callbacks = pytest.mark.skipif(
    not CALLBACKS_AVAILABLE, reason="the callback API needs scikit-learn >= 1.9"
)

# every solver loop: our L-BFGS, L-BFGS-B on the L1 split, the two Newtons,
# the orthant Newton (newton-cg with an L1 part)
SOLVERS = [
    ("lbfgs", 0.0),
    ("lbfgs", 0.5),
    ("newton-cg", 0.0),
    ("newton-cg", 0.5),
    ("newton-cholesky", 0.0),
]


class Recorder:
    """Records every hook call: (hook, task path, task name, fitted_estimator);
    asks to stop at the ``stop_at``-th iteration task."""

    def __init__(self, stop_at=None):
        self.calls, self.stop_at, self.iterations = [], stop_at, 0

    def setup(self, estimator, context):
        self.calls.append(("setup", None, None, None))

    def teardown(self, estimator, context):
        self.calls.append(("teardown", None, None, None))

    def _record(self, hook, context, fitted_estimator):
        path, ctx = [], context
        while ctx is not None:
            path.append((ctx.estimator_name, ctx.task_name, ctx.task_id))
            ctx = ctx.parent
        self.calls.append((hook, tuple(reversed(path)), context, fitted_estimator))

    def on_fit_task_begin(self, estimator, context, *, fitted_estimator=None):
        self._record("begin", context, fitted_estimator)

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        self._record("end", context, fitted_estimator)
        if context.task_name == "iteration":
            self.iterations += 1
            return self.stop_at is not None and self.iterations >= self.stop_at
        return False

    def ends(self, task_name="iteration"):
        return [c for c in self.calls if c[0] == "end" and c[2].task_name == task_name]

    def assert_paired(self):
        """Every task begun is ended once, after its begin, and vice versa."""
        begun = {}
        for hook, path, _, _ in self.calls:
            if hook == "begin":
                assert path not in begun, f"{path} begun twice"
                begun[path] = False
            elif hook == "end":
                assert begun.get(path) is False, f"{path} ended without a begin"
                begun[path] = True
        assert all(begun.values()), "tasks begun and never ended"


class Propagated(Recorder):
    """A Recorder that meta-estimators hand down to their sub-estimators."""

    max_propagation_depth = None


def iris(binary=False):
    X, y = load_iris(return_X_y=True)
    if binary:
        return X[50:], y[50:]
    return X, y


def quiet_fit(estimator, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y)


def test_the_estimators_have_set_callbacks_where_scikit_learn_has_the_api():
    # under scikit-learn < 1.9 they import and fit unchanged, without the API
    for estimator in (SoftmaxRegression(), SoftmaxRegressionCV()):
        assert hasattr(estimator, "set_callbacks") == CALLBACKS_AVAILABLE
    clf = SoftmaxRegression().fit(*iris())
    assert clf.score(*iris()) > 0.95


def test_without_callbacks_no_hook_reaches_the_solver(monkeypatch):
    # callbacks off costs nothing: solve() is handed no on_iterate at all
    seen = []
    from sklearn_softmax import _path

    def spy(objective, theta0, settings):
        seen.append(settings.on_iterate)
        return solve(objective, theta0, settings)

    monkeypatch.setattr(_path, "solve", spy)
    SoftmaxRegression().fit(*iris())
    SoftmaxRegressionCV(Cs=2, cv=2).fit(*iris())
    assert seen and all(hook is None for hook in seen)


@pytest.mark.parametrize("solver", ["lbfgs", "newton-cg", "newton-cholesky"])
def test_the_hook_sees_every_iterate_and_can_stop_the_solve(solver):
    # the solver-level contract a new solver loop must keep (IterationHook)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 3))
    y = rng.integers(0, 3, 60)
    objective = objective_on(
        X,
        y,
        np.full(60, 1 / 60),
        3,
        alpha=0.1,
        fit_intercept=True,
        contrast=solver == "newton-cholesky",
    )
    seen = []

    def hook(model):
        seen.append(model())
        return len(seen) == 2

    settings = SolverSettings(solver, 1e-10, 100, on_iterate=hook)
    result = solve(objective, objective.initial(), settings)
    assert len(seen) == result.n_iter == 2
    assert (result.reason, result.converged) == ("callback", False)
    assert result.message == CALLBACK_STOP
    W, b = seen[-1]  # the solve ends at the iterate the hook was shown
    assert_allclose(result.W, W, rtol=0, atol=0)
    assert_allclose(result.b, b, rtol=0, atol=0)


@needs_callbacks
@pytest.mark.parametrize("solver, l1_ratio", SOLVERS)
def test_one_paired_task_per_iteration_for_every_solver(solver, l1_ratio):
    recorder = Recorder()
    clf = SoftmaxRegression(solver=solver, l1_ratio=l1_ratio)
    clf.set_callbacks(recorder).fit(*iris())
    recorder.assert_paired()
    ends = recorder.ends()
    assert len(ends) == clf.n_iter_[0] > 0
    assert [c[2].task_id for c in ends] == list(range(clf.n_iter_[0]))
    assert recorder.calls[0][0] == "setup" and recorder.calls[-1][0] == "teardown"
    # the root task holds the iterations, at most max_iter of them
    root = recorder.ends("fit")[-1][2]
    assert root.max_subtasks == clf.max_iter and root.parent is None


@needs_callbacks
def test_the_iteration_tasks_stay_within_max_iter():
    recorder = Recorder()
    clf = SoftmaxRegression(solver="lbfgs", tol=0.0, max_iter=5)
    quiet_fit(clf.set_callbacks(recorder), *iris())
    assert len(recorder.ends()) == clf.n_iter_[0] == 5
    recorder = Recorder()  # max_iter=0: the root task is a leaf
    quiet_fit(SoftmaxRegression(max_iter=0).set_callbacks(recorder), *iris())
    assert recorder.ends() == [] and len(recorder.ends("fit")) == 1


@needs_callbacks
@pytest.mark.parametrize("solver, l1_ratio", SOLVERS)
@pytest.mark.parametrize("binary", [False, True])
def test_the_iterates_models_are_the_fits_stopped_there(solver, l1_ratio, binary):
    # the k-th iteration's fitted_estimator predicts as a fit with max_iter=k
    X, y = iris(binary)
    recorder = Recorder()
    clf = SoftmaxRegression(solver=solver, l1_ratio=l1_ratio, C=10.0)
    clf.set_callbacks(recorder).fit(X, y)
    models = [c[3] for c in recorder.ends()]
    n = len(models)
    for k in sorted({1, 2, n}):
        model = models[k - 1]
        # the reported layout: binary log-odds, else the centred gauge (no L1)
        assert model.coef_.shape == (1 if binary else 3, 4)
        if not binary and l1_ratio == 0:
            assert_allclose(model.coef_.sum(axis=0), 0, atol=1e-12)
        stopped = SoftmaxRegression(
            solver=solver, l1_ratio=l1_ratio, C=10.0, max_iter=k
        )
        quiet_fit(stopped, X, y)
        assert_allclose(model.predict_proba(X), stopped.predict_proba(X), atol=1e-12)
    assert_allclose(models[-1].coef_, clf.coef_, rtol=0, atol=0)


@needs_callbacks
@pytest.mark.parametrize("solver, l1_ratio", SOLVERS)
def test_a_callback_stops_the_fit_at_its_iterate(solver, l1_ratio):
    X, y = iris()
    recorder = Recorder(stop_at=3)
    clf = SoftmaxRegression(solver=solver, l1_ratio=l1_ratio, C=100.0)
    with pytest.warns(ConvergenceWarning, match="a callback stopped the fit after 3"):
        clf.set_callbacks(recorder).fit(X, y)
    assert clf.n_iter_[0] == 3 and len(recorder.ends()) == 3
    recorder.assert_paired()
    assert_allclose(
        clf.predict_proba(X), recorder.ends()[-1][3].predict_proba(X), atol=1e-12
    )


@needs_callbacks
def test_a_stop_during_the_float32_polish_ends_there(monkeypatch):
    # float32 L-BFGS hands over to Newton-CG; the iterations count on
    from sklearn_softmax import _solver

    X, y = iris()
    X = X.astype(np.float32)
    free = Recorder()
    SoftmaxRegression(solver="lbfgs", C=1e4).set_callbacks(free).fit(X, y)
    n = len(free.ends())
    polishes = []

    def spy(*args, **kwargs):
        polishes.append(minimize_newton_cg(*args, **kwargs))
        return polishes[-1]

    minimize_newton_cg = _solver.minimize_newton_cg
    monkeypatch.setattr(_solver, "minimize_newton_cg", spy)
    recorder = Recorder(stop_at=n - 1)
    clf = SoftmaxRegression(solver="lbfgs", C=1e4).set_callbacks(recorder)
    with pytest.warns(ConvergenceWarning, match="callback stopped"):
        clf.fit(X, y)
    # the stop came during the polish (this fit has one), which ended there
    assert [p.reason for p in polishes] == ["callback"]
    assert clf.n_iter_[0] == n - 1 == len(recorder.ends())


@needs_callbacks
def test_the_cv_reports_folds_times_cs_and_the_refit():
    X, y = iris()
    recorder = Recorder()
    clf = SoftmaxRegressionCV(Cs=3, cv=3, l1_ratios=[0.0, 0.5])
    clf.set_callbacks(recorder).fit(X, y)
    recorder.assert_paired()
    folds = recorder.ends("fold")
    assert sorted(c[2].task_id for c in folds) == list(range(6))
    for ctx in (c[2] for c in folds):
        assert ctx.max_subtasks == 3 and len(ctx._children_map) == 3
    # each C's iterations, nested in its task, are that fit's n_iter_
    per_c = np.zeros((6, 3), dtype=int)  # (fold, l1_ratio) runs x Cs, as fitted
    for path in (c[1] for c in recorder.ends()):
        if path[1][1] == "fold":
            per_c[path[1][2], path[2][2]] += 1
    order = np.argsort(clf.Cs_)  # the path runs through the Cs increasing
    assert_array_equal(per_c, clf.n_iter_.reshape(6, 3)[:, order])
    # a C's task ends with its solution: it scores as the path's coefficients
    refit = recorder.ends("refit")
    assert len(refit) == 1
    assert_allclose(refit[0][3].predict_proba(X), clf.predict_proba(X), atol=1e-12)


@needs_callbacks
def test_parallel_folds_report_to_the_main_process():
    from sklearn.callback import ScoringMonitor

    monitor = ScoringMonitor(scoring="accuracy")
    clf = SoftmaxRegressionCV(Cs=2, cv=2, n_jobs=2).set_callbacks(monitor)
    clf.fit(*iris())
    log = monitor.get_logs().data_as_pandas
    fold_iterations = log[
        (log.task_name == "iteration") & (log.task_id_path.map(len) == 4)
    ]
    assert len(fold_iterations) == clf.n_iter_.sum()
    assert fold_iterations.accuracy.between(0, 1).all()


@needs_callbacks
def test_scoring_monitor_scores_each_iterate_on_a_validation_set():
    from sklearn.callback import ScoringMonitor

    X, y = iris()
    X_val, y_val = X[::3], y[::3]
    # a callable scoring returns a dict of named scores; X, y (training) unused
    monitor = ScoringMonitor(scoring=lambda est, X, y: {"val": est.score(X_val, y_val)})
    clf = SoftmaxRegression(solver="lbfgs").set_callbacks(monitor).fit(X, y)
    log = monitor.get_logs().data_as_pandas
    scores = log[log.task_name == "iteration"].val.to_numpy()
    assert len(scores) == clf.n_iter_[0]
    assert scores[-1] == clf.score(X_val, y_val) > scores[0]


@needs_callbacks
def test_callbacks_propagate_from_pipeline_and_grid_search():
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = iris()
    recorder = Propagated()
    pipe = make_pipeline(StandardScaler(), SoftmaxRegression(solver="lbfgs"))
    search = GridSearchCV(pipe, {"softmaxregression__C": [0.1, 1.0]}, cv=2)
    search.set_callbacks(recorder).fit(X, y)
    recorder.assert_paired()
    ours = [c for c in recorder.ends() if c[1][-1][0] == "SoftmaxRegression"]
    # 2 candidates x 2 folds + the refit, each with its iterations
    fits = {c[1][:-1] for c in ours}
    assert len(fits) == 5
    for path in fits:
        assert path[0][0] == "GridSearchCV" and path[-1][0] == "SoftmaxRegression"
        assert any(step[0] == "Pipeline" for step in path)
    # the refit's iterations end at the best estimator's model
    last = ours[-1][3]
    best = search.best_estimator_[-1]
    assert_allclose(last.coef_, best.coef_, rtol=0, atol=0)


@needs_callbacks
def test_progress_bar_nests_in_a_pipeline(capsys):
    pytest.importorskip("rich", reason="ProgressBar needs rich")
    from sklearn.callback import ProgressBar
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    pipe = make_pipeline(StandardScaler(), SoftmaxRegressionCV(Cs=2, cv=2))
    pipe.set_callbacks(ProgressBar(max_propagation_depth=None)).fit(*iris())
    out = capsys.readouterr().out
    assert "SoftmaxRegressionCV - fold" in out and "C=0.0001" in out


@needs_callbacks
def test_dask_input_reports_the_same_iterations():
    da = pytest.importorskip("dask.array", reason="the Dask extra")
    X, y = iris()
    recorder = Recorder()
    clf = SoftmaxRegression(solver="lbfgs").set_callbacks(recorder)
    clf.fit(da.from_array(X, chunks=50), da.from_array(y, chunks=50))
    recorder.assert_paired()
    ends = recorder.ends()
    assert len(ends) == clf.n_iter_[0]
    # the last iterate is the fitted model, as NumPy arrays on the client
    assert_allclose(ends[-1][3].predict_proba(X), clf.predict_proba(X), atol=1e-12)


@needs_callbacks
def test_array_api_iterates_live_on_the_inputs_device():
    import sklearn

    from sklearn_softmax._xp import ARRAY_API_SUPPORTED

    if not ARRAY_API_SUPPORTED:
        pytest.skip("array-API dispatch is not supported here")
    xp = pytest.importorskip("array_api_strict", reason="array-api-strict")
    X, y = iris()
    recorder = Recorder()
    with sklearn.config_context(array_api_dispatch=True):
        clf = SoftmaxRegression(solver="lbfgs").set_callbacks(recorder)
        clf.fit(xp.asarray(X), xp.asarray(y))
        model = recorder.ends()[-1][3]
        # the reconstructed arrays are where X is: the iterate predicts on it
        assert type(model.coef_) is type(clf.coef_)
        proba = model.predict_proba(xp.asarray(X))
        expected = clf.predict_proba(xp.asarray(X))
    assert_allclose(np.asarray(proba), np.asarray(expected), atol=1e-12)
    assert len(recorder.ends()) == int(clf.n_iter_[0])
