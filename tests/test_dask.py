"""The Dask wing: same model as in memory, lazy predictions, cluster behaviour."""

import importlib.util
import pickle
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from _oracle import objective

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

import dask  # noqa: E402
import joblib  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402

import sklearn_softmax.dask as sdask  # noqa: E402
from sklearn_softmax import SoftmaxRegression  # noqa: E402
from sklearn_softmax._targets import class_mass, class_weight_vector  # noqa: E402

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_dask.py"


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=False,
        memory_limit="4GiB",
        dashboard_address=":0",
    ) as cluster:
        yield cluster


@pytest.fixture
def client(cluster):
    with distributed.Client(cluster) as client:
        yield client


def make_problem(n=900, d=6, K=3, seed=0):
    """Overlapping classes, features on scales 0.1 to 10."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, K, n)
    X = rng.normal(size=(n, d))
    X[np.arange(n), y % d] += 1.0
    X *= np.logspace(-1, 1, d)
    return X, y


def model_objective(est, X, y, sample_weight=None):
    """Objective of a fitted estimator on in-memory data, class weights included."""
    K = est.classes_.shape[0]
    t = np.searchsorted(est.classes_, y)
    sw = np.ones(len(y)) if sample_weight is None else sample_weight
    cw = class_weight_vector(est.class_weight, est.classes_, class_mass(t, K, sw))
    return objective(X, t, est.coef_, est.intercept_, est.C, sw * cw[t])


def assert_same_model(est, ref, X, y, sample_weight=None):
    f = model_objective(est, X, y, sample_weight)
    f_ref = model_objective(ref, X, y, sample_weight)
    assert abs(f - f_ref) <= 1e-10 * abs(f_ref)
    np.testing.assert_array_equal(est.classes_, ref.classes_)
    np.testing.assert_allclose(est.coef_, ref.coef_, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(est.intercept_, ref.intercept_, rtol=1e-6, atol=1e-6)
    assert type(est.coef_) is np.ndarray and est.coef_.dtype == ref.coef_.dtype


def sparsify(X):
    return np.where(np.abs(X) > np.abs(X).mean(axis=0), X, 0.0)


def fit_both(sparse, K, weighting, **params):
    """In-memory and Dask fits of one problem; returns ``(est, ref, X, y, sw)``."""
    X, y = make_problem(K=K, seed=K)
    if sparse:
        X = sparsify(X)
    rng = np.random.default_rng(1)
    sw = rng.uniform(0.0, 3.0, len(y)) if weighting in ("sample", "balanced") else None
    cw = {"balanced": "balanced", "dict": {0: 0.5, 1: 3.0}}.get(weighting)
    params = dict(C=2.0, class_weight=cw, **params)
    ref = SoftmaxRegression(**params).fit(sp.csr_matrix(X) if sparse else X, y, sw)

    dX = da.from_array(X, chunks=(200, X.shape[1]))
    if sparse:
        dX = dX.map_blocks(sp.csr_matrix)
    dsw = None if sw is None else da.from_array(sw, chunks=350)  # other chunks
    est = SoftmaxRegression(**params).fit(dX, da.from_array(y, chunks=250), dsw)
    return est, ref, X, y, sw


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
@pytest.mark.parametrize("K", [3, 2])
@pytest.mark.parametrize("weighting", [None, "sample", "balanced", "dict"])
def test_same_answer_as_in_memory(sparse, K, weighting):
    # no distributed.Client: dask's local threaded scheduler
    assert_same_model(*fit_both(sparse, K, weighting))


@pytest.mark.parametrize(
    "sparse, K, weighting", [(False, 3, "balanced"), (True, 2, "sample")]
)
def test_same_answer_on_a_cluster(client, sparse, K, weighting):
    assert_same_model(*fit_both(sparse, K, weighting, solver="lbfgs"))


@pytest.mark.parametrize("solver", ["lbfgs", "newton-cg"])
def test_both_solvers(solver):
    X, y = make_problem(seed=3)
    ref = SoftmaxRegression(solver=solver).fit(X, y)
    est = SoftmaxRegression(solver=solver).fit(
        da.from_array(X, chunks=(128, 6)), da.from_array(y, chunks=128)
    )
    assert_same_model(est, ref, X, y)


@pytest.mark.parametrize("l1_ratio", [0.5, 1.0])
def test_l1_ratio_same_answer_as_in_memory(l1_ratio):
    X, y = make_problem(seed=5)
    ref = SoftmaxRegression(C=0.05, l1_ratio=l1_ratio).fit(X, y)
    est = SoftmaxRegression(C=0.05, l1_ratio=l1_ratio).fit(
        da.from_array(X, chunks=(200, 6)), da.from_array(y, chunks=200)
    )
    assert (ref.coef_ == 0).any()  # the test must exercise exact zeros
    np.testing.assert_array_equal(est.coef_ == 0, ref.coef_ == 0)
    np.testing.assert_allclose(est.coef_, ref.coef_, rtol=1e-6, atol=1e-6)


def test_sparsified_model_predicts_and_warm_starts():
    X, y = make_problem(seed=5)
    dX, dy = da.from_array(X, chunks=(200, 6)), da.from_array(y, chunks=200)
    est = SoftmaxRegression(C=0.05, l1_ratio=1.0, warm_start=True).fit(dX, dy)
    expected = {m: getattr(est, m)(X) for m in ("predict", "predict_proba")}
    est.sparsify()
    assert sp.issparse(est.coef_)
    for method, value in expected.items():
        lazy = getattr(est, method)(dX)
        assert isinstance(lazy, da.Array)
        np.testing.assert_allclose(lazy.compute(), value, rtol=1e-12, atol=0)
    est.fit(dX, dy)  # warm, from the sparse coef_: starts at the optimum
    assert est.n_iter_[0] == 0 and type(est.coef_) is np.ndarray


def test_float32_and_inf_C():
    X, y = make_problem(seed=4)
    X32 = X.astype(np.float32)
    dX = da.from_array(X32, chunks=(300, 6))
    ref = SoftmaxRegression().fit(X32, y)
    est = SoftmaxRegression().fit(dX, da.from_array(y, chunks=300))
    assert est.coef_.dtype == np.float32
    np.testing.assert_allclose(est.coef_, ref.coef_, rtol=1e-3, atol=1e-3)
    # separable data with C=inf: the separation check runs on the blocks too
    Xs = np.r_[np.full((20, 1), -1.0), np.full((20, 1), 1.0)]
    ys = np.r_[np.zeros(20), np.ones(20)]
    with pytest.warns(Warning, match="did not converge"):
        SoftmaxRegression(C=np.inf).fit(
            da.from_array(Xs, chunks=10), da.from_array(ys, chunks=10)
        )


def test_soft_targets_label_smoothing_warm_start():
    X, y = make_problem(seed=5)
    rng = np.random.default_rng(2)
    Y = rng.dirichlet(np.ones(3), size=len(y))
    classes = np.array(["a", "b", "c"])
    ref = SoftmaxRegression().fit(X, Y, classes=classes)
    dX = da.from_array(X, chunks=(300, 6))
    est = SoftmaxRegression().fit(
        dX, da.from_array(Y, chunks=(300, 2)), classes=classes
    )
    np.testing.assert_array_equal(est.classes_, classes)
    np.testing.assert_allclose(est.coef_, ref.coef_, rtol=1e-6, atol=1e-6)

    ref = SoftmaxRegression(label_smoothing=0.1).fit(X, y)
    est = SoftmaxRegression(label_smoothing=0.1, warm_start=True)
    est.fit(dX, da.from_array(y, chunks=300))
    np.testing.assert_allclose(est.coef_, ref.coef_, rtol=1e-6, atol=1e-6)
    est.fit(dX, da.from_array(y, chunks=300))  # warm: starts at the optimum
    assert est.n_iter_[0] == 0


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
def test_lazy_predictions_equal_numpy(client, sparse):
    X, y = make_problem(seed=6)
    X = sparsify(X) if sparse else X
    for K in (3, 2):
        yk = y % K
        dX = da.from_array(X, chunks=(250, 3))  # column chunks merged for predict
        if sparse:
            dX = dX.rechunk({1: -1}).map_blocks(sp.csr_matrix)
        est = SoftmaxRegression().fit(X, yk)  # predictions: however it was fitted
        for method in ("decision_function", "predict_log_proba", "predict_proba"):
            lazy = getattr(est, method)(dX)
            assert isinstance(lazy, da.Array)
            assert lazy.chunks[0] == (250, 250, 250, 150)
            expected = getattr(est, method)(X)
            np.testing.assert_allclose(lazy.compute(), expected, rtol=1e-12, atol=0)
        lazy = est.predict(dX)
        assert isinstance(lazy, da.Array)
        np.testing.assert_array_equal(lazy.compute(), est.predict(X))
        assert est.score(dX, yk) == est.score(X, yk)


def test_unknown_chunk_sizes(client):
    X, y = make_problem(seed=7)
    keep = X[:, 0] > -0.05
    dX, dy = da.from_array(X, chunks=(200, 6)), da.from_array(y, chunks=200)
    Xm, ym = dX[dX[:, 0] > -0.05], dy[dX[:, 0] > -0.05]
    assert np.isnan(Xm.shape[0])
    ref = SoftmaxRegression().fit(X[keep], y[keep])
    assert_same_model(SoftmaxRegression().fit(Xm, ym), ref, X[keep], y[keep])
    # in-memory y of the right length against unknown X chunks
    est = SoftmaxRegression().fit(Xm, y[keep])
    assert_same_model(est, ref, X[keep], y[keep])
    proba = est.predict_proba(Xm)
    assert np.isnan(proba.shape[0])
    np.testing.assert_allclose(proba.compute(), est.predict_proba(X[keep]), rtol=1e-12)


def test_column_chunks_are_merged():
    X, y = make_problem(seed=8)
    dX = da.from_array(X, chunks=(150, 2))
    assert dX.numblocks[1] == 3
    est = SoftmaxRegression().fit(dX, y)  # y in memory, X on the cluster
    assert_same_model(est, SoftmaxRegression().fit(X, y), X, y)


def test_dataframe(client):
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    X, y = make_problem(seed=9)
    names = [f"f{i}" for i in range(X.shape[1])]
    labels = np.array(["cat", "cow", "dog"], dtype=object)[y]
    df = pd.DataFrame(X, columns=names)
    ddf = dd.from_pandas(df, npartitions=3)
    dys = dd.from_pandas(pd.Series(labels, dtype=object), npartitions=3)
    ref = SoftmaxRegression().fit(df, labels)
    est = SoftmaxRegression().fit(ddf, dys)
    assert_same_model(est, ref, X, labels)
    np.testing.assert_array_equal(est.feature_names_in_, names)
    proba = est.predict_proba(ddf)
    assert isinstance(proba, da.Array)
    np.testing.assert_allclose(proba.compute(), ref.predict_proba(df), rtol=1e-6)
    np.testing.assert_array_equal(est.predict(ddf).compute(), ref.predict(df))
    with pytest.raises(ValueError, match="feature names"):
        est.predict(ddf.rename(columns={"f0": "other"}))  # eager, not in a task


def test_bad_input():
    X, y = make_problem(n=200, seed=10)
    dX, dy = da.from_array(X, chunks=(50, 6)), da.from_array(y, chunks=50)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        SoftmaxRegression().fit(dX, dy[:-1])
    with pytest.raises(ValueError, match="2-D"):
        SoftmaxRegression().fit(dX[:, 0], dy)
    bad = X.copy()
    bad[77, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        SoftmaxRegression().fit(da.from_array(bad, chunks=(50, 6)), dy)
    with pytest.raises(ValueError, match="at least 2 classes"):
        SoftmaxRegression().fit(dX, da.zeros(200, chunks=50))
    with pytest.raises(ValueError, match="Negative values"):
        SoftmaxRegression().fit(dX, dy, -da.ones(200, chunks=50))
    with pytest.raises(ValueError, match="continuous"):
        SoftmaxRegression().fit(dX, dy + 0.5)
    with pytest.raises(NotFittedError):
        SoftmaxRegression().predict(dX)
    est = SoftmaxRegression().fit(dX, dy)
    with pytest.raises(ValueError, match="features"):
        est.predict_proba(dX[:, :4])  # eager


def test_only_parameters_reach_the_client(monkeypatch):
    """Every result computed to the client is K*d-sized, never n-sized."""
    n, d, K = 3000, 5, 4
    X, y = make_problem(n=n, d=d, K=K, seed=11)
    sizes = []
    compute = dask.compute

    def recording_compute(*args, **kwargs):
        results = compute(*args, **kwargs)
        sizes.append(sum(_nbytes(r) for r in results))
        return results

    monkeypatch.setattr(dask, "compute", recording_compute)
    est = SoftmaxRegression(solver="newton-cg").fit(
        da.from_array(X, chunks=(500, d)), da.from_array(y, chunks=500)
    )
    assert est.n_iter_[0] > 0 and len(sizes) > 10
    assert max(sizes) <= 4 * 8 * (K * d + K + 1) < 8 * n


def _nbytes(obj):
    if isinstance(obj, (tuple, list)):
        return sum(_nbytes(o) for o in obj)
    return np.asarray(obj).nbytes


def test_pickle_fitted_estimator():
    X, y = make_problem(seed=12)
    est = SoftmaxRegression().fit(da.from_array(X, chunks=(300, 6)), y)
    blob = pickle.dumps(est)
    assert len(blob) < 10_000  # parameters only, no graph or data
    clone = pickle.loads(blob)
    np.testing.assert_array_equal(clone.predict_proba(X), est.predict_proba(X))


def test_joblib_dask_backend_grid_search(client):
    X, y = make_problem(n=300, seed=13)
    grid = {"C": [0.01, 1.0]}
    expected = GridSearchCV(SoftmaxRegression(), grid, cv=3).fit(X, y)
    with joblib.parallel_backend("dask"):
        search = GridSearchCV(SoftmaxRegression(), grid, cv=3, n_jobs=-1).fit(X, y)
        scores = cross_val_score(SoftmaxRegression(), X, y, cv=3, n_jobs=-1)
    assert search.best_params_ == expected.best_params_
    np.testing.assert_allclose(
        search.cv_results_["mean_test_score"], expected.cv_results_["mean_test_score"]
    )
    np.testing.assert_allclose(scores, cross_val_score(SoftmaxRegression(), X, y, cv=3))


# The unrecoverable case (scattered data lost with its worker) is left out:
# whether Dask raises depended on timing and data placement, and it failed
# intermittently under CPU load.
@pytest.mark.parametrize("recoverable", [True])
def test_lost_worker(monkeypatch, recoverable):
    """Lose a worker mid-fit: Dask recomputes the blocks, or the fit raises."""
    X, y = make_problem(n=1200, seed=14)
    ref = SoftmaxRegression(solver="lbfgs").fit(X, y)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        if recoverable:  # blocks can be rebuilt from the graph
            dX = da.from_array(X, chunks=(300, 6))
        else:  # scattered data: a lost copy cannot be recomputed
            parts = client.scatter([X[i : i + 300] for i in range(0, 1200, 300)])
            dX = da.concatenate(
                [da.from_delayed(p, shape=(300, 6), dtype=float) for p in parts]
            )
        calls = []
        map_sum = sdask.DaskRowBlocks.map_sum

        def holder():
            """A worker holding scattered data, else the first one."""
            if not recoverable:
                holders = set(client.who_has(parts[0]).popitem()[1])
                for worker in cluster.workers.values():
                    if worker.address in holders:
                        return worker
            return next(iter(cluster.workers.values()))

        def map_sum_losing_a_worker(self, fn, extra=None):
            calls.append(1)
            if len(calls) == 8:
                cluster.sync(holder().close)
            return map_sum(self, fn, extra)

        monkeypatch.setattr(sdask.DaskRowBlocks, "map_sum", map_sum_losing_a_worker)
        est = SoftmaxRegression(solver="lbfgs")
        if recoverable:
            est.fit(dX, da.from_array(y, chunks=300))
            assert len(cluster.scheduler.workers) == 1 and len(calls) > 8
            assert_same_model(est, ref, X, y)
        else:
            with pytest.raises(Exception, match="lost|cancelled|missing"):
                est.fit(dX, da.from_array(y, chunks=300))
            assert not hasattr(est, "coef_")


def test_benchmark_shape():
    """The benchmark on small data: workers below the data's size, spilling."""
    spec = importlib.util.spec_from_file_location("bench_dask", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    config = {  # in-process workers: the process memory is pytest's own
        "distributed.worker.memory.spill": False,
        "distributed.worker.memory.pause": False,
        "distributed.worker.memory.terminate": False,
    }
    (row,) = bench.run(
        [10_000],
        d=20,
        K=4,
        chunk_rows=2_500,
        memory_fraction=0.5,  # each worker holds ~1x its limit: it spills
        in_memory_max_mb=10,
        processes=False,
        config=config,
        verbose=False,
    )
    assert row["limit/worker MB"] < row["X MB"]
    assert row["spilled MB"] > 0
    assert row["rel. obj. diff"] <= 1e-10
    assert row["rel. coef diff"] <= 1e-6
    assert "rows" in bench.format_table([row])
