"""Softmax (multinomial logistic) regression for scikit-learn.

The estimator :class:`SoftmaxRegression` minimises the exact, numerically stable
softmax cross-entropy; :class:`SoftmaxRegressionCV` chooses its ``C`` (and
``l1_ratio``) by cross-validation along warm-started paths;
:mod:`sklearn_softmax.metrics` computes cross-entropy and KL divergence from
probabilities or logits.
"""

from ._blocks import ARRAY_API, HOST, register_backend
from ._cv import SoftmaxRegressionCV
from ._softmax import SoftmaxRegression
from ._xp import require_array_api

__all__ = ["SoftmaxRegression", "SoftmaxRegressionCV"]


def _host_backend():
    from . import _host

    return _host


# NumPy arrays, SciPy sparse matrices and array-likes: validated and fitted in
# memory.
register_backend(HOST, _host_backend)


def _dask_backend():
    from . import dask

    return dask


# Dask collections are fitted and predicted on by the Dask wing, imported
# only when one is passed (Dask stays an optional extra).
register_backend("dask", _dask_backend)


def _array_api_backend():
    require_array_api()  # an informative error on too old a scikit-learn
    from . import _device

    return _device


# Array-API inputs (torch, CuPy, ...) under sklearn's array_api_dispatch are
# fitted and predicted on in their namespace and on their device.
register_backend(ARRAY_API, _array_api_backend)
__version__ = "0.1.0"
