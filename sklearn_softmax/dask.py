"""Fit and predict on Dask collections: the same model, one map-reduce per step.

Install with ``pip install "sklearn-softmax[dask]"`` (``dask[array]`` and
``distributed``; fitting on a Dask *DataFrame* also needs ``dask[dataframe]``).

Usage
-----
There is no separate estimator.  :class:`~sklearn_softmax.SoftmaxRegression`
recognises Dask collections (without importing Dask unless the argument comes
from it) and hands them to this module:

- ``SoftmaxRegression(...).fit(X, y, sample_weight=None)`` with ``X`` a 2-D
  ``dask.array`` (dense or scipy.sparse blocks) or a Dask DataFrame, and ``y``
  / ``sample_weight`` Dask arrays or Series (or in-memory arrays of matching
  length) fits on the cluster.  Labels of any type, soft targets (2-D ``y``
  with ``classes=``), ``class_weight``, ``label_smoothing``, ``warm_start`` and
  both solvers work as in memory.  Rows of ``X``, ``y`` and ``sample_weight``
  are matched by position, as numpy arrays are (a DataFrame's index is not
  used).
- The fitted estimator is a plain ``SoftmaxRegression`` with numpy ``coef_``:
  it pickles, and predicts on numpy data as usual.
- ``decision_function``, ``predict``, ``predict_proba`` and
  ``predict_log_proba`` on a Dask array or DataFrame return *lazy* Dask
  arrays, computed block by block (a DataFrame gives unknown chunk sizes, as
  Dask's ``to_dask_array`` does).

It runs wherever ``dask.compute`` runs: on the default ``distributed.Client``
if there is one (``Client(...)`` makes itself the default), otherwise on
Dask's local threaded scheduler.

>>> import dask.array as da
>>> from sklearn.datasets import load_iris
>>> from sklearn_softmax import SoftmaxRegression
>>> X, y = load_iris(return_X_y=True)
>>> dX, dy = da.from_array(X, chunks=(40, 2)), da.from_array(y, chunks=40)
>>> clf = SoftmaxRegression(C=10.0).fit(dX, dy)  # column chunks are merged
>>> clf.coef_.shape, type(clf.coef_).__name__
((3, 4), 'ndarray')
>>> bool(abs(clf.coef_ - SoftmaxRegression(C=10.0).fit(X, y).coef_).max() < 1e-6)
True
>>> proba = clf.predict_proba(dX)  # lazy
>>> proba.chunks
((40, 40, 40, 30), (3,))
>>> proba[:1].compute().round(3)
array([[0.997, 0.003, 0.   ]])

On a cluster: start a client, then fit and predict exactly as above.  Model
selection over numpy data runs its fits on the workers through joblib's
``dask`` backend:

>>> from distributed import Client, LocalCluster
>>> from joblib import parallel_backend
>>> from sklearn.model_selection import GridSearchCV
>>> cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
...                        dashboard_address=":0")
>>> client = Client(cluster)
>>> float(round(SoftmaxRegression(C=10.0).fit(dX, dy).score(X, y), 3))
0.98
>>> with parallel_backend("dask"):
...     search = GridSearchCV(SoftmaxRegression(), {"C": [0.1, 10.0]}, cv=3).fit(X, y)
>>> search.best_params_
{'C': 10.0}
>>> client.close(); cluster.close()

How a fit runs
--------------
The objective (docs/user_guide/objective.rst) is a sum over rows, so every
evaluation is one map-reduce: each row block computes its ``(loss, grad_W,
grad_b)`` sums with the kernel of the in-memory path
(``sklearn_softmax._loss.loss_gradient``), the sums are added in a tree of
tasks on the workers, and only ``K * d + K + 1`` numbers reach the client,
which holds nothing but the parameters and L-BFGS's (or Newton-CG's) small
state.  This module only validates the collections and builds
:class:`DaskRowBlocks` from them; the estimator's fit pipeline (targets and
weights, preconditioner, objective, solver, warnings, gauge and binary
contract) is the in-memory one, run on these blocks, and so is the answer (to
rounding).

1. ``X`` is checked block by block (finite, float32/float64 kept, sparse blocks
   made CSR), merged to one column chunk if it has several, and persisted
   together with ``y`` and ``sample_weight``.  Unknown (NaN) chunk sizes are
   then computed from the persisted blocks; ``y`` and ``sample_weight`` are
   rechunked to ``X``'s rows.
2. The classes are the unique labels, computed on the cluster; every block
   checks its sample weights, then the shared target pipeline
   (``sklearn_softmax._targets.prepare_rows``) encodes each block's labels;
   class masses, ``class_weight`` and the weight total are small reductions.
3. Feature scales (max-abs), weighted means/variances and class priors for the
   preconditioner are reductions over the blocks (through
   :meth:`DaskRowBlocks.map_sum`).
4. The solver calls ``map_sum`` once per objective evaluation; Newton-CG
   keeps each block's probabilities on its worker (:meth:`DaskRowBlocks.map`)
   for its Hessian-vector products.

Persisted blocks live in the workers' memory (or their spill space): the
cluster as a whole must hold ``X`` once, no single worker needs to.  Newton-CG
(``solver="auto"`` picks it for small problems) also keeps the (n, K)
probabilities there; where memory is tight, ``solver="lbfgs"`` keeps nothing
but ``X``, the targets and the weights.  Spilled blocks are read back from
disk in every pass, so a fit that spills is bound by the disk.  If a worker
is lost, Dask recomputes its blocks from the graph or, when it cannot,
the fit raises Dask's error: every evaluation sums over all blocks, so a fit
never returns a model of partial data.
"""

import warnings
from functools import partial
from operator import getitem

import numpy as np
import scipy.sparse as sp

try:
    import dask
    import dask.array as da
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise ImportError(
        "sklearn_softmax.dask needs Dask: pip install 'sklearn-softmax[dask]'"
    ) from exc

from sklearn.utils import check_array
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    _check_sample_weight,
    assert_all_finite,
    check_is_fitted,
    validate_data,
)

from ._blocks import Block, FitInput, sum_tuples, top_module
from ._targets import check_target_form, soft_classes

__all__ = [
    "DaskRowBlocks",
    "finish_fit",
    "fit_input",
    "in_memory",
    "parallel_folds",
    "predict",
]

# Backend facts (``_blocks.Backend``): the rows stay on the workers, so there
# are no in-memory folds.
in_memory = False
parallel_folds = False

# Partial sums added per task of the reduction tree.
_FAN_IN = 8
# Dense blocks are evaluated in row slices of this size (one thread each):
# the scores of a slice stay in cache between the kernel's two products
# (docs/performance.rst).
_SLICE_BYTES = 4 << 20


class DaskRowBlocks:
    """Row blocks living on Dask workers: the ``_blocks.Blocks`` protocol.

    Each block is a tuple of :class:`dask.delayed.Delayed` objects (persisted:
    backed by futures on a cluster) for aligned row blocks ``(X, target,
    weight)``, the last possibly None.  ``map`` and ``map_sum`` ship ``fn``
    once as a graph key, so parameters closed over by ``fn`` travel to each
    worker once per call, not once per block.

    Parameters
    ----------
    blocks : iterable of tuple of Delayed

    Examples
    --------
    >>> import dask.array as da
    >>> X = da.ones((10, 2), chunks=(4, 2))
    >>> blocks = DaskRowBlocks.from_arrays(X, da.arange(10, chunks=4))
    >>> len(blocks.blocks)
    3
    >>> blocks.map_sum(lambda b: (float(b.X.sum()), int(b.target.sum())))
    (20.0, 45)
    """

    def __init__(self, blocks):
        self.blocks = list(blocks)

    @classmethod
    def from_arrays(cls, X, target, weight=None):
        """Blocks of Dask arrays chunked alike along rows, one column chunk each.

        Blocks with no rows are left out.
        """
        columns = [a.to_delayed(optimize_graph=False).ravel() for a in (X, target)]
        if weight is None:
            columns.append([None] * len(columns[0]))
        else:
            columns.append(weight.to_delayed(optimize_graph=False).ravel())
        rows = X.chunks[0]
        return cls(
            b for b, n in zip(zip(*columns, strict=True), rows, strict=True) if n > 0
        )

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None

    def _tasks(self, fn, extra, call=None):
        fn = dask.delayed(fn)  # one key the tasks depend on
        call = dask.delayed(call or _call, pure=False)
        if extra is None:
            return [call(fn, *b) for b in self.blocks]
        return [call(fn, *b, e) for b, e in zip(self.blocks, extra, strict=True)]

    def map(self, fn, extra=None):
        """Persisted ``fn(block[, extra_i])`` per block, kept on the workers."""
        return list(dask.persist(*self._tasks(fn, extra)))

    def map_sum(self, fn, extra=None):
        """Element-wise sum of the tuples ``fn(block)``, tree-reduced on workers.

        As in memory, ``fn`` must be a sum over rows: without ``extra`` dense
        blocks are split further into cache-sized row slices.
        """
        parts = self._tasks(fn, extra, _call_in_slices if extra is None else None)
        add = dask.delayed(_add, pure=False)
        while len(parts) > 1:
            parts = [
                add(*parts[i : i + _FAN_IN]) if i + 1 < len(parts) else parts[i]
                for i in range(0, len(parts), _FAN_IN)
            ]
        (total,) = dask.compute(parts[0])
        return total

    def with_rows(self, fn):
        """New blocks on the same ``X`` with ``(target, weight) = fn(block)``,
        computed and persisted on the workers."""
        pairs = self.map(fn)
        targets = dask.persist(*[dask.delayed(getitem)(p, 0) for p in pairs])
        weights = dask.persist(*[dask.delayed(getitem)(p, 1) for p in pairs])
        x_blocks = [b[0] for b in self.blocks]
        return DaskRowBlocks(zip(x_blocks, targets, weights, strict=True))

    def laid_out(self, n_classes):
        """The blocks as they are: each is sliced on its worker (``map_sum``)."""
        return self

    def take(self, rows):
        """Not available: the rows of a Dask collection are not in memory."""
        raise TypeError(
            "Rows of Dask collections are not taken in memory (no folds); "
            "compute the data first."
        )


def _call(fn, X, target, weight, *extra):
    return fn(Block(X, target, weight), *extra)


def _call_in_slices(fn, X, target, weight):
    """Sum of ``fn`` over cache-sized row slices of a dense block."""
    n = X.shape[0]
    rows = max(256, _SLICE_BYTES // max(X.dtype.itemsize * X.shape[1], 1))
    if not isinstance(X, np.ndarray) or n <= rows:
        return fn(Block(X, target, weight))
    parts = (
        fn(
            Block(
                *(None if a is None else a[i : i + rows] for a in (X, target, weight))
            )
        )
        for i in range(0, n, rows)
    )
    return sum_tuples(parts, in_place=False)


def _add(*parts):
    return sum_tuples(parts, in_place=False)  # inputs may be persisted


# -- fit ---------------------------------------------------------------------
def fit_input(estimator, X, y, sample_weight=None, classes=None):
    """Validated Dask training data as :class:`~sklearn_softmax._blocks.FitInput`.

    Sets ``n_features_in_`` (and ``feature_names_in_``) on ``estimator``, as
    ``validate_data`` does in memory.  The blocks hold ``X`` (float32/float64,
    CSR when sparse), the labels or probability rows, and checked float64
    sample weights.
    """
    X, probe = _as_array(X, "X")
    if X.ndim != 2:
        raise ValueError(f"Expected a 2-D Dask array X; got {X.ndim} dimension(s).")
    if np.isnan(X.shape[1]):
        raise ValueError("X must have a known number of columns.")
    validate_data(estimator, probe, reset=True, skip_check_array=True)
    if X.shape[1] == 0:
        raise ValueError(
            "Found array with 0 feature(s) (shape=(n, 0)) while a "
            "minimum of 1 is required."
        )
    if X.numblocks[1] > 1:
        X = X.rechunk({1: -1})  # the kernel needs whole rows
    dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.dtype(np.float64)
    sparse = sp.issparse(X._meta)
    if X.dtype != dtype or (sparse and X._meta.format != "csr"):
        # convert block by block; blocks already fit for the kernel are used
        # as they are (no second copy of a persisted X), checked further down
        meta = sp.csr_matrix((0, 0), dtype=dtype) if sparse else np.empty((0, 0), dtype)
        X = X.map_blocks(partial(_check_X_block, dtype=dtype), dtype=dtype, meta=meta)

    y = _as_array(y, "y")[0] if _is_dask(y) else np.asarray(y)
    sw = sample_weight
    if sw is not None:
        sw = _as_array(sw, "sample_weight")[0] if _is_dask(sw) else np.asarray(sw)
    X, y, sw = dask.persist(X, y, sw)  # one pass over X's graph (and y's)
    X, y, sw = (_known_chunks(a) for a in (X, y, sw))
    n = X.shape[0]
    if n == 0:
        raise ValueError(
            "Found array with 0 sample(s) (shape=(0, d)) while a "
            "minimum of 1 is required."
        )
    y = _align(y, X, "y")
    # per-row weights travel with the blocks; None or a scalar goes to each
    per_row = sw is not None and np.ndim(sw) > 0
    weight = _align(sw, X, "sample_weight") if per_row else None

    if y.ndim not in (1, 2):
        raise ValueError(f"y must be 1-D or 2-D; got {y.ndim} dimensions.")
    soft = check_target_form(y.shape[1] if y.ndim == 2 else 0, classes, stacklevel=3)
    if y.ndim == 2 and not soft:
        y = y[:, 0]
    if soft:
        classes = soft_classes(classes, y.shape[1])
    else:
        classes = np.unique(da.unique(y).compute())  # small: one label per class
        check_classification_targets(classes)

    raw = DaskRowBlocks.from_arrays(X, y, weight)
    blocks = raw.with_rows(
        partial(_checked_block, scalar_weight=None if per_row else sw)
    )
    return FitInput(blocks, classes, n, X.shape[1], X.dtype)


def finish_fit(estimator, X, y):
    """Nothing to move: the fitted arrays are small NumPy arrays on the client."""


def _check_X_block(block, dtype):
    return check_array(
        block, accept_sparse="csr", dtype=dtype, ensure_min_samples=0, input_name="X"
    )


def _checked_block(block, scalar_weight):
    """A block's labels as given and its checked float64 sample weights."""
    X = block.X
    if block.target.shape[0] != X.shape[0]:  # pragma: no cover - guarded by _align
        raise ValueError("y blocks are not aligned with the rows of X.")
    assert_all_finite(X.data if sp.issparse(X) else X, input_name="X")
    sw = _check_sample_weight(
        scalar_weight if block.weight is None else block.weight,
        X,
        dtype=np.float64,
        ensure_non_negative=True,
        allow_all_zero_weights=True,  # zero blocks are fine; the total is checked
    )
    return block.target, sw


# -- input plumbing ----------------------------------------------------------
def _is_dask(obj):
    return top_module(obj) == "dask"


def _is_frame(obj):
    return hasattr(obj, "columns") and hasattr(obj, "map_partitions")


def _as_array(obj, name):
    """``(dask_array, probe)``: a DataFrame/Series as an array, plus an empty
    in-memory stand-in carrying the column names (for ``validate_data``)."""
    if hasattr(obj, "to_dask_array"):  # DataFrame or Series
        probe = None
        if _is_frame(obj):
            import pandas as pd

            probe = pd.DataFrame(columns=list(obj.columns))
        with warnings.catch_warnings():  # string labels become object arrays
            warnings.filterwarnings(
                "ignore", "Dask currently has limited support", UserWarning
            )
            return obj.to_dask_array(), probe
    if not hasattr(obj, "chunks"):
        raise TypeError(f"{name} must be a Dask array or DataFrame; got {type(obj)}.")
    probe = np.empty((0, obj.shape[1])) if obj.ndim == 2 else None
    return obj, probe


def _known_chunks(a):
    """``a`` (persisted) with its unknown chunk sizes computed."""
    if isinstance(a, da.Array) and any(np.isnan(c) for c in a.chunks[0]):
        a.compute_chunk_sizes()  # cheap: reads the shapes of persisted blocks
    return a


def _align(a, X, name):
    """``a`` as a Dask array with the row chunks of ``X`` (one column chunk)."""
    if a.shape[0] != X.shape[0]:
        raise ValueError(
            "Found input variables with inconsistent numbers of samples: "
            f"[{X.shape[0]}, {a.shape[0]}] (X, {name})."
        )
    if not isinstance(a, da.Array):
        return da.from_array(a, chunks=(X.chunks[0], *a.shape[1:]))
    if a.ndim == 2:
        a = a.rechunk({1: -1})
    return a.rechunk({0: X.chunks[0]})


# -- predict -------------------------------------------------------------------
def predict(estimator, method, X):
    """Lazy ``estimator.method(X)`` on a Dask array or DataFrame, block-wise."""
    check_is_fitted(estimator)
    frame = _is_frame(X)
    if frame:
        import pandas as pd

        probe = pd.DataFrame(np.zeros((1, len(X.columns))), columns=X.columns)
    else:
        if X.ndim != 2:
            raise ValueError(f"Expected a 2-D Dask array X; got {X.ndim} dimension(s).")
        probe = np.zeros((1, X.shape[1]), dtype=X.dtype)
    # Checks features (count, names) now rather than inside the tasks, and
    # gives the output's dtype and shape.
    empty = getattr(estimator, method)(probe)[:0]
    fn = partial(_predict_block, method=method, empty=empty)
    est = dask.delayed(estimator)  # one key, shipped once per worker
    if frame:
        return X.map_partitions(fn, est, meta=empty)
    if X.numblocks[1] > 1:
        X = X.rechunk({1: -1})
    if empty.ndim == 1:
        return X.map_blocks(fn, est, drop_axis=1, meta=empty)
    return X.map_blocks(fn, est, chunks=(X.chunks[0], (empty.shape[1],)), meta=empty)


def _predict_block(block, estimator, method, empty):
    if block.shape[0] == 0:
        return empty
    return getattr(estimator, method)(block)
