"""Row blocks (`_blocks`): layout, threads, sums, derived blocks, backends."""

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn
from _helpers import labels_and_weights, objective_on, sparse_matrix

from sklearn_softmax import _blocks
from sklearn_softmax._blocks import Block, RowBlocks, input_backend, sum_tuples
from sklearn_softmax._xp import ARRAY_API_MIN_SKLEARN, ARRAY_API_SUPPORTED


def test_csr_row_blocks_are_views_one_per_thread_balanced_by_entries():
    X = sparse_matrix(n=3000, d=400, density=0.05)
    y, w = labels_and_weights(X)
    blocks = RowBlocks(X, y, w, n_classes=50, n_threads=2)
    assert len(blocks.blocks) == 2
    nnz = [b.X.nnz for b in blocks.blocks]
    assert sum(nnz) == X.nnz and abs(nnz[0] - nnz[1]) <= X.nnz * 0.01
    for b in blocks.blocks:
        assert np.shares_memory(b.X.data, X.data)
    np.testing.assert_array_equal(
        sp.vstack([b.X for b in blocks.blocks]).toarray(), X.toarray()
    )
    np.testing.assert_array_equal(np.concatenate([b.target for b in blocks.blocks]), y)


def test_csc_stays_one_block():
    X = sparse_matrix(n=3000, d=400, density=0.05, fmt="csc")
    y, w = labels_and_weights(X)
    blocks = RowBlocks(X, y, w, n_classes=50, n_threads=2)
    assert len(blocks.blocks) == 1 and blocks.blocks[0].X is X


def test_dense_blocks_are_views_sized_by_bytes(monkeypatch):
    X = np.zeros((4000, 50))
    y, w = labels_and_weights(X)
    monkeypatch.setattr(_blocks, "_BLOCK_BYTES", 100 * 8 * (50 + 2 * 3))
    blocks = RowBlocks(X, y, w, n_classes=3, n_threads=1)
    sizes = [b.X.shape[0] for b in blocks.blocks]
    assert sizes[:-1] == [256] * (len(sizes) - 1)  # the 256-row floor
    assert sum(sizes) == 4000
    assert all(np.shares_memory(b.X, X) for b in blocks.blocks)


@pytest.mark.parametrize("fmt", ["dense", "csr"])
def test_threaded_blocks_give_the_single_block_loss_and_gradient(fmt):
    X = sparse_matrix(n=3000, d=400, density=0.05)
    if fmt == "dense":
        X = X.toarray()
    y, w = labels_and_weights(X, K=5)
    results = []
    for n_threads in (1, 2):
        obj = objective_on(
            X, y, w, 5, alpha=1e-3, fit_intercept=True, n_threads=n_threads
        )
        theta = obj.initial() + 0.1 * np.random.default_rng(1).normal(size=obj.n_params)
        with obj.blocks:
            results.append(obj.loss_grad(theta))
    (f1, g1), (f2, g2) = results
    assert f1 == pytest.approx(f2, rel=1e-13)
    np.testing.assert_allclose(g1, g2, rtol=1e-11, atol=1e-15)


@pytest.mark.parametrize("n_threads", [1, 2])
def test_map_sum_accumulates_block_results(n_threads):
    X = np.arange(20.0).reshape(10, 2)
    blocks = RowBlocks(X, None, np.ones(10), n_classes=2, n_threads=n_threads)
    blocks.blocks = [
        Block(X[a:b], None, np.ones(b - a)) for a, b in [(0, 4), (4, 7), (7, 10)]
    ]
    with blocks:
        total, count = blocks.map_sum(
            lambda b: (b.X.sum(axis=0), float(b.weight.sum()))
        )
        mapped = blocks.map(lambda b, e: b.X.shape[0] + e, extra=[10, 20, 30])
    np.testing.assert_array_equal(total, X.sum(axis=0))
    assert count == 10.0
    assert mapped == [14, 23, 33]


def test_sum_tuples_aliasing_rule():
    first = (np.ones(3), 1.0)
    second = (np.full(3, 2.0), 2.0)
    fresh = sum_tuples([first, second], in_place=False)
    np.testing.assert_array_equal(first[0], np.ones(3))  # inputs untouched
    np.testing.assert_array_equal(fresh[0], np.full(3, 3.0))
    assert fresh[1] == 3.0
    summed = sum_tuples([first, second], in_place=True)
    assert summed[0] is first[0]  # accumulated into the first tuple's array
    np.testing.assert_array_equal(first[0], np.full(3, 3.0))


def test_with_rows_derives_blocks_on_the_same_rows_and_laid_out_cuts_them(
    monkeypatch,
):
    monkeypatch.setattr(_blocks, "_BLOCK_BYTES", 256 * 8 * (2 + 2 * 3))
    X = np.arange(2000.0).reshape(1000, 2)
    whole = RowBlocks.whole(X, np.arange(1000), np.ones(1000))
    derived = whole.with_rows(lambda b: (b.target * 2, b.weight / 4))
    assert derived.blocks[0].X is X
    np.testing.assert_array_equal(derived.blocks[0].target, np.arange(1000) * 2)
    split = derived.laid_out(n_classes=3)
    assert [b.X.shape[0] for b in split.blocks] == [256, 256, 256, 232]
    assert all(np.shares_memory(b.X, X) for b in split.blocks)
    total = split.map_sum(lambda b: (b.target.sum(), b.weight.sum()))
    assert total == (999_000, 250.0)
    assert split.laid_out(n_classes=3) is split  # already laid out


def test_input_backend_routes_registered_modules_only(monkeypatch):
    class Fake:
        pass

    Fake.__module__ = "fakearrays.core"
    monkeypatch.setitem(_blocks._BACKENDS, "fakearrays", lambda: "the wing")
    assert input_backend(Fake()) == "the wing"
    assert input_backend(np.zeros(2)) is None
    assert input_backend(sp.csr_matrix((2, 2))) is None


@pytest.mark.parametrize("fmt", ["dense", "csr", "csc"])
def test_fit_input_rows_take_a_fold_in_the_same_storage(fmt):
    from sklearn_softmax._blocks import FitInput

    X = np.arange(20.0).reshape(10, 2)
    X = X if fmt == "dense" else sp.csr_matrix(X).asformat(fmt)
    y, w = np.arange(10) % 3, np.linspace(1.0, 2.0, 10)
    data = FitInput(RowBlocks.whole(X, y, w), np.arange(3), 10, 2, X.dtype)
    rows = np.array([7, 2, 3])
    fold = data.rows(rows)
    assert fold.n_samples == 3 and fold.n_features == 2
    Xf, yf, wf = fold.arrays()
    assert type(Xf) is type(X)
    dense = Xf if fmt == "dense" else Xf.toarray()
    np.testing.assert_array_equal(dense, np.arange(20.0).reshape(10, 2)[rows])
    np.testing.assert_array_equal(yf, y[rows])
    np.testing.assert_array_equal(wf, w[rows])
    assert data.arrays().X is X  # the input itself is untouched


def test_device_rows_stay_on_the_device():
    xps = pytest.importorskip("array_api_strict")
    if not ARRAY_API_SUPPORTED:
        pytest.skip(f"array-API dispatch needs scikit-learn >= {ARRAY_API_MIN_SKLEARN}")
    from sklearn_softmax._blocks import DeviceBlocks, FitInput

    X = xps.asarray(np.arange(20.0).reshape(10, 2))
    y, w = np.arange(10) % 3, np.ones(10)
    data = FitInput(DeviceBlocks(X, y, w), np.arange(3), 10, 2, np.dtype("float64"))
    with sklearn.config_context(array_api_dispatch=True):
        Xf, yf, wf = data.rows([1, 4]).arrays()
    assert not isinstance(Xf, np.ndarray)  # array_api_strict's array
    np.testing.assert_array_equal(np.asarray(Xf), [[2.0, 3.0], [8.0, 9.0]])
    np.testing.assert_array_equal(yf, [1, 1])
