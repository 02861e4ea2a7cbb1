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
The objective (DESIGN §1) is a sum over rows, so every evaluation is one
map-reduce: each row block computes its ``(loss, grad_W, grad_b)`` sums with
the kernel of the in-memory path (``sklearn_softmax._loss.loss_gradient``),
the sums are added in a tree of tasks on the workers, and only ``K * d + K + 1``
numbers reach the client, which holds nothing but the parameters and L-BFGS's
(or Newton-CG's) small state.  The in-memory fit's ``SoftmaxObjective`` runs
on :class:`DaskRowBlocks` instead of in-memory row blocks, and the estimator
finishes both fits with the same code, so preconditioning, stopping rule,
warnings, gauge and binary contract are those of the in-memory fit, and so is
the answer (to rounding).

1. ``X`` is checked block by block (finite, float32/float64 kept, sparse blocks
   made CSR), merged to one column chunk if it has several, and persisted
   together with ``y`` and ``sample_weight``.  Unknown (NaN) chunk sizes are
   then computed from the persisted blocks; ``y`` and ``sample_weight`` are
   rechunked to ``X``'s rows.
2. The classes are the unique labels, computed on the cluster; every block
   encodes its own labels.  Class masses, ``class_weight`` and the weight
   total are small reductions.
3. Feature scales (max-abs), weighted means/variances and class priors for the
   preconditioner are reductions over the blocks (``SoftmaxObjective`` asks
   for them through :meth:`DaskRowBlocks.map_sum`).
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

from sklearn.exceptions import DataConversionWarning
from sklearn.utils import check_array
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    _check_sample_weight,
    assert_all_finite,
    check_is_fitted,
    validate_data,
)

from ._softmax import _separates
from ._solver import SoftmaxObjective
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

__all__ = ["DaskRowBlocks"]

# Partial sums added per task of the reduction tree.
_FAN_IN = 8
# Dense blocks are evaluated in row slices of this size (one thread each): the
# scores of a slice stay in cache between the kernel's two products (a 40 MB
# block: 12.6 ms per loss+gradient whole, 8.5 ms in slices).
_SLICE_BYTES = 4 << 20


class DaskRowBlocks:
    """Row blocks living on Dask workers, with :class:`RowBlocks`' interface.

    Each block is a tuple of :class:`dask.delayed.Delayed` objects (persisted:
    backed by futures on a cluster) for aligned row blocks, e.g.
    ``(X_block, target_block, weight_block)``.  ``map`` and ``map_sum`` ship
    ``fn`` once as a graph key, so parameters closed over by ``fn`` travel to
    each worker once per call, not once per block.

    Parameters
    ----------
    blocks : list of tuple of Delayed

    Examples
    --------
    >>> import dask.array as da
    >>> X = da.ones((10, 2), chunks=(4, 2))
    >>> blocks = DaskRowBlocks.from_arrays(X, da.arange(10, chunks=4))
    >>> len(blocks.blocks)
    3
    >>> blocks.map_sum(lambda X, a: (float(X.sum()), int(a.sum())))
    (20.0, 45)
    """

    def __init__(self, blocks):
        self.blocks = list(blocks)

    @classmethod
    def from_arrays(cls, X, *arrays):
        """Blocks of Dask arrays chunked alike along rows, one column chunk each.

        Blocks with no rows are left out.
        """
        columns = [a.to_delayed(optimize_graph=False).ravel() for a in (X, *arrays)]
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
        """Persisted ``fn(*block, *extra_i)`` per block, kept on the workers."""
        return list(dask.persist(*self._tasks(fn, extra)))

    def map_sum(self, fn, extra=None):
        """Element-wise sum of the tuples ``fn(*block)``, tree-reduced on workers.

        As in memory, ``fn`` must be a sum over rows: without ``extra`` dense
        blocks are split further into cache-sized row slices.
        """
        parts = self._tasks(fn, extra, _call_in_slices if extra is None else None)
        add = dask.delayed(_sum_tuples, pure=False)
        while len(parts) > 1:
            parts = [
                add(*parts[i : i + _FAN_IN]) if i + 1 < len(parts) else parts[i]
                for i in range(0, len(parts), _FAN_IN)
            ]
        (total,) = dask.compute(parts[0])
        return total


def _call(fn, *args):
    return fn(*args)


def _call_in_slices(fn, X, *arrays):
    """Sum of ``fn`` over cache-sized row slices of a dense block."""
    n = X.shape[0]
    rows = max(256, _SLICE_BYTES // max(X.dtype.itemsize * X.shape[1], 1))
    if not isinstance(X, np.ndarray) or n <= rows:
        return fn(X, *arrays)
    parts = (
        fn(X[a : a + rows], *(arr[a : a + rows] for arr in arrays))
        for a in range(0, n, rows)
    )
    return _sum_tuples(*parts)


def _sum_tuples(*parts):
    total = list(parts[0])
    for part in parts[1:]:
        for i, value in enumerate(part):
            total[i] = total[i] + value  # new objects: inputs may be persisted
    return tuple(total)


# -- fit ---------------------------------------------------------------------
def _fit_dask(estimator, X, y, sample_weight=None, *, classes=None):
    """``estimator.fit(X, y, sample_weight)`` with ``X`` a Dask collection.

    Parameters are already validated (``SoftmaxRegression.fit`` dispatches
    here after its parameter check).
    """
    X, probe = _as_array(X, "X")
    if X.ndim != 2:
        raise ValueError(f"Expected a 2-D Dask array X; got {X.ndim} dimension(s).")
    if np.isnan(X.shape[1]):
        raise ValueError("X must have a known number of columns.")
    # n_features_in_ / feature_names_in_, as validate_data sets them in memory
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
    weight_arrays = (
        () if sw is None or np.ndim(sw) == 0 else (_align(sw, X, "sample_weight"),)
    )

    if y.ndim == 2 and y.shape[1] == 1:
        warnings.warn(
            "A column-vector y was passed when a 1d array was expected. "
            "Please change the shape of y to (n_samples,), for example "
            "using ravel().",
            DataConversionWarning,
            stacklevel=3,
        )
        y = y[:, 0]
    if y.ndim not in (1, 2):
        raise ValueError(f"y must be 1-D or 2-D; got {y.ndim} dimensions.")
    soft = y.ndim == 2
    if soft:
        K = y.shape[1]
        classes = soft_classes(classes, K)
    else:
        if classes is not None:
            raise ValueError("classes= is only used with (n, K) probability targets.")
        classes = np.unique(da.unique(y).compute())  # small: one label per class
        check_classification_targets(classes)
        K = classes.shape[0]

    # Encode labels (or check probability rows) and weights on the workers.
    raw = DaskRowBlocks.from_arrays(X, y, *weight_arrays)
    fn = partial(
        _target_block,
        classes=classes,
        soft=soft,
        epsilon=estimator.label_smoothing,
        scalar_weight=None if weight_arrays else sw,
    )
    pairs = raw.map(fn)
    del raw, y, sw, weight_arrays
    targets = dask.persist(*[dask.delayed(getitem)(p, 0) for p in pairs])
    weights = dask.persist(*[dask.delayed(getitem)(p, 1) for p in pairs])
    del pairs
    x_blocks = [b[0] for b in DaskRowBlocks.from_arrays(X).blocks]
    blocks = DaskRowBlocks(zip(x_blocks, targets, weights, strict=True))

    (mass,) = blocks.map_sum(partial(_mass_block, n_classes=K))
    cw = class_weight_vector(estimator.class_weight, classes, mass)
    s = blocks.map(partial(_class_weighted_block, class_weight=cw))
    blocks = DaskRowBlocks(zip(x_blocks, targets, s, strict=True))
    mass_s, S = blocks.map_sum(partial(_mass_total_block, n_classes=K))
    check_weighted_classes(mass_s, classes, S)
    w = blocks.map(partial(_scaled_block, total=S))
    blocks = DaskRowBlocks(zip(x_blocks, targets, w, strict=True))
    del s, weights

    objective = SoftmaxObjective(
        X,  # only its dtype and number of columns are read
        None,
        None,
        K,
        alpha=1.0 / (estimator.C * S),
        fit_intercept=estimator.fit_intercept,
        blocks=blocks,
    )

    def separates(W, b):
        (violations,) = blocks.map_sum(partial(_violations_block, W=W, b=b))
        return violations == 0

    return estimator._fit_objective(objective, classes, n, separates)


def _check_X_block(block, dtype):
    return check_array(
        block, accept_sparse="csr", dtype=dtype, ensure_min_samples=0, input_name="X"
    )


def _target_block(X, y, *sw, classes, soft, epsilon, scalar_weight):
    """One block's target (indices or normalised rows) and sample weights."""
    if y.shape[0] != X.shape[0]:  # pragma: no cover - guarded by _align
        raise ValueError("y blocks are not aligned with the rows of X.")
    assert_all_finite(X.data if sp.issparse(X) else X, input_name="X")
    sw = _check_sample_weight(
        sw[0] if sw else scalar_weight,
        X,
        dtype=np.float64,
        ensure_non_negative=True,
        allow_all_zero_weights=True,  # zero blocks are fine; the total is checked
    )
    if soft:
        target, row_mass = check_soft_targets(y)
        sw = sw * row_mass
    else:
        _, target = encode_labels(y, labels=classes)
    return smooth(target, classes.shape[0], epsilon), sw


def _mass_block(X, target, sw, n_classes):
    return (class_mass(target, n_classes, sw),)


def _class_weighted_block(X, target, sw, class_weight):
    return sw * row_class_weight(target, class_weight)


def _mass_total_block(X, target, s, n_classes):
    return class_mass(target, n_classes, s), s.sum(dtype=np.float64)


def _scaled_block(X, target, s, total):
    return s / total


def _violations_block(X, target, w, W, b):
    return (0 if _separates(X, target, w, W, b) else 1,)


# -- input plumbing ----------------------------------------------------------
def _is_dask(obj):
    return type(obj).__module__.split(".")[0] == "dask"


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
def _predict_dask(estimator, method, X):
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
