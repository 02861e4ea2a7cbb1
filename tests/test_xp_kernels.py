"""The array-API twins equal their NumPy originals, across chunk boundaries.

Each kernel of ``_xp_kernels`` runs on array-api-strict arrays (and torch on
the CPU where installed) and is compared with the host function it twins, in
float64 (relative 1e-12 of the result's largest entry) and float32 (1e-5).
The chunk rule is shrunk so that a 37-row block splits unevenly (10, 10, 10,
7), a 40-row block fills four chunks exactly, and an empty block still runs.
"""

import numpy as np
import pytest
import sklearn

from sklearn_softmax import _loss, _objective, _precondition, _targets, _xp_kernels
from sklearn_softmax._blocks import Block

pytest.importorskip("array_api_strict")

K, D = 3, 5
RTOL = {"float64": 1e-12, "float32": 1e-5}

# (rows, rows per chunk or None for the module's rule, chunks expected)
LAYOUTS = {
    "uneven": (37, 10, 4),
    "exact": (40, 10, 4),
    "one-chunk": (37, None, 1),
    "empty": (0, 10, 1),
}


@pytest.fixture(params=["array_api_strict", "torch"])
def xp(request):
    return pytest.importorskip(request.param)


@pytest.fixture(autouse=True)
def dispatch():
    with sklearn.config_context(array_api_dispatch=True):
        yield


@pytest.fixture(params=sorted(LAYOUTS))
def layout(request):
    return LAYOUTS[request.param]


@pytest.fixture
def chunks(monkeypatch):
    """``chunks(rows, width)`` shrinks the chunk rule to ``rows`` rows of
    ``width`` elements; the returned list records each call's ranges."""
    seen = []
    original = _xp_kernels.row_chunks

    def recording(n, width):
        ranges = original(n, width)
        seen.append(ranges)
        return ranges

    monkeypatch.setattr(_xp_kernels, "row_chunks", recording)

    def shrink(rows, width):
        if rows is not None:
            monkeypatch.setattr(_xp_kernels, "CHUNK_ELEMENTS", rows * width)
        return seen

    return shrink


def numpy_of(a):
    if hasattr(a, "cpu"):  # torch
        return a.cpu().numpy()
    return np.asarray(a)


def assert_close(got, want, dtype, summed=True):
    """Equal within the dtype's tolerance, relative to ``want``'s largest entry;
    sums in float64 (the accumulation dtype on the CPU), else in ``dtype``."""
    got, want = numpy_of(got), np.asarray(want)
    assert got.shape == want.shape
    assert got.dtype == (np.float64 if summed else dtype)
    rtol = RTOL[dtype]
    scale = np.max(np.abs(want[np.isfinite(want)]), initial=0.0)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * scale)


def assert_chunked(seen, n_chunks, n):
    """One kernel pass over ``n`` rows in ``n_chunks`` contiguous ranges."""
    assert len(seen) == 1
    (ranges,) = seen
    assert len(ranges) == n_chunks
    assert ranges[0][0] == 0 and ranges[-1][1] == n
    assert all(b == c for (_, b), (c, _) in zip(ranges, ranges[1:], strict=False))


def problem(n, dtype, hard, seed=0):
    """Host ``X``, a target (labels or probability rows), weights, ``Wt``, ``b``."""
    rng = np.random.default_rng(seed)
    X = (rng.normal(size=(n, D)) * [1.0, 30.0, 0.02, 1.0, 5.0]).astype(dtype)
    if hard:
        target = rng.integers(K, size=n)
    else:
        target = rng.dirichlet(np.ones(K), size=n)
        target[: n // 3, 0] = 0.0  # exact zeros: 0 * log p must give 0
        target /= target.sum(axis=1, keepdims=True)
    weights = rng.uniform(0.5, 2.0, size=n)
    Wt = rng.normal(size=(D, K)).astype(dtype) / 4
    b = rng.normal(size=K).astype(dtype)
    return X, target, weights, Wt, b


def on_device(xp, *arrays):
    return [None if a is None else xp.asarray(a) for a in arrays]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("hard", [True, False], ids=["labels", "rows"])
@pytest.mark.parametrize("intercept", [True, False])
def test_loss_gradient(xp, layout, chunks, dtype, hard, intercept):
    n, rows, n_chunks = layout
    X, target, weights, Wt, b = problem(n, dtype, hard)
    b = b if intercept else None
    seen = chunks(rows, K)
    got = _xp_kernels.loss_gradient(
        *on_device(xp, X), Wt, b, *on_device(xp, target, weights)
    )
    want = _loss.loss_gradient(X, Wt, b, target, weights)
    assert_chunked(seen, n_chunks, n)
    for g, w in zip(got, want, strict=True):
        assert_close(g, w, dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("intercept", [True, False])
def test_softmax_at(xp, layout, chunks, dtype, intercept):
    n, rows, n_chunks = layout
    X, _, _, Wt, b = problem(n, dtype, hard=True)
    b = b if intercept else None
    seen = chunks(rows, K)
    got = _xp_kernels.softmax_at(xp.asarray(X), Wt, b)
    assert_chunked(seen, n_chunks, n)
    assert_close(got, _loss.softmax_at(X, Wt, b), dtype, summed=False)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("intercept", [True, False])
def test_hessp(xp, layout, chunks, dtype, intercept):
    n, rows, n_chunks = layout
    X, _, weights, Wt, b = problem(n, dtype, hard=True)
    P = np.ascontiguousarray(_loss.softmax_at(X, Wt, b))
    rng = np.random.default_rng(1)
    Vt = rng.normal(size=(D, K)).astype(dtype)
    c = rng.normal(size=K).astype(dtype) if intercept else None
    seen = chunks(rows, K)
    got = _xp_kernels.hessp(*on_device(xp, X, P, weights), Vt, c)
    assert_chunked(seen, n_chunks, n)
    for g, w in zip(got, _loss.hessp(X, P, weights, Vt, c), strict=True):
        assert_close(g, w, dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_hessian_diagonal(xp, layout, chunks, dtype):
    n, rows, n_chunks = layout
    X, _, weights, Wt, b = problem(n, dtype, hard=True)
    P = np.ascontiguousarray(_loss.softmax_at(X, Wt, b))
    mu = np.array([0.1, -2.0, 0.01, 0.0, 0.5])
    seen = chunks(rows, max(K, D))
    got = _xp_kernels.hessian_diagonal(*on_device(xp, X, P, weights), mu)
    assert_chunked(seen, n_chunks, n)
    for g, w in zip(got, _loss.hessian_diagonal(X, P, weights, mu), strict=True):
        assert_close(g, w, dtype)


@pytest.mark.parametrize("n", [37, 0])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("hard", [True, False], ids=["labels", "rows"])
def test_log_softmax_and_cross_entropy_rows(xp, n, dtype, hard):
    # not chunked: their inputs are (n, K) already
    X, target, _, Wt, b = problem(n, dtype, hard)
    Z = X @ Wt + b
    if n:
        Z[0, 1] = -np.inf  # a zero probability; the target puts no mass there
        target[0] = 0 if hard else [0.5, 0.0, 0.5]
    logp = _xp_kernels.log_softmax(xp.asarray(Z))
    want = _loss.log_softmax(Z)
    assert_close(logp, want, dtype, summed=False)
    got = _xp_kernels.cross_entropy_rows(logp, xp.asarray(target))
    want = _loss.cross_entropy_rows(want, target)
    assert_close(got, want, dtype, summed=not hard)


@pytest.mark.parametrize("hard", [True, False], ids=["labels", "rows"])
def test_mass_and_total(xp, layout, chunks, hard):
    n, rows, n_chunks = layout
    _, target, weights, _, _ = problem(n, "float64", hard)
    seen = chunks(rows, K)
    got = _xp_kernels.mass_and_total(*on_device(xp, target), K, xp.asarray(weights))
    if hard:  # probability rows are one product, not chunked
        assert_chunked(seen, n_chunks, n)
    want = _targets.mass_and_total(Block(None, target, weights), K)
    for g, w in zip(got, want, strict=True):
        assert_close(g, w, "float64")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_maxabs_and_moments(xp, layout, chunks, dtype):
    n, rows, n_chunks = layout
    X, _, weights, _, _ = problem(n, dtype, hard=True)
    X[:, 2] *= 1e-150  # the scale keeps tiny columns from underflowing
    seen = chunks(rows, D)
    (want,) = _precondition._maxabs_block(X)
    assert_close(_xp_kernels.maxabs(xp.asarray(X)), want, dtype)
    scale = np.where(want > 0, want, 1.0)
    Xd, wd = on_device(xp, X, weights)
    got = _xp_kernels.moments(Xd, wd, scale)
    assert_chunked(seen, n_chunks, n)
    for g, w in zip(got, _precondition._moments_block(X, weights, scale), strict=True):
        assert_close(g, w, dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_correlation(xp, layout, chunks, dtype):
    n, rows, n_chunks = layout
    X, _, weights, _, _ = problem(n, dtype, hard=True)
    mu = np.array([0.1, -2.0, 0.01, 0.0, 0.5])
    sd = np.array([1.0, 30.0, 0.02, 1.0, 5.0])
    seen = chunks(rows, D)
    got = _xp_kernels.correlation(*on_device(xp, X, weights), mu, sd)
    assert_chunked(seen, n_chunks, n)
    want, sparse = _precondition._correlation_block(X, weights, mu, sd)
    assert sparse == 0
    assert_close(got, want, dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("intercept", [True, False])
@pytest.mark.parametrize(
    ("hard", "spoil"),
    [
        (True, None),
        (True, "label"),
        (True, "label-weight-0"),
        (False, None),
        (False, "label"),
        (False, "soft-row"),
        (False, "soft-row-weight-0"),
    ],
)
def test_violations(xp, layout, chunks, dtype, intercept, hard, spoil):
    n, rows, n_chunks = layout
    X, _, weights, Wt, b = problem(n, dtype, hard=True)
    W, b = Wt.T.astype(np.float64), (b.astype(np.float64) if intercept else None)
    # every row on its class, then one row spoiled in the last chunk
    labels = np.argmax(X @ Wt + (0.0 if b is None else b), axis=1)
    i = n - 1
    if n and spoil is not None and spoil.startswith("label"):
        labels[i] = (labels[i] + 1) % K
    target = labels if hard else np.eye(K)[labels]
    if n and spoil is not None and spoil.startswith("soft-row"):
        target[i] = [0.5, 0.25, 0.25]
    if n and spoil is not None and spoil.endswith("weight-0"):
        weights[i] = 0.0
    seen = chunks(rows, K)
    got = _xp_kernels.violations(*on_device(xp, X, target, weights), W, b)
    want = _objective._violations(Block(X, target, weights), W, b)
    assert got == want
    assert want == (1 if n and spoil in ("label", "soft-row") else 0)
    if not want:  # a violation stops the walk at its chunk
        assert_chunked(seen, n_chunks, n)


@pytest.mark.parametrize(
    ("host", "kernel", "args"),
    [
        (_loss.log_softmax, "log_softmax", ("X",)),
        (_loss.cross_entropy_rows, "cross_entropy_rows", ("X", None)),
        (_loss.loss_gradient, "loss_gradient", ("X", None, None, None, None)),
        (_loss.softmax_at, "softmax_at", ("X", None, None)),
        (_loss.hessp, "hessp", ("X", None, None, None, None)),
        (_loss.hessian_diagonal, "hessian_diagonal", ("X", None, None, None)),
        (_precondition._moments_block, "moments", ("X", None, None)),
        (_precondition._correlation_block, "correlation", ("X", None, None, None)),
    ],
)
def test_host_functions_hand_device_arrays_to_their_twin(
    xp, monkeypatch, host, kernel, args
):
    monkeypatch.setattr(_xp_kernels, kernel, lambda *a: "twin")
    X = xp.asarray(np.ones((2, 2)))
    got = host(*(X if a == "X" else a for a in args))
    assert got in ("twin", ("twin", 0))


def test_dispatch_of_block_functions(xp, monkeypatch):
    for kernel in ("mass_and_total", "maxabs", "violations"):
        monkeypatch.setattr(_xp_kernels, kernel, lambda *a: "twin")
    X = xp.asarray(np.ones((2, 2)))
    block = Block(X, xp.asarray(np.zeros(2, dtype=np.int64)), xp.asarray(np.ones(2)))
    assert _targets.mass_and_total(block, 2) == "twin"
    assert _precondition._maxabs_block(X) == ("twin",)
    assert _objective._violations(block, np.zeros((2, 2)), None) == "twin"


def test_row_chunks_rule(monkeypatch):
    monkeypatch.setattr(_xp_kernels, "CHUNK_ELEMENTS", 30)
    assert _xp_kernels.row_chunks(37, 3) == [(0, 10), (10, 20), (20, 30), (30, 37)]
    assert _xp_kernels.row_chunks(40, 3) == [(0, 10), (10, 20), (20, 30), (30, 40)]
    assert _xp_kernels.row_chunks(3, 100) == [(0, 1), (1, 2), (2, 3)]  # >= 1 row
    assert _xp_kernels.row_chunks(0, 3) == [(0, 0)]
    assert _xp_kernels.row_chunks(5, 0) == [(0, 5)]
