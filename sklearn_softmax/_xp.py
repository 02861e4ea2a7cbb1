"""Array-API plumbing: which arrays live off the host, and moving them.

Under ``sklearn.set_config(array_api_dispatch=True)`` an input that is not a
NumPy array (torch, CuPy, array-api-strict) is computed on in its own namespace
and on its own device.  The host kernels (``_loss``, ``_targets``,
``_precondition``, ``_objective``) call :func:`is_host` to keep NumPy on its
fast path and hand other arrays to their twins in ``_xp_kernels``; the helpers
below, built on scikit-learn's ``sklearn.utils._array_api``, move the few
numbers that cross between the host and the device.

The one place that knows which scikit-learn has which array-API helper: other
modules import them from here.  Without them (scikit-learn older than
:data:`ARRAY_API_MIN_SKLEARN`) NumPy and SciPy inputs work as ever, and an
array-API input under ``array_api_dispatch`` raises :func:`require_array_api`'s
ImportError, which names the release needed.
"""

import numpy as np
import scipy.sparse as sp
import sklearn
from sklearn import get_config

#: The oldest scikit-learn with every ``sklearn.utils._array_api`` helper used
#: here (``check_same_namespace`` and ``move_to`` are the newest of them).
ARRAY_API_MIN_SKLEARN = "1.9"

try:
    from sklearn.utils._array_api import (
        _max_precision_float_dtype,
        check_same_namespace,
        get_namespace_and_device,
        move_to,
    )
except ImportError:  # an older scikit-learn: NumPy and SciPy inputs only
    ARRAY_API_SUPPORTED = False
else:
    ARRAY_API_SUPPORTED = True

try:  # vendored from scikit-learn 1.7 on
    from sklearn.externals.array_api_compat import is_array_api_obj
except ImportError:
    try:  # scikit-learn 1.6's array_api_dispatch needs the package itself
        from array_api_compat import is_array_api_obj
    except ImportError:  # then array_api_dispatch cannot be turned on at all

        def is_array_api_obj(obj):
            return False


__all__ = [
    "ARRAY_API_MIN_SKLEARN",
    "ARRAY_API_SUPPORTED",
    "accumulation_dtype",
    "check_same_namespace",
    "get_namespace_and_device",
    "is_device_array",
    "is_host",
    "move_to",
    "namespace_of",
    "numpy_dtype",
    "require_array_api",
    "to_device",
    "to_host",
]


def require_array_api():
    """Raise an informative ImportError unless array-API inputs are supported.

    Raises
    ------
    ImportError
        If the installed scikit-learn is older than
        :data:`ARRAY_API_MIN_SKLEARN`.

    Examples
    --------
    >>> require_array_api() if ARRAY_API_SUPPORTED else None
    """
    if not ARRAY_API_SUPPORTED:
        raise ImportError(
            "sklearn_softmax fits and predicts on array-API inputs (under "
            "sklearn.set_config(array_api_dispatch=True)) with scikit-learn >= "
            f"{ARRAY_API_MIN_SKLEARN}; scikit-learn {sklearn.__version__} is "
            "installed. Upgrade scikit-learn, or pass NumPy arrays."
        )


if not ARRAY_API_SUPPORTED:
    # Stand-ins: NumPy inputs never reach them, array-API inputs get the error.

    def check_same_namespace(X, estimator, *, attribute, method):
        if is_device_array(X):
            require_array_api()

    def _max_precision_float_dtype(xp, device):
        require_array_api()

    def get_namespace_and_device(*arrays):
        require_array_api()

    def move_to(*arrays, xp, device):
        require_array_api()


def is_host(X):
    """Whether ``X`` is a NumPy array or a SciPy sparse matrix.

    Examples
    --------
    >>> import numpy as np
    >>> is_host(np.ones(2)), is_host([1.0])
    (True, False)
    """
    return isinstance(X, np.ndarray) or sp.issparse(X)


def is_device_array(obj):
    """Whether ``obj`` is an array-API array computed on in its own namespace.

    True only under ``array_api_dispatch=True`` and for arrays other than NumPy's
    (without dispatch, scikit-learn converts them with ``np.asarray``).

    Examples
    --------
    >>> import numpy as np
    >>> is_device_array(np.ones(2))
    False
    """
    return (
        get_config()["array_api_dispatch"]
        and not isinstance(obj, np.ndarray)
        and is_array_api_obj(obj)  # torch tensors have no __array_namespace__
    )


def namespace_of(*arrays):
    """``(xp, device)`` of arrays that share a namespace and a device."""
    xp, _, device = get_namespace_and_device(*arrays)
    return xp, device


def accumulation_dtype(xp, device):
    """float64 where the device has it, else float32 (e.g. Apple's MPS)."""
    return _max_precision_float_dtype(xp, device)


def numpy_dtype(dtype):
    """The NumPy dtype of a float32 or float64 dtype of any namespace.

    Examples
    --------
    >>> import numpy as np
    >>> numpy_dtype(np.float32)
    dtype('float32')
    """
    return np.dtype(np.float32 if "float32" in str(dtype) else np.float64)


def to_host(a):
    """A device array as a NumPy array (NumPy arrays and scalars pass through)."""
    if a is None or isinstance(a, (np.ndarray, np.generic, float, int)):
        return a
    return move_to(a, xp=np, device="cpu")


def to_device(a, xp, device, dtype=None):
    """A host array (or a device array) in namespace ``xp`` on ``device``.

    ``dtype`` None keeps ``a``'s dtype.
    """
    if a is None:
        return None
    if isinstance(a, np.ndarray) and not a.flags.c_contiguous:
        a = np.ascontiguousarray(a)  # DLPack wants a plain buffer
    out = move_to(a, xp=xp, device=device)
    if dtype is not None and out.dtype != dtype:
        out = xp.astype(out, dtype)
    return out
