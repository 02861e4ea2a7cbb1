"""Row blocks: the seam every data source plugs into.

A fit never touches ``X`` directly: it asks a *blocks* object (the
:class:`Blocks` protocol) to map a function over aligned row blocks
``Block(X, target, weight)`` and to sum the results.  :class:`RowBlocks` keeps
the blocks in memory and runs them on threads; the Dask wing keeps them on
workers.  Whatever a function computes per block (a loss and gradient, class
masses, feature statistics) is therefore written once for every backend.

Input types other than NumPy / SciPy (Dask collections) are recognised here by
the module that defines them, without importing it: the package's ``__init__``
registers a loader of each wing with :func:`register_backend`, and
:func:`input_backend` imports and returns the wing when such an input comes.
Array-API inputs under scikit-learn's ``array_api_dispatch`` (torch, CuPy,
array-api-strict) are one more backend, keyed :data:`ARRAY_API`: their rows stay
one :class:`DeviceBlocks` block on the device (a GPU is parallel by itself).
"""

import functools
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple, Protocol

import numpy as np
import scipy.sparse as sp
from sklearn.utils import _safe_indexing
from threadpoolctl import ThreadpoolController

from ._views import row_slice
from ._xp import (
    accumulation_dtype,
    is_device_array,
    namespace_of,
    to_device,
    to_host,
)

__all__ = [
    "ARRAY_API",
    "HOST",
    "Backend",
    "Block",
    "Blocks",
    "FitInput",
    "RowBlocks",
    "DeviceBlocks",
    "default_n_threads",
    "input_backend",
    "register_backend",
    "registered_backend",
    "single_threaded_blas",
    "sum_tuples",
    "top_module",
]

# Bytes of X per dense row block (smaller where that would leave under 4 blocks
# per thread): a block's two products gain nothing from it staying in cache,
# while each block costs a fixed overhead; docs/performance.rst has the sweep.
_BLOCK_BYTES = 16 << 20
# Below this many multiply-adds per evaluation, threads cost more than they give.
_MIN_PARALLEL_WORK = 4_000_000


class Block(NamedTuple):
    """Aligned rows of the data: ``X`` and, per row, a target and a weight.

    Before the target pipeline (``_targets.prepare_rows``) ``target`` holds the
    user's labels or probability rows and ``weight`` the sample weights; after
    it, class indices or exact probability rows and the normalised row weights.
    """

    X: Any
    target: Any
    weight: Any


class Blocks(Protocol):
    """What a fit needs of a data source: map-reduce over row blocks.

    Implementations: :class:`RowBlocks` (in memory, threads) and
    ``sklearn_softmax.dask.DaskRowBlocks`` (on Dask workers).  ``fn`` receives
    a :class:`Block` (and the block's ``extra`` item, when given) and must not
    modify it.  Using the object as a context manager holds its resources
    (a thread pool) for a series of calls.
    """

    def __enter__(self): ...

    def __exit__(self, *exc): ...

    def map(self, fn, extra=None):
        """Per-block results ``fn(block[, extra_i])``, left where the blocks live."""

    def map_sum(self, fn, extra=None):
        """Element-wise sum over the blocks of the tuples ``fn(block[, extra_i])``.

        ``fn`` must return new objects (they may be summed in place).
        """

    def with_rows(self, fn):
        """New blocks on the same ``X`` with ``(target, weight) = fn(block)``."""

    def laid_out(self, n_classes):
        """The same rows laid out for the solver's evaluations.

        Called once, after the target pipeline: in memory the one block is cut
        by size and threads, on a device the targets and weights move to it,
        on Dask the blocks stay as they are (each is sliced on its worker).
        """

    def take(self, rows):
        """One block of the rows ``rows`` (host integer indices), in the same
        kind of storage; for data held in memory (cross-validation folds)."""


class FitInput(NamedTuple):
    """Validated training data as a backend hands it to the fit.

    ``blocks`` hold ``Block(X, labels or probability rows, sample weights)``.
    """

    blocks: Blocks
    classes: np.ndarray
    n_samples: int
    n_features: int
    dtype: np.dtype

    def rows(self, index):
        """The same input restricted to the rows ``index`` (a fold)."""
        return self._replace(blocks=self.blocks.take(index), n_samples=len(index))

    def arrays(self):
        """The :class:`Block` ``(X, target, weight)`` of an input held in memory
        as one block (what a splitter and a scorer are given)."""
        (block,) = self.blocks.blocks
        return block


class Backend(Protocol):
    """What the estimators need of the code for one kind of input.

    Implementations: ``sklearn_softmax._host`` (NumPy arrays and SciPy sparse
    matrices), ``sklearn_softmax._device`` (array-API arrays under
    ``array_api_dispatch``) and ``sklearn_softmax.dask`` (Dask collections);
    each is a module, found for an input by :func:`input_backend`.
    """

    #: Whether the rows are held in memory, so that folds can be taken
    #: (:meth:`FitInput.rows`): what cross-validation needs.
    in_memory: bool
    #: Whether folds may be fitted by parallel worker processes.
    parallel_folds: bool

    def fit_input(self, estimator, X, y, sample_weight, classes):
        """Validate the training data; return a :class:`FitInput`.

        Sets ``n_features_in_`` (and ``feature_names_in_``) on ``estimator``.
        """

    def finish_fit(self, estimator, X, y):
        """Put the fitted arrays (``estimator._fitted_arrays``) where ``X``
        lives, and ``classes_`` where ``y`` lives."""

    def predict(self, estimator, method, X):
        """``estimator.method(X)`` (``method`` one of ``decision_function``,
        ``predict``, ``predict_proba``, ``predict_log_proba``) on ``X``."""


def sum_tuples(results, *, in_place):
    """Element-wise sum of an iterable of tuples.

    Parameters
    ----------
    results : iterable of tuple
        Tuples of the same length holding arrays or numbers.
    in_place : bool
        True adds into the first tuple's arrays (callers pass fresh arrays:
        no copy at 10^6 parameters); False makes new objects, leaving every
        input unchanged (e.g. persisted results on Dask workers).

    Returns
    -------
    total : tuple

    Examples
    --------
    >>> import numpy as np
    >>> a, b = (np.ones(2), 1), (np.ones(2), 2)
    >>> sum_tuples([a, b], in_place=False)
    (array([2., 2.]), 3)
    >>> a[0]
    array([1., 1.])
    """
    total = None
    for res in results:
        if total is None:
            total = list(res)
            continue
        for i, part in enumerate(res):
            if in_place and isinstance(total[i], np.ndarray):
                total[i] += part
            else:
                total[i] = total[i] + part
    return tuple(total)


@functools.cache
def _threadpools():
    """The process's controller of BLAS/OpenMP pools, built once.

    Building one rescans every loaded library (milliseconds: half of a small
    fit); querying or limiting through it takes microseconds and reads the
    pools' current sizes, so limits set by the caller are still seen.
    """
    return ThreadpoolController()


def single_threaded_blas():
    """Context manager limiting BLAS to one thread (the row blocks are the
    parallel level; BLAS threads inside them would oversubscribe the cores)."""
    return _threadpools().limit(limits=1, user_api="blas")


def default_n_threads():
    """Threads for the row blocks: what BLAS would use here (respects threadpoolctl).

    Examples
    --------
    >>> default_n_threads() >= 1
    True
    """
    try:
        n_cpu = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        n_cpu = os.cpu_count() or 1
    info = _threadpools().info()
    blas = [i["num_threads"] for i in info if i["user_api"] == "blas"]
    return max(1, min([n_cpu, *blas]))


def _bounds(X, n_classes, n_threads):
    """Row ranges ``[(a, b), ...]`` of the blocks of ``X``."""
    n, d = X.shape
    parallel = n_threads > 1 and n * d * n_classes >= _MIN_PARALLEL_WORK
    if sp.issparse(X):
        if not (parallel and X.format == "csr"):
            # row slices of CSC would copy it: CSC stays one block
            return [(0, n)]
        # One block per thread, cut where the stored entries split evenly:
        # scipy's sparse products release the GIL, and every extra block adds
        # a full (K, d) gradient.
        cuts = np.searchsorted(X.indptr, np.linspace(0, X.nnz, n_threads + 1)[1:-1])
        edges = np.unique(np.concatenate([[0], cuts, [n]]))
        return list(zip(edges[:-1], edges[1:], strict=True))
    # X's row plus two (K,) score rows per sample: the scores' temporaries
    # count too where K is large.
    row_bytes = X.dtype.itemsize * (d + 2 * n_classes)
    rows = max(256, _BLOCK_BYTES // max(row_bytes, 1))
    if parallel:
        # at least a few blocks per thread so the threads stay balanced
        rows = min(rows, -(-n // (4 * n_threads)))
    return [(a, min(a + rows, n)) for a in range(0, n, rows)] or [(0, n)]


class RowBlocks:
    """In-memory row blocks of ``X``, ``target`` and ``weight``, run on threads.

    Dense ``X`` is cut into blocks of about 16 MB (at least four per thread
    when the work is large enough), CSR into one block per thread balanced by
    stored entries, CSC stays one block.  Blocks are views: nothing is copied.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n, d)
    target : ndarray of shape (n,) or (n, K), or None
    weight : ndarray of shape (n,), or None
    n_classes : int
        Used to size the blocks and to judge whether threads pay off.
    n_threads : int, default=None
        Default: :func:`default_n_threads`.

    Examples
    --------
    >>> import numpy as np
    >>> blocks = RowBlocks(np.ones((5, 2)), None, np.arange(5.0), n_classes=2)
    >>> blocks.map_sum(lambda b: (float(b.X.sum()), float(b.weight.sum())))
    (10.0, 10.0)
    """

    def __init__(self, X, target, weight, n_classes, n_threads=None):
        self.n_threads = default_n_threads() if n_threads is None else n_threads
        bounds = _bounds(X, n_classes, self.n_threads)
        if len(bounds) == 1:
            self.blocks = [Block(X, target, weight)]
        else:
            self.blocks = [
                Block(
                    row_slice(X, a, b), *(_rows(arr, a, b) for arr in (target, weight))
                )
                for a, b in bounds
            ]
        self._pool = None

    @classmethod
    def _of(cls, blocks, n_threads):
        """Blocks already cut (no layout pass)."""
        self = cls.__new__(cls)
        self.n_threads, self.blocks, self._pool = n_threads, blocks, None
        return self

    @classmethod
    def whole(cls, X, target, weight):
        """One block holding all rows, run on the calling thread."""
        return cls._of([Block(X, target, weight)], n_threads=1)

    def __enter__(self):
        if self.n_threads > 1 and len(self.blocks) > 1:
            self._pool = ThreadPoolExecutor(self.n_threads)
        return self

    def __exit__(self, *exc):
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def map(self, fn, extra=None):
        """``[fn(block[, extra_i])]`` over the blocks."""
        args = _block_args(self.blocks, extra)
        if self._pool is None:
            return [fn(*a) for a in args]
        return list(self._pool.map(lambda a: fn(*a), args))

    def map_sum(self, fn, extra=None):
        """Sum of ``fn(block[, extra_i])`` over the blocks (tuples, element-wise).

        ``fn`` must return new arrays: the sum is accumulated into them.  On
        threads each thread sums a contiguous run of blocks and the runs'
        sums are added at the end: one task per thread, not one per block.
        """
        args = _block_args(self.blocks, extra)
        if self._pool is None:
            return sum_tuples((fn(*a) for a in args), in_place=True)
        k = min(self.n_threads, len(args))
        runs = [args[i * len(args) // k : (i + 1) * len(args) // k] for i in range(k)]
        partial = self._pool.map(
            lambda run: sum_tuples((fn(*a) for a in run), in_place=True), runs
        )
        return sum_tuples(partial, in_place=True)

    def with_rows(self, fn):
        """New blocks on the same ``X`` slices with ``(target, weight) = fn(block)``."""
        return RowBlocks._of([Block(b.X, *fn(b)) for b in self.blocks], self.n_threads)

    def laid_out(self, n_classes):
        """Blocks for the solver: a :meth:`whole` block cut by size and threads."""
        if len(self.blocks) != 1:
            return self
        return RowBlocks(*self.blocks[0], n_classes=n_classes)

    def take(self, rows):
        """A :meth:`whole` block of the rows ``rows`` of a one-block input."""
        (block,) = self.blocks
        return RowBlocks.whole(*(_take(a, rows) for a in block))


def _block_args(blocks, extra):
    """Argument tuples ``(block[, extra_i])`` of a map over ``blocks``."""
    if extra is None:
        return [(b,) for b in blocks]
    return list(zip(blocks, extra, strict=True))


def _rows(arr, a, b):
    return None if arr is None else arr[a:b]


def _take(arr, rows):
    return None if arr is None else _safe_indexing(arr, rows)


class DeviceBlocks:
    """One block whose ``X`` is an array-API array on its device (torch, CuPy).

    The kernel runs in ``X``'s namespace on its device, as one block: the
    device is parallel by itself.  Before :meth:`laid_out` the targets and
    weights are host NumPy arrays, so the target pipeline (labels of any type,
    class weights) runs on the host as for NumPy; :meth:`laid_out` moves them to
    the device once.  :meth:`map_sum` brings its sums back to the host as
    float64 NumPy arrays: the solver only ever sees ``K * d + K`` numbers.

    Parameters
    ----------
    X : array of shape (n, d)
        float32 or float64, in its namespace and on its device.
    target, weight : ndarray or array, or None
        Host arrays before :meth:`laid_out`, device arrays after it.
    """

    def __init__(self, X, target, weight):
        self.blocks = [Block(X, target, weight)]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass

    def map(self, fn, extra=None):
        """``[fn(block[, extra_i])]``, left on the device."""
        return [fn(*a) for a in _block_args(self.blocks, extra)]

    def map_sum(self, fn, extra=None):
        """``fn(block[, extra])``'s tuple with every part moved to the host.

        Arrays come back as float64 NumPy arrays, 0-d ones as Python floats.
        """
        (res,) = self.map(fn, extra)
        return tuple(_host_value(part) for part in res)

    def with_rows(self, fn):
        """New blocks on the same ``X`` with ``(target, weight) = fn(block)``."""
        return DeviceBlocks(self.blocks[0].X, *fn(self.blocks[0]))

    def take(self, rows):
        """The rows ``rows`` (host integer indices), ``X``'s on its device."""
        X, target, weight = self.blocks[0]
        xp, device = namespace_of(X)
        index = to_device(np.asarray(rows), xp, device)
        return DeviceBlocks(
            xp.take(X, index, axis=0), *(_take(a, rows) for a in (target, weight))
        )

    def laid_out(self, n_classes):
        """The same block with its targets and weights moved to X's device.

        Class indices become the namespace's default integer type, probability
        rows and weights float64 where the device has it (else float32).
        """
        X, target, weight = self.blocks[0]
        xp, device = namespace_of(X)
        acc = accumulation_dtype(xp, device)
        if target.ndim == 1:
            target = to_device(np.asarray(target, dtype=np.int64), xp, device)
        else:
            target = to_device(target, xp, device, acc)
        return DeviceBlocks(X, target, to_device(weight, xp, device, acc))


def _host_value(part):
    """A reduction's part on the host: float64 NumPy array or Python number."""
    if isinstance(part, (int, float)):
        return part
    arr = np.asarray(to_host(part), dtype=np.float64)
    return float(arr) if arr.ndim == 0 else arr


# -- backends for other input types --------------------------------------------
_BACKENDS = {}

# The key of the backend for array-API inputs under ``array_api_dispatch``;
# they are recognised by their ``__array_namespace__``, not by their module.
ARRAY_API = "array_api"
# The key of the in-memory backend: every input no other backend claims.
HOST = "host"


def register_backend(module, loader):
    """Route inputs whose type comes from top-level module ``module`` to a wing.

    ``loader()`` returns the backend (imported only when such an input is
    seen): a :class:`Backend`.  ``module`` :data:`ARRAY_API` names the
    backend of array-API inputs under scikit-learn's ``array_api_dispatch``
    (any namespace but NumPy's), :data:`HOST` the in-memory backend of all
    other inputs (NumPy, SciPy sparse, array-likes).
    """
    _BACKENDS[module] = loader


def registered_backend(key):
    """The backend registered under ``key`` (e.g. :data:`HOST`)."""
    return _BACKENDS[key]()


def top_module(obj):
    """The top-level module that defines ``obj``'s type (e.g. ``"dask"``).

    Examples
    --------
    >>> import numpy as np
    >>> top_module(np.ones(3))
    'numpy'
    """
    return type(obj).__module__.split(".")[0]


def input_backend(obj):
    """The registered :class:`Backend` for ``obj``'s type, or None for
    in-memory data (the :data:`HOST` backend's).

    Examples
    --------
    >>> import numpy as np
    >>> input_backend(np.ones(3)) is None
    True
    """
    loader = _BACKENDS.get(top_module(obj))
    if loader is None and is_device_array(obj):
        loader = _BACKENDS.get(ARRAY_API)
    return None if loader is None else loader()
